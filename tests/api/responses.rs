//! `POST /v1/responses` through the whole gateway: translation to an OpenAI chat upstream
//! (JSON, the event stream, a function-call round trip), passthrough to a provider that
//! speaks Responses, stateless refusals and records.

use serde_json::{json, Value};

use crate::fake::{fixture, text_stream, Fake, Reply};
use crate::helpers::*;

async fn post(app: &TestApp, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/responses"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Named SSE events as (event, data); comments skipped; every event's name is its type.
async fn events_of(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty() && !f.trim_start().starts_with(':'))
        .map(|f| {
            let name = f
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("")
                .to_owned();
            let data: String = f.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            let v: Value = serde_json::from_str(&data).expect("event data is JSON");
            assert_eq!(v["type"], name.as_str());
            (name, v)
        })
        .collect()
}

fn chat_app_registry(fake: &Fake) -> String {
    provider("oai", &fake.base_url()) + &model("test/gpt", &[("oai", "gpt-up")], &[])
}

#[tokio::test]
async fn translated_json_is_a_response_object() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&chat_app_registry(&fake)).await;
    let body = json!({"model": "test/gpt", "instructions": "Be brief.", "input": "Say hi in Portuguese",
        "max_output_tokens": 50, "store": false, "temperature": 0.5});
    let resp = post(&app, &body.to_string()).await;
    let id = request_id(&resp);
    let (s, got) = json_of(resp).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["object"], "response");
    assert_eq!(got["status"], "completed");
    assert_eq!(got["model"], "test/gpt");
    assert_eq!(got["instructions"], "Be brief.");
    assert_eq!(got["max_output_tokens"], 50);
    let msg = &got["output"][0];
    assert_eq!(
        (msg["type"].as_str(), msg["role"].as_str()),
        (Some("message"), Some("assistant"))
    );
    assert_eq!(msg["content"][0]["type"], "output_text");
    assert_eq!(msg["content"][0]["text"], "Olá!");
    assert_eq!(got["usage"]["input_tokens"], 20);
    let sent = &fake.received()[0].body;
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["messages"][1]["role"], "user");
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["temperature"], 0.5);
    assert!(sent.get("store").is_none() && sent.get("instructions").is_none());
    let r = app.record(&id).await;
    assert_eq!(
        (r.outcome.as_str(), r.provider.as_deref()),
        ("success", Some("oai"))
    );
    app.stop().await;
}

#[tokio::test]
async fn translated_stream_follows_the_responses_event_sequence() {
    let fake = Fake::start(vec![Reply::Sse {
        events: text_stream(&["Hel", "lo"]),
        first: std::time::Duration::ZERO,
        between: std::time::Duration::ZERO,
    }])
    .await;
    let app = TestApp::spawn(&chat_app_registry(&fake)).await;
    let resp = post(
        &app,
        &json!({"model": "test/gpt", "input": "hi", "stream": true}).to_string(),
    )
    .await;
    let id = request_id(&resp);
    let events = events_of(resp).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, (_, v)) in events.iter().enumerate() {
        assert_eq!(v["sequence_number"], i, "{v}");
    }
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["usage"]["output_tokens"], 2);
    let r = app.record(&id).await;
    assert_eq!((r.prompt_tokens, r.completion_tokens), (11, 2));
    app.stop().await;
}

