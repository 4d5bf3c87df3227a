//! Presets (`@preset/NAME`, `"preset": "NAME"`, `SLUG@preset/NAME`) through the whole
//! gateway: what the upstream receives on each door, that the request's own fields win,
//! unknown presets in each dialect, the admin API with versions, and the config file.

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

/// A chat preset from the config file: model, fallbacks, provider order, system prompt,
/// parameters.
const WRITER: &str = r#"
[[presets]]
name = "writer"
description = "Short answers"
model = "test/a"
models = ["test/b"]
provider = { order = ["up"] }
system_prompt = "Be brief."
parameters = { temperature = 0.2, max_tokens = 50, x_custom = { k = 1 } }
"#;

async fn spawn(up: &Fake) -> TestApp {
    let reg = provider("up", &up.base_url())
        + &model("test/a", &[("up", "up-a")], &[])
        + &model("test/b", &[("up", "up-b")], &[])
        + &model("test/embed", &[("up", "emb")], &[]).replacen(
            "[[models]]\n",
            "[[models]]\nkind = \"embedding\"\n",
            1,
        )
        + WRITER
        + "[[presets]]\nname = \"embedder\"\nmodel = \"test/embed\"\nparameters = { dimensions = 8 }\n";
    TestApp::spawn(&reg).await
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn preset_header(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("x-switchyard-preset")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_model_reference_brings_the_whole_preset_to_the_upstream() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;
    let resp = app
        .chat(json!({"model": "@preset/writer", "messages": user("hi")}))
        .await;
    assert_eq!(preset_header(&resp).as_deref(), Some("writer@v1"));
    let id = request_id(&resp);
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["model"], "test/a");
    let sent = up.received().pop().unwrap().body;
    assert_eq!(sent["model"], "up-a");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    );
    assert_eq!(
        (&sent["temperature"], &sent["max_tokens"], &sent["x_custom"]),
        (&json!(0.2), &json!(50), &json!({"k": 1}))
    );
    for gateway_field in ["preset", "models", "provider"] {
        assert!(sent.get(gateway_field).is_none(), "{gateway_field}: {sent}");
    }
    let r = app.record(&id).await;
    assert_eq!(r.preset.as_deref(), Some("writer@v1"));
    assert_eq!(r.requested_model.as_deref(), Some("test/a"));
    let g = app
        .get_json(&format!("/api/v1/generation?id={id}"), Some(MASTER))
        .await;
    assert_eq!(g["data"]["preset_id"], "writer@v1", "{g}");
}

#[tokio::test]
async fn the_preset_field_and_slug_syntax_keep_what_the_request_sets() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;

    // `preset` beside `model`: the request's model and parameters win, the rest is filled.
    let resp = app
        .chat(json!({"model": "test/b", "preset": "writer", "temperature": 0.9, "messages": user("hi")}))
        .await;
    assert_eq!(preset_header(&resp).as_deref(), Some("writer@v1"));
    assert_eq!(json_of(resp).await.0, 200);
    let sent = up.received().pop().unwrap().body;
    assert_eq!(sent["model"], "up-b");
    assert_eq!(
        (&sent["temperature"], &sent["max_tokens"]),
        (&json!(0.9), &json!(50))
    );
    assert!(sent.get("preset").is_none(), "{sent}");

    // `SLUG@preset/NAME`: the slug wins; the request's own system message follows the
    // preset's, and its output cap stands.
    let resp = app
        .chat(json!({"model": "test/b@preset/writer", "max_completion_tokens": 7,
            "messages": [{"role": "system", "content": "Mine."}, {"role": "user", "content": "hi"}]}))
        .await;
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["model"], "test/b");
    let sent = up.received().pop().unwrap().body;
    assert_eq!(sent["model"], "up-b");
    assert_eq!(sent["messages"][0]["content"], "Be brief.");
    assert_eq!(sent["messages"][1]["content"], "Mine.");
    assert_eq!(sent["max_completion_tokens"], 7);
    assert!(sent.get("max_tokens").is_none(), "{sent}");

    // The request's `provider` replaces the preset's whole: `ignore` leaves no endpoint.
    let resp = app
        .chat(json!({"model": "@preset/writer", "provider": {"ignore": ["up"]}, "messages": user("hi")}))
        .await;
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 404, "{got}");
    assert_eq!(got["error"]["code"], "no_endpoints_match");
}

