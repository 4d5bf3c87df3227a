//! What this adapter does with each OpenAI request parameter Anthropic has no slot for: drop it
//! and say so (`x-switchyard-dropped-params`) when it is only a hint, or refuse the request
//! (`Unsupported`, which falls back and ends as a 400 naming the parameter) when leaving it
//! out would change the result. The README's capability table mirrors these lists.

use serde::Deserialize;
use serde_json::Value;

use crate::types::openai::ChatParams;
use crate::types::{InvalidRequest, RawObject};

/// Sampling hints and bookkeeping fields Anthropic has no equivalent for.
const DROPPED: &[&str] = &[
    "seed",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "min_p",
    "top_a",
    // OpenAI's stored-completion tags; Anthropic's `metadata` only takes a user id.
    "metadata",
    "store",
    "service_tier",
    "prediction",
    "verbosity",
];

/// Thinking budgets for `reasoning_effort` / `reasoning.effort`.
fn effort_budget(effort: &str) -> Option<u64> {
    match effort {
        "minimal" => Some(1024),
        "low" => Some(2048),
        "medium" => Some(8192),
        "high" => Some(16384),
        "xhigh" | "max" => Some(32768),
        _ => None,
    }
}

/// The smallest `budget_tokens` Anthropic accepts.
pub const MIN_BUDGET: u64 = 1024;

/// Request fields the typed view does not carry, read from the raw body.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// OpenAI's newer end-user id, preferred over `user`.
    pub safety_identifier: Option<String>,
    /// OpenRouter's legacy reasoning switch.
    pub include_reasoning: Option<bool>,
}

#[derive(Deserialize)]
struct Modalities(Vec<String>);

fn present(body: &RawObject, key: &str) -> bool {
    body.get(key).is_some_and(|v| v.get() != "null")
}

fn refuse(param: &'static str, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), "unsupported_parameter")
}

impl Extras {
    /// Reads the extra fields and refuses those whose absence would change the result.
    pub fn from_body(body: &RawObject) -> Result<Extras, InvalidRequest> {
        if present(body, "audio") {
            return Err(refuse("audio", "Anthropic cannot produce audio output"));
        }
        if let Some(Ok(Modalities(m))) = body.get_as::<Modalities>("modalities") {
            if m.iter().any(|m| m != "text") {
                return Err(refuse("modalities", "Anthropic only produces text output"));
            }
        }
        if present(body, "web_search_options") {
            return Err(refuse(
                "web_search_options",
                "web search is not translated for Anthropic",
            ));
        }
        for legacy in ["functions", "function_call"] {
            if present(body, legacy) {
                return Err(refuse(
                    legacy,
                    "the legacy `functions` API is not translated for Anthropic; use `tools`",
                ));
            }
        }
        let string = |key| match body.get_as::<Value>(key) {
            Some(Ok(Value::String(s))) => Some(s),
            _ => None,
        };
        let include_reasoning = match body.get_as::<Value>("include_reasoning") {
            Some(Ok(Value::Bool(b))) => Some(b),
            _ => None,
        };
        Ok(Extras {
            safety_identifier: string("safety_identifier"),
            include_reasoning,
        })
    }
}

/// Refusals that depend on typed values.
pub fn refuse_params(p: &ChatParams) -> Result<(), InvalidRequest> {
    crate::providers::refuse_choices_and_logprobs(p, "Anthropic")
}

/// The thinking budget the request asks for, if any: `reasoning.max_tokens` (raised to
/// Anthropic's minimum), else the effort's budget; a bare `reasoning` object or
/// `include_reasoning: true` means medium effort.
pub fn thinking_budget(p: &ChatParams, extras: &Extras) -> Result<Option<u64>, InvalidRequest> {
    let r = p.reasoning.as_ref();
    if r.and_then(|r| r.enabled) == Some(false) {
        return Ok(None);
    }
    if let Some(max) = r.and_then(|r| r.max_tokens) {
        return Ok(Some(max.max(MIN_BUDGET)));
    }
    match p.effort() {
        Some("none") => Ok(None),
        Some(effort) => effort_budget(effort).map(Some).ok_or_else(|| {
            InvalidRequest::new(
                format!("Unknown reasoning effort `{effort}` (expected none, minimal, low, medium, high or xhigh)"),
                Some(if p.reasoning_effort.is_some() { "reasoning_effort" } else { "reasoning" }),
                "invalid_value",
            )
        }),
        None if r.is_some() || extras.include_reasoning == Some(true) => Ok(effort_budget("medium")),
        None => Ok(None),
    }
}

/// Whether thinking is to be left out of the response (OpenRouter's `reasoning.exclude`).
pub fn exclude_reasoning(p: &ChatParams, extras: &Extras) -> bool {
    p.reasoning.as_ref().and_then(|r| r.exclude) == Some(true)
        || extras.include_reasoning == Some(false)
}

/// Sampling values sent upstream. Anthropic's temperature range is 0–1, so higher values are
/// clamped to 1; with thinking on, only the defaults are accepted (temperature 1, top_p ≥ 0.95,
/// no top_k), so other values are left out. Either way the parameter is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
}