#[tokio::test]
async fn a_function_call_round_trip_through_translation() {
    let fake = Fake::start(vec![
        Reply::Json(fixture("openai/tool.json")),
        Reply::Json(fixture("openai/tool_answer.json")),
    ])
    .await;
    let app = TestApp::spawn(&chat_app_registry(&fake)).await;
    let tools = json!([{"type": "function", "name": "weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}},
        {"type": "web_search"}]);
    let ask = json!({"role": "user", "content": [{"type": "input_text", "text": "Weather in Florence?"}]});
    let (s, first) = json_of(
        post(
            &app,
            &json!({"model": "test/gpt", "input": [ask], "tools": tools}).to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{first}");
    let call = first["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap()
        .clone();
    assert_eq!(call["name"], "weather");
    assert_eq!(call["arguments"], "{\"location\":\"Florence, Italy\"}");
    let follow = json!({"model": "test/gpt", "tools": tools, "input": [ask, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "40C and sunny"}]});
    let resp = post(&app, &follow.to_string()).await;
    assert_eq!(
        resp.headers()["x-switchyard-dropped-params"],
        "server_tools"
    );
    let (s, second) = json_of(resp).await;
    assert_eq!(s, 200, "{second}");
    assert!(second["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Florence"));
    let sent = &fake.received()[1].body;
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], call["call_id"]);
    assert_eq!(
        sent["messages"][2],
        json!({"role": "tool", "tool_call_id": call["call_id"], "content": "40C and sunny"})
    );
    assert_eq!(
        sent["tools"].as_array().unwrap().len(),
        1,
        "the hosted tool was left out"
    );
    app.stop().await;
}

#[tokio::test]
async fn passthrough_to_a_responses_provider_keeps_the_body() {
    let answer = json!({"id": "resp_up", "object": "response", "created_at": 1, "status": "completed", "model": "gpt-up",
        "output": [{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-opaque"},
                   {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "hi", "annotations": []}]}],
        "usage": {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 10}, "output_tokens": 5,
                  "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 35}});
    let fake = Fake::start(vec![Reply::Json(answer.to_string())]).await;
    let reg = provider("oai", &fake.base_url()).replace(
        "kind = \"openai\"\n",
        "kind = \"openai\"\nresponses_api = true\n",
    ) + &model("test/gpt", &[("oai", "gpt-up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let body = r#"{"model":"test/gpt","input":[{"type":"reasoning","id":"rs_0","summary":[],"encrypted_content":"gAAAA-earlier"},{"role":"user","content":"hi"}],"include":["reasoning.encrypted_content"],"store":false,"prompt_cache_key":"thread-1","x_future":{"a":[1]},"provider":{"sort":"price"}}"#;
    let resp = post(&app, body).await;
    let id = request_id(&resp);
    assert!(resp.headers().get("x-switchyard-dropped-params").is_none());
    // Not `json_of`: a passthrough answer is the upstream's bytes, and this fake's is trimmed
    // to the members the test needs, short of OpenAI's Response schema.
    let s = resp.status().as_u16();
    let got: Value = resp.json().await.unwrap();
    assert_eq!(s, 200, "{got}");
    assert_eq!(got, answer, "the upstream's answer, as sent");
    let sent = fake.received().pop().unwrap();
    assert!(sent.path.ends_with("/v1/responses"), "{}", sent.path);
    let raw = String::from_utf8(sent.raw.to_vec()).unwrap();
    assert_eq!(
        raw,
        body.replace("\"model\":\"test/gpt\"", "\"model\":\"gpt-up\"")
            .replace(",\"provider\":{\"sort\":\"price\"}", "")
    );
    let r = app.record(&id).await;
    assert_eq!(
        (
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
            r.reasoning_tokens
        ),
        (30, 10, 5, 3)
    );
    app.stop().await;
}

#[tokio::test]
async fn stateful_requests_are_refused_clearly() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(&chat_app_registry(&fake)).await;
    for (body, param) in [
        (
            json!({"model": "test/gpt", "input": "hi", "store": true}),
            "store",
        ),
        (
            json!({"model": "test/gpt", "input": "hi", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (json!({"model": "test/gpt"}), "input"),
    ] {
        let (s, e) = json_of(post(&app, &body.to_string()).await).await;
        assert_eq!((s, e["error"]["param"].as_str()), (400, Some(param)), "{e}");
        assert!(e["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(fake.calls(), 0);
    app.stop().await;
}
