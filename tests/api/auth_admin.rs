//! Gateway keys, the master key and the admin API, including propagation to a second replica.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

fn reg(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])
}

async fn chat_with_key(app: &TestApp, key: Option<&str>) -> reqwest::Response {
    let mut rb = app
        .client
        .post(app.url("/v1/chat/completions"))
        .json(&json!({"model": "test/m", "messages": user("x")}));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn keys_are_required_created_listed_and_revoked() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &reg(&fake),
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;

    let resp = chat_with_key(&app, None).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(
        chat_with_key(&app, Some("sy-not-a-key")).await.status(),
        401
    );
    assert_eq!(
        chat_with_key(&app, Some(MASTER)).await.status(),
        401,
        "the master key is not a gateway key"
    );

    let resp = app
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "ci"})))
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("sy-") && key.len() >= 3 + 32,
        "at least 128 bits: {key}"
    );
    let key_id = created["id"].as_str().unwrap().to_owned();

    let resp = chat_with_key(&app, Some(&key)).await;
    assert_eq!(resp.status(), 200);
    let rec = app.record(&request_id(&resp)).await;
    assert_eq!(rec.key_id.as_deref(), Some(key_id.as_str()));

    let listed: Value = app
        .admin(Method::GET, "/admin/keys", None)
        .await
        .json()
        .await
        .unwrap();
    let text = listed.to_string();
    assert!(
        text.contains(&key_id) && !text.contains(&key),
        "keys are listed without the key itself"
    );
    assert!(
        !text.contains(&switchyard::auth::hash_key(&key)),
        "nor its hash"
    );

    let resp = app
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{key_id}"),
            Some(json!({"name": "ci-renamed"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let renamed: Value = resp.json().await.unwrap();
    assert_eq!(renamed["name"], "ci-renamed");
    assert_eq!(
        chat_with_key(&app, Some(&key)).await.status(),
        200,
        "renaming keeps the key working"
    );
    let resp = app
        .admin(Method::DELETE, &format!("/admin/keys/{key_id}"), None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        chat_with_key(&app, Some(&key)).await.status(),
        401,
        "revoked at once on this replica"
    );
    assert_eq!(
        app.admin(Method::DELETE, "/admin/keys/key_nope", None)
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn admin_api_needs_the_master_key() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&reg(&fake)).await;
    for (method, path) in [
        (Method::GET, "/admin/keys"),
        (Method::GET, "/admin/models"),
        (Method::GET, "/admin/requests"),
    ] {
        let resp = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let resp = app
            .client
            .request(method, app.url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["message"].is_string());
    }
    let resp = app
        .admin(Method::POST, "/admin/keys", Some(json!({"nme": "typo"})))
        .await;
    assert_eq!(resp.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn admin_manages_models_endpoints_and_providers() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let other = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&reg(&fake)).await;

    let resp = app
        .admin(
            Method::POST,
            "/admin/providers",
            Some(json!({"id": "other", "kind": "openai", "base_url": other.base_url()})),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = app
        .admin(Method::POST, "/admin/models", Some(json!({
            "slug": "team/new", "name": "New", "aliases": ["new"], "context_length": 1000,
            "endpoints": [{"provider": "other", "upstream_model": "n1", "input_price": 1.0, "output_price": 2.0}]
        })))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = app
        .chat(json!({"model": "new", "messages": user("x")}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(other.received()[0].body["model"], "n1");

    // Add a second endpoint, then disable the first: traffic moves.
    let resp = app
        .admin(
            Method::POST,
            "/admin/endpoints",
            Some(json!({"model": "team/new", "provider": "fake", "upstream_model": "n2"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .admin(Method::PATCH, "/admin/endpoints", Some(json!({"model": "team/new", "provider": "other", "upstream_model": "n1", "enabled": false})))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = app
        .chat(json!({"model": "team/new", "messages": user("x")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["provider"], "fake");

    // Disable the provider: no endpoint left.
    assert_eq!(
        app.admin(
            Method::PATCH,
            "/admin/providers/fake",
            Some(json!({"enabled": false}))
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.chat(json!({"model": "team/new", "messages": user("x")}))
            .await
            .status(),
        503
    );

    // Disable the model: it disappears.
    assert_eq!(
        app.admin(
            Method::PATCH,
            "/admin/models/team/new",
            Some(json!({"enabled": false}))
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.chat(json!({"model": "team/new", "messages": user("x")}))
            .await
            .status(),
        404
    );
    let models: Value = app
        .client
        .get(app.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!models.to_string().contains("team/new"));

    // Bad input is a 400 that says why.
    let resp = app
        .admin(
            Method::POST,
            "/admin/models",
            Some(
                json!({"slug": "x/y", "endpoints": [{"provider": "ghost", "upstream_model": "m"}]}),
            ),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("ghost"));
    assert_eq!(
        app.admin(
            Method::PATCH,
            "/admin/models/no/such",
            Some(json!({"enabled": true}))
        )
        .await
        .status(),
        404
    );
    app.stop().await;
}

/// Polls for up to five seconds until a chat with `key` gets `status`.
async fn b_answers(b: &TestApp, key: &str, status: u16) -> bool {
    for _ in 0..50 {
        if chat_with_key(b, Some(key)).await.status() == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_second_replica_picks_up_changes_within_seconds() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let opts = Opts {
        require_keys: true,
        extra: "[routing]\nregistry_refresh_secs = 0.2\n".into(),
        ..Default::default()
    };
    let a = TestApp::spawn_with(&reg(&fake), opts.clone()).await;
    let b = TestApp::spawn_with(
        &reg(&fake),
        Opts {
            database_url: Some(a.database_url.clone()),
            ..opts
        },
    )
    .await;

    let created: Value = a
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "shared"})))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(
        b_answers(&b, &key, 200).await,
        "replica b never accepted the key created on a"
    );
    let id = created["id"].as_str().unwrap();
    a.admin(Method::DELETE, &format!("/admin/keys/{id}"), None)
        .await;
    assert!(
        b_answers(&b, &key, 401).await,
        "replica b kept accepting a revoked key"
    );
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn request_log_is_listed_with_attempts() {
    let bad = Fake::start(vec![Reply::error(500, "x")]).await;
    let good = Fake::start(vec![Reply::simple()]).await;
    let r = provider("p1", &bad.base_url())
        + &provider("p2", &good.base_url())
        + &model("test/m", &[("p1", "a"), ("p2", "b")], &[]);
    let app = TestApp::spawn(&r).await;
    let id = request_id(
        &app.chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    );
    app.record(&id).await;
    let list: Value = app
        .admin(Method::GET, "/admin/requests?limit=5", None)
        .await
        .json()
        .await
        .unwrap();
    let first = &list["data"][0];
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["attempts"].as_array().unwrap().len(), 2);
    let one: Value = app
        .admin(Method::GET, &format!("/admin/requests/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["attempts"][0]["status"], 500);
    assert_eq!(one["provider"], "p2");
    app.stop().await;
}

/// Wrong master keys from one address are throttled wherever a master key is presented
/// (admin API, dashboard login, `/metrics`): ten go through, then the address waits, even
/// with the right key; gateway keys are not affected.
#[tokio::test]
async fn wrong_master_keys_from_one_address_are_throttled() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&reg(&fake)).await;
    let admin_as = |key: &'static str| {
        let rb = app.client.get(app.url("/admin/keys")).bearer_auth(key);
        async move { rb.send().await.unwrap() }
    };
    for _ in 0..11 {
        assert_eq!(admin_as("wrong-guess").await.status(), 401);
    }
    let resp = admin_as("wrong-guess").await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_auth_failures");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("try again"));
    // The right key too: otherwise a guesser would learn which guess was right.
    assert_eq!(
        app.admin(Method::GET, "/admin/keys", None).await.status(),
        429
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 429);
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/dashboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("master_key={MASTER}"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 429);
    assert!(login.headers().contains_key("retry-after"));
    // Model requests are not the master key's business.
    assert_eq!(chat_with_key(&app, None).await.status(), 200);
    app.stop().await;
}
