//! Usage analytics: the hourly rollups the writer keeps beside the request log, read by
//! `/admin/usage` and `/api/v1/activity`, and the request log's filters and pages.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};
use switchyard::store::{RequestRecord, Store, UsageQuery};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    _fakes: (Fake, Fake, Fake),
    pub(crate) key_a: (String, String),
    pub(crate) key_b: (String, String),
}

/// Two providers serving two models, one that fails, keys on, two keys.
pub(crate) async fn setup(opts: Opts) -> Setup {
    let (f1, f2) = (
        Fake::start(vec![Reply::simple()]).await,
        Fake::start(vec![Reply::simple()]).await,
    );
    let broken = Fake::start(vec![Reply::error(400, "no")]).await;
    let reg = provider("one", &f1.base_url())
        + &provider("two", &f2.base_url())
        + &provider("broken", &broken.base_url())
        + &model("test/m", &[("one", "up")], &[])
        + &model("other/m", &[("two", "up2")], &[])
        + &model("bad/m", &[("broken", "up3")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            require_keys: true,
            ..opts
        },
    )
    .await;
    let key_a = create_key(&app, "a").await;
    let key_b = create_key(&app, "b").await;
    Setup {
        app,
        _fakes: (f1, f2, broken),
        key_a,
        key_b,
    }
}

