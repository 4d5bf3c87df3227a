//! Live figures from the gateway's own traffic: after real requests through a failing and a
//! slow upstream, the catalog's endpoints carry latency, throughput, uptime and status in
//! OpenRouter's shape (schema-checked), and `GET /admin/endpoints` lists every endpoint's.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{text_stream, Fake, Reply};
use crate::helpers::*;

const FIRST_TOKEN: Duration = Duration::from_millis(200);
const BETWEEN: Duration = Duration::from_millis(30);

/// `bad` always answers 503; `slow` streams five tokens after a 200 ms wait.
async fn upstreams() -> (Fake, Fake, String) {
    let bad = Fake::start(vec![Reply::error(503, "down for maintenance")]).await;
    let slow = Fake::start(vec![Reply::Sse {
        events: text_stream(&["a", "b", "c", "d", "e"]),
        first: FIRST_TOKEN,
        between: BETWEEN,
    }])
    .await;
    let registry = format!(
        "{}{}{}{}",
        provider("bad", &bad.base_url()),
        provider("slow", &slow.base_url()),
        model("t/x", &[("bad", "up-x"), ("slow", "up-x")], &[]),
        model("t/idle", &[("slow", "up-idle")], &[]),
    );
    (bad, slow, registry)
}

/// A streamed request that tries `bad` first and falls back to `slow`.
async fn ask(app: &TestApp, key: Option<&str>) {
    let mut rb = app
        .client
        .post(app.url("/api/v1/chat/completions"))
        .json(&json!({
            "model": "t/x",
            "stream": true,
            "messages": user("hi"),
            "provider": {"order": ["bad", "slow"]},
        }));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    let events = sse_of(rb.send().await.unwrap()).await;
    assert_eq!(field(&events, "content"), "abcde");
}

/// `/admin/endpoints`, polled until `slow` on `t/x` counts `n` attempts (the figures follow
/// the request log's writer, which flushes in the background).
async fn admin_endpoints_after(app: &TestApp, n: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = app.admin(Method::GET, "/admin/endpoints", None).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let data = body["data"].as_array().unwrap().clone();
        let seen = row(&data, "slow", "t/x")["requests_last_30m"]
            .as_u64()
            .unwrap();
        if seen >= n {
            return data;
        }
        assert!(
            Instant::now() < deadline,
            "the figures never counted {n} requests: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn row<'a>(data: &'a [Value], provider: &str, model: &str) -> &'a Value {
    data.iter()
        .find(|r| r["provider"] == provider && r["model"] == model)
        .unwrap_or_else(|| panic!("no row for {provider} / {model} in {data:#?}"))
}

fn endpoint<'a>(doc: &'a Value, tag: &str) -> &'a Value {
    doc["data"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tag"] == tag)
        .unwrap_or_else(|| panic!("no endpoint {tag} in {doc:#}"))
}

fn assert_percentiles(p: &Value, at_least: f64, below: f64) {
    let v: Vec<f64> = ["p50", "p75", "p90", "p99"]
        .iter()
        .map(|k| p[k].as_f64().unwrap_or_else(|| panic!("{k} in {p}")))
        .collect();
    assert!(v.windows(2).all(|w| w[0] <= w[1]), "ordered: {p}");
    assert!(
        v[0] >= at_least && v[3] < below,
        "{p} not in [{at_least}, {below})"
    );
}

