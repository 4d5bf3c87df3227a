//! Token usage as OpenAI reports it, and cost in integer nano-dollars.

use serde::{Deserialize, Serialize};

/// Token counts for one completion. Deserialisation is lenient: upstreams omit details freely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// Anthropic's own cache counts, kept as it reports them beside the OpenAI-shaped
    /// details (already included in `prompt_tokens`; never added again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            ..Usage::default()
        }
    }

    /// Usage from a provider that reports cache reads and writes apart from the other input
    /// tokens (Anthropic, Bedrock): the prompt side is their sum, each counted once, with the
    /// cache figures kept in `prompt_tokens_details`.
    pub fn with_cache(input: u64, cache_read: u64, cache_write: u64, output: u64) -> Self {
        let prompt = input + cache_read + cache_write;
        Usage {
            prompt_tokens: prompt,
            completion_tokens: output,
            total_tokens: prompt + output,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(cache_read),
                cache_write_tokens: Some(cache_write),
            }),
            ..Usage::default()
        }
    }

    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }
}

/// USD per million tokens, as the registry stores prices.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Price {
    /// Cost in nano-dollars (1e-9 USD), rounded to the nearest nano-dollar.
    ///
    /// Integers keep sums exact across millions of records; a dollar per million tokens is
    /// 1,000 nano-dollars per token, so no realistic price loses precision.
    pub fn cost_nanos(&self, usage: &Usage) -> i64 {
        let nanos = usage.prompt_tokens as f64 * self.input_per_million * 1000.0
            + usage.completion_tokens as f64 * self.output_per_million * 1000.0;
        nanos.round() as i64
    }
}

/// Rough token estimate for text when an upstream reports no usage (about four bytes a token).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_in_nanos() {
        let price = Price {
            input_per_million: 2.0,
            output_per_million: 8.0,
        };
        // 1000 * 2 $/M = 0.002 $ = 2_000_000 n$; 500 * 8 $/M = 0.004 $ = 4_000_000 n$.
        assert_eq!(price.cost_nanos(&Usage::new(1000, 500)), 6_000_000);
    }

    #[test]
    fn lenient_parse() {
        let u: Usage = serde_json::from_str(r#"{"prompt_tokens":3}"#).unwrap();
        assert_eq!(u.prompt_tokens, 3);
        assert_eq!(u.completion_tokens, 0);
    }
}
