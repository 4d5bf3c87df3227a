//! The Gemini adapter through the whole gateway: OpenAI requests in, Gemini requests to the
//! fake (asserted field by field), Gemini answers and streams back out in OpenAI's shape.

use serde_json::{json, Value};

use crate::fake::{self, Fake};
use crate::fake_gemini::{fixture_events, FakeGemini, Reply, KEY, PNG};
use crate::helpers::*;

const KEY_VAR: &str = "SWITCHYARD_TEST_GEMINI_KEY";

fn gemini(id: &str, fake: &FakeGemini) -> String {
    // Every test sets the same value, so parallel tests cannot disagree.
    std::env::set_var(KEY_VAR, KEY);
    format!(
        "[[providers]]\nid = \"{id}\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n\
         allow_private_image_urls = true\n\n",
        fake.base_url()
    )
}

fn one(fake: &FakeGemini) -> String {
    gemini("google", fake) + &model("google/flash", &[("google", "gemini-2.5-flash")], &[])
}

/// Two Gemini endpoints for one model, tried in order.
fn two(a: &FakeGemini, b: &FakeGemini) -> String {
    gemini("g1", a)
        + &gemini("g2", b)
        + &model(
            "google/flash",
            &[("g1", "gemini-2.5-flash"), ("g2", "gemini-2.5-pro")],
            &[],
        )
}

fn req(messages: Value) -> Value {
    json!({"model": "google/flash", "messages": messages})
}

fn deltas(events: &[Event]) -> Vec<Value> {
    chunks(events)
        .into_iter()
        .filter_map(|c| c["choices"].get(0).map(|ch| ch["delta"].clone()))
        .collect()
}

#[tokio::test]
async fn json_text_round_trip() {
    let fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(json!([
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "Say hi in Portuguese"}]));
    body["max_tokens"] = json!(4000);
    body["temperature"] = json!(0.3);
    let resp = app.chat(body).await;
    let id = request_id(&resp);
    let (status, out) = json_of(resp).await;
    assert_eq!(status, 200, "{out}");

    let got = &fake.received()[0];
    assert_eq!(got.path, "models/gemini-2.5-flash:generateContent");
    assert_eq!(got.headers["x-goog-api-key"], KEY);
    assert!(got.headers.get("authorization").is_none());
    assert_eq!(
        got.body,
        json!({"contents": [{"role": "user", "parts": [{"text": "Say hi in Portuguese"}]}],
            "systemInstruction": {"parts": [{"text": "You are a helpful assistant"}]},
            "generationConfig": {"temperature": 0.3, "maxOutputTokens": 4000}})
    );

    assert_eq!(out["object"], "chat.completion");
    assert_eq!(out["model"], "google/flash");
    assert_eq!(out["provider"], "google");
    assert_eq!(out["choices"][0]["message"]["content"], "Olá!");
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(out["choices"][0]["native_finish_reason"], "STOP");
    assert_eq!(out["usage"]["prompt_tokens"], 11);
    assert_eq!(out["usage"]["completion_tokens"], 26);
    assert_eq!(
        out["usage"]["completion_tokens_details"]["reasoning_tokens"],
        24
    );
    let rec = app.record(&id).await;
    assert_eq!(rec.upstream_id.as_deref(), Some("VgCzac2AGLOHz7IP2pOkkAI"));
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.reasoning_tokens
        ),
        (11, 26, 24)
    );
    app.stop().await;
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "weather", "description": "Get weather information for a location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "the city"}}, "required": ["location"]}}}])
}