pub fn sampling(p: &ChatParams, thinking: bool) -> (Sampling, Vec<&'static str>) {
    let mut changed = Vec::new();
    let mut s = Sampling::default();
    if let Some(t) = p.temperature {
        if thinking && t != 1.0 {
            changed.push("temperature");
        } else if t > 1.0 {
            changed.push("temperature");
            s.temperature = Some(1.0);
        } else {
            s.temperature = Some(t);
        }
    }
    if let Some(top_p) = p.top_p {
        if thinking && top_p < 0.95 {
            changed.push("top_p");
        } else {
            s.top_p = Some(top_p);
        }
    }
    if let Some(k) = p.top_k {
        if thinking {
            changed.push("top_k");
        } else {
            s.top_k = Some(k);
        }
    }
    (s, changed)
}

/// Every parameter left out or changed for this request, in a stable order.
pub fn dropped(body: &RawObject, p: &ChatParams, extras: &Extras) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = DROPPED
        .iter()
        .copied()
        .filter(|k| present(body, k))
        .collect();
    let thinking = matches!(thinking_budget(p, extras), Ok(Some(_)));
    out.extend(sampling(p, thinking).1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (RawObject, ChatParams) {
        let body = RawObject::parse(s.as_bytes()).unwrap();
        let p = ChatParams::from_body(&body).unwrap();
        (body, p)
    }

    const MSG: &str = r#""messages":[{"role":"user","content":"x"}]"#;

    #[test]
    fn hints_are_dropped_and_named() {
        let (body, p) = parse(&format!(
            r#"{{{MSG},"seed":1,"logit_bias":{{"1":2}},"presence_penalty":0.5,"frequency_penalty":null,"temperature":1.7,"top_k":5}}"#
        ));
        let extras = Extras::from_body(&body).unwrap();
        assert_eq!(
            dropped(&body, &p, &extras),
            vec!["seed", "logit_bias", "presence_penalty", "temperature"]
        );
        let (s, _) = sampling(&p, false);
        assert_eq!(s.temperature, Some(1.0));
        assert_eq!(s.top_k, Some(5));
    }

    #[test]
    fn thinking_leaves_out_non_default_sampling() {
        let (body, p) = parse(&format!(
            r#"{{{MSG},"reasoning_effort":"low","temperature":0.2,"top_p":0.99,"top_k":5}}"#
        ));
        let extras = Extras::from_body(&body).unwrap();
        assert_eq!(dropped(&body, &p, &extras), vec!["temperature", "top_k"]);
        let (s, _) = sampling(&p, true);
        assert_eq!(
            s,
            Sampling {
                temperature: None,
                top_p: Some(0.99),
                top_k: None
            }
        );
    }

    #[test]
    fn result_changing_parameters_are_refused_by_name() {
        for (extra, param) in [
            (r#""n":2"#, "n"),
            (r#""logprobs":true"#, "logprobs"),
            (r#""top_logprobs":3"#, "top_logprobs"),
            (r#""audio":{"voice":"alloy","format":"wav"}"#, "audio"),
            (r#""modalities":["text","audio"]"#, "modalities"),
            (r#""web_search_options":{}"#, "web_search_options"),
            (r#""functions":[{"name":"f"}]"#, "functions"),
        ] {
            let (body, p) = parse(&format!("{{{MSG},{extra}}}"));
            let e = Extras::from_body(&body)
                .and_then(|_| refuse_params(&p))
                .expect_err(extra);
            assert_eq!(e.param, Some(param), "{extra}");
            assert_eq!(e.code, "unsupported_parameter");
        }
        let (body, p) = parse(&format!(
            r#"{{{MSG},"n":1,"logprobs":false,"modalities":["text"]}}"#
        ));
        assert!(Extras::from_body(&body).is_ok() && refuse_params(&p).is_ok());
    }

    #[test]
    fn reasoning_controls_map_to_budgets() {
        let budget = |extra: &str| {
            let (body, p) = parse(&format!("{{{MSG}{extra}}}"));
            thinking_budget(&p, &Extras::from_body(&body).unwrap())
        };
        assert_eq!(budget("").unwrap(), None);
        assert_eq!(budget(r#","reasoning_effort":"low""#).unwrap(), Some(2048));
        assert_eq!(
            budget(r#","reasoning":{"effort":"high"}"#).unwrap(),
            Some(16384)
        );
        assert_eq!(
            budget(r#","reasoning":{"max_tokens":500}"#).unwrap(),
            Some(1024)
        );
        assert_eq!(
            budget(r#","reasoning":{"max_tokens":3000}"#).unwrap(),
            Some(3000)
        );
        assert_eq!(budget(r#","reasoning":{}"#).unwrap(), Some(8192));
        assert_eq!(budget(r#","include_reasoning":true"#).unwrap(), Some(8192));
        assert_eq!(
            budget(r#","reasoning":{"enabled":false,"effort":"high"}"#).unwrap(),
            None
        );
        assert_eq!(budget(r#","reasoning_effort":"none""#).unwrap(), None);
        let e = budget(r#","reasoning_effort":"huge""#).unwrap_err();
        assert_eq!(e.param, Some("reasoning_effort"));
    }
}
