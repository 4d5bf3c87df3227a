//! The Anthropic adapter through the whole gateway, against `fake_anthropic`: what clients
//! get back (JSON and SSE in OpenAI's shape) and what the upstream receives.

use serde_json::{json, Value};

use crate::fake::{fixture, Fake, Reply as OpenAiReply};
use crate::fake_anthropic::{event, text_events, FakeAnthropic, Reply, KEY};
use crate::helpers::*;

const UPSTREAM: &str = "claude-sonnet-4-20250514";

fn one(fake: &FakeAnthropic) -> String {
    fake.provider("anthropic") + &model("test/claude", &[("anthropic", UPSTREAM)], &[])
}

fn req(messages: Value) -> Value {
    json!({"model": "test/claude", "messages": messages})
}

fn stream_req(messages: Value) -> Value {
    json!({"model": "test/claude", "stream": true, "messages": messages})
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "weather", "description": "Get weather information for a location",
        "parameters": {"properties": {"location": {"description": "the city", "type": "string"}}, "required": ["location"], "type": "object"}}})
}

#[tokio::test]
async fn json_text_reply_and_the_translated_request() {
    let fake = FakeAnthropic::start(vec![Reply::recorded("simple.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app
        .chat(req(json!([
            {"role": "system", "content": "You are a helpful assistant"},
            {"role": "user", "content": "Say hi in Portuguese"}
        ])))
        .await;
    let id = request_id(&resp);
    assert!(resp.headers().get("x-switchyard-dropped-params").is_none());
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["id"], "msg_01KrnBffuzxt8ttHq7iiZe7n");
    assert_eq!(
        (body["model"].as_str(), body["provider"].as_str()),
        (Some("test/claude"), Some("anthropic"))
    );
    let choice = &body["choices"][0];
    assert!(choice["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Olá!"));
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        (
            choice["finish_reason"].as_str(),
            choice["native_finish_reason"].as_str()
        ),
        (Some("stop"), Some("end_turn"))
    );
    assert_eq!(body["usage"]["prompt_tokens"], 16);
    assert_eq!(body["usage"]["completion_tokens"], 34);
    assert_eq!(body["usage"]["total_tokens"], 50);

    let got = &fake.received()[0];
    assert_eq!(got.headers["x-api-key"], KEY);
    assert_eq!(got.headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        got.body,
        json!({"model": UPSTREAM, "max_tokens": 4096,
            "system": [{"type": "text", "text": "You are a helpful assistant"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi in Portuguese"}]}]})
    );
    let rec = app.record(&id).await;
    assert_eq!(
        rec.upstream_id.as_deref(),
        Some("msg_01KrnBffuzxt8ttHq7iiZe7n")
    );
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.usage_estimated
        ),
        (16, 34, false)
    );
    app.stop().await;
}

#[tokio::test]
async fn json_tool_call() {
    let fake = FakeAnthropic::start(vec![Reply::recorded("tool.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(json!([{"role": "user", "content": "What's the weather in Florence,Italy?"}]));
    r["tools"] = json!([weather_tool()]);
    r["tool_choice"] = json!("required");
    r["parallel_tool_calls"] = json!(false);
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "type": "function",
            "function": {"name": "weather", "arguments": "{\"location\":\"Florence,Italy\"}"}}])
    );
    let sent = fake.last_body();
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(sent["tools"][0]["name"], "weather");
    assert_eq!(
        sent["tools"][0]["input_schema"]["required"],
        json!(["location"])
    );
    app.stop().await;
}

#[tokio::test]
async fn tool_round_trip_is_translated_like_the_recording() {
    let fake = FakeAnthropic::start(vec![Reply::recorded("tool_result.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(json!([
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": [{"type": "text", "text": "What's the weather in Florence,Italy?"}]},
        {"role": "assistant", "content": "I'll check the weather in Florence, Italy for you.",
         "tool_calls": [{"id": "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "type": "function",
                         "function": {"name": "weather", "arguments": "{\"location\":\"Florence,Italy\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "content": [{"type": "text", "text": "40 C"}]}
    ]));
    r["tools"] = json!([weather_tool()]);
    r["tool_choice"] = json!("auto");
    r["max_tokens"] = json!(4000);
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("40°C"));
    let mut expected: Value =
        serde_json::from_str(&fixture("anthropic/tool_result.request.json")).unwrap();
    expected["tool_choice"] = json!({"type": "auto"});
    assert_eq!(fake.last_body(), expected);
    app.stop().await;
}

#[tokio::test]
async fn parallel_tool_results_share_one_user_turn() {
    let fake = FakeAnthropic::start(vec![Reply::message(
        json!([{"type": "text", "text": "Both done."}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let r = req(json!([
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_a", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Oslo\"}"}},
            {"id": "toolu_b", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_a", "content": "-3 C"},
        {"role": "tool", "tool_call_id": "toolu_b", "content": "18 C"}
    ]));
    let (status, _) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.last_body()["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {"location": "Oslo"}},
                {"type": "tool_use", "id": "toolu_b", "name": "weather", "input": {"location": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "-3 C"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "18 C"}]}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn streaming_text_from_the_recording() {
    let fake = FakeAnthropic::start(vec![Reply::recorded_stream("simple_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req(user("Say hi in Portuguese"))).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    assert_eq!(
        content(&events),
        "Olá! (That's \"hi\" in Portuguese)\n\nYou could also say \"Oi!\" which is a more casual way to say hi in Portuguese."
    );
    let cs = chunks(&events);
    assert_eq!(cs[0]["choices"][0]["delta"]["role"], "assistant");
    for c in &cs {
        assert_eq!(c["id"], "msg_01R8GdyyLQUhUfyjqSCMbnWg");
        assert_eq!(
            (c["model"].as_str(), c["provider"].as_str()),
            (Some("test/claude"), Some("anthropic"))
        );
        assert!(c.get("usage").is_none(), "usage hidden unless asked: {c}");
        assert!(!c["choices"].as_array().unwrap().is_empty());
    }
    assert_eq!(finish_reason(&events).as_deref(), Some("stop"));
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    assert_eq!(fake.last_body()["stream"], true);
    let rec = app.record(&id).await;
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.usage_estimated
        ),
        (16, 38, false)
    );
    assert_eq!(
        rec.upstream_id.as_deref(),
        Some("msg_01R8GdyyLQUhUfyjqSCMbnWg")
    );
    app.stop().await;
}

#[tokio::test]
async fn streamed_usage_chunk_when_asked() {
    let fake = FakeAnthropic::start(vec![Reply::recorded_stream("simple_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = stream_req(user("Say hi in Portuguese"));
    r["stream_options"] = json!({"include_usage": true});
    let events = sse_of(app.chat(r).await).await;
    let last = chunks(&events).pop().unwrap();
    assert_eq!(last["choices"], json!([]));
    let (usage, cost) = split_cost(&last["usage"]);
    assert_eq!(cost, 0.000336, "16 in at $2/M, 38 out at $8/M");
    assert_eq!(
        usage,
        json!({"prompt_tokens": 16, "completion_tokens": 38, "total_tokens": 54,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
    assert!(
        fake.last_body().get("stream_options").is_none(),
        "not an Anthropic field"
    );
    app.stop().await;
}

#[tokio::test]
async fn streaming_tool_call_fragments_reassemble() {
    let fake = FakeAnthropic::start(vec![Reply::recorded_stream("tool_streaming.sse")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = stream_req(user("What's the weather in Florence,Italy?"));
    r["tools"] = json!([weather_tool()]);
    let events = sse_of(app.chat(r).await).await;
    assert_eq!(
        content(&events),
        "I'll get the weather information for Florence, Italy for you."
    );
    let first = chunks(&events)
        .into_iter()
        .find_map(|c| c["choices"][0]["delta"].get("tool_calls").cloned())
        .unwrap();
    assert_eq!(
        first,
        json!([{"index": 0, "id": "toolu_01N2eM4V43kGCDkq2Lw7ChWQ", "type": "function",
            "function": {"name": "weather", "arguments": ""}}])
    );
    let args: Value = serde_json::from_str(&tool_args(&events, 0)).unwrap();
    assert_eq!(args, json!({"location": "Florence,Italy"}));
    assert_eq!(finish_reason(&events).as_deref(), Some("tool_calls"));
    app.stop().await;
}

#[tokio::test]
async fn json_schema_uses_native_structured_output() {
    let fake = FakeAnthropic::start(vec![Reply::message(
        json!([{"type": "text", "text": "{\"city\":\"Rome\"}"}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false});
    let mut r = req(user("A city in Italy, as JSON"));
    r["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "city", "strict": true, "schema": schema}});
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "{\"city\":\"Rome\"}"
    );
    assert_eq!(
        fake.last_body()["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    app.stop().await;
}

#[tokio::test]
async fn json_object_is_answered_through_a_forced_tool() {
    let fake = FakeAnthropic::start(vec![
        Reply::message(json!([{"type": "tool_use", "id": "toolu_j", "name": "json_response", "input": {"city": "Rome", "n": 1}}]), "tool_use"),
        Reply::Sse(vec![
            event(json!({"type": "message_start", "message": {"id": "msg_j", "model": "claude-fake", "content": [], "usage": {"input_tokens": 9, "output_tokens": 1}}})),
            event(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_j", "name": "json_response", "input": {}}})),
            event(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}})),
            event(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"Rome\"}"}})),
            event(json!({"type": "content_block_stop", "index": 0})),
            event(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}})),
            event(json!({"type": "message_stop"})),
        ]),
    ])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(user("A city in Italy, as JSON"));
    r["response_format"] = json!({"type": "json_object"});
    let (status, body) = json_of(app.chat(r.clone()).await).await;
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    let answer: Value =
        serde_json::from_str(choice["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({"city": "Rome", "n": 1}));
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    let sent = fake.last_body();
    assert_eq!(
        sent["tools"],
        json!([{"name": "json_response",
        "description": "Give your whole answer as a JSON object: the input of this tool is the response.",
        "input_schema": {"type": "object"}}])
    );
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "json_response", "disable_parallel_tool_use": true})
    );

    r["stream"] = json!(true);
    let events = sse_of(app.chat(r).await).await;
    assert_eq!(content(&events), "{\"city\": \"Rome\"}");
    assert_eq!(finish_reason(&events).as_deref(), Some("stop"));
    app.stop().await;
}

#[tokio::test]
async fn images_by_url_and_data_url() {
    let fake = FakeAnthropic::start(vec![Reply::message(
        json!([{"type": "text", "text": "Two cats."}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let r = req(json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}}
    ]}]));
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fake.last_body()["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn system_and_developer_messages_anywhere_become_the_system_prompt() {
    let fake = FakeAnthropic::start(vec![Reply::message(
        json!([{"type": "text", "text": "Bonjour"}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(json!([
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi."},
        {"role": "developer", "content": [{"type": "text", "text": "From now on, answer in French."}]},
        {"role": "user", "content": "Hello again"}
    ]));
    r["user"] = json!("user-42");
    r["stop"] = json!(["\n\n", "END"]);
    r["max_completion_tokens"] = json!(300);
    let (status, _) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200);
    let sent = fake.last_body();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "You are terse."}, {"type": "text", "text": "From now on, answer in French."}])
    );
    assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
    assert_eq!(sent["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(sent["stop_sequences"], json!(["\n\n", "END"]));
    assert_eq!(sent["max_tokens"], 300);
    app.stop().await;
}

#[tokio::test]
async fn reasoning_streams_as_reasoning_and_its_signature_round_trips() {
    let fake = FakeAnthropic::start(vec![
        Reply::recorded_stream("thinking_streaming.sse"),
        Reply::message(json!([{"type": "text", "text": "It is 40°C."}]), "end_turn"),
    ])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = stream_req(user("What's the weather in Florence, Italy?"));
    r["tools"] = json!([weather_tool()]);
    r["reasoning"] = json!({"effort": "low"});
    let events = sse_of(app.chat(r).await).await;
    let sent = fake.last_body();
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(sent["max_tokens"], 4096);

    assert_eq!(content(&events), "");
    let reasoning = field(&events, "reasoning");
    assert!(
        reasoning.starts_with("The user is asking for weather information"),
        "{reasoning}"
    );
    let details: Vec<Value> = chunks(&events)
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]
                .get("reasoning_details")
                .cloned()
        })
        .flat_map(|v| v.as_array().cloned().unwrap())
        .collect();
    assert!(details.iter().any(|d| d["signature"]
        .as_str()
        .is_some_and(|s| s.starts_with("EtYD"))));
    assert_eq!(finish_reason(&events).as_deref(), Some("tool_calls"));
    let args = tool_args(&events, 0);
    let call_id = chunks(&events)
        .iter()
        .find_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap();

    // The client echoes the stream's reasoning_details fragments as they came.
    let r = json!({"model": "test/claude", "reasoning": {"effort": "low"}, "tools": [weather_tool()], "messages": [
        {"role": "user", "content": "What's the weather in Florence, Italy?"},
        {"role": "assistant", "content": null, "reasoning": reasoning, "reasoning_details": details,
         "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "weather", "arguments": args}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "40 C"}
    ]});
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    let assistant = &fake.last_body()["messages"][1]["content"];
    assert_eq!(assistant[0]["type"], "thinking");
    assert_eq!(assistant[0]["thinking"], reasoning.as_str());
    assert!(assistant[0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("EtYD"));
    assert_eq!(assistant[1]["type"], "tool_use");
    assert_eq!(
        assistant[1]["input"],
        json!({"location": "Florence, Italy"})
    );
    app.stop().await;
}

#[tokio::test]
async fn non_streamed_reasoning_and_cache_usage() {
    let fake = FakeAnthropic::start(vec![Reply::Json(
        json!({"id": "msg_r", "type": "message", "role": "assistant", "model": "claude-fake",
            "content": [{"type": "thinking", "thinking": "Short thought.", "signature": "c2ln"},
                        {"type": "text", "text": "Answer."}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000, "output_tokens": 40}})
        .to_string(),
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(user("Think briefly"));
    r["reasoning_effort"] = json!("medium");
    r["max_tokens"] = json!(2000);
    let resp = app.chat(r).await;
    let id = request_id(&resp);
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 200, "{body}");
    let m = &body["choices"][0]["message"];
    assert_eq!(
        (m["content"].as_str(), m["reasoning"].as_str()),
        (Some("Answer."), Some("Short thought."))
    );
    assert_eq!(m["reasoning_details"][0]["signature"], "c2ln");
    assert_eq!(fake.last_body()["thinking"]["budget_tokens"], 8192);
    assert_eq!(fake.last_body()["max_tokens"], 2000 + 8192);
    assert_eq!(body["usage"]["prompt_tokens"], 2110);
    assert_eq!(
        body["usage"]["prompt_tokens_details"],
        json!({"cached_tokens": 2000, "cache_write_tokens": 100})
    );
    assert_eq!(body["usage"]["cache_read_input_tokens"], 2000);
    let rec = app.record(&id).await;
    assert_eq!(
        (rec.prompt_tokens, rec.cached_tokens, rec.completion_tokens),
        (2110, 2000, 40)
    );
    app.stop().await;
}

#[tokio::test]
async fn mid_stream_error_event_ends_the_stream_with_an_error_chunk() {
    let mut events = text_events(&["Hel", "lo"], "end_turn");
    // After the first text delta: [start, block start, ping, delta "Hel", ...].
    events.truncate(4);
    events.push(event(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let fake = FakeAnthropic::start(vec![Reply::Sse(events)]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req(user("hi"))).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    assert_eq!(content(&events), "Hel");
    let err = error_chunk(&events).expect("an error chunk");
    assert_eq!(err["choices"][0]["finish_reason"], "error");
    assert_eq!(err["error"]["code"], 529);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Overloaded"),
        "{err}"
    );
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    assert_eq!(app.record(&id).await.outcome, "cut");
    app.stop().await;
}

#[tokio::test]
async fn errors_before_output_fall_back_invisibly() {
    let mut early_error = text_events(&[], "end_turn");
    early_error.truncate(1);
    early_error.push(event(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let cut = text_events(&["never"], "end_turn");
    for (what, reply) in [
        ("error event", Reply::Sse(early_error)),
        ("cut", Reply::SseCut(cut, 2)),
    ] {
        let bad = FakeAnthropic::start(vec![reply]).await;
        let good = FakeAnthropic::start(vec![Reply::Sse(text_events(&["fine"], "end_turn"))]).await;
        let reg = bad.provider("a1")
            + &good.provider("a2")
            + &model("test/claude", &[("a1", UPSTREAM), ("a2", UPSTREAM)], &[]);
        let app = TestApp::spawn(&reg).await;
        let events = sse_of(app.chat(stream_req(user("hi"))).await).await;
        assert_eq!(content(&events), "fine", "{what}");
        assert!(error_chunk(&events).is_none(), "{what}");
        assert!(
            chunks(&events).iter().all(|c| c["provider"] == "a2"),
            "{what}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_stream_cut_after_output_reports_an_error_chunk() {
    let fake = FakeAnthropic::start(vec![Reply::SseCut(
        text_events(&["Hel", "lo"], "end_turn"),
        5,
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let events = sse_of(app.chat(stream_req(user("hi"))).await).await;
    assert_eq!(content(&events), "Hello");
    let err = error_chunk(&events).expect("an error chunk");
    assert_eq!(err["choices"][0]["finish_reason"], "error");
    app.stop().await;
}

#[tokio::test]
async fn transient_errors_fall_back_to_the_next_endpoint() {
    for (status, kind) in [
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
        (503, "api_error"),
        (401, "authentication_error"),
    ] {
        let bad = FakeAnthropic::start(vec![Reply::Error(
            status,
            kind,
            "try later".into(),
            vec![("retry-after", "2".into())],
        )])
        .await;
        let good = FakeAnthropic::start(vec![Reply::recorded("simple.json")]).await;
        let reg = bad.provider("a1")
            + &good.provider("a2")
            + &model("test/claude", &[("a1", UPSTREAM), ("a2", UPSTREAM)], &[]);
        let app = TestApp::spawn(&reg).await;
        let resp = app.chat(req(user("hi"))).await;
        let id = request_id(&resp);
        let (code, body) = json_of(resp).await;
        assert_eq!(
            (code, body["provider"].as_str()),
            (200, Some("a2")),
            "{status}: {body}"
        );
        let rec = app.record(&id).await;
        assert_eq!(rec.attempts[0].status, Some(status as i64), "{status}");
        assert!(
            rec.attempts[0]
                .error
                .as_deref()
                .unwrap()
                .contains("try later"),
            "{status}"
        );
        app.stop().await;
    }
    // Nothing else to try: the client sees the upstream's reason and Retry-After.
    let bad = FakeAnthropic::start(vec![Reply::Error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit".into(),
        vec![("retry-after", "7".into())],
    )])
    .await;
    let app = TestApp::spawn(&one(&bad)).await;
    let resp = app.chat(req(user("hi"))).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per-minute rate limit"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_400_is_returned_with_the_upstream_reason_and_no_fallback() {
    let bad = FakeAnthropic::start(vec![Reply::error(
        400,
        "invalid_request_error",
        "prompt is too long: 215000 tokens > 200000 maximum",
    )])
    .await;
    let good = FakeAnthropic::start(vec![Reply::recorded("simple.json")]).await;
    let reg = bad.provider("a1")
        + &good.provider("a2")
        + &model("test/claude", &[("a1", UPSTREAM), ("a2", UPSTREAM)], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(app.chat(req(user("very long"))).await).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("prompt is too long: 215000 tokens > 200000 maximum"),
        "{message}"
    );
    assert!(
        message.contains("req_fake_1"),
        "the upstream request id helps support: {message}"
    );
    assert_eq!(good.calls(), 0);
    app.stop().await;
}

#[tokio::test]
async fn unsupported_parameters_are_refused_by_name_or_reported_as_dropped() {
    let fake = FakeAnthropic::start(vec![Reply::recorded("simple.json")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    for (param, value) in [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(2)),
        ("web_search_options", json!({})),
    ] {
        let mut r = req(user("hi"));
        r[param] = value;
        let (status, body) = json_of(app.chat(r).await).await;
        assert_eq!(status, 400, "{param}: {body}");
        assert_eq!(body["error"]["param"], param, "{body}");
        assert_eq!(body["error"]["code"], "unsupported_parameter");
    }
    let audio = req(
        json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]),
    );
    let (status, body) = json_of(app.chat(audio).await).await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("messages")),
        "{body}"
    );
    let bad_args = req(json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"}
    ]));
    let (status, body) = json_of(app.chat(bad_args).await).await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("messages")),
        "{body}"
    );
    assert_eq!(fake.calls(), 0, "nothing reached the upstream");

    let mut r = req(user("hi"));
    r["seed"] = json!(7);
    r["presence_penalty"] = json!(0.4);
    r["frequency_penalty"] = json!(0.2);
    r["logit_bias"] = json!({"50256": -100});
    r["temperature"] = json!(1.5);
    let resp = app.chat(r).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-switchyard-dropped-params"],
        "seed,logit_bias,presence_penalty,frequency_penalty,temperature"
    );
    let sent = fake.last_body();
    for p in [
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
    ] {
        assert!(sent.get(p).is_none(), "{p}");
    }
    assert_eq!(sent["temperature"], 1.0);
    app.stop().await;
}

#[tokio::test]
async fn an_unsupported_request_falls_back_to_an_endpoint_that_can_serve_it() {
    let claude = FakeAnthropic::start(vec![Reply::recorded("simple.json")]).await;
    let openai = Fake::start(vec![OpenAiReply::simple()]).await;
    let reg = claude.provider("anthropic")
        + &provider("openai", &openai.base_url())
        + &model(
            "test/claude",
            &[("anthropic", UPSTREAM), ("openai", "gpt-x")],
            &[],
        );
    let app = TestApp::spawn(&reg).await;
    let mut r = req(user("hi"));
    r["n"] = json!(2);
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(
        (status, body["provider"].as_str()),
        (200, Some("openai")),
        "{body}"
    );
    assert_eq!(claude.calls(), 0);
    assert_eq!(openai.received()[0].body["n"], 2);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_key_is_the_gateways_problem_not_the_clients() {
    std::env::set_var("SWITCHYARD_TEST_ANTHROPIC_WRONG_KEY", "sk-ant-wrong");
    let fake = FakeAnthropic::start(vec![Reply::recorded("simple.json")]).await;
    let reg = format!(
        "[[providers]]\nid = \"anthropic\"\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key_env = \"SWITCHYARD_TEST_ANTHROPIC_WRONG_KEY\"\n\n",
        fake.base_url()
    ) + &model("test/claude", &[("anthropic", UPSTREAM)], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(app.chat(req(user("hi"))).await).await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("invalid x-api-key"), "{message}");
    assert!(message.contains("check its key"), "{message}");
    assert_eq!(fake.received()[0].headers["x-api-key"], "sk-ant-wrong");
    app.stop().await;
}
