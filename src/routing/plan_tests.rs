//! `plan()` against a small registry: variants, sorting, lists with unknown names.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::providers::http::UpstreamLimits;
use crate::providers::BuildContext;
use crate::store::{RegistryRows, RequestRecord};
use crate::types::chat::ProviderPreferences;

fn routing() -> RoutingSettings {
    let s = Duration::from_secs(1);
    RoutingSettings {
        connect_timeout: s,
        request_timeout: s,
        first_token_timeout: s,
        stream_idle_timeout: s,
        keepalive_after: s,
        keepalive_interval: s,
        registry_refresh: s,
        upstream: UpstreamLimits::default(),
        max_precommit_chunks: 8,
    }
}

/// Providers `a`, `b`, `c` (mock); `m/one` on a ($2/$4), b (free), c ($1/$1);
/// `m/two` on c only; `m/think` reasons; `m/one` falls back to `m/two`.
fn snapshot() -> Snapshot {
    let providers = ["a", "b", "c"]
        .iter()
        .map(|id| serde_json::from_value(json!({"id": id, "kind": "mock"})).unwrap())
        .collect();
    let models = [
        json!({"slug": "m/one", "fallbacks": ["m/two"], "supported_parameters": ["temperature"], "endpoints": [
            {"provider": "a", "upstream_model": "one", "input_price": 2.0, "output_price": 4.0},
            {"provider": "b", "upstream_model": "one"},
            {"provider": "c", "upstream_model": "one", "input_price": 1.0, "output_price": 1.0}]}),
        json!({"slug": "m/two", "endpoints": [
            {"provider": "c", "upstream_model": "two", "input_price": 0.5, "output_price": 0.5}]}),
        json!({"slug": "m/think", "supported_parameters": ["reasoning"], "endpoints": [
            {"provider": "a", "upstream_model": "think"}]}),
        json!({"slug": "m/paid:free", "endpoints": [
            {"provider": "a", "upstream_model": "own", "input_price": 9.0}]}),
    ]
    .into_iter()
    .map(|m| (serde_json::from_value(m).unwrap(), 0))
    .collect();
    let rows = RegistryRows {
        version: 1,
        providers,
        models,
        revisions: Default::default(),
        keys: Vec::new(),
        presets: Default::default(),
    };
    let ctx = BuildContext {
        client: reqwest::Client::new(),
        limits: UpstreamLimits::default(),
    };
    Snapshot::build(rows, &ctx)
}

fn route<'a>(
    model: &'a str,
    models: &'a [String],
    provider: &'a ProviderPreferences,
) -> RouteRequest<'a> {
    RouteRequest {
        model: (!model.is_empty()).then_some(model),
        models,
        provider,
        used_parameters: Vec::new(),
        kind: ModelKind::Chat,
    }
}

fn order(plan: &Plan) -> Vec<String> {
    plan.attempts
        .iter()
        .map(|a| format!("{}@{}", a.model, a.provider))
        .collect()
}

fn prefs(v: serde_json::Value) -> ProviderPreferences {
    serde_json::from_value(v).unwrap()
}

fn run(
    model: &str,
    models: &[String],
    p: &ProviderPreferences,
    stats: &LiveStats,
) -> Result<Plan, PlanError> {
    plan(&snapshot(), &route(model, models, p), &routing(), stats)
}

#[test]
fn registry_order_then_the_fallback_chain() {
    let p = run(
        "m/one",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&p), ["m/one@a", "m/one@b", "m/one@c", "m/two@c"]);
    assert!(!p.thinking);
}