#[tokio::test]
async fn an_unknown_preset_is_a_404_naming_it_in_each_dialect() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;

    let (status, got) = json_of(
        app.chat(json!({"model": "@preset/nope", "messages": user("hi")}))
            .await,
    )
    .await;
    assert_eq!(status, 404, "{got}");
    assert_eq!(got["error"]["code"], "preset_not_found");
    assert_eq!(got["error"]["param"], "model");
    let message = got["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`nope`") && message.contains("writer"),
        "{message}"
    );
    assert_eq!(
        got["error"]["metadata"]["available_presets"],
        json!(["embedder", "writer"])
    );

    let (status, got) = json_of(
        post(
            &app,
            "/api/v1/chat/completions",
            json!({"model": "test/a", "preset": "nope", "messages": user("hi")}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404, "{got}");
    assert_eq!(got["error"]["code"], 404);
    assert!(
        got["error"]["message"].as_str().unwrap().contains("`nope`"),
        "{got}"
    );

    let (status, got) = json_of(
        post(
            &app,
            "/v1/messages",
            json!({"model": "@preset/nope", "max_tokens": 5, "messages": user("hi")}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404, "{got}");
    assert_eq!(got["type"], "error");
    assert_eq!(got["error"]["type"], "not_found_error");

    // A `preset` that is not a string is the client's error, named.
    let (status, got) = json_of(
        app.chat(json!({"model": "test/a", "preset": 5, "messages": user("hi")}))
            .await,
    )
    .await;
    assert_eq!(
        (status, &got["error"]["param"]),
        (400, &json!("preset")),
        "{got}"
    );
    assert_eq!(up.calls(), 0);
}

#[tokio::test]
async fn messages_responses_and_embeddings_take_the_preset_in_their_own_form() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;

    // Messages: the preset's system prompt and `max_tokens` (which that door requires).
    let resp = post(
        &app,
        "/v1/messages",
        json!({"model": "@preset/writer", "messages": user("hi")}),
    )
    .await;
    assert_eq!(preset_header(&resp).as_deref(), Some("writer@v1"));
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    let sent = up.received().pop().unwrap().body;
    assert_eq!(sent["model"], "up-a");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["temperature"], 0.2);

    // Responses: the system prompt goes before `instructions`.
    let resp = post(
        &app,
        "/v1/responses",
        json!({"model": "@preset/writer", "instructions": "Mine.", "input": "hi"}),
    )
    .await;
    let (status, got) = json_of(resp).await;
    assert_eq!(status, 200, "{got}");
    let sent = up.received().pop().unwrap().body;
    assert_eq!(sent["messages"][0]["content"], "Be brief.\n\nMine.");
    assert_eq!(sent["temperature"], 0.2);

    // Embeddings: model and embedding parameters only.
    let up_embed = Fake::start(vec![Reply::Json(
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
            "model": "emb", "usage": {"prompt_tokens": 1, "total_tokens": 1}})
        .to_string(),
    )])
    .await;
    let app2 = spawn(&up_embed).await;
    let resp = post(
        &app2,
        "/v1/embeddings",
        json!({"model": "@preset/embedder", "input": "x"}),
    )
    .await;
    assert_eq!(preset_header(&resp).as_deref(), Some("embedder@v1"));
    assert_eq!(json_of(resp).await.0, 200);
    let sent = up_embed.received().pop().unwrap().body;
    assert_eq!(sent, json!({"model": "emb", "input": "x", "dimensions": 8}));
}

