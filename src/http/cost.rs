//! OpenRouter's cost fields on usage: wherever usage reaches a client, it carries `cost`
//! (USD) and `cost_details` (the prompt and completion parts), computed from the serving
//! endpoint's prices exactly as the ledger bills them.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::types::usage::nanos_to_usd;
use crate::types::{Price, RawObject, Usage};

/// Adds `cost` and `cost_details` to `body.usage` (when the body has a usage object).
/// The common case splices the two members into the object's text; a usage that already
/// has a `cost` (an OpenRouter upstream's) is parsed and the gateway's figures replace it.
pub fn annotate(body: &mut RawObject, usage: &Usage, price: &Price) {
    let Some(raw) = body.get("usage") else {
        return;
    };
    let cost = price.cost(usage);
    let text = raw.get().trim_end();
    let fields = format!(
        "\"cost\":{},\"cost_details\":{{\"upstream_inference_cost\":null,\"upstream_inference_prompt_cost\":{},\"upstream_inference_completions_cost\":{}}}",
        number(nanos_to_usd(cost.total())),
        number(nanos_to_usd(cost.prompt + cost.request)),
        number(nanos_to_usd(cost.completion)),
    );
    if !text.contains("\"cost") && text.starts_with('{') && text.ends_with('}') {
        let inner = text[1..text.len() - 1].trim();
        let joined = if inner.is_empty() {
            format!("{{{fields}}}")
        } else {
            format!("{{{inner},{fields}}}")
        };
        if let Ok(v) = RawValue::from_string(joined) {
            body.insert_raw("usage", v);
        }
        return;
    }
    let Some(Ok(mut u)) = body.get_as::<Map<String, Value>>("usage") else {
        return;
    };
    if let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(&format!("{{{fields}}}")) {
        u.extend(extra);
    }
    body.insert("usage", &u);
}

/// A float as JSON (what serde_json would write).
fn number(v: f64) -> String {
    serde_json::to_string(&v).unwrap_or_else(|_| "0".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_lands_in_usage_and_the_rest_is_kept() {
        let mut body = RawObject::parse(
            br#"{"id":"x","usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"extra":1}}"#,
        )
        .unwrap();
        let price = Price::from_usd(2.0, 8.0, 2.0, 2.0, 0.0);
        annotate(&mut body, &Usage::new(1000, 500), &price);
        let v: Value = serde_json::from_slice(&body.to_vec()).unwrap();
        assert_eq!(v["usage"]["cost"], 0.006);
        assert_eq!(
            v["usage"]["cost_details"]["upstream_inference_prompt_cost"],
            0.002
        );
        assert_eq!(v["usage"]["extra"], 1);
        assert_eq!(v["id"], "x");
    }

    #[test]
    fn an_upstream_cost_is_replaced_not_duplicated() {
        let mut body = RawObject::parse(
            br#"{"usage":{"prompt_tokens":1000,"completion_tokens":0,"cost":9.9,"cost_details":{"x":1}}}"#,
        )
        .unwrap();
        let price = Price::from_usd(2.0, 8.0, 2.0, 2.0, 0.0);
        annotate(&mut body, &Usage::new(1000, 0), &price);
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(text.matches("\"cost\"").count(), 1, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["usage"]["cost"], 0.002);
        let mut empty = RawObject::parse(br#"{"usage":{}}"#).unwrap();
        annotate(&mut empty, &Usage::new(0, 0), &price);
        let v: Value = serde_json::from_slice(&empty.to_vec()).unwrap();
        assert_eq!(v["usage"]["cost"], 0.0);
    }
}
