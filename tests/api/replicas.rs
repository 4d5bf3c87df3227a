//! Replicas — two apps in one test, and two real server processes — sharing one PostgreSQL
//! database and one Redis — enforce one budget and one rate limit, and a key created on
//! one works on the other at once. Runs when SWITCHYARD_TEST_POSTGRES_URL and
//! SWITCHYARD_TEST_REDIS_URL are both set (`.ci/run` sets them and checks the servers).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;
use switchyard::store::Store;

/// Two apps on one database; with `redis`, sharing it too.
async fn replicas(fake: &Fake, redis: Option<&str>) -> (TestApp, TestApp) {
    let reg = provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[]);
    let limits = redis.map_or(String::new(), |r| {
        format!("[limits]\nredis_url = \"{r}\"\n")
    });
    let opts = Opts {
        require_keys: true,
        // A long refresh: what crosses replicas here does so by look-up, leases and Redis.
        extra: format!("{limits}[routing]\nregistry_refresh_secs = 600\n"),
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
    (a, b)
}

async fn chat(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "test/m", "messages": user("x"), "max_tokens": 10}))
        .send()
        .await
        .unwrap()
}

/// `n` requests at once with `key`, alternating between the two replicas; their statuses.
async fn at_once(a: &TestApp, b: &TestApp, key: &str, n: usize) -> Vec<u16> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let app = if i % 2 == 0 { a } else { b };
        let (client, url, key) = (
            app.client.clone(),
            app.url("/v1/chat/completions"),
            key.to_owned(),
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
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn shared_servers() -> Option<String> {
    let pg = std::env::var("SWITCHYARD_TEST_POSTGRES_URL").ok()?;
    let redis = std::env::var("SWITCHYARD_TEST_REDIS_URL").ok()?;
    (!pg.is_empty() && !redis.is_empty()).then_some(redis)
}

#[tokio::test]
async fn two_replicas_share_keys_one_rate_limit_and_one_budget() {
    let Some(redis) = shared_servers() else {
        eprintln!("skipping: needs SWITCHYARD_TEST_POSTGRES_URL and SWITCHYARD_TEST_REDIS_URL");
        return;
    };
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_millis(30),
        Box::new(Reply::simple()),
    )])
    .await;
    let (a, b) = replicas(&fake, Some(&redis)).await;

    // A key created on a works on b on the very next request.
    let created: Value = a
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "shared", "rpm": 4})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    // One rate limit: four requests a minute, whichever replica serves them.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &b } else { &a };
        statuses.push(chat(app, &key).await.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 429, 429]);

    // One budget: room for 8 requests at $0.000056, spread over both replicas at once.
    let budget = 0.0005;
    let created: Value = a
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "money", "budget_usd": budget})),
        )
        .await
        .json()
        .await
        .unwrap();
    let (id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let statuses = at_once(&a, &b, &key, 40).await;
    let mut ok = 0;
    for status in statuses {
        match status {
            200 => ok += 1,
            402 => {}
            s => panic!("unexpected status {s}"),
        }
    }
    assert!((1..=8).contains(&ok), "{ok} served");
    // Everything served is written (by whichever replica), and within the budget.
    for _ in 0..100 {
        let shown: Value = a
            .admin(Method::GET, &format!("/admin/keys/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        if shown["spend"]["requests"] == ok {
            let spent = shown["spend"]["total_usd"].as_f64().unwrap();
            assert!(spent <= budget + 1e-12, "spent {spent} of {budget}");
            b.stop().await;
            a.stop().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the served requests were never all written");
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_local_limits_or_refuses_as_configured() {
    // A port nothing listens on.
    let dead = "redis://127.0.0.1:1";
    let fake = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[]);
    for (policy, want) in [("local", [200u16, 200, 429]), ("refuse", [503, 503, 503])] {
        let app = TestApp::spawn_with(
            &reg,
            Opts {
                require_keys: true,
                extra: format!(
                    "[limits]\nredis_url = \"{dead}\"\non_redis_failure = \"{policy}\"\n"
                ),
                ..Default::default()
            },
        )
        .await;
        let created: Value = app
            .admin(
                Method::POST,
                "/admin/keys",
                Some(json!({"name": "k", "rpm": 2})),
            )
            .await
            .json()
            .await
            .unwrap();
        let key = created["key"].as_str().unwrap().to_owned();
        let mut got = Vec::new();
        for _ in 0..3 {
            let resp = chat(&app, &key).await;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            assert!(
                body.get("error").is_none() || body["error"]["message"].is_string(),
                "{body}"
            );
            got.push(status);
        }
        assert_eq!(got, want, "on_redis_failure = {policy}");
        app.stop().await;
    }
}

/// Without Redis, two replicas on one PostgreSQL database share rate limits and
/// concurrency through it (leases of the key's cells), exactly at these sizes.
#[tokio::test]
async fn without_redis_replicas_share_limits_through_postgres() {
    if std::env::var("SWITCHYARD_TEST_POSTGRES_URL").map_or(true, |v| v.is_empty()) {
        eprintln!("skipping: needs SWITCHYARD_TEST_POSTGRES_URL");
        return;
    }
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_millis(400),
        Box::new(Reply::simple()),
    )])
    .await;
    let (a, b) = replicas(&fake, None).await;
    let make = |body: Value| {
        let a = &a;
        async move {
            let v: Value = a
                .admin(Method::POST, "/admin/keys", Some(body))
                .await
                .json()
                .await
                .unwrap();
            v["key"].as_str().unwrap().to_owned()
        }
    };

    // One rpm limit across both replicas, with OpenAI's headers from either.
    let key = make(json!({"name": "rpm", "rpm": 4})).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let resp = chat(if i % 2 == 0 { &b } else { &a }, &key).await;
        let status = resp.status().as_u16();
        if status == 429 {
            let retry: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
            assert_eq!(resp.headers()["x-ratelimit-limit-requests"], "4");
            let body: Value = resp.json().await.unwrap();
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("4 requests per minute"),
                "{body}"
            );
        } else {
            assert_eq!(resp.headers()["x-ratelimit-limit-requests"], "4");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 429, 429]);

    // One concurrency limit: eight requests at once over both replicas, two at a time.
    let key = make(json!({"name": "conc", "max_concurrency": 2})).await;
    let got = at_once(&a, &b, &key, 8).await;
    let ok = got.iter().filter(|&&s| s == 200).count();
    assert!((1..=2).contains(&ok), "{got:?}");
    assert!(got.iter().all(|&s| s == 200 || s == 429), "{got:?}");
    // Slots come back when requests end: both replicas serve again.
    assert_eq!(chat(&a, &key).await.status(), 200);
    assert_eq!(chat(&b, &key).await.status(), 200);

    // One token limit: each request reserves at least its 10 max_tokens of 60 a minute.
    let key = make(json!({"name": "tpm", "tpm": 60})).await;
    let mut served = 0;
    let mut refused = None;
    for i in 0..8 {
        let resp = chat(if i % 2 == 0 { &a } else { &b }, &key).await;
        match resp.status().as_u16() {
            200 => served += 1,
            429 => {
                assert_eq!(resp.headers()["x-ratelimit-limit-tokens"], "60");
                refused = Some(resp.json::<Value>().await.unwrap());
                break;
            }
            s => panic!("status {s}"),
        }
    }
    let refused = refused.expect("the token limit never refused");
    assert!(served <= 6, "{served} served");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens per minute"),
        "{refused}"
    );

    // Shutdown gives the slots back.
    b.stop().await;
    a.stop().await;
}