#[test]
fn free_keeps_only_zero_priced_endpoints_and_free_fallbacks() {
    let p = run(
        "m/one:free",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&p), ["m/one@b"], "the paid chain model is not tried");
    let e = run(
        "m/two:free",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap_err();
    match e {
        PlanError::NoEndpoint {
            by_request,
            reasons,
            ..
        } => {
            assert!(by_request);
            assert!(reasons[0].contains(":free"), "{reasons:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_exact_slug_wins_over_a_variant() {
    let p = run(
        "m/paid:free",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&p), ["m/paid:free@a"]);
}

#[test]
fn floor_sorts_by_price_within_the_model() {
    let p = run(
        "m/one:floor",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&p), ["m/one@b", "m/one@c", "m/one@a", "m/two@c"]);
}

#[test]
fn nitro_sorts_by_measured_throughput_unknown_last() {
    let stats = LiveStats::default();
    let rec = |provider: &str, tokens: i64| RequestRecord {
        served_model: Some("m/one".into()),
        provider: Some(provider.into()),
        outcome: "success".into(),
        latency_ms: 1000,
        completion_tokens: tokens,
        ..RequestRecord::default()
    };
    stats.observe(&[rec("a", 10), rec("c", 500)]);
    let p = run("m/one:nitro", &[], &ProviderPreferences::default(), &stats).unwrap();
    assert_eq!(order(&p), ["m/one@c", "m/one@a", "m/one@b", "m/two@c"]);
    let p = run("m/one", &[], &prefs(json!({"sort": "latency"})), &stats).unwrap();
    assert_eq!(order(&p)[2], "m/one@b", "no figures: last");
}

#[test]
fn sort_partition_none_ranks_across_models() {
    let models = vec!["m/one".to_owned(), "m/two".to_owned()];
    let within = run(
        "",
        &models,
        &prefs(json!({"sort": {"by": "price"}})),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&within), ["m/one@b", "m/one@c", "m/one@a", "m/two@c"]);
    let across = run(
        "",
        &models,
        &prefs(json!({"sort": {"by": "price", "partition": "none"}})),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&across), ["m/one@b", "m/two@c", "m/one@c", "m/one@a"]);
}

#[test]
fn thinking_is_for_models_that_reason() {
    let p = run(
        "m/think:thinking",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap();
    assert!(p.thinking);
    assert!(p.without_thinking("reasoning").is_err());
    let e = run(
        "m/one:thinking",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, PlanError::Variant { variant, .. } if variant == "thinking"),
        "{e:?}"
    );
    assert!(e.to_string().contains("does not reason"), "{e}");
}

#[test]
fn unservable_and_unknown_variants_name_themselves() {
    for (name, variant) in [
        ("m/one:exacto", "exacto"),
        ("m/one:online", "online"),
        ("m/one:beta", "beta"),
    ] {
        let e = run(
            name,
            &[],
            &ProviderPreferences::default(),
            &LiveStats::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, PlanError::Variant { variant: v, .. } if v == variant),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains(&format!(":{variant}")), "{e}");
    }
    // An unknown base is an unknown model, whatever its suffix.
    let e = run(
        "nope/x:free",
        &[],
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap_err();
    assert!(matches!(e, PlanError::UnknownModel { .. }), "{e:?}");
}

#[test]
fn unknown_names_in_a_list_are_skipped_and_reported_only_if_nothing_serves() {
    let models = vec!["nope/x".to_owned(), "m/two".to_owned()];
    let p = run(
        "",
        &models,
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap();
    assert_eq!(order(&p), ["m/two@c"]);
    assert_eq!(p.requested, "m/two");

    let only_unknown = vec!["nope/x".to_owned(), "nope/y".to_owned()];
    let e = run(
        "",
        &only_unknown,
        &ProviderPreferences::default(),
        &LiveStats::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, PlanError::UnknownModel { name, .. } if name == "nope/x"),
        "{e:?}"
    );

    // Something resolved but cannot serve: the skipped name is among the reasons.
    let e = run(
        "",
        &models,
        &prefs(json!({"only": ["a"]})),
        &LiveStats::default(),
    )
    .unwrap_err();
    match e {
        PlanError::NoEndpoint { reasons, .. } => {
            assert!(reasons.iter().any(|r| r.contains("nope/x")), "{reasons:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn order_without_fallbacks_that_cannot_be_served_is_the_requests_doing() {
    let e = run(
        "m/two",
        &[],
        &prefs(json!({"order": ["a"], "allow_fallbacks": false})),
        &LiveStats::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PlanError::NoEndpoint {
                by_request: true,
                ..
            }
        ),
        "{e:?}"
    );
}
