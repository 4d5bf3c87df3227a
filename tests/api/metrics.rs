//! `GET /metrics`: Prometheus text behind the master key or the metrics token, or open on
//! its own listener; what a request came to is counted once it ends.

use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::helpers::*;

fn registry(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let mut rb = app.client.get(app.url("/metrics"));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

/// Records end a moment after the response (the stream's meter, the writer).
async fn scrape_until(app: &TestApp, token: &str, needle: &str) -> String {
    for _ in 0..100 {
        let (status, _, text) = scrape(app, Some(token)).await;
        assert_eq!(status, 200, "{text}");
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, _, text) = scrape(app, Some(token)).await;
    panic!("no `{needle}` in\n{text}");
}

#[tokio::test]
async fn requests_and_refusals_are_counted_behind_the_master_key() {
    let fake = Fake::start(vec![Reply::simple(), Reply::simple_stream()]).await;
    let app = TestApp::spawn(&registry(&fake)).await;
    let (status, _) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("hi")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let resp = app
        .client
        .post(app.url("/api/v1/chat/completions"))
        .json(&json!({"model": "test/m", "stream": true, "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    let _ = resp.text().await.unwrap();
    let (status, _) = json_of(
        app.chat(json!({"model": "nope/x", "messages": user("hi")}))
            .await,
    )
    .await;
    assert_eq!(status, 404);

    let text = scrape_until(
        &app,
        MASTER,
        r#"switchyard_requests_total{door="chat",model="test/m",provider="fake",outcome="success",status_class="2xx"} 2"#,
    )
    .await;
    for line in [
        r#"switchyard_refusals_total{reason="unknown_model"} 1"#,
        r#"switchyard_streams_total{door="chat",outcome="success"} 1"#,
        r#"switchyard_time_to_first_token_seconds_count{door="chat"} 1"#,
        r#"switchyard_upstream_attempts_total{provider="fake",outcome="ok"} 2"#,
        r#"switchyard_tokens_total{model="test/m",kind="prompt"} 40"#,
        "switchyard_in_flight_requests 0",
        "switchyard_request_log_queue ",
        "switchyard_registry_version ",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(
        !text.contains("nope/x"),
        "a client's model name is not a label"
    );
    let (_, ct, _) = scrape(&app, Some(MASTER)).await;
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");

    // No key, a wrong one, an inference key: 401 in OpenAI's shape.
    for token in [None, Some("wrong")] {
        let (status, _, body) = scrape(&app, token).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_metrics_token_reads_them_and_a_separate_listener_needs_none() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            metrics_token: Some("scraper-token".into()),
            metrics_listen: true,
            ..Default::default()
        },
    )
    .await;
    let (status, _, text) = scrape(&app, Some("scraper-token")).await;
    assert_eq!(status, 200, "{text}");
    let open = app.metrics_addr.expect("a metrics listener");
    let resp = app
        .client
        .get(format!("http://{open}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("switchyard_in_flight_requests"));
    // Only /metrics there.
    let resp = app
        .client
        .post(format!("http://{open}/v1/chat/completions"))
        .json(&json!({"model": "test/m", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(fake.received().is_empty());
    app.stop().await;
}

/// Streams in flight, attempt and write latencies, and per-key series only for the keys an
/// operator named in `[metrics] key_labels`.
#[tokio::test]
async fn streams_latencies_and_opted_in_keys() {
    let fake = Fake::start(vec![Reply::simple_stream(), Reply::simple_stream()]).await;
    let first = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            require_keys: true,
            ..Opts::default()
        },
    )
    .await;
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for name in ["labelled", "unlabelled"] {
        let (id, secret) = create_key(&first, json!({"name": name})).await;
        ids.push(id);
        secrets.push(secret);
    }
    // A second replica on the same database, configured with the first key's id.
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            require_keys: true,
            database_url: Some(first.database_url.clone()),
            extra: format!("[metrics]\nkey_labels = [\"{}\"]\n", ids[0]),
            ..Opts::default()
        },
    )
    .await;
    for secret in &secrets {
        let resp = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(secret)
            .json(&json!({"model": "test/m", "stream": true, "messages": user("hi")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let _ = resp.text().await.unwrap();
    }
    let text = scrape_until(
        &app,
        MASTER,
        &format!(
            r#"switchyard_key_requests_total{{key="{}",outcome="success"}} 1"#,
            ids[0]
        ),
    )
    .await;
    // The writer commits a moment after the requests end.
    let mut text = text;
    for _ in 0..100 {
        if text.contains("switchyard_request_log_write_seconds_count ")
            && !text.contains("switchyard_request_log_write_seconds_count 0")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        text = scrape(&app, Some(MASTER)).await.2;
    }
    assert!(
        !text.contains(&ids[1]),
        "an unlabelled key is not a label\n{text}"
    );
    let cost = format!(r#"switchyard_key_cost_usd_total{{key="{}"}} "#, ids[0]);
    for line in [
        cost.as_str(),
        "switchyard_in_flight_streams 0",
        r#"switchyard_upstream_attempt_duration_seconds_count{provider="fake",outcome="ok"} 2"#,
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(
        text.contains("switchyard_request_log_write_seconds_count ")
            && !text.contains("switchyard_request_log_write_seconds_count 0"),
        "{text}"
    );
    app.stop().await;
    first.stop().await;
}