/// The same across two real server processes: one PostgreSQL database, no Redis. A key
/// made on one is served by the other at once; one rpm limit and one budget hold across
/// both.
#[tokio::test]
async fn two_server_processes_share_one_limit_and_one_budget() {
    if std::env::var("SWITCHYARD_TEST_POSTGRES_URL").map_or(true, |v| v.is_empty()) {
        eprintln!("skipping: needs SWITCHYARD_TEST_POSTGRES_URL");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let config = "[auth]\nrequire_keys = true\n[routing]\nregistry_refresh_secs = 600\n\
        [[providers]]\nid = \"mock\"\nkind = \"mock\"\n\
        [[models]]\nslug = \"mock/paid\"\n[[models.endpoints]]\nprovider = \"mock\"\nupstream_model = \"echo\"\n\
        input_price = 100.0\noutput_price = 100.0\n";
    let master = [("SWITCHYARD_MASTER_KEY", MASTER)];
    let a = Process::start(config, &db, &master).await;
    let b = Process::start(config, &db, &master).await;
    let client = reqwest::Client::new();
    let create = |body: Value| {
        let (client, url) = (client.clone(), a.url("/admin/keys"));
        async move {
            let v: Value = client
                .post(url)
                .bearer_auth(MASTER)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (
                v["id"].as_str().unwrap().to_owned(),
                v["key"].as_str().unwrap().to_owned(),
            )
        }
    };
    let send = |p: &Process, key: &str| {
        client
            .post(p.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "mock/paid", "messages": user("hello there"), "max_tokens": 20}))
            .send()
    };

    let (_, key) = create(json!({"name": "rpm", "rpm": 3})).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let p = if i % 2 == 0 { &b } else { &a };
        statuses.push(send(p, &key).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);

    // A budget of a few requests, spent from both processes until it refuses.
    let budget = 0.02;
    let (id, key) = create(json!({"name": "money", "budget_usd": budget})).await;
    let mut served = 0;
    for i in 0..40 {
        let p = if i % 2 == 0 { &a } else { &b };
        match send(p, &key).await.unwrap().status().as_u16() {
            200 => served += 1,
            402 => break,
            s => panic!("status {s}"),
        }
    }
    assert!((1..40).contains(&served), "{served} served");
    eprintln!("served {served} within the budget");
    b.stop().await;
    a.stop().await;
    // Both flushed their logs at SIGTERM: the written spend is within the budget.
    let store = Store::connect(&db, 1).await.unwrap();
    let spent = store
        .spend_totals(Some(&id), switchyard::types::now_ms())
        .await
        .unwrap();
    assert_eq!(spent.requests, served);
    assert!(
        spent.total as f64 / 1e9 <= budget + 1e-12,
        "spent {}",
        spent.total
    );
}
