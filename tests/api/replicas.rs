//! Two gateway processes' worth of state — two apps in one test, sharing one PostgreSQL
//! database and one Redis — enforce one budget and one rate limit, and a key created on
//! one works on the other at once. Runs when SWITCHYARD_TEST_POSTGRES_URL and
//! SWITCHYARD_TEST_REDIS_URL are both set (`.ci/run` sets them and checks the servers).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

async fn replicas(fake: &Fake, redis: &str) -> (TestApp, TestApp) {
    let reg = provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[]);
    let opts = Opts {
        require_keys: true,
        // A long refresh: what crosses replicas here does so by look-up, leases and Redis.
        extra: format!(
            "[limits]\nredis_url = \"{redis}\"\n[routing]\nregistry_refresh_secs = 600\n"
        ),
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
    let (a, b) = replicas(&fake, &redis).await;

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
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (client, url, key) = (
            a.client.clone(),
            if i % 2 == 0 {
                a.url("/v1/chat/completions")
            } else {
                b.url("/v1/chat/completions")
            },
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
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
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
