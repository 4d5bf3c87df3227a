//! Streaming: pass-through, usage visibility, the commit point, keep-alives, mid-stream
//! failures and client disconnects.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::fake::{fixture, split_events, text_stream, Fake, Reply};
use crate::helpers::*;

fn one(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up-model")], &[])
}

fn two(a: &Fake, b: &Fake) -> String {
    provider("p1", &a.base_url())
        + &provider("p2", &b.base_url())
        + &model("test/m", &[("p1", "a"), ("p2", "b")], &[])
}

fn stream_req() -> Value {
    json!({"model": "test/m", "stream": true, "messages": user("Say hi in Portuguese")})
}

#[tokio::test]
async fn usage_is_obtained_upstream_but_hidden_unless_asked() {
    let fake = Fake::start(vec![Reply::simple_stream()]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req()).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;

    assert_eq!(content(&events), "Olá!");
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    for c in chunks(&events) {
        assert_eq!(c["model"], "test/m");
        assert_eq!(c["provider"], "fake");
        assert!(
            c.get("usage").is_none(),
            "client did not ask for usage: {c}"
        );
        assert!(
            !c["choices"].as_array().unwrap().is_empty(),
            "no usage-only chunk: {c}"
        );
    }
    assert_eq!(
        fake.received()[0].body["stream_options"]["include_usage"],
        true
    );
    let rec = app.record(&id).await;
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.usage_estimated
        ),
        (20, 2, false)
    );
    assert!(rec.streamed && rec.ttft_ms.is_some());
    assert_eq!(rec.outcome, "success");

    let mut req = stream_req();
    req["stream_options"] = json!({"include_usage": true});
    let events = sse_of(app.chat(req).await).await;
    let last = chunks(&events).pop().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 22);
    app.stop().await;
}

#[tokio::test]
async fn tool_call_fragments_pass_through() {
    let fake = Fake::start(vec![Reply::sse_fixture("openai/multi_tool_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let events = sse_of(app.chat(stream_req()).await).await;
    let expected: Vec<Value> = split_events(&fixture("openai/multi_tool_streaming.sse"))
        .iter()
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|c| !c["choices"].as_array().unwrap().is_empty())
        .collect();
    let got = chunks(&events);
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g["choices"], e["choices"], "choices are untouched");
    }
    let finish = got
        .iter()
        .rev()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("tool_calls"));
    app.stop().await;
}