#[tokio::test]
async fn the_admin_api_saves_versions_that_requests_use_at_once() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;
    let put = |body: Value| app.admin(Method::PUT, "/admin/presets/team", Some(body));

    let (status, v) =
        json_of(put(json!({"model": "test/a", "parameters": {"temperature": 0.1}})).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["name"], &v["version"], &v["changed"]),
        (&json!("team"), &json!(1), &json!(true))
    );
    assert_eq!(v["origin"], "admin");
    // The same body again is no new version.
    let (_, v) =
        json_of(put(json!({"model": "test/a", "parameters": {"temperature": 0.1}})).await).await;
    assert_eq!((&v["version"], &v["changed"]), (&json!(1), &json!(false)));
    let (_, v) =
        json_of(put(json!({"model": "test/b", "parameters": {"temperature": 0.3}})).await).await;
    assert_eq!((&v["version"], &v["changed"]), (&json!(2), &json!(true)));

    let resp = app
        .chat(json!({"model": "@preset/team", "messages": user("hi")}))
        .await;
    assert_eq!(preset_header(&resp).as_deref(), Some("team@v2"));
    assert_eq!(json_of(resp).await.0, 200);
    let sent = up.received().pop().unwrap().body;
    assert_eq!(
        (&sent["model"], &sent["temperature"]),
        (&json!("up-b"), &json!(0.3))
    );

    let (status, v) = json_of(
        app.admin(Method::GET, "/admin/presets/team/versions", None)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let versions: Vec<(Value, Value)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["version"].clone(), x["model"].clone()))
        .collect();
    assert_eq!(
        versions,
        vec![(json!(1), json!("test/a")), (json!(2), json!("test/b"))]
    );
    let (_, v) = json_of(app.admin(Method::GET, "/admin/presets", None).await).await;
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["embedder", "team", "writer"]);
    let (_, v) = json_of(app.admin(Method::GET, "/admin/presets/writer", None).await).await;
    assert_eq!(
        (&v["origin"], &v["system_prompt"]),
        (&json!("config"), &json!("Be brief."))
    );

    let (status, _) = json_of(app.admin(Method::DELETE, "/admin/presets/team", None).await).await;
    assert_eq!(status, 200);
    let (status, _) = json_of(app.admin(Method::GET, "/admin/presets/team", None).await).await;
    assert_eq!(status, 404);
    let (status, got) = json_of(
        app.chat(json!({"model": "@preset/team", "messages": user("hi")}))
            .await,
    )
    .await;
    assert_eq!(
        (status, &got["error"]["code"]),
        (404, &json!("preset_not_found"))
    );
    let (status, _) = json_of(app.admin(Method::DELETE, "/admin/presets/team", None).await).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_admin_api_refuses_bad_presets_naming_the_field() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;
    let cases = [
        ("Bad", json!({"model": "test/a"}), "name"),
        ("p", json!({"name": "q"}), "name"),
        (
            "p",
            json!({"parameters": {"temperature": "hot"}}),
            "parameters",
        ),
        ("p", json!({"parameters": {"messages": []}}), "parameters"),
        ("p", json!({"provider": {"nope": 1}}), "provider"),
        ("p", json!({"model": "@preset/writer"}), "model"),
    ];
    for (name, body, param) in cases {
        let resp = app
            .admin(
                Method::PUT,
                &format!("/admin/presets/{name}"),
                Some(body.clone()),
            )
            .await;
        let (status, got) = json_of(resp).await;
        assert_eq!(status, 400, "{body}: {got}");
        assert_eq!(got["error"]["param"], param, "{body}: {got}");
    }
    let (status, got) = json_of(
        app.admin(
            Method::PUT,
            "/admin/presets/p",
            Some(json!({"temprature": 1})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{got}");
    let resp = app
        .client
        .put(app.url("/admin/presets/p"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn a_config_change_is_a_new_version_and_a_restart_is_not() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let app = spawn(&up).await;
    let url = app.database_url.clone();
    let dir = app.stop().await;
    let reg = provider("up", &up.base_url())
        + &model("test/a", &[("up", "up-a")], &[])
        + &model("test/b", &[("up", "up-b")], &[])
        + &WRITER.replace("temperature = 0.2", "temperature = 0.4");
    let opts = Opts {
        database_url: Some(url.clone()),
        ..Default::default()
    };
    let app = TestApp::spawn_with(&reg, opts.clone()).await;
    let resp = app
        .chat(json!({"model": "@preset/writer", "messages": user("hi")}))
        .await;
    assert_eq!(preset_header(&resp).as_deref(), Some("writer@v2"));
    assert_eq!(up.received().pop().unwrap().body["temperature"], 0.4);
    app.stop().await;
    let app = TestApp::spawn_with(&reg, opts).await;
    let (_, v) = json_of(app.admin(Method::GET, "/admin/presets/writer", None).await).await;
    assert_eq!(v["version"], 2, "{v}");
    // Presets the file no longer names are kept, as models are.
    let (status, _) = json_of(
        app.admin(Method::GET, "/admin/presets/embedder", None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    app.stop().await;
    drop(dir);
}

#[tokio::test]
async fn a_preset_saved_on_one_replica_reaches_the_other() {
    let up = Fake::start(vec![Reply::simple()]).await;
    let a = spawn(&up).await;
    let reg = provider("up", &up.base_url()) + &model("test/a", &[("up", "up-a")], &[]);
    let b = TestApp::spawn_with(
        &reg,
        Opts {
            database_url: Some(a.database_url.clone()),
            ..Default::default()
        },
    )
    .await;
    let (status, _) = json_of(
        a.admin(
            Method::PUT,
            "/admin/presets/shared",
            Some(json!({"model": "test/a"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    // The other replica refreshes its snapshot within `registry_refresh_secs` (1 s).
    for _ in 0..100 {
        let resp = b
            .chat(json!({"model": "@preset/shared", "messages": user("hi")}))
            .await;
        if resp.status() == 200 {
            assert_eq!(preset_header(&resp).as_deref(), Some("shared@v1"));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the other replica never saw the preset");
}