async fn create_key(app: &TestApp, name: &str) -> (String, String) {
    let v: Value = app
        .admin(Method::POST, "/admin/keys", Some(json!({ "name": name })))
        .await
        .json()
        .await
        .unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["key"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn chat(app: &TestApp, key: &str, model: &str, title: Option<&str>) -> u16 {
    let mut rb = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": user("x"), "max_tokens": 10}));
    if let Some(t) = title {
        rb = rb.header("x-title", t);
    }
    rb.send().await.unwrap().status().as_u16()
}

pub(crate) async fn admin_get(app: &TestApp, path: &str) -> (u16, Value) {
    let resp = app.admin(Method::GET, path, None).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

pub(crate) fn n(v: &Value, f: &str) -> i64 {
    v[f].as_i64().unwrap_or_else(|| panic!("{f} in {v}"))
}

/// The sums the rollups must hold, from the raw records.
pub(crate) fn expect(records: &[RequestRecord]) -> Value {
    let sum = |f: fn(&RequestRecord) -> i64| records.iter().map(f).sum::<i64>();
    json!({
        "requests": records.len(),
        "errors": records.iter().filter(|r| r.outcome != "success").count(),
        "cancelled": records.iter().filter(|r| r.cancelled).count(),
        "prompt_tokens": sum(|r| r.prompt_tokens),
        "completion_tokens": sum(|r| r.completion_tokens),
        "cached_tokens": sum(|r| r.cached_tokens),
        "reasoning_tokens": sum(|r| r.reasoning_tokens),
        "cost_nanos": sum(|r| r.cost_nanos),
    })
}

pub(crate) fn assert_sums(got: &Value, want: &Value) {
    for (f, w) in want.as_object().unwrap() {
        assert_eq!(&got[f], w, "{f}: {got}");
    }
}

#[tokio::test]
async fn usage_counts_what_the_log_holds_exactly() {
    let s = setup(Opts::default()).await;
    let app = &s.app;
    for _ in 0..5 {
        assert_eq!(chat(app, &s.key_a.1, "test/m", Some("Bench")).await, 200);
    }
    for _ in 0..3 {
        assert_eq!(chat(app, &s.key_b.1, "other/m", None).await, 200);
    }
    assert_eq!(chat(app, &s.key_b.1, "bad/m", None).await, 400);
    let records = app.records(9).await;
    assert_eq!(records.len(), 9);
    assert!(records.iter().map(|r| r.cost_nanos).sum::<i64>() > 0);

    // Overview: the last 24 hours by hour.
    let (status, all) = admin_get(app, "/admin/usage").await;
    assert_eq!(status, 200, "{all}");
    let totals = &all["totals"];
    assert_sums(totals, &expect(&records));
    assert_eq!(n(totals, "errors"), 1);
    let cost: i64 = n(totals, "cost_nanos");
    let shown: f64 = totals["cost"].as_str().unwrap().parse().unwrap();
    assert!((shown * 1e9 - cost as f64).abs() < 0.5, "{totals}");
    assert!(n(totals, "latency_ms_p50") > 0);
    assert!(n(totals, "latency_ms_p95") >= n(totals, "latency_ms_p50"));
    // Nothing streamed: no time to first token.
    assert!(totals["ttft_ms_p50"].is_null(), "{totals}");
    let data = all["data"].as_array().unwrap();
    assert!(!data.is_empty());
    for row in data {
        assert_eq!(n(row, "t") % 3600, 0);
        assert!(row["group"].is_null());
    }

    // Grouped by key: each key's own figures.
    let (_, by_key) = admin_get(app, "/admin/usage?group_by=key").await;
    for (id, want) in [(&s.key_a.0, 5), (&s.key_b.0, 4)] {
        let mine: Vec<RequestRecord> = records
            .iter()
            .filter(|r| r.key_id.as_deref() == Some(id))
            .cloned()
            .collect();
        assert_eq!(mine.len(), want);
        let rows: Vec<&Value> = by_key["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["group"] == json!(id))
            .collect();
        let requests: i64 = rows.iter().map(|r| n(r, "requests")).sum();
        assert_eq!(requests, want as i64);
        let cost: i64 = rows.iter().map(|r| n(r, "cost_nanos")).sum();
        assert_eq!(cost, expect(&mine)["cost_nanos"].as_i64().unwrap());
    }
    // By model, provider and app; filters narrow the totals.
    let groups = |v: &Value| -> Vec<String> {
        let mut g: Vec<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["group"].as_str().unwrap().to_owned())
            .collect();
        g.sort();
        g.dedup();
        g
    };
    let (_, by_model) = admin_get(app, "/admin/usage?group_by=model&bucket=day").await;
    assert_eq!(groups(&by_model), ["bad/m", "other/m", "test/m"]);
    let (_, by_provider) = admin_get(app, "/admin/usage?group_by=provider").await;
    // A request that failed at its only attempt has no serving provider.
    assert_eq!(groups(&by_provider), ["", "one", "two"]);
    let (_, by_app) = admin_get(app, "/admin/usage?group_by=app").await;
    assert_eq!(groups(&by_app), ["", "Bench"]);
    let (_, only) = admin_get(app, "/admin/usage?model=test/m&provider=one&app=Bench").await;
    assert_eq!(n(&only["totals"], "requests"), 5);
    let (_, only) = admin_get(app, &format!("/admin/usage?key={}&model=bad/m", s.key_b.0)).await;
    assert_sums(
        &only["totals"],
        &json!({"requests": 1, "errors": 1, "cost_nanos": 0}),
    );

    // Day buckets start at midnight UTC; a window before any traffic is empty.
    let now = switchyard::types::now_ms() / 1000;
    let (_, days) = admin_get(
        app,
        &format!(
            "/admin/usage?bucket=day&from={}&to={}",
            now - 3 * 86_400,
            now + 3600
        ),
    )
    .await;
    for row in days["data"].as_array().unwrap() {
        assert_eq!(n(row, "t") % 86_400, 0);
    }
    assert_eq!(n(&days["totals"], "requests"), 9);
    let (_, before) = admin_get(
        app,
        &format!("/admin/usage?from={}&to={}", now - 5 * 86_400, now - 7200),
    )
    .await;
    assert_eq!(before["data"], json!([]));
    assert_eq!(n(&before["totals"], "requests"), 0);
    assert!(before["totals"]["latency_ms_p50"].is_null());

    // Bad parameters are the admin API's 400s.
    for bad in [
        "bucket=week",
        "group_by=user",
        "from=20&to=10",
        "from=abc",
        "from=0&to=999999999999",
        "colour=blue",
    ] {
        let (status, body) = admin_get(app, &format!("/admin/usage?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"]["message"].is_string(), "{bad}: {body}");
    }
    // And it is the master key's.
    let resp = app
        .client
        .get(app.url("/admin/usage"))
        .bearer_auth(&s.key_a.1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn activity_is_per_day_model_and_endpoint_and_scoped_to_the_key() {
    let s = setup(Opts::default()).await;
    let app = &s.app;
    let (id_a, key_a) = &s.key_a;
    let (_, key_b) = &s.key_b;
    for _ in 0..2 {
        assert_eq!(chat(app, key_a, "test/m", None).await, 200);
    }
    assert_eq!(chat(app, key_b, "other/m", None).await, 200);
    let records = app.records(3).await;
    // Activity covers completed days: move this traffic to yesterday, as if written then.
    let yesterday = (switchyard::types::now_ms() / 86_400_000 - 1) * 86_400;
    shift_to(&app.store, yesterday).await;

    let mine = app.get_json("/api/v1/activity", Some(key_a)).await;
    let rows = mine["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{mine}");
    let row = &rows[0];
    let date = row["date"].as_str().unwrap().to_owned();
    assert_eq!(
        (row["model"].as_str(), row["provider_name"].as_str()),
        (Some("test/m"), Some("one"))
    );
    assert_eq!(n(row, "requests"), 2);
    let a_records: Vec<RequestRecord> = records
        .iter()
        .filter(|r| r.key_id.as_deref() == Some(id_a))
        .cloned()
        .collect();
    assert_eq!(n(row, "prompt_tokens"), expect(&a_records)["prompt_tokens"]);
    let cost = expect(&a_records)["cost_nanos"].as_i64().unwrap();
    assert!((row["usage"].as_f64().unwrap() - cost as f64 / 1e9).abs() < 1e-12);

    // The master key sees every key, or one by hash or id.
    let all = app.get_json("/api/v1/activity", Some(MASTER)).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
    let hash = switchyard::auth::hash_key(key_b);
    let b_only = app
        .get_json(
            &format!("/api/v1/activity?api_key_hash={hash}"),
            Some(MASTER),
        )
        .await;
    assert_eq!(b_only["data"].as_array().unwrap().len(), 1);
    assert_eq!(b_only["data"][0]["model"], "other/m");
    let a_only = app
        .get_json(
            &format!("/api/v1/activity?key_id={id_a}&date={date}"),
            Some(MASTER),
        )
        .await;
    assert_eq!(a_only["data"], mine["data"]);
    // A key cannot look at another's.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/activity?api_key_hash={hash}")))
        .bearer_auth(key_a)
        .send()
        .await
        .unwrap();
    let (status, _) = json_of(resp).await;
    assert_eq!(status, 404);
    // Bad dates and no key are OpenRouter-shaped errors.
    for (q, want) in [("?date=tomorrow", 400), ("?date=2001-01-01", 400)] {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/activity{q}")))
            .bearer_auth(key_a)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(resp).await;
        assert_eq!(status, want, "{q}: {body}");
        assert_eq!(body["error"]["code"], want, "{body}");
    }
    let resp = app
        .client
        .get(app.url("/api/v1/activity"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(resp).await.0, 401);
}

/// Moves every rollup row to `day` (unix seconds), keeping its hour of day.
async fn shift_to(store: &Store, day: i64) {
    for sql in [
        "UPDATE usage_hourly SET hour = $1 + hour % 86400",
        "UPDATE usage_daily SET day = $1",
        "UPDATE usage_dim_hourly SET hour = $1 + hour % 86400",
        "UPDATE usage_dim_daily SET day = $1",
        "UPDATE usage_endpoint_daily SET day = $1",
    ] {
        match store {
            Store::Sqlite(p) => sqlx::query(sql).bind(day).execute(p).await.map(drop),
            Store::Postgres(p) => sqlx::query(sql).bind(day).execute(p).await.map(drop),
        }
        .unwrap();
    }
}

#[tokio::test]
async fn the_request_log_filters_and_pages_by_keyset() {
    let s = setup(Opts::default()).await;
    let app = &s.app;
    for i in 0..5 {
        let key = if i % 2 == 0 { &s.key_a.1 } else { &s.key_b.1 };
        assert_eq!(chat(app, key, "test/m", None).await, 200);
    }
    assert_eq!(chat(app, &s.key_a.1, "bad/m", None).await, 400);
    let all = app.records(6).await;
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // Pages of two, newest first, continuing with `before`, add up to the whole log.
    let mut seen = Vec::new();
    let mut path = "/admin/requests?limit=2".to_owned();
    loop {
        let (status, page) = admin_get(app, &path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["next_before"].as_str() {
            Some(b) => path = format!("/admin/requests?limit=2&before={b}"),
            None => break,
        }
    }
    let want: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(seen, want);
    // Filters.
    let count = |v: &Value| v["data"].as_array().unwrap().len();
    let (_, v) = admin_get(app, &format!("/admin/requests?key={}", s.key_a.0)).await;
    assert_eq!(count(&v), 4);
    let (_, v) = admin_get(app, &format!("/admin/requests?key_id={}", s.key_b.0)).await;
    assert_eq!(count(&v), 2);
    let (_, v) = admin_get(app, "/admin/requests?model=bad/m").await;
    assert_eq!(count(&v), 1);
    let (_, v) = admin_get(app, "/admin/requests?outcome=success&provider=one").await;
    assert_eq!(count(&v), 5);
    let now = switchyard::types::now_ms() / 1000;
    let (_, v) = admin_get(
        app,
        &format!("/admin/requests?from={}&to={}", now - 600, now + 1),
    )
    .await;
    assert_eq!(count(&v), 6);
    let (_, v) = admin_get(app, &format!("/admin/requests?to={}", now - 600)).await;
    assert_eq!(count(&v), 0);
    let (status, _) = admin_get(app, "/admin/requests?before=gen-nope").await;
    assert_eq!(status, 400);
}

pub(crate) fn record(i: usize, at_ms: i64) -> RequestRecord {
    RequestRecord {
        id: format!("gen-rollup-{i:05}"),
        created_at: at_ms,
        key_id: (i % 3 != 0).then(|| format!("key_{}", i % 2)),
        requested_model: Some(format!("m/{}", i % 4)),
        served_model: (i % 5 != 0).then(|| format!("m/{}", i % 4)),
        provider: (i % 5 != 0).then(|| format!("p{}", i % 3)),
        outcome: if i % 5 == 0 { "error" } else { "success" }.into(),
        status: 200,
        prompt_tokens: 10 + i as i64,
        completion_tokens: i as i64,
        cached_tokens: 1,
        reasoning_tokens: 2,
        cost_nanos: 1_000 + i as i64,
        latency_ms: (i as i64 * 37) % 9_000,
        ttft_ms: (i % 2 == 0).then_some(i as i64 % 700),
        app_title: (i % 7 == 0).then(|| "t".into()),
        ..RequestRecord::default()
    }
}

async fn totals(store: &Store) -> switchyard::store::Sums {
    let rows = store
        .usage(&UsageQuery {
            from: 0,
            to: 4_000_000_000,
            bucket_secs: 86_400,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut t = switchyard::store::Sums::default();
    for r in &rows {
        t.add(&r.sums);
    }
    t
}

/// A retried batch (its commit's answer lost) adds nothing to the rollups; what it adds is
/// exactly what the records hold, histograms included.
#[tokio::test]
async fn a_retried_batch_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&fresh_database(dir.path()).await, 2)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // 600 records over three days: several statements and rollup rows per batch.
    let batch: Vec<Arc<RequestRecord>> = (0..600)
        .map(|i| Arc::new(record(i, 1_700_000_000_000 + i as i64 * 400_000)))
        .collect();
    assert_eq!(store.insert_records(&batch, "h").await.unwrap().len(), 600);
    let once = totals(&store).await;
    assert_eq!(
        store
            .insert_records(&batch[..300], "h")
            .await
            .unwrap()
            .len(),
        0
    );
    // A batch half old, half new counts the new half only.
    let more: Vec<Arc<RequestRecord>> = (550..650)
        .map(|i| Arc::new(record(i, 1_700_000_000_000 + i as i64 * 400_000)))
        .collect();
    assert_eq!(store.insert_records(&more, "h").await.unwrap().len(), 50);
    let after = totals(&store).await;
    let want = switchyard::store::rollup_of(
        (0..650)
            .map(|i| record(i, 1_700_000_000_000 + i as i64 * 400_000))
            .collect::<Vec<_>>()
            .iter(),
    );
    let mut expected = switchyard::store::Sums::default();
    for s in want.values() {
        expected.add(s);
    }
    assert_eq!(after, expected);
    assert_eq!(once.requests, 600);
    assert_eq!(after.requests, 650);
    assert_eq!(after.latency.iter().sum::<i64>(), 650);
    assert_eq!(after.ttft.iter().sum::<i64>(), 325);
}

/// Two replicas writing the same rollup rows at once add up exactly (PostgreSQL only: the
/// SQLite file is one process's).
#[tokio::test]
async fn two_replicas_add_up_exactly() {
    if std::env::var("SWITCHYARD_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("skipping: needs SWITCHYARD_TEST_POSTGRES_URL");
        return;
    }
    let fake = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("one", &fake.base_url()) + &model("test/m", &[("one", "up")], &[]);
    let opts = Opts {
        require_keys: true,
        ..Default::default()
    };
    let a = TestApp::spawn_with(&reg, opts.clone()).await;
    let b = TestApp::spawn_with(
        &reg,
        Opts {
            database_url: Some(a.database_url.clone()),
            ..opts
        },
    )
    .await;
    let (_, key) = create_key(&a, "shared").await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (client, url, key) = (
            app.client.clone(),
            app.url("/v1/chat/completions"),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"model": "test/m", "messages": user("x"), "max_tokens": 10}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let records = a.records(40).await;
    assert_eq!(records.len(), 40);
    let (_, usage) = admin_get(&b, "/admin/usage").await;
    assert_sums(&usage["totals"], &expect(&records));
    assert_eq!(n(&usage["totals"], "requests"), 40);
}

/// The migration's backfill (which `scripts/analytics-bench` also uses to build its rollups)
/// computes exactly what the writer adds.
#[tokio::test]
async fn the_backfill_matches_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&fresh_database(dir.path()).await, 2)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let batch: Vec<Arc<RequestRecord>> = (0..700)
        .map(|i| Arc::new(record(i, 1_700_000_000_000 + i as i64 * 700_000)))
        .collect();
    store.insert_records(&batch, "h").await.unwrap();
    let q = |bucket_secs, from| UsageQuery {
        from,
        to: 1_800_000_000,
        bucket_secs,
        group_by: Some(switchyard::store::Dimension::App),
        ..Default::default()
    };
    // Day buckets over whole days read usage_daily; from an odd hour, usage_hourly too.
    let queries = [q(3600, 0), q(86_400, 0), q(86_400, 1_700_003_600)];
    let mut written = Vec::new();
    for query in &queries {
        written.push(format!("{:?}", store.usage(query).await.unwrap()));
    }
    let backend = match store {
        Store::Sqlite(_) => "sqlite",
        Store::Postgres(_) => "postgres",
    };
    let migration = std::fs::read_to_string(format!(
        "{}/migrations/{backend}/0009_usage_rollups.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let start = migration.find("INSERT INTO usage_hourly").unwrap();
    let backfill: Vec<&str> = migration[start..]
        .split_inclusive("GROUP BY 1, 2, 3, 4, 5;")
        .filter_map(|s| s.find("INSERT INTO usage_").map(|at| &s[at..]))
        .collect();
    assert_eq!(backfill.len(), 2);
    let narrow = std::fs::read_to_string(format!(
        "{}/migrations/{backend}/0011_narrow_rollups.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let narrow_backfill: Vec<&str> = narrow
        .split_inclusive("GROUP BY 1, 2, 3;")
        .filter_map(|s| s.find("INSERT INTO usage_").map(|at| &s[at..]))
        .collect();
    assert_eq!(narrow_backfill.len(), 7);
    // What the writer added: the narrow rollups agree with the full ones.
    assert_narrow_rollups_agree(&store).await;
    let statements = [
        "DELETE FROM usage_hourly",
        "DELETE FROM usage_daily",
        "DELETE FROM usage_dim_hourly",
        "DELETE FROM usage_dim_daily",
        "DELETE FROM usage_endpoint_daily",
    ]
    .into_iter()
    .chain(backfill.iter().chain(&narrow_backfill).map(|s| s.trim()));
    for sql in statements {
        exec(&store, sql).await;
    }
    for (query, before) in queries.iter().zip(&written) {
        let again = format!("{:?}", store.usage(query).await.unwrap());
        assert_eq!(&again, before);
    }
    assert!(written[0].contains("requests: "));
    // What the backfill built agrees too, and the all-keys activity reads it alike.
    assert_narrow_rollups_agree(&store).await;
    assert!(!store
        .activity(0, 1_800_000_000, None)
        .await
        .unwrap()
        .is_empty());
}

async fn exec(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
        Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every row of the narrow rollups (migration 0011) equals the matching sums of the full
/// ones, and none is missing or extra: compared both ways with EXCEPT, over all columns.
async fn assert_narrow_rollups_agree(store: &Store) {
    let counted: Vec<String> = [
        "requests",
        "errors",
        "cancelled",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "cost_nanos",
        "latency_ms_sum",
        "ttft_ms_sum",
    ]
    .into_iter()
    .map(String::from)
    .chain((0..25).map(|i| format!("lat_{i:02}")))
    .chain((0..25).map(|i| format!("ttft_{i:02}")))
    .collect();
    let plain = counted.join(", ");
    let summed: Vec<String> = counted
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect();
    let summed = summed.join(", ");
    let mut pairs = Vec::new();
    for (grain, full, dims) in [
        ("hour", "usage_hourly", "usage_dim_hourly"),
        ("day", "usage_daily", "usage_dim_daily"),
    ] {
        for (dim, col) in [
            ("all", "CAST('' AS TEXT)"),
            ("key", "key_id"),
            ("model", "model"),
            ("provider", "provider"),
            ("app", "app"),
        ] {
            pairs.push((
                format!("SELECT {grain}, value, {plain} FROM {dims} WHERE dim = '{dim}'"),
                // (PostgreSQL refuses a constant in GROUP BY: 'all' groups by the bucket.)
                match dim {
                    "all" => {
                        format!("SELECT {grain}, {col}, {summed} FROM {full} GROUP BY {grain}")
                    }
                    _ => format!(
                        "SELECT {grain}, {col}, {summed} FROM {full} GROUP BY {grain}, {col}"
                    ),
                },
            ));
        }
    }
    pairs.push((
        format!("SELECT day, model, provider, {plain} FROM usage_endpoint_daily"),
        format!(
            "SELECT day, model, provider, {summed} FROM usage_daily GROUP BY day, model, provider"
        ),
    ));
    for (narrow, full) in &pairs {
        for (a, b) in [(narrow, full), (full, narrow)] {
            let sql = format!("SELECT COUNT(*) FROM ({a} EXCEPT {b}) AS d");
            assert_eq!(count(store, &sql).await, 0, "{sql}");
        }
        let rows = count(store, &format!("SELECT COUNT(*) FROM ({narrow}) AS n")).await;
        assert!(rows > 0, "{narrow}");
    }
}

/// `scripts/analytics-bench` on a few thousand records: the dashboard's queries through the
/// real gateway answer 200 (the ten-million run is in the README; too slow for CI).
#[tokio::test]
async fn the_analytics_bench_runs_small() {
    let backend = match std::env::var("SWITCHYARD_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => ("postgres", Some(u)),
        _ => ("sqlite", None),
    };
    let cli = if backend.0 == "sqlite" {
        "sqlite3"
    } else {
        "psql"
    };
    if std::process::Command::new(cli)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: needs the {cli} command");
        return;
    }
    let mut c = tokio::process::Command::new(format!(
        "{}/scripts/analytics-bench",
        env!("CARGO_MANIFEST_DIR")
    ));
    c.args([backend.0, "3000"])
        .env("SWITCHYARD_BIN", env!("CARGO_BIN_EXE_switchyard"))
        .env("BENCH_RUNS", "1");
    if let Some(u) = backend.1 {
        c.env("BENCH_POSTGRES_URL", u);
    }
    let out = c.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("activity one key"), "{stdout}\n{stderr}");
    assert!(stdout.contains("30 d by key, top 8"), "{stdout}\n{stderr}");
    // The dashboard's 26 queries and the 4 full breakdowns it no longer issues.
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" ms ")).count(),
        30,
        "{stdout}"
    );
}
