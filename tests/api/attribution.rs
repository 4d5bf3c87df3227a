//! `user` and `session_id` are recorded with the request (and shown by `/generation`), and
//! OpenRouter's gateway-only fields never reach an upstream.

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::fake_anthropic::{self, FakeAnthropic};
use crate::helpers::*;

fn registry(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])
}

#[tokio::test]
async fn user_and_session_are_recorded_and_session_fields_stay_here() {
    let fake = Fake::start(vec![Reply::simple(); 3]).await;
    let app = TestApp::spawn_with(
        &registry(&fake),
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;
    let created: Value = app
        .admin(
            reqwest::Method::POST,
            "/admin/keys",
            Some(json!({"name": "attr"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let resp = app
        .client
        .post(app.url("/api/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-session-id", "from-header")
        .json(&json!({
            "model": "test/m", "messages": user("hi"), "user": "end-user-7",
            "session_id": "conv-42", "trace": {"trace_id": "t-1"}
        }))
        .send()
        .await
        .unwrap();
    let id = request_id(&resp);
    assert_eq!(resp.status(), 200);
    let rec = app.record(&id).await;
    assert_eq!(rec.external_user.as_deref(), Some("end-user-7"));
    assert_eq!(
        rec.session_id.as_deref(),
        Some("conv-42"),
        "the body wins over the header"
    );
    let sent = &fake.received()[0].body;
    assert_eq!(
        sent["user"], "end-user-7",
        "OpenAI's `user` is the upstream's too"
    );
    assert!(
        sent.get("session_id").is_none() && sent.get("trace").is_none(),
        "{sent}"
    );

    let g: Value = app
        .client
        .get(app.url(&format!("/api/v1/generation?id={id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g["data"]["session_id"], "conv-42", "{g}");
    assert_eq!(g["data"]["external_user"], "end-user-7");

    // The header alone.
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-session-id", "from-header")
        .json(&json!({"model": "test/m", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    let id = request_id(&resp);
    assert_eq!(
        app.record(&id).await.session_id.as_deref(),
        Some("from-header")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bad_session_id_is_a_400_naming_it() {
    let fake = Fake::start(vec![]).await;
    let app = TestApp::spawn(&registry(&fake)).await;
    for (session, why) in [
        (json!(5), "must be a string"),
        (json!("x".repeat(257)), "at most 256"),
    ] {
        let (status, v) = json_of(
            app.chat(json!({"model": "test/m", "messages": user("hi"), "session_id": session}))
                .await,
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["param"], "session_id");
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{v}");
    }
    assert!(fake.received().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn anthropic_metadata_user_id_is_the_user() {
    let fake = FakeAnthropic::start(vec![fake_anthropic::Reply::message(
        json!([{"type": "text", "text": "hi"}]),
        "end_turn",
    )])
    .await;
    let reg =
        fake.provider("anthropic") + &model("test/claude", &[("anthropic", "claude-up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let resp = app
        .client
        .post(app.url("/v1/messages"))
        .json(&json!({
            "model": "test/claude", "max_tokens": 50, "messages": user("hi"),
            "metadata": {"user_id": "user_abc"}, "session_id": "s-9"
        }))
        .send()
        .await
        .unwrap();
    let id = request_id(&resp);
    assert_eq!(resp.status(), 200);
    let rec = app.record(&id).await;
    assert_eq!(rec.external_user.as_deref(), Some("user_abc"));
    assert_eq!(rec.session_id.as_deref(), Some("s-9"));
    let sent = &fake.received()[0].body;
    assert_eq!(
        sent["metadata"]["user_id"], "user_abc",
        "passthrough keeps metadata"
    );
    assert!(sent.get("session_id").is_none(), "{sent}");
    app.stop().await;
}