#[tokio::test]
async fn json_tool_call_gets_an_id_and_keeps_its_signature() {
    let fake = FakeGemini::start(vec![Reply::json_fixture("tool.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("What's the weather in Florence,Italy?"));
    body["tools"] = weather_tool();
    body["tool_choice"] = json!("auto");
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 200, "{out}");

    let sent = &fake.received()[0].body;
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"],
        weather_tool()[0]["function"]["parameters"]
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );

    let msg = &out["choices"][0]["message"];
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert!(msg["content"].is_null());
    let call = &msg["tool_calls"][0];
    let call_id = call["id"].as_str().unwrap();
    assert!(call_id.starts_with("call_"), "{call_id}");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Florence,Italy"}));
    assert_eq!(msg["reasoning_details"][0]["id"], call_id);
    assert_eq!(msg["reasoning_details"][0]["type"], "reasoning.encrypted");
    app.stop().await;
}

#[tokio::test]
async fn tool_round_trip_sends_calls_results_and_signatures_back() {
    let fake = FakeGemini::start(vec![
        Reply::json_fixture("tool.json"),
        Reply::json_fixture("tool_result.json"),
    ])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut first = req(json!([
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "What's the weather in Florence,Italy?"}]));
    first["tools"] = weather_tool();
    let (_, out) = json_of(app.chat(first.clone()).await).await;
    let assistant = out["choices"][0]["message"].clone();
    let call_id = assistant["tool_calls"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The client appends the assistant message as received and the tool's result.
    let mut second = first;
    second["messages"].as_array_mut().unwrap().extend([
        assistant,
        json!({"role": "tool", "tool_call_id": call_id, "content": "40 C"}),
    ]);
    let (status, out) = json_of(app.chat(second).await).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["choices"][0]["message"]["content"],
        "The weather in Florence, Italy is 40 C."
    );

    // Apart from the synthesised id, the request is the one Google's own SDK sent.
    let sent = fake.received()[1].body.clone();
    let recorded: Value =
        serde_json::from_str(&fake::fixture("gemini/tool_round_trip_request.json")).unwrap();
    let mut expected = recorded["contents"].clone();
    expected[1]["parts"][0]["functionCall"]["id"] = json!(call_id);
    expected[2]["parts"][0]["functionResponse"]["id"] = json!(call_id);
    assert_eq!(sent["contents"], expected);
    app.stop().await;
}

