//! OpenRouter's chat answer shapes, for requests under `/api/v1`: `id` is the generation id
//! (what `/api/v1/generation?id=` looks up), `provider` names the serving provider,
//! `system_fingerprint` is always present, each finished choice carries
//! `native_finish_reason`, and `usage` is always there — in every JSON answer and as the
//! last chunk of every stream — with `cost`, `cost_details`, the cached and reasoning token
//! details and `is_byok`.
//!
//! Only top-level members are rewritten (`RawObject`); choices are parsed one level deeper
//! only on the chunk that finishes them.

use serde_json::json;
use serde_json::value::RawValue;

use crate::routing::Attempt;
use crate::types::usage::nanos_to_usd;
use crate::types::{now_ms, Price, RawObject, Usage};

/// OpenRouter's usage object for `usage` billed at `price`.
pub fn usage(u: &Usage, price: &Price) -> Box<RawValue> {
    let cost = price.cost(u);
    let total = if u.total_tokens > 0 {
        u.total_tokens
    } else {
        u.prompt_tokens + u.completion_tokens
    };
    let mut prompt_details = json!({ "cached_tokens": u.cached_tokens() });
    if u.cache_write_tokens() > 0 {
        prompt_details["cache_write_tokens"] = u.cache_write_tokens().into();
    }
    let v = json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": total,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": { "reasoning_tokens": u.reasoning_tokens() },
        "cost": nanos_to_usd(cost.total()),
        "is_byok": false,
        "cost_details": {
            "upstream_inference_cost": null,
            "upstream_inference_prompt_cost": nanos_to_usd(cost.prompt + cost.request),
            "upstream_inference_completions_cost": nanos_to_usd(cost.completion),
        },
    });
    // A `json!` object always serialises.
    serde_json::value::to_raw_value(&v).unwrap_or_default()
}

/// Rewrites the identity members every answer and chunk carries.
fn identify(body: &mut RawObject, attempt: &Attempt, generation_id: &str) {
    body.insert_str("id", generation_id);
    body.insert_str("model", &attempt.model);
    body.insert_str("provider", &attempt.provider);
}

/// Adds `native_finish_reason` (the upstream's reason as it gave it) to each choice that
/// lacks one. An OpenRouter upstream's own value is kept.
fn add_native_finish_reason(body: &mut RawObject) {
    let Some(Ok(mut choices)) = body.get_as::<Vec<RawObject>>("choices") else {
        return;
    };
    let mut changed = false;
    for c in &mut choices {
        if !c.contains("native_finish_reason") {
            if let Some(reason) = c
                .get("finish_reason")
                .map(crate::types::json::RawRef::to_raw_value)
            {
                c.insert_raw("native_finish_reason", reason);
                changed = true;
            }
        }
    }
    if changed {
        body.insert("choices", &choices);
    }
}

/// A chat completion in OpenRouter's shape, billed with `billed`.
pub fn completion(body: &mut RawObject, attempt: &Attempt, generation_id: &str, billed: &Usage) {
    identify(body, attempt, generation_id);
    if !body.contains("system_fingerprint") {
        body.insert("system_fingerprint", &None::<String>);
    }
    add_native_finish_reason(body);
    body.insert_raw("usage", usage(billed, &attempt.price));
}

/// One stream chunk in OpenRouter's shape.
pub fn chunk(body: &mut RawObject, attempt: &Attempt, generation_id: &str, finished: bool) {
    identify(body, attempt, generation_id);
    if finished {
        add_native_finish_reason(body);
    }
    let parsed = match body.get("usage").map(|u| u.get()) {
        None => return,
        // OpenAI sends `"usage": null` on every chunk before the last; OpenRouter omits it,
        // and its TypeScript SDK refuses a null there.
        Some("null") => None,
        Some(raw) => Some(serde_json::from_str::<Usage>(raw)),
    };
    match parsed {
        None => {
            body.remove("usage");
        }
        Some(Ok(u)) => body.insert_raw("usage", usage(&u, &attempt.price)),
        Some(Err(_)) => {}
    }
}

/// The usage chunk that ends a stream whose upstream reported none.
pub fn usage_chunk(
    attempt: &Attempt,
    generation_id: &str,
    object: &str,
    billed: &Usage,
) -> RawObject {
    let mut body = RawObject::new();
    body.insert("id", generation_id);
    body.insert("object", object);
    body.insert("created", &(now_ms() / 1000));
    body.insert("model", &attempt.model);
    body.insert("provider", &attempt.provider);
    body.insert("choices", &[(); 0]);
    body.insert_raw("usage", usage(billed, &attempt.price));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn value(body: &RawObject) -> Value {
        serde_json::from_slice(&body.to_vec()).unwrap()
    }

    #[test]
    fn usage_carries_cost_and_details() {
        let price = Price::from_usd(2.0, 8.0, 1.0, 2.0, 0.0);
        let u = Usage::with_cache(600, 400, 0, 500);
        let v: Value = serde_json::from_str(usage(&u, &price).get()).unwrap();
        assert_eq!(v["prompt_tokens"], 1000);
        assert_eq!(v["total_tokens"], 1500);
        assert_eq!(v["prompt_tokens_details"]["cached_tokens"], 400);
        assert_eq!(v["completion_tokens_details"]["reasoning_tokens"], 0);
        assert_eq!(v["is_byok"], false);
        let cost = v["cost"].as_f64().unwrap();
        assert!((cost - (600.0 * 2.0 + 400.0 * 1.0 + 500.0 * 8.0) / 1e6).abs() < 1e-12);
        assert!(v["cost_details"]["upstream_inference_cost"].is_null());
    }

    #[test]
    fn native_finish_reason_is_added_once() {
        let mut body = RawObject::parse(
            br#"{"choices":[{"index":0,"finish_reason":"stop","message":{"content":"x"}},{"index":1,"finish_reason":"length","native_finish_reason":"MAX_TOKENS"}]}"#,
        )
        .unwrap();
        add_native_finish_reason(&mut body);
        let v = value(&body);
        assert_eq!(v["choices"][0]["native_finish_reason"], "stop");
        assert_eq!(v["choices"][0]["message"]["content"], "x");
        assert_eq!(v["choices"][1]["native_finish_reason"], "MAX_TOKENS");
    }
}
