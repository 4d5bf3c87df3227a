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

    /// Prompt tokens written to the provider's cache (Anthropic's cache creation), when
    /// reported; they are part of `prompt_tokens`.
    pub fn cache_write_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cache_write_tokens)
            .or(self.cache_creation_input_tokens)
            .unwrap_or(0)
    }

    pub fn reasoning_tokens(&self) -> u64 {
        self.completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
    }
}

/// An endpoint's prices in integer micro-dollars per million tokens (numerically: USD per
/// million × 10^6, i.e. pico-dollars per token), plus a fixed nano-dollar price per request.
/// Converted once from the registry's USD figures; all cost arithmetic is integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Price {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub request_nanos: u64,
}

/// A cost split the way OpenRouter reports it, in nano-dollars (1e-9 USD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub prompt: i64,
    pub completion: i64,
    pub request: i64,
}

impl Cost {
    pub fn total(&self) -> i64 {
        self.prompt + self.completion + self.request
    }
}

/// USD per million tokens → micro-dollars per million tokens, rounded; negative or
/// non-finite figures (rejected by validation) count as free.
pub fn usd_per_million_to_micros(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1e6).round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// USD → nano-dollars, rounded.
pub fn usd_to_nanos(usd: f64) -> i64 {
    if usd.is_finite() {
        (usd * 1e9).round().clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    }
}

/// Nano-dollars → USD, for responses.
pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

impl Price {
    pub fn from_usd(
        input: f64,
        output: f64,
        cache_read: f64,
        cache_write: f64,
        request: f64,
    ) -> Self {
        Price {
            input: usd_per_million_to_micros(input),
            output: usd_per_million_to_micros(output),
            cache_read: usd_per_million_to_micros(cache_read),
            cache_write: usd_per_million_to_micros(cache_write),
            request_nanos: usd_to_nanos(request).max(0) as u64,
        }
    }

    /// What `usage` costs: uncached prompt tokens at the input price, cache reads and cache
    /// writes each at their own price, completion tokens at the output price, plus the
    /// per-request price. Rounded to the nearest nano-dollar per part.
    pub fn cost(&self, usage: &Usage) -> Cost {
        let cached = usage.cached_tokens().min(usage.prompt_tokens);
        let written = usage.cache_write_tokens().min(usage.prompt_tokens - cached);
        let plain = usage.prompt_tokens - cached - written;
        let prompt = tokens_cost(plain, self.input)
            + tokens_cost(cached, self.cache_read)
            + tokens_cost(written, self.cache_write);
        Cost {
            prompt: clamp_i64(prompt),
            completion: clamp_i64(tokens_cost(usage.completion_tokens, self.output)),
            request: clamp_i64(u128::from(self.request_nanos)),
        }
    }

    /// The highest cost `prompt` and `completion` tokens could have here (every prompt token
    /// at the dearest prompt-side price), for reservations.
    pub fn upper_bound(&self, prompt: u64, completion: u64) -> i64 {
        let dearest = self.input.max(self.cache_read).max(self.cache_write);
        clamp_i64(
            tokens_cost(prompt, dearest)
                + tokens_cost(completion, self.output)
                + u128::from(self.request_nanos),
        )
    }

    /// Input plus output price, for `provider.sort = "price"`.
    pub fn sort_key(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// tokens × micro-dollars per million tokens = pico-dollars; /1000 = nano-dollars, rounded.
fn tokens_cost(tokens: u64, micros_per_million: u64) -> u128 {
    (u128::from(tokens) * u128::from(micros_per_million) + 500) / 1000
}

fn clamp_i64(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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
        let price = Price::from_usd(2.0, 8.0, 2.0, 2.0, 0.0);
        // 1000 * 2 $/M = 0.002 $ = 2_000_000 n$; 500 * 8 $/M = 0.004 $ = 4_000_000 n$.
        assert_eq!(price.cost(&Usage::new(1000, 500)).total(), 6_000_000);
    }

    #[test]
    fn cache_reads_and_writes_have_their_own_prices() {
        // Anthropic-style: 100 fresh, 1000 read from cache, 200 written to it, 50 out.
        let u = Usage::with_cache(100, 1000, 200, 50);
        let p = Price::from_usd(3.0, 15.0, 0.3, 3.75, 0.0);
        let c = p.cost(&u);
        assert_eq!(c.prompt, 300_000 + 300_000 + 750_000);
        assert_eq!(c.completion, 750_000);
        // OpenAI-style: cached tokens inside prompt_tokens.
        let mut u = Usage::new(2000, 10);
        u.prompt_tokens_details = Some(PromptTokensDetails {
            cached_tokens: Some(1500),
            cache_write_tokens: None,
        });
        let p = Price::from_usd(2.0, 8.0, 0.5, 2.0, 0.0);
        assert_eq!(p.cost(&u).prompt, 500 * 2000 + 1500 * 500);
        // Reported figures larger than the prompt cannot make a cost negative.
        u.prompt_tokens_details = Some(PromptTokensDetails {
            cached_tokens: Some(9000),
            cache_write_tokens: Some(9000),
        });
        assert_eq!(p.cost(&u).prompt, 2000 * 500);
    }

    #[test]
    fn tiny_and_request_prices() {
        // $0.0375 per million: 37.5 pico-dollars a token; a million tokens cost 0.0375 $.
        let p = Price::from_usd(0.0375, 0.0, 0.0, 0.0, 0.001);
        let c = p.cost(&Usage::new(1_000_000, 0));
        assert_eq!(c.prompt, 37_500_000);
        assert_eq!(c.request, 1_000_000);
        assert_eq!(c.total(), 38_500_000);
        assert!(p.upper_bound(1_000_000, 0) >= c.total());
        assert_eq!(
            Price::from_usd(f64::NAN, -1.0, 0.0, 0.0, 0.0),
            Price::default()
        );
    }

    #[test]
    fn upper_bound_covers_any_split() {
        let p = Price::from_usd(1.0, 4.0, 0.1, 1.25, 0.0);
        for cached in [0, 10, 100] {
            for written in [0, 10, 100 - cached]
                .into_iter()
                .filter(|w| cached + w <= 100)
            {
                let u = Usage::with_cache(100 - cached - written, cached, written, 30);
                assert!(p.cost(&u).total() <= p.upper_bound(100, 30));
            }
        }
    }

    #[test]
    fn lenient_parse() {
        let u: Usage = serde_json::from_str(r#"{"prompt_tokens":3}"#).unwrap();
        assert_eq!(u.prompt_tokens, 3);
        assert_eq!(u.completion_tokens, 0);
    }
}