#[tokio::test]
async fn parallel_tool_results_become_one_user_turn() {
    let fake = FakeGemini::start(vec![Reply::json_fixture("tool_result.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(json!([
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Oslo\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "{\"celsius\": 18}"}]));
    body["tools"] = weather_tool();
    let (status, _) = json_of(app.chat(body).await).await;
    assert_eq!(status, 200);
    let sent = &fake.received()[0].body;
    assert_eq!(sent["contents"].as_array().unwrap().len(), 3);
    assert_eq!(
        sent["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"id": "call_1", "name": "weather", "response": {"result": "-3 C"}}},
            {"functionResponse": {"id": "call_2", "name": "weather", "response": {"result": {"celsius": 18}}}}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn streaming_text_ends_without_an_upstream_marker() {
    let fake = FakeGemini::start(vec![Reply::sse_fixture("simple_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("Say hi in Portuguese"));
    body["stream"] = json!(true);
    let resp = app.chat(body).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;

    let got = &fake.received()[0];
    assert_eq!(got.path, "models/gemini-2.5-flash:streamGenerateContent");
    assert_eq!(got.query.as_deref(), Some("alt=sse"));
    assert_eq!(content(&events), "Olá!");
    assert_eq!(
        deltas(&events)[0],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(finish_reason(&events).as_deref(), Some("stop"));
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    for c in chunks(&events) {
        assert_eq!(c["id"], "VwCzabneCuzPz7IP0aL64A0");
        assert_eq!(c["model"], "google/flash");
        assert!(c.get("usage").is_none(), "usage was not asked for: {c}");
    }
    let rec = app.record(&id).await;
    assert_eq!(rec.upstream_id.as_deref(), Some("VwCzabneCuzPz7IP0aL64A0"));
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.usage_estimated
        ),
        (11, 23, false)
    );
    app.stop().await;
}

#[tokio::test]
async fn streamed_usage_chunk_is_the_final_running_total() {
    let fake = FakeGemini::start(vec![Reply::sse_fixture("tool_result_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("x"));
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = sse_of(app.chat(body).await).await;
    assert_eq!(content(&events), "The weather in Florence,Italy is 40 C.");
    let all = chunks(&events);
    let usage_chunks: Vec<&Value> = all.iter().filter(|c| c.get("usage").is_some()).collect();
    assert_eq!(usage_chunks.len(), 1, "one usage chunk");
    let last = all.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    let (usage, cost) = split_cost(&last["usage"]);
    assert!(cost > 0.0, "streamed usage carries its cost");
    assert_eq!(
        usage,
        json!({"prompt_tokens": 127, "completion_tokens": 12, "total_tokens": 139,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}})
    );
    app.stop().await;
}

#[tokio::test]
async fn streamed_tool_call_fragments_reassemble() {
    let fake = FakeGemini::start(vec![Reply::sse_fixture("tool_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("What's the weather in Florence,Italy?"));
    body["stream"] = json!(true);
    body["tools"] = weather_tool();
    let events = sse_of(app.chat(body).await).await;

    let mut id = None;
    let mut name = String::new();
    let mut arguments = String::new();
    for d in deltas(&events) {
        for tc in d["tool_calls"].as_array().into_iter().flatten() {
            assert_eq!(tc["index"], 0);
            if let Some(i) = tc["id"].as_str() {
                assert!(id.is_none(), "the id comes once");
                id = Some(i.to_owned());
                assert_eq!(tc["type"], "function");
            }
            name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
            arguments.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert!(id.unwrap().starts_with("call_"));
    assert_eq!(name, "weather");
    let args: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(args, json!({"location": "Florence,Italy"}));
    assert_eq!(finish_reason(&events).as_deref(), Some("tool_calls"));
    assert_eq!(content(&events), "", "no text");
    app.stop().await;
}

#[tokio::test]
async fn reasoning_streams_as_reasoning_never_as_content() {
    let fake = FakeGemini::start(vec![Reply::sse_fixture("thinking_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("What's the weather in Florence, Italy?"));
    body["stream"] = json!(true);
    body["tools"] = weather_tool();
    body["reasoning"] = json!({"max_tokens": 128});
    let events = sse_of(app.chat(body).await).await;

    assert_eq!(
        fake.received()[0].body["generationConfig"],
        json!({"thinkingConfig": {"thinkingBudget": 128, "includeThoughts": true}})
    );
    let reasoning: String = deltas(&events)
        .iter()
        .filter_map(|d| d["reasoning"].as_str().map(str::to_owned))
        .collect();
    assert!(
        reasoning.starts_with("**Determining the Weather Inquiry**"),
        "{reasoning}"
    );
    assert_eq!(content(&events), "");
    assert!(deltas(&events)
        .iter()
        .any(|d| d["reasoning_details"][0]["type"] == "reasoning.encrypted"));
    assert_eq!(finish_reason(&events).as_deref(), Some("tool_calls"));

    // Non-streamed, the effort maps to a budget.
    let fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app2 = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("x"));
    body["reasoning_effort"] = json!("low");
    let (status, _) = json_of(app2.chat(body).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.received()[0].body["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    app.stop().await;
    app2.stop().await;
}

#[tokio::test]
async fn structured_output_is_native_or_refused() {
    let fake = FakeGemini::start(vec![Reply::Json(
        r#"{"candidates":[{"content":{"parts":[{"text":"{\"steps\":[\"a\"]}"}],"role":"model"},"finishReason":"STOP","index":0}],"responseId":"s1"}"#.into(),
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;

    let mut body = req(user("plan"));
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "plan", "strict": true, "schema": {
        "type": "object", "properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}}},
        "required": ["steps"], "$defs": {"Step": {"type": "string"}}}}});
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["choices"][0]["message"]["content"],
        "{\"steps\":[\"a\"]}"
    );
    assert_eq!(
        fake.received()[0].body["generationConfig"],
        json!({"responseMimeType": "application/json", "responseJsonSchema": {
            "type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
            "required": ["steps"]}})
    );

    let mut body = req(user("json please"));
    body["response_format"] = json!({"type": "json_object"});
    json_of(app.chat(body).await).await;
    assert_eq!(
        fake.received()[1].body["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );

    // A recursive schema cannot be inlined: refused before anything is sent.
    let mut body = req(user("tree"));
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "tree", "schema": {
        "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
        "$ref": "#/$defs/Node"}}});
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["error"]["param"], "response_format");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursive"),
        "{out}"
    );
    assert_eq!(fake.calls(), 2);
    app.stop().await;
}

#[tokio::test]
async fn images_by_url_are_fetched_and_inlined() {
    use base64::Engine;
    let fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
    let body = req(json!([{"role": "user", "content": [
        {"type": "text", "text": "Describe these"},
        {"type": "image_url", "image_url": {"url": fake.image_url("cat.png")}},
        {"type": "image_url", "image_url": {"url": fake.image_url("dog.webp"), "detail": "low"}},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{b64}")}}]}]));
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        fake.received()[0].body["contents"][0]["parts"],
        json!([
            {"text": "Describe these"},
            {"inlineData": {"mimeType": "image/png", "data": b64}},
            {"inlineData": {"mimeType": "image/webp", "data": b64}},
            {"inlineData": {"mimeType": "image/png", "data": b64}}])
    );

    for name in ["missing.png", "page.html"] {
        let body = req(json!([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": fake.image_url(name)}}]}]));
        let (status, out) = json_of(app.chat(body).await).await;
        assert_eq!(status, 400, "{name}: {out}");
        assert_eq!(out["error"]["param"], "messages", "{name}");
        assert!(
            out["error"]["message"].as_str().unwrap().contains(name),
            "{out}"
        );
    }
    assert_eq!(
        fake.calls(),
        1,
        "nothing is sent when an image cannot be fetched"
    );
    app.stop().await;
}

#[tokio::test]
async fn image_urls_on_private_networks_are_refused_by_default() {
    let fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let registry = one(&fake).replace("allow_private_image_urls = true\n", "");
    let app = TestApp::spawn(&registry).await;
    let body = req(json!([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": fake.image_url("cat.png")}}]}]));
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["error"]["param"], "messages");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("non-public address"),
        "{out}"
    );
    assert_eq!(fake.calls(), 0);
    app.stop().await;
}

#[tokio::test]
async fn system_and_developer_messages_join_the_system_instruction() {
    let fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let body = req(json!([
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use Portuguese."}]},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Olá"},
        {"role": "user", "content": [{"type": "text", "text": "again"}]}]));
    let (status, _) = json_of(app.chat(body).await).await;
    assert_eq!(status, 200);
    let sent = &fake.received()[0].body;
    assert_eq!(
        sent["systemInstruction"],
        json!({"parts": [{"text": "You are terse."}, {"text": "Use Portuguese."}]})
    );
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "Olá"}]},
            {"role": "user", "parts": [{"text": "again"}]}])
    );
    app.stop().await;
}

#[tokio::test]
async fn mid_stream_error_event_reaches_the_client_as_an_error_chunk() {
    let events = vec![
        r#"{"candidates": [{"content": {"parts": [{"text": "Once upon"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 2,"totalTokenCount": 7},"modelVersion": "gemini-2.5-flash","responseId": "mid-1"}"#.to_owned(),
        r#"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"#.to_owned(),
    ];
    let fake = FakeGemini::start(vec![Reply::Sse(events)]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("story"));
    body["stream"] = json!(true);
    let events = sse_of(app.chat(body).await).await;
    assert_eq!(content(&events), "Once upon");
    let err = chunks(&events)
        .into_iter()
        .find(|c| c.get("error").is_some())
        .expect("an error chunk");
    assert_eq!(err["choices"][0]["finish_reason"], "error");
    assert_eq!(err["error"]["code"], 503);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The model is overloaded"),
        "{err}"
    );
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    app.stop().await;
}

#[tokio::test]
async fn a_stream_cut_before_its_finish_is_an_error() {
    let events = fixture_events("tool_result_streaming.sse");
    let fake = FakeGemini::start(vec![Reply::SseCut(events, 1)]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut body = req(user("x"));
    body["stream"] = json!(true);
    let events = sse_of(app.chat(body).await).await;
    assert_eq!(content(&events), "The weather in Florence");
    assert_eq!(finish_reason(&events).as_deref(), Some("error"));
    app.stop().await;
}

#[tokio::test]
async fn transient_failures_fall_back_to_the_next_endpoint() {
    for (what, reply) in [
        ("429", Reply::error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.")),
        ("503", Reply::error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")),
        ("500", Reply::error(500, "INTERNAL", "An internal error has occurred.")),
        (
            "malformed function call",
            Reply::Json(r#"{"candidates":[{"content":{"parts":[]},"finishReason":"MALFORMED_FUNCTION_CALL","index":0}],"responseId":"bad"}"#.into()),
        ),
    ] {
        for stream in [false, true] {
            let bad = FakeGemini::start(vec![match (&reply, stream) {
                (Reply::Json(j), true) => Reply::Sse(vec![j.clone()]),
                (r, _) => r.clone(),
            }])
            .await;
            let good = FakeGemini::start(vec![if stream {
                Reply::sse_fixture("simple_streaming.sse")
            } else {
                Reply::json_fixture("simple.json")
            }])
            .await;
            let app = TestApp::spawn(&two(&bad, &good)).await;
            let mut body = req(user("x"));
            body["stream"] = json!(stream);
            let resp = app.chat(body).await;
            let id = request_id(&resp);
            assert_eq!(resp.status(), 200, "{what} stream={stream}");
            let text = resp.text().await.unwrap();
            assert!(text.contains("Olá!"), "{what} stream={stream}: {text}");
            assert!(text.contains("\"provider\":\"g2\""), "{what} stream={stream}: {text}");
            let rec = app.record(&id).await;
            assert_eq!(rec.attempts.len(), 2, "{what} stream={stream}");
            assert_eq!(rec.attempts[1].outcome, "ok");
            assert_eq!(good.received()[0].path.split(':').next(), Some("models/gemini-2.5-pro"));
            app.stop().await;
        }
    }
}

#[tokio::test]
async fn an_invalid_api_key_falls_back_like_a_401() {
    let wrong_key = FakeGemini::start_with_key(
        Some("another-key"),
        vec![Reply::json_fixture("simple.json")],
    )
    .await;
    let good = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn(&two(&wrong_key, &good)).await;
    let resp = app.chat(req(user("x"))).await;
    let id = request_id(&resp);
    let (status, out) = json_of(resp).await;
    assert_eq!(
        (status, out["provider"].as_str()),
        (200, Some("g2")),
        "{out}"
    );
    let rec = app.record(&id).await;
    assert_eq!(rec.attempts[0].status, Some(401));
    assert!(rec.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("API key not valid"));

    // With nothing to fall back to, the client is told it is the gateway's key.
    let app2 = TestApp::spawn(&one(&wrong_key)).await;
    let (status, out) = json_of(app2.chat(req(user("x"))).await).await;
    assert_eq!(status, 502, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key not valid"),
        "{out}"
    );
    app.stop().await;
    app2.stop().await;
}

#[tokio::test]
async fn a_bad_request_is_returned_with_googles_reason() {
    let reason = "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive.";
    let bad = FakeGemini::start(vec![Reply::error(400, "INVALID_ARGUMENT", reason)]).await;
    let other = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn(&two(&bad, &other)).await;
    let mut body = req(user("x"));
    body["max_tokens"] = json!(0);
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 400, "{out}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(message.contains(reason), "{message}");
    assert!(message.contains("g1"), "names the provider: {message}");
    assert_eq!(out["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(other.calls(), 0, "a request error is not retried elsewhere");
    app.stop().await;
}

#[tokio::test]
async fn dropped_translated_and_refused_parameters() {
    let fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;

    // Hints Gemini has no slot for are left out and named in a header.
    let mut body = req(user("x"));
    body["logit_bias"] = json!({"50256": -100});
    body["user"] = json!("user-1");
    body["seed"] = json!(42);
    body["n"] = json!(2);
    body["logprobs"] = json!(true);
    body["top_logprobs"] = json!(2);
    body["stop"] = json!(["END"]);
    let resp = app.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-switchyard-dropped-params"],
        "logit_bias,user"
    );
    assert_eq!(
        fake.received()[0].body["generationConfig"],
        json!({"stopSequences": ["END"], "candidateCount": 2, "seed": 42,
            "responseLogprobs": true, "logprobs": 2})
    );

    // What would change the answer is refused, naming the parameter.
    for (param, value) in [
        ("web_search_options", json!({})),
        ("modalities", json!(["text", "audio"])),
        ("functions", json!([{"name": "f", "parameters": {}}])),
    ] {
        let mut body = req(user("x"));
        body[param] = value;
        let (status, out) = json_of(app.chat(body).await).await;
        assert_eq!(status, 400, "{param}: {out}");
        assert_eq!(out["error"]["param"], param);
        assert_eq!(out["error"]["code"], "unsupported_parameter");
    }
    let mut body = req(json!([{"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"}]));
    body["tools"] = weather_tool();
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["error"]["param"], "messages");
    assert_eq!(fake.calls(), 1);
    app.stop().await;
}

#[tokio::test]
async fn refused_requests_fall_back_to_an_endpoint_that_can_serve_them() {
    let gemini_fake = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let openai_fake = Fake::start(vec![fake::Reply::simple()]).await;
    let reg = gemini("google", &gemini_fake)
        + &provider("oai", &openai_fake.base_url())
        + &model(
            "google/flash",
            &[("google", "gemini-2.5-flash"), ("oai", "gpt-4o-mini")],
            &[],
        );
    let app = TestApp::spawn(&reg).await;
    let mut body = req(user("x"));
    body["web_search_options"] = json!({});
    let (status, out) = json_of(app.chat(body).await).await;
    assert_eq!(
        (status, out["provider"].as_str()),
        (200, Some("oai")),
        "{out}"
    );
    assert_eq!(gemini_fake.calls(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_blocked_prompt_finishes_with_content_filter() {
    let blocked = r#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.5-flash","responseId": "blk"}"#;
    let fake = FakeGemini::start(vec![
        Reply::Json(blocked.into()),
        Reply::Sse(vec![blocked.into()]),
    ])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let (status, out) = json_of(app.chat(req(user("x"))).await).await;
    assert_eq!(status, 200);
    assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        out["choices"][0]["native_finish_reason"],
        "PROHIBITED_CONTENT"
    );
    assert!(out["choices"][0]["message"]["content"].is_null());

    let mut body = req(user("x"));
    body["stream"] = json!(true);
    let events = sse_of(app.chat(body).await).await;
    assert_eq!(finish_reason(&events).as_deref(), Some("content_filter"));
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    app.stop().await;
}

/// Image URLs were fetched all at once with no cap on count, total bytes or concurrency, and
/// again for every fallback attempt.
#[tokio::test]
async fn images_are_capped_and_fetched_once_per_request() {
    let a = FakeGemini::start(vec![Reply::error(503, "UNAVAILABLE", "overloaded")]).await;
    let b = FakeGemini::start(vec![Reply::json_fixture("simple.json")]).await;
    let app = TestApp::spawn_with(
        &two(&a, &b),
        Opts {
            extra: "[routing]\nmax_images_per_request = 3\nmax_image_bytes_per_request = 4096\n"
                .into(),
            ..Default::default()
        },
    )
    .await;
    let image = |name: &str| json!({"type": "image_url", "image_url": {"url": a.image_url(name)}});
    // Three images: the first endpoint fails, the second serves, and each image was
    // downloaded once for both.
    let three: Vec<Value> = ["cat.png", "dog.webp", "cat.png?x=1"]
        .iter()
        .map(|n| image(n))
        .collect();
    let (status, out) = json_of(
        app.chat(req(json!([{"role": "user", "content": three}])))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!((a.calls(), b.calls()), (1, 1));
    assert_eq!(a.image_fetches(), 3);

    // Four are refused before anything is fetched or sent.
    let four: Vec<Value> = (0..4).map(|i| image(&format!("cat.png?n={i}"))).collect();
    let (status, out) = json_of(
        app.chat(req(json!([{"role": "user", "content": four}])))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{out}"
    );
    assert_eq!(a.image_fetches(), 3);
    app.stop().await;
}