#[tokio::test]
async fn openrouter_keepalive_comments_and_usage_on_finish_chunk() {
    let fake = Fake::start(vec![Reply::sse_fixture("openrouter/simple_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let events = sse_of(app.chat(stream_req()).await).await;
    assert_eq!(content(&events), "Olá! 👋\n\nHow can I help you today?");
    assert!(
        events.iter().all(|e| !matches!(e, Event::Comment(_))),
        "upstream comments are not forwarded"
    );
    app.stop().await;
}

#[tokio::test]
async fn chunks_are_forwarded_as_they_arrive() {
    let fake = Fake::start(vec![Reply::Sse {
        events: text_stream(&["one", "two", "three"]),
        first: Duration::ZERO,
        between: Duration::from_millis(400),
    }])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let t0 = Instant::now();
    let resp = app.chat(stream_req()).await;
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    let mut first_content_at = None;
    while let Some(part) = body.next().await {
        seen.push_str(std::str::from_utf8(&part.unwrap()).unwrap());
        if first_content_at.is_none() && seen.contains("\"one\"") {
            first_content_at = Some(t0.elapsed());
        }
    }
    let total = t0.elapsed();
    let first = first_content_at.expect("content arrived");
    // The stream spans at least 1.6 s upstream; the first piece must not wait for the rest.
    assert!(total >= Duration::from_millis(1500), "{total:?}");
    assert!(
        first < total - Duration::from_millis(800),
        "first content at {first:?} of {total:?}: buffered"
    );
    app.stop().await;
}

#[tokio::test]
async fn failures_before_the_first_token_fall_back_invisibly() {
    let role_only = text_stream(&[])[..1].to_vec();
    let scripts = vec![
        (
            "cut before content",
            Reply::SseDropped {
                events: text_stream(&["x"]),
                after: 1,
                between: Duration::ZERO,
            },
        ),
        (
            "empty stream",
            Reply::Sse {
                events: vec!["data: [DONE]".into()],
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
        ),
        (
            "ends without output",
            Reply::Sse {
                events: role_only,
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
        ),
        (
            "malformed event",
            Reply::Sse {
                events: vec!["data: {not json".into()],
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
        ),
        (
            "error body with 200",
            Reply::Sse {
                events: vec![r#"data: {"error":{"message":"overloaded","code":503}}"#.into()],
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
        ),
        ("error status", Reply::error(503, "overloaded")),
    ];
    for (what, reply) in scripts {
        let bad = Fake::start(vec![reply]).await;
        let good = Fake::start(vec![Reply::Sse {
            events: text_stream(&["fine"]),
            first: Duration::ZERO,
            between: Duration::ZERO,
        }])
        .await;
        let app = TestApp::spawn(&two(&bad, &good)).await;
        let resp = app.chat(stream_req()).await;
        let id = request_id(&resp);
        let events = sse_of(resp).await;
        assert_eq!(content(&events), "fine", "{what}");
        assert!(error_chunk(&events).is_none(), "{what}");
        let roles = chunks(&events)
            .iter()
            .filter(|c| c["choices"][0]["delta"]["role"].is_string())
            .count();
        assert_eq!(roles, 1, "{what}: only the serving attempt's role chunk");
        assert!(
            chunks(&events).iter().all(|c| c["provider"] == "p2"),
            "{what}"
        );
        let rec = app.record(&id).await;
        assert_eq!(rec.attempts.len(), 2, "{what}");
        assert_ne!(rec.attempts[0].outcome, "ok", "{what}");
        assert_eq!(rec.provider.as_deref(), Some("p2"), "{what}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_stream_that_never_commits_gets_a_real_http_error() {
    let fake = Fake::start(vec![Reply::Sse {
        events: vec!["data: [DONE]".into()],
        first: Duration::ZERO,
        between: Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req()).await;
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("fake") && msg.contains("empty"), "{msg}");
    app.stop().await;
}

#[tokio::test]
async fn slow_first_token_falls_back_after_the_deadline() {
    let slow = Fake::start(vec![Reply::Delayed(
        Duration::from_secs(5),
        Box::new(Reply::simple_stream()),
    )])
    .await;
    let fast = Fake::start(vec![Reply::simple_stream()]).await;
    let opts = Opts {
        extra: "[routing]\nfirst_token_timeout_secs = 0.3\nkeepalive_after_secs = 10\n".into(),
        ..Default::default()
    };
    let app = TestApp::spawn_with(&two(&slow, &fast), opts).await;
    let resp = app.chat(stream_req()).await;
    let id = request_id(&resp);
    assert_eq!(content(&sse_of(resp).await), "Olá!");
    let rec = app.record(&id).await;
    assert_eq!(rec.attempts[0].outcome, "timeout");
    assert_eq!(rec.attempts[1].outcome, "ok");
    app.stop().await;
}

#[tokio::test]
async fn keepalive_comments_start_after_the_delay() {
    let fake = Fake::start(vec![Reply::Sse {
        events: text_stream(&["late"]),
        first: Duration::from_millis(900),
        between: Duration::ZERO,
    }])
    .await;
    let opts = Opts {
        extra: "[routing]\nkeepalive_after_secs = 0.2\nkeepalive_interval_secs = 0.2\n".into(),
        ..Default::default()
    };
    let app = TestApp::spawn_with(&one(&fake), opts).await;
    let events = sse_of(app.chat(stream_req()).await).await;
    let first_data = events
        .iter()
        .position(|e| matches!(e, Event::Data(_)))
        .unwrap();
    assert!(first_data >= 2, "keep-alives before data: {events:?}");
    assert!(events[..first_data]
        .iter()
        .all(|e| *e == Event::Comment("switchyard processing".into())));
    assert_eq!(content(&events), "late");
    app.stop().await;
}

#[tokio::test]
async fn failure_after_keepalives_is_reported_in_stream() {
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_millis(600),
        Box::new(Reply::error(500, "kaput")),
    )])
    .await;
    let opts = Opts {
        extra: "[routing]\nkeepalive_after_secs = 0.1\nkeepalive_interval_secs = 0.1\n".into(),
        ..Default::default()
    };
    let app = TestApp::spawn_with(&one(&fake), opts).await;
    let events = sse_of(app.chat(stream_req()).await).await;
    let err = error_chunk(&events).expect("error chunk");
    assert!(err["error"]["message"].as_str().unwrap().contains("kaput"));
    assert_eq!(err["choices"][0]["finish_reason"], "error");
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    app.stop().await;
}

#[tokio::test]
async fn fast_failures_keep_their_status_without_keepalives() {
    let fake = Fake::start(vec![Reply::error(500, "kaput")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req()).await;
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("fake") && msg.contains("HTTP 500") && msg.contains("kaput"),
        "{msg}"
    );
    app.stop().await;
}

#[tokio::test]
async fn failures_after_the_commit_point_end_with_an_error_chunk() {
    let mut with_error = text_stream(&["partial"]);
    with_error.truncate(2);
    with_error.push(r#"data: {"error":{"message":"upstream exploded","code":502}}"#.into());
    let mut stalled = text_stream(&["partial", "never"]);
    stalled.insert(2, "#sleep:5000".into());
    let scripts = vec![
        (
            "connection cut",
            Reply::SseDropped {
                events: text_stream(&["partial", "more"]),
                after: 2,
                between: Duration::ZERO,
            },
            "cut",
        ),
        (
            "in-stream error",
            Reply::Sse {
                events: with_error,
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
            "cut",
        ),
        (
            "closed without finish",
            Reply::Sse {
                events: text_stream(&["partial"])[..2].to_vec(),
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
            "cut",
        ),
        (
            "stalled",
            Reply::Sse {
                events: stalled,
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
            "timeout",
        ),
    ];
    for (what, reply, outcome) in scripts {
        let fake = Fake::start(vec![reply]).await;
        let other = Fake::start(vec![Reply::simple_stream()]).await;
        let opts = Opts {
            extra: "[routing]\nstream_idle_timeout_secs = 0.5\n".into(),
            ..Default::default()
        };
        let app = TestApp::spawn_with(&two(&fake, &other), opts).await;
        let resp = app.chat(stream_req()).await;
        let id = request_id(&resp);
        let events = sse_of(resp).await;
        assert!(
            content(&events).starts_with("partial"),
            "{what}: {events:?}"
        );
        let err =
            error_chunk(&events).unwrap_or_else(|| panic!("{what}: no error chunk in {events:?}"));
        assert_eq!(err["choices"][0]["finish_reason"], "error", "{what}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("p1"),
            "{what}"
        );
        assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())), "{what}");
        assert_eq!(
            other.calls(),
            0,
            "{what}: no fallback after the commit point"
        );
        let rec = app.record(&id).await;
        assert_eq!(rec.outcome, outcome, "{what}");
        assert!(
            rec.usage_estimated,
            "{what}: usage never came, so it is estimated"
        );
        assert!(rec.completion_tokens > 0, "{what}");
        app.stop().await;
    }
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_and_is_recorded() {
    let pieces: Vec<String> = (0..50).map(|i| format!("p{i} ")).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let fake = Fake::start(vec![Reply::Sse {
        events: text_stream(&refs),
        first: Duration::ZERO,
        between: Duration::from_millis(100),
    }])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req()).await;
    let id = request_id(&resp);
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("p2 ") {
        seen.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
    }
    assert_eq!(fake.open_streams(), 1);
    drop(body);

    let mut closed = false;
    for _ in 0..50 {
        if fake.open_streams() == 0 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the upstream stream was not cancelled");
    let rec = app.record(&id).await;
    assert_eq!(rec.outcome, "cancelled");
    assert!(rec.cancelled && rec.usage_estimated);
    assert!(rec.completion_tokens > 0, "what was generated is estimated");
    assert_eq!(rec.provider.as_deref(), Some("fake"));
    app.stop().await;
}

#[tokio::test]
async fn client_disconnect_during_a_json_request_is_recorded() {
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_secs(3),
        Box::new(Reply::simple()),
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = short
        .post(app.url("/v1/chat/completions"))
        .json(&json!({"model": "test/m", "messages": user("x")}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let recs = app.records(1).await;
    assert_eq!(recs[0].outcome, "cancelled");
    assert!(recs[0].cancelled);
    assert_eq!(recs[0].attempts[0].outcome, "cancelled");
    app.stop().await;
}
