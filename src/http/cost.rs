//! OpenRouter's cost fields on usage: wherever usage reaches a client, it carries `cost`
//! (USD) and `cost_details` (the prompt and completion parts), computed from the serving
//! endpoint's prices exactly as the ledger bills them.

use serde_json::{Map, Value};

use crate::types::usage::nanos_to_usd;
use crate::types::{Price, RawObject, Usage};

/// Adds `cost` and `cost_details` to `body.usage` (when the body has a usage object).
pub fn annotate(body: &mut RawObject, usage: &Usage, price: &Price) {
    let Some(Ok(mut u)) = body.get_as::<Map<String, Value>>("usage") else {
        return;
    };
    let cost = price.cost(usage);
    u.insert("cost".into(), Value::from(nanos_to_usd(cost.total())));
    u.insert(
        "cost_details".into(),
        serde_json::json!({
            "upstream_inference_cost": Value::Null,
            "upstream_inference_prompt_cost": nanos_to_usd(cost.prompt + cost.request),
            "upstream_inference_completions_cost": nanos_to_usd(cost.completion),
        }),
    );
    body.insert("usage", &u);
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
}
