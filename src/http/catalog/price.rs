//! Prices as OpenRouter prints them: USD per token (per request for `request`) as decimal
//! strings. They are rendered from the registry's integer prices (micro-dollars per million
//! tokens, nano-dollars per request), so they are exact: `$3/M` is `"0.000003"`, never
//! `"0.0000030000000000000004"`.

use crate::types::catalog::Pricing;
use crate::types::registry::EndpointDecl;

/// `n × 10^-scale` as a plain decimal with no trailing zeros (`"0"` for zero).
pub fn decimal(n: u64, scale: u32) -> String {
    let div = 10u64.pow(scale);
    let (int, frac) = (n / div, n % div);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = scale as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Micro-dollars per million tokens are 10^-12 USD per token.
fn per_token(micros_per_million: u64) -> String {
    decimal(micros_per_million, 12)
}

/// An endpoint's prices. Reasoning tokens are billed as completion tokens, so
/// `internal_reasoning` is the completion price; images and web search have no price of
/// their own here.
pub fn pricing(e: &EndpointDecl) -> Pricing {
    let p = e.price();
    Pricing {
        prompt: per_token(p.input),
        completion: per_token(p.output),
        request: decimal(p.request_nanos, 9),
        image: "0".into(),
        web_search: "0".into(),
        internal_reasoning: per_token(p.output),
        input_cache_read: per_token(p.cache_read),
        input_cache_write: per_token(p.cache_write),
    }
}

/// Every price zero: a model listed with no endpoint that could price it.
pub fn free() -> Pricing {
    Pricing {
        prompt: "0".into(),
        completion: "0".into(),
        request: "0".into(),
        image: "0".into(),
        web_search: "0".into(),
        internal_reasoning: "0".into(),
        input_cache_read: "0".into(),
        input_cache_write: "0".into(),
    }
}

/// What ranks endpoints by price: prompt plus completion, per million tokens.
pub fn rank(e: &EndpointDecl) -> u64 {
    let p = e.price();
    p.input.saturating_add(p.output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(0, 12), "0");
        assert_eq!(decimal(3_000_000, 12), "0.000003");
        assert_eq!(decimal(150_000, 12), "0.00000015");
        assert_eq!(decimal(1, 12), "0.000000000001");
        assert_eq!(decimal(2_500_000_000_000, 12), "2.5");
        assert_eq!(decimal(5_000_000, 9), "0.005");
        assert_eq!(decimal(1_000_000_000, 9), "1");
    }

    #[test]
    fn endpoint_prices() {
        let e: EndpointDecl = serde_json::from_value(serde_json::json!({
            "provider": "p", "upstream_model": "m", "input_price": 3.0, "output_price": 15.0,
            "cache_read_price": 0.3, "request_price": 0.001
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let p = pricing(&e);
        assert_eq!(p.prompt, "0.000003");
        assert_eq!(p.completion, "0.000015");
        assert_eq!(p.internal_reasoning, "0.000015");
        assert_eq!(p.input_cache_read, "0.0000003");
        assert_eq!(p.input_cache_write, "0.000003");
        assert_eq!(p.request, "0.001");
        assert_eq!(rank(&e), 18_000_000);
    }
}
