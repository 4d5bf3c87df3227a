//! Hostile input and faults: nothing crashes, nothing hangs, nothing leaks. Each test names
//! the defect it guards against.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

async fn one_model_app(fake: &Fake) -> TestApp {
    TestApp::spawn(&(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])))
        .await
}

/// Model names had no length cap (about 16 MB of log per request at the body limit), and a
/// long `models[]` cost quadratic work in the planner (two 650 kB requests stalled the
/// gateway for seconds).
#[tokio::test]
async fn model_names_and_model_lists_are_bounded() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = one_model_app(&fake).await;

    let long = "m".repeat(100_000);
    let (status, body) = json_of(
        app.chat(json!({"model": long, "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "model");
    assert_eq!(body["error"]["code"], "string_above_max_length");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.len() < 300 && msg.contains("256"), "{msg}");

    let many: Vec<String> = (0..50_000).map(|i| format!("x/m{i}")).collect();
    let (status, body) = json_of(
        app.chat(json!({"models": many, "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "models");
    assert_eq!(body["error"]["code"], "array_above_max_length");

    let long_in_list = vec!["test/m".to_owned(), "y".repeat(1000)];
    let (status, body) = json_of(
        app.chat(json!({"models": long_in_list, "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "models");

    // Within the limits, nothing changes.
    let (status, _) = json_of(
        app.chat(json!({"models": ["test/m", "test/m"], "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    // Nothing refused here was written to the request log.
    let value: Value = app.get_json("/v1/health", None).await;
    assert_eq!(value["status"], "ok");
    app.stop().await;
}

/// Transport errors reached clients verbatim, naming the internal upstream URL.
#[tokio::test]
async fn clients_never_see_internal_upstream_addresses() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Nothing listens there any more.
    let reg = provider("internal", &format!("http://{closed}/secret-path/v1"))
        + &model("test/m", &[("internal", "up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("x")}))
        .await;
    let id = request_id(&resp);
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 502, "{body}");
    let text = body.to_string();
    assert!(!text.contains(&closed.to_string()), "{text}");
    assert!(!text.contains("secret-path"), "{text}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("internal") && msg.contains("could not connect"),
        "{msg}"
    );
    // Nor does the record, which admin users and exports read.
    let rec = app.record(&id).await;
    let stored = format!("{:?} {:?}", rec.error, rec.attempts);
    assert!(!stored.contains("secret-path"), "{stored}");
    app.stop().await;
}

/// An upstream that echoes the provider key in an error message got it into the client's
/// error, the log and the database.
#[tokio::test]
async fn a_provider_key_echoed_by_the_upstream_is_redacted_everywhere() {
    const KEY: &str = "sk-echoed-0123456789abcdef";
    std::env::set_var("SWITCHYARD_TEST_ECHO_KEY", KEY);
    let echo = format!("Incorrect API key provided: {KEY}. You can find your API key at ...");
    let fake = Fake::start(vec![Reply::error(401, &echo)]).await;
    let reg = format!(
        "[[providers]]\nid = \"echoing\"\nkind = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"SWITCHYARD_TEST_ECHO_KEY\"\n\n",
        fake.base_url()
    ) + &model("test/m", &[("echoing", "up")], &[]);
    let app = TestApp::spawn(&reg).await;
    for stream in [false, true] {
        let resp = app
            .chat(json!({"model": "test/m", "stream": stream, "messages": user("x")}))
            .await;
        let id = request_id(&resp);
        let text = resp.text().await.unwrap();
        assert!(!text.contains(KEY), "{text}");
        assert!(
            text.contains("Incorrect API key provided: [redacted]"),
            "{text}"
        );
        let rec = app.record(&id).await;
        let stored = format!("{:?} {:?}", rec.error, rec.attempts);
        assert!(
            !stored.contains(KEY) && stored.contains("[redacted]"),
            "{stored}"
        );
    }
    // The upstream did receive the key (the redaction is on the way back only).
    assert_eq!(
        fake.received()[0].headers["authorization"],
        format!("Bearer {KEY}")
    );
    app.stop().await;
}

/// Provider declarations were read back from the database with `deny_unknown_fields`, so
/// once a newer replica wrote a field an older one could not reload or start.
#[tokio::test]
async fn declarations_written_by_a_newer_version_still_load() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = one_model_app(&fake).await;
    let sql = "UPDATE providers SET decl = REPLACE(decl, '\"id\":\"fake\"', '\"id\":\"fake\",\"from_the_future\":{\"x\":1}')";
    let n = match &app.store {
        switchyard::store::Store::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap().rows_affected()
        }
        switchyard::store::Store::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap().rows_affected()
        }
    };
    assert_eq!(n, 1);
    let rows = app
        .store
        .load_registry()
        .await
        .expect("loads despite the unknown field");
    assert!(rows.providers.iter().any(|p| p.id == "fake"));
    // A second replica starts on the same database and serves.
    let second = TestApp::spawn_with(
        &(provider("other", &fake.base_url()) + &model("test/o", &[("other", "up")], &[])),
        Opts {
            database_url: Some(app.database_url.clone()),
            ..Default::default()
        },
    )
    .await;
    let (status, _) = json_of(
        second
            .chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    second.stop().await;
    app.stop().await;
}

/// Every start re-applied the config file over admin edits without saying so. Now a start
/// applies the file only where it changed: an admin edit survives a restart with the same
/// file (and the log says it was kept), and a changed declaration replaces it with a warning.
#[tokio::test]
async fn a_start_keeps_admin_edits_unless_the_file_changed_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let config = "[auth]\nrequire_keys = true\n\
        [[providers]]\nid = \"mock\"\nkind = \"mock\"\n\
        [[models]]\nslug = \"mock/m\"\n[[models.endpoints]]\nprovider = \"mock\"\nupstream_model = \"echo\"\n\
        input_price = 1.0\noutput_price = 1.0\n";
    let envs = [
        ("SWITCHYARD_MASTER_KEY", MASTER),
        ("SWITCHYARD_LOG", "info"),
    ];
    let first = Process::start(config, &db, &envs).await;
    let resp = reqwest::Client::new()
        .post(first.url("/admin/models"))
        .bearer_auth(MASTER)
        .json(&json!({"slug": "mock/m", "name": "Edited by an admin",
                      "endpoints": [{"provider": "mock", "upstream_model": "echo", "input_price": 2.0, "output_price": 2.0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    first.stop().await;

    let second = Process::start(config, &db, &envs).await;
    let log = second.log();
    assert!(
        log.contains("config unchanged") && log.contains("model mock/m"),
        "{log}"
    );
    let m: Value = reqwest::get(second.url("/v1/models/mock/m"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["name"], "Edited by an admin", "{m}");
    second.stop().await;

    let changed = config.replace("input_price = 1.0", "input_price = 3.0");
    let third = Process::start(&changed, &db, &envs).await;
    let log = third.log();
    assert!(log.contains("config applied: 1 model updated"), "{log}");
    assert!(
        log.contains("WARN") && log.contains("replaced") && log.contains("model mock/m"),
        "{log}"
    );
    let m: Value = reqwest::get(third.url("/v1/models/mock/m"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["name"], "mock/m", "{m}");
    third.stop().await;
}

/// Upstream bodies, SSE events and the pre-commit buffer had no size cap: a 300 MB
/// completion took the gateway to 914 MB, a 200 MB SSE line blocked a worker for a minute.
/// Each is now refused as malformed past its limit, and the next endpoint serves.
#[tokio::test]
async fn oversized_upstream_answers_are_refused_and_fall_back() {
    let huge = "x".repeat(3 * 1024 * 1024);
    let big_json = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": huge}, "finish_reason": "stop"}]})
    .to_string();
    let big_event = vec![format!(
        "data: {}",
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": huge}, "finish_reason": null}]})
    )];
    let role_only = format!(
        "data: {}",
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})
    );
    let chatty = Reply::Sse {
        events: vec![role_only; 50],
        first: Duration::ZERO,
        between: Duration::ZERO,
    };
    let cases = [
        (Reply::Json(big_json), false, "a response larger than"),
        (
            Reply::Sse {
                events: big_event,
                first: Duration::ZERO,
                between: Duration::ZERO,
            },
            true,
            "an SSE event larger than",
        ),
        (chatty, true, "chunks without output"),
    ];
    for (reply, stream, why) in cases {
        let bad = Fake::start(vec![reply]).await;
        let good = Fake::start(vec![if stream {
            Reply::simple_stream()
        } else {
            Reply::simple()
        }])
        .await;
        let reg = provider("bad", &bad.base_url())
            + &provider("good", &good.base_url())
            + &model("test/m", &[("bad", "up"), ("good", "up")], &[]);
        let app = TestApp::spawn_with(
            &reg,
            Opts {
                extra: "[routing]\nmax_upstream_response_bytes = 1048576\nmax_sse_event_bytes = 1048576\nmax_precommit_chunks = 20\n".into(),
                ..Default::default()
            },
        )
        .await;
        let resp = app
            .chat(json!({"model": "test/m", "stream": stream, "messages": user("x")}))
            .await;
        let id = request_id(&resp);
        assert_eq!(resp.status(), 200, "{why}");
        let text = resp.text().await.unwrap();
        assert!(
            text.contains("\"provider\":\"good\""),
            "{why}: {}",
            &text[..text.len().min(300)]
        );
        let rec = app.record(&id).await;
        let first = &rec.attempts[0];
        assert_eq!(
            (first.provider.as_str(), first.outcome.as_str()),
            ("bad", "malformed"),
            "{why}"
        );
        assert!(
            first.error.as_deref().unwrap_or_default().contains(why),
            "{why}: {:?}",
            first.error
        );
        app.stop().await;
    }
}

/// A provider's `request_timeout_secs`/`first_token_timeout_secs` bounded its first token,
/// but a stream that stalled after it was bounded only by the global idle timeout (300 s).
#[tokio::test]
async fn a_providers_own_stream_idle_timeout_ends_a_stalled_stream() {
    let mut events = crate::fake::text_stream(&["partial ", "never"]);
    // A role chunk and one content chunk, then a minute of silence.
    events.insert(2, "#sleep:60000".into());
    let fake = Fake::start(vec![Reply::Sse {
        events,
        first: Duration::ZERO,
        between: Duration::ZERO,
    }])
    .await;
    let reg = provider("fake", &fake.base_url())
        .replace("\n\n", "\nstream_idle_timeout_secs = 0.5\n\n")
        + &model("test/m", &[("fake", "up")], &[]);
    // The global deadline is far away: only the provider's can end this stream in time.
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            extra: "[routing]\nstream_idle_timeout_secs = 300\n".into(),
            ..Default::default()
        },
    )
    .await;
    let started = std::time::Instant::now();
    let resp = app
        .chat(json!({"model": "test/m", "stream": true, "messages": user("x")}))
        .await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(content(&events).starts_with("partial"), "{events:?}");
    assert!(error_chunk(&events).is_some(), "{events:?}");
    assert_eq!(app.record(&id).await.outcome, "timeout");
    app.stop().await;
}
