//! Retention of the request log (raw records, dead letters, captured content; never spend),
//! PostgreSQL's day partitions, and the optional capture of prompts and completions. Runs on
//! SQLite, and on PostgreSQL when SWITCHYARD_TEST_POSTGRES_URL is set.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use switchyard::store::{partition_name, AttemptRecord, CapturedContent, RequestRecord, Store};

use crate::fake::{text_stream, Fake, Reply};
use crate::helpers::*;

const DAY_MS: i64 = 86_400_000;

fn now() -> i64 {
    switchyard::types::now_ms()
}

fn record(id: &str, created_at: i64, key: Option<&str>, cost: i64) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        created_at,
        key_id: key.map(str::to_owned),
        outcome: "success".into(),
        status: 200,
        cost_nanos: cost,
        attempts: vec![AttemptRecord {
            provider: "p".into(),
            model: "a/b".into(),
            upstream_model: "b".into(),
            outcome: "ok".into(),
            status: Some(200),
            error: None,
            latency_ms: 5,
        }],
        ..RequestRecord::default()
    }
}

fn registry(fake: &Fake) -> String {
    provider("oai", &fake.base_url()) + &model("test/m", &[("oai", "up-model")], &[])
}

/// Which table holds request `id` (PostgreSQL: the partition).
async fn home_of(store: &Store, id: &str) -> Option<String> {
    match store {
        Store::Postgres(p) => {
            sqlx::query_scalar("SELECT tableoid::regclass::text FROM requests WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await
                .unwrap()
        }
        Store::Sqlite(p) => sqlx::query_scalar("SELECT 'requests' FROM requests WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await
            .unwrap(),
    }
}

async fn count(store: &Store, sql: &str, id: &str) -> i64 {
    match store {
        Store::Postgres(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await.unwrap(),
        Store::Sqlite(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await.unwrap(),
    }
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn retention_deletes_old_records_and_keeps_recent_ones_and_spend() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            extra: "[accounting]\nflush_interval_ms = 20\nretention_days = 30\nretention_interval_secs = 0.1\n".into(),
            ..Opts::default()
        },
    )
    .await;
    let store = &app.store;
    let now = now();
    let old_at = now - 40 * DAY_MS;
    // The old day gets its partition (as it would have had then), so retention drops it.
    store.ensure_partitions(old_at, 0).await.unwrap();
    let batch: Vec<Arc<RequestRecord>> = vec![
        Arc::new(record("old-1", old_at, Some("key_a"), 100)),
        Arc::new(record("old-2", old_at + 1, None, 0)),
        Arc::new(record("new-1", now - DAY_MS, Some("key_a"), 10)),
        Arc::new(record("new-2", now, Some("key_a"), 1)),
    ];
    store.insert_records(&batch, "test").await.unwrap();
    store
        .insert_dead_letter(
            &record("old-dead", old_at, Some("key_a"), 1000),
            "refused",
            "test",
        )
        .await
        .unwrap();
    let spend_before = store.spend_totals(Some("key_a"), now).await.unwrap();
    assert_eq!(spend_before.total, 1111);

    wait_until("old records are gone", || async {
        store.get_request("old-1").await.unwrap().is_none()
            && store.get_request("old-2").await.unwrap().is_none()
    })
    .await;
    wait_until("old dead letters are gone", || async {
        store.dead_letter_count().await.unwrap() == 0
    })
    .await;
    for id in ["new-1", "new-2"] {
        let r = store
            .get_request(id)
            .await
            .unwrap()
            .expect("recent record kept");
        assert_eq!(r.attempts.len(), 1, "{id}'s attempts kept");
    }
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM request_attempts WHERE request_id = $1",
            "old-1"
        )
        .await,
        0
    );
    // Spend (and so budgets) are untouched by retention.
    assert_eq!(
        store.spend_totals(Some("key_a"), now).await.unwrap(),
        spend_before
    );

    if let Store::Postgres(_) = store {
        // The old day's partitions were dropped; today's exist and new requests land there.
        for table in switchyard::store::PARTITIONED {
            let days: Vec<String> = store
                .day_partitions(table)
                .await
                .unwrap()
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let old_day = switchyard::types::time::day_of(old_at);
            let today = switchyard::types::time::day_of(now);
            assert!(!days.contains(&partition_name(table, old_day)), "{days:?}");
            for d in today..=today + 3 {
                assert!(days.contains(&partition_name(table, d)), "{days:?}");
            }
        }
        let resp = app
            .chat(json!({"model": "test/m", "messages": user("hi")}))
            .await;
        assert_eq!(resp.status(), 200);
        let id = request_id(&resp);
        app.record(&id).await;
        assert_eq!(
            home_of(store, &id).await.as_deref(),
            Some(partition_name("requests", switchyard::types::time::day_of(now)).as_str())
        );
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM request_attempts_default WHERE request_id = $1",
                &id
            )
            .await,
            0
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn rows_in_the_default_partition_are_deleted_too_and_retention_is_off_by_default() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&registry(&fake)).await;
    let store = &app.store;
    let now = now();
    // No partition for this day: on PostgreSQL the rows land in the DEFAULT partitions.
    let ancient = now - 400 * DAY_MS;
    let batch = vec![Arc::new(record("ancient", ancient, Some("key_a"), 7))];
    store.insert_records(&batch, "test").await.unwrap();
    if let Store::Postgres(_) = store {
        assert_eq!(
            home_of(store, "ancient").await.as_deref(),
            Some("requests_default")
        );
    }
    // No retention configured: nothing is deleted by the running gateway.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.get_request("ancient").await.unwrap().is_some());
    // A day with its own partition (PostgreSQL): retention drops the partition.
    let old = now - 40 * DAY_MS;
    store.ensure_partitions(old, 0).await.unwrap();
    store
        .insert_records(
            &[Arc::new(record("in-partition", old, Some("key_a"), 5))],
            "test",
        )
        .await
        .unwrap();
    let old_day = switchyard::types::time::day_of(old);
    if let Store::Postgres(_) = store {
        assert_eq!(
            home_of(store, "in-partition").await,
            Some(partition_name("requests", old_day))
        );
    }
    // A pass with a cut-off deletes them (and is harmless when repeated, as by replicas).
    let purged = store.purge_records(now - 30 * DAY_MS).await.unwrap();
    match store {
        Store::Postgres(_) => {
            assert_eq!((purged.requests, purged.attempts), (1, 1));
            assert_eq!(
                purged.partitions,
                vec![
                    partition_name("requests", old_day),
                    partition_name("request_attempts", old_day)
                ]
            );
            for table in switchyard::store::PARTITIONED {
                let left: Vec<i64> = store
                    .day_partitions(table)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect();
                assert!(!left.contains(&old_day), "{left:?}");
            }
        }
        Store::Sqlite(_) => assert_eq!((purged.requests, purged.attempts), (2, 2)),
    }
    assert!(store.get_request("ancient").await.unwrap().is_none());
    assert!(store.get_request("in-partition").await.unwrap().is_none());
    assert!(store
        .purge_records(now - 30 * DAY_MS)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.spend_totals(Some("key_a"), now).await.unwrap().total,
        12
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retried_insert_lands_once_in_its_day_partition() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&registry(&fake)).await;
    let store = &app.store;
    let now = now();
    let batch: Vec<Arc<RequestRecord>> = (0..5)
        .map(|i| Arc::new(record(&format!("retry-{i}"), now + i, Some("key_r"), 3)))
        .collect();
    assert_eq!(store.insert_records(&batch, "test").await.unwrap().len(), 5);
    // The commit's answer was lost: the writer sends the same batch again.
    assert!(store
        .insert_records(&batch, "test")
        .await
        .unwrap()
        .is_empty());
    for r in &batch {
        assert_eq!(
            count(store, "SELECT COUNT(*) FROM requests WHERE id = $1", &r.id).await,
            1
        );
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM request_attempts WHERE request_id = $1",
                &r.id
            )
            .await,
            1
        );
    }
    let spend = store.spend_totals(Some("key_r"), now).await.unwrap();
    assert_eq!((spend.total, spend.requests), (15, 5));
    app.stop().await;
}