#[tokio::test]
async fn figures_from_real_traffic() {
    let (bad, slow, registry) = upstreams().await;
    let app = TestApp::spawn(&registry).await;

    // Before any traffic: every endpoint present, no figures.
    let quiet = app.get_json("/api/v1/models/t/x/endpoints", None).await;
    assert_eq!(endpoint(&quiet, "slow")["latency_last_30m"], Value::Null);
    assert_eq!(endpoint(&quiet, "bad")["uptime_last_5m"], Value::Null);
    assert_eq!(endpoint(&quiet, "bad")["status"], 0);

    for _ in 0..3 {
        ask(&app, None).await;
    }
    assert_eq!((bad.calls(), slow.calls()), (3, 3));
    let data = admin_endpoints_after(&app, 3).await;

    // The endpoints document, checked against OpenRouter's schema by `get_json`.
    let doc = app.get_json("/api/v1/models/t/x/endpoints", None).await;
    let s = endpoint(&doc, "slow");
    assert_eq!(s["uptime_last_5m"], 100.0);
    assert_eq!(s["uptime_last_30m"], 100.0);
    assert_eq!(s["uptime_last_1d"], 100.0);
    assert_eq!(s["status"], 0);
    // Time to first token: at least the upstream's wait, in milliseconds.
    let floor = FIRST_TOKEN.as_millis() as f64;
    assert_percentiles(&s["latency_last_30m"], floor, 10_000.0);
    // Five tokens over at least four gaps: well under a thousand per second.
    assert_percentiles(&s["throughput_last_30m"], 0.5, 1000.0);

    let b = endpoint(&doc, "bad");
    assert_eq!(b["uptime_last_5m"], 0.0);
    assert_eq!(b["uptime_last_1d"], 0.0);
    assert_eq!(b["status"], -10, "every attempt failed");
    assert_eq!(b["latency_last_30m"], Value::Null);
    assert_eq!(b["throughput_last_30m"], Value::Null);

    // The admin view: the same figures, every registry endpoint, sorted.
    let keys: Vec<(String, String)> = data
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap().into(),
                r["model"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [("bad", "t/x"), ("slow", "t/idle"), ("slow", "t/x")]
        .map(|(p, m)| (p.to_owned(), m.to_owned()));
    assert_eq!(keys, want);
    let (rs, rb) = (row(&data, "slow", "t/x"), row(&data, "bad", "t/x"));
    assert_eq!(rs["latency_last_30m"], s["latency_last_30m"]);
    assert_eq!(rs["throughput_last_30m"], s["throughput_last_30m"]);
    assert_eq!(rs["uptime_last_5m"], 100.0);
    assert_eq!(rb["requests_last_30m"], 3);
    assert_eq!(rb["status"], -10);
    assert_eq!(rb["uptime_last_30m"], 0.0);
    let idle = row(&data, "slow", "t/idle");
    assert_eq!(
        idle,
        &json!({"provider": "slow", "model": "t/idle", "status": 0,
                "latency_last_30m": null, "throughput_last_30m": null,
                "uptime_last_5m": null, "uptime_last_30m": null, "uptime_last_1d": null,
                "requests_last_30m": 0})
    );
    app.stop().await;
}

#[tokio::test]
async fn admin_endpoints_needs_the_master_key() {
    let (_bad, _slow, registry) = upstreams().await;
    let app = TestApp::spawn(&registry).await;
    let anonymous = app
        .client
        .get(app.url("/admin/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .client
        .get(app.url("/admin/endpoints"))
        .bearer_auth("not-the-master-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    app.stop().await;
}

/// As OpenRouter: speed figures only for an authenticated caller when keys are required;
/// uptime and status for anyone.
#[tokio::test]
async fn speed_figures_need_a_key_when_keys_are_required() {
    let (_bad, _slow, registry) = upstreams().await;
    let app = TestApp::spawn_with(
        &registry,
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;
    let created: Value = app
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "live"})))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    ask(&app, Some(&key)).await;
    admin_endpoints_after(&app, 1).await;

    let anonymous = app.get_json("/api/v1/models/t/x/endpoints", None).await;
    let s = endpoint(&anonymous, "slow");
    assert_eq!(s["latency_last_30m"], Value::Null);
    assert_eq!(s["throughput_last_30m"], Value::Null);
    assert_eq!(s["uptime_last_5m"], 100.0);

    let keyed = app
        .get_json("/api/v1/models/t/x/endpoints", Some(&key))
        .await;
    assert!(endpoint(&keyed, "slow")["latency_last_30m"].is_object());
    assert!(endpoint(&keyed, "slow")["throughput_last_30m"].is_object());
    app.stop().await;
}