async fn post_as(app: &TestApp, path: &str, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// `GET /admin/requests/{id}` once the record is written: its `content`.
async fn content_of(app: &TestApp, id: &str) -> Value {
    app.record(id).await;
    let resp = app
        .admin(Method::GET, &format!("/admin/requests/{id}"), None)
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v.as_object().unwrap().contains_key("content"), "{v}");
    v["content"].clone()
}

#[tokio::test]
async fn capture_is_off_by_default() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&registry(&fake)).await;
    let resp = app
        .chat(json!({"model": "test/m", "messages": user("a secret prompt")}))
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    assert_eq!(content_of(&app, &id).await, Value::Null);
    assert_eq!(app.store.get_content(&id).await.unwrap(), None);
    // Listings never carry content.
    let list = app.admin(Method::GET, "/admin/requests", None).await;
    assert!(!list.text().await.unwrap().contains("a secret prompt"));
    app.stop().await;
}

#[tokio::test]
async fn capture_per_key_stores_request_and_response_of_every_door() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            require_keys: true,
            extra: "[accounting]\nflush_interval_ms = 20\ncapture_content = \"per_key\"\n".into(),
            ..Opts::default()
        },
    )
    .await;
    let (id_on, on) = create_key(&app, json!({"name": "captured", "capture_content": true})).await;
    let (id_off, off) = create_key(&app, json!({"name": "private"})).await;
    let shown = app
        .admin(Method::GET, &format!("/admin/keys/{id_on}"), None)
        .await;
    assert_eq!(
        shown.json::<Value>().await.unwrap()["capture_content"],
        true
    );

    // Chat, JSON.
    let resp = post_as(
        &app,
        "/v1/chat/completions",
        &on,
        json!({"model": "test/m", "messages": user("prompt one")}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let c = content_of(&app, &request_id(&resp)).await;
    assert!(
        c["request_body"].as_str().unwrap().contains("prompt one"),
        "{c}"
    );
    assert_eq!(c["request_truncated"], false);
    let answer: Value = serde_json::from_str(c["response_body"].as_str().unwrap()).unwrap();
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );
    assert_eq!(c["response_truncated"], false);

    // The other key: nothing captured.
    let resp = post_as(
        &app,
        "/v1/chat/completions",
        &off,
        json!({"model": "test/m", "messages": user("prompt two")}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(content_of(&app, &request_id(&resp)).await, Value::Null);
    // Turned on for that key through the admin API: captured from its next request.
    let patched = app
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{id_off}"),
            Some(json!({"capture_content": true})),
        )
        .await;
    assert_eq!(
        patched.json::<Value>().await.unwrap()["capture_content"],
        true
    );
    let resp = post_as(
        &app,
        "/v1/chat/completions",
        &off,
        json!({"model": "test/m", "messages": user("prompt five")}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let c = content_of(&app, &request_id(&resp)).await;
    assert!(
        c["request_body"].as_str().unwrap().contains("prompt five"),
        "{c}"
    );

    // Messages and Responses (translated to the chat upstream), JSON.
    let resp = post_as(
        &app,
        "/v1/messages",
        &on,
        json!({"model": "test/m", "max_tokens": 50, "messages": user("prompt three")}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let c = content_of(&app, &request_id(&resp)).await;
    assert!(
        c["request_body"].as_str().unwrap().contains("prompt three"),
        "{c}"
    );
    assert!(c["response_body"].is_string(), "{c}");
    let resp = post_as(
        &app,
        "/v1/responses",
        &on,
        json!({"model": "test/m", "input": "prompt four"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let c = content_of(&app, &request_id(&resp)).await;
    assert!(
        c["request_body"].as_str().unwrap().contains("prompt four"),
        "{c}"
    );
    assert!(c["response_body"].is_string(), "{c}");
    app.stop().await;
}

#[tokio::test]
async fn captured_streams_are_assembled_and_both_sides_cut_at_the_cap() {
    let fake = Fake::start(vec![Reply::Sse {
        events: text_stream(&["Hello", ", streamed ", "world", " and a long tail of text"]),
        first: Duration::ZERO,
        between: Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            extra: "[accounting]\nflush_interval_ms = 20\ncapture_content = \"all\"\ncapture_max_bytes = 30\n".into(),
            ..Opts::default()
        },
    )
    .await;
    for path in ["/v1/chat/completions", "/v1/messages", "/v1/responses"] {
        let body = match path {
            "/v1/responses" => {
                json!({"model": "test/m", "stream": true, "input": "a prompt far longer than thirty bytes"})
            }
            _ => json!({"model": "test/m", "stream": true, "max_tokens": 50,
                        "messages": user("a prompt far longer than thirty bytes")}),
        };
        let resp = app.post(path, body).await;
        assert_eq!(resp.status(), 200, "{path}");
        let id = request_id(&resp);
        let _ = resp.text().await.unwrap();
        let c = content_of(&app, &id).await;
        let req = c["request_body"].as_str().unwrap();
        assert!(req.len() <= 30, "{path}: {req}");
        assert_eq!(c["request_truncated"], true, "{path}");
        let out: Value = serde_json::from_str(c["response_body"].as_str().unwrap()).unwrap();
        // 30 bytes of "Hello, streamed world and a long…".
        assert_eq!(
            out["content"], "Hello, streamed world and a lo",
            "{path}: {out}"
        );
        assert_eq!(c["response_truncated"], true, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn captured_content_has_its_own_retention() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            extra: "[accounting]\nflush_interval_ms = 20\ncapture_retention_days = 7\nretention_interval_secs = 0.1\n".into(),
            ..Opts::default()
        },
    )
    .await;
    let store = &app.store;
    let now = now();
    let with_content = |id: &str, at: i64| {
        let mut r = record(id, at, None, 0);
        r.content = Some(Box::new(CapturedContent {
            request_body: Some("{\"q\":1}".into()),
            request_truncated: false,
            response_body: Some("{\"a\":2}".into()),
            response_truncated: false,
        }));
        Arc::new(r)
    };
    let batch = vec![
        with_content("c-old", now - 10 * DAY_MS),
        with_content("c-new", now - DAY_MS),
    ];
    store.insert_records(&batch, "test").await.unwrap();
    wait_until("old content is gone", || async {
        store.get_content("c-old").await.unwrap().is_none()
    })
    .await;
    // The record stays (no record retention); recent content stays.
    assert!(store.get_request("c-old").await.unwrap().is_some());
    assert_eq!(
        store
            .get_content("c-new")
            .await
            .unwrap()
            .unwrap()
            .response_body
            .as_deref(),
        Some("{\"a\":2}")
    );
    app.stop().await;
}

/// Migrates a database to just before 0010, writes rows in the old shape, then migrates to
/// the end: every row is kept (on PostgreSQL, moved into day partitions), and attempts carry
/// their request's created_at.
#[tokio::test]
async fn the_0010_migration_keeps_existing_rows() {
    use sqlx::migrate::Migrator;
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let store = Store::connect(&url, 2).await.unwrap();
    let folder = match store {
        Store::Postgres(_) => "migrations/postgres",
        Store::Sqlite(_) => "migrations/sqlite",
    };
    let mut before = Migrator::new(std::path::Path::new(folder)).await.unwrap();
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 10)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let day = 1_764_979_200_000; // 2025-12-06T00:00:00Z
    let rows: Vec<(String, i64)> = (0..30)
        .map(|i| (format!("m-{i}"), day + i * 7 * 3_600_000))
        .chain([("m-1970".to_owned(), 5)])
        .collect();
    macro_rules! fill {
        ($pool:expr) => {{
            before.run($pool).await.unwrap();
            for (id, at) in &rows {
                sqlx::query(
                    "INSERT INTO requests (id, created_at, outcome, status, streamed, cancelled, prompt_tokens, \
                     completion_tokens, cached_tokens, reasoning_tokens, usage_estimated, cost_nanos, latency_ms) \
                     VALUES ($1, $2, 'success', 200, FALSE, FALSE, 1, 2, 0, 0, FALSE, 5, 10)",
                )
                .bind(id).bind(at).execute($pool).await.unwrap();
                for pos in 0..2_i64 {
                    sqlx::query(
                        "INSERT INTO request_attempts (request_id, position, provider, model, upstream_model, outcome, latency_ms) \
                         VALUES ($1, $2, 'p', 'm', 'u', 'ok', 3)",
                    )
                    .bind(id).bind(pos).execute($pool).await.unwrap();
                }
            }
        }};
    }
    match &store {
        Store::Postgres(p) => fill!(p),
        Store::Sqlite(p) => fill!(p),
    }
    store.migrate().await.unwrap();
    for (id, at) in &rows {
        let r = store.get_request(id).await.unwrap().expect("row kept");
        assert_eq!((r.created_at, r.attempts.len()), (*at, 2), "{id}");
        let sql = "SELECT COUNT(*) FROM request_attempts WHERE request_id = $1 AND created_at = $2";
        let n: i64 = match &store {
            Store::Postgres(p) => sqlx::query_scalar(sql)
                .bind(id)
                .bind(at)
                .fetch_one(p)
                .await
                .unwrap(),
            Store::Sqlite(p) => sqlx::query_scalar(sql)
                .bind(id)
                .bind(at)
                .fetch_one(p)
                .await
                .unwrap(),
        };
        assert_eq!(n, 2, "{id}'s attempts carry its created_at");
    }
    if let Store::Postgres(_) = store {
        let days = store.day_partitions("requests").await.unwrap();
        // 30 rows 7 hours apart span 9 days; today's and the next days' exist too.
        assert!(days.len() >= 9 + 4, "{days:?}");
        assert_eq!(
            home_of(&store, "m-0").await.as_deref(),
            Some("requests_p20251206")
        );
        assert_eq!(
            home_of(&store, "m-1970").await.as_deref(),
            Some("requests_default")
        );
    }
    store.close().await;
}
