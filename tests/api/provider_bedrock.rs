//! The Bedrock adapter through the whole gateway, against `fake_bedrock`: what clients get back
//! (JSON and SSE in OpenAI's shape) and what the upstream receives (signed Converse requests).

use serde_json::{json, Value};

use crate::fake::{Fake, Reply as OpenAiReply};
use crate::fake_bedrock::{
    end_frames, recorded_frames, text_frames, Auth, FakeBedrock, Frame, Reply, ACCESS_KEY, REGION,
};
use crate::fake_gemini::PNG;
use crate::helpers::*;

const UPSTREAM: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const UPSTREAM_PATH: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0";

fn one(fake: &FakeBedrock) -> String {
    fake.provider("bedrock") + &model("test/claude", &[("bedrock", UPSTREAM)], &[])
}

fn two(bad: &FakeBedrock, good: &FakeBedrock) -> String {
    bad.provider("b1")
        + &good.provider("b2")
        + &model("test/claude", &[("b1", UPSTREAM), ("b2", UPSTREAM)], &[])
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
async fn json_text_reply_from_a_signed_converse_request() {
    let fake = FakeBedrock::start(vec![Reply::Json(json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "Olá!"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 16, "outputTokens": 7, "totalTokens": 23},
        "metrics": {"latencyMs": 500}
    }))])
    .await;
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
    assert_eq!(
        body["id"], "fake-req-0001",
        "the request id stands in for the missing id"
    );
    assert_eq!(
        (body["model"].as_str(), body["provider"].as_str()),
        (Some("test/claude"), Some("bedrock"))
    );
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["content"], "Olá!");
    assert_eq!(
        (
            choice["finish_reason"].as_str(),
            choice["native_finish_reason"].as_str()
        ),
        (Some("stop"), Some("end_turn"))
    );
    assert_eq!(
        (
            body["usage"]["prompt_tokens"].as_u64(),
            body["usage"]["completion_tokens"].as_u64(),
            body["usage"]["total_tokens"].as_u64()
        ),
        (Some(16), Some(7), Some(23))
    );

    // The fake recomputed the signature; the request had everything AWS wants.
    let got = &fake.received()[0];
    assert_eq!(got.path, format!("/model/{UPSTREAM_PATH}/converse"));
    let auth = got.headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")),
        "{auth}"
    );
    assert!(auth.contains(&format!("/{REGION}/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=")));
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(
        got.body,
        json!({"messages": [{"role": "user", "content": [{"text": "Say hi in Portuguese"}]}],
            "system": [{"text": "You are a helpful assistant"}],
            "inferenceConfig": {"maxTokens": 4096}})
    );
    let rec = app.record(&id).await;
    assert_eq!(rec.upstream_id.as_deref(), Some("fake-req-0001"));
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.usage_estimated
        ),
        (16, 7, false)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bedrock_api_key_is_sent_as_a_bearer_token() {
    let fake = FakeBedrock::start_with(
        Auth::Bearer,
        vec![Reply::message(json!([{"text": "Hi"}]), "end_turn")],
    )
    .await;
    let reg =
        fake.bearer_provider("bedrock") + &model("test/claude", &[("bedrock", UPSTREAM)], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(app.chat(req(user("hi"))).await).await;
    assert_eq!(status, 200, "{body}");
    let got = &fake.received()[0];
    assert!(got.headers.get("x-amz-date").is_none(), "not signed");
    app.stop().await;
}

#[tokio::test]
async fn json_tool_call() {
    let fake = FakeBedrock::start(vec![Reply::message(
        json!([{"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"location": "Florence,Italy"}}}]),
        "tool_use",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(user("What's the weather in Florence,Italy?"));
    r["tools"] = json!([weather_tool()]);
    r["tool_choice"] = json!("required");
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "tooluse_1", "type": "function",
            "function": {"name": "weather", "arguments": "{\"location\":\"Florence,Italy\"}"}}])
    );
    assert!(choice["message"]["content"].is_null());
    let sent = fake.last_body();
    assert_eq!(sent["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "weather"
    );
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["required"],
        json!(["location"])
    );
    app.stop().await;
}

#[tokio::test]
async fn tool_round_trip_sends_tool_use_and_results_in_one_user_turn() {
    let fake = FakeBedrock::start(vec![Reply::message(
        json!([{"text": "Oslo -3 C, Rome 18 C."}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = req(json!([
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "tooluse_a", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Oslo\"}"}},
            {"id": "tooluse_b", "type": "function", "function": {"name": "weather", "arguments": "{\"location\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "tooluse_a", "content": "-3 C"},
        {"role": "tool", "tool_call_id": "tooluse_b", "content": "18 C"}
    ]));
    r["tools"] = json!([weather_tool()]);
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fake.last_body()["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Oslo and Rome?"}]},
            {"role": "assistant", "content": [
                {"text": "Checking both."},
                {"toolUse": {"toolUseId": "tooluse_a", "name": "weather", "input": {"location": "Oslo"}}},
                {"toolUse": {"toolUseId": "tooluse_b", "name": "weather", "input": {"location": "Rome"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_a", "content": [{"text": "-3 C"}]}},
                {"toolResult": {"toolUseId": "tooluse_b", "content": [{"text": "18 C"}]}}]}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn streaming_text_from_the_recording() {
    let fake = FakeBedrock::start(vec![Reply::Stream(recorded_frames(
        "invoke_tool_result_streaming.bin",
    ))])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req(user("And the weather?"))).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    assert_eq!(
        content(&events),
        "The weather in Florence, Italy is currently **40°C** (104°F). That's quite hot! If you're planning to visit or are there now, make sure to stay hydrated and seek shade during the hottest parts of the day."
    );
    let cs = chunks(&events);
    assert_eq!(cs[0]["choices"][0]["delta"]["role"], "assistant");
    for c in &cs {
        assert_eq!(c["id"], "fake-req-0001");
        assert_eq!(c["provider"], "bedrock");
        assert!(c.get("usage").is_none(), "usage hidden unless asked: {c}");
    }
    assert_eq!(finish_reason(&events).as_deref(), Some("stop"));
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    assert_eq!(
        fake.received()[0].path,
        format!("/model/{UPSTREAM_PATH}/converse-stream")
    );
    let rec = app.record(&id).await;
    assert_eq!(
        (
            rec.prompt_tokens,
            rec.completion_tokens,
            rec.usage_estimated
        ),
        (646, 55, false)
    );
    assert_eq!(rec.upstream_id.as_deref(), Some("fake-req-0001"));
    app.stop().await;
}

#[tokio::test]
async fn streamed_usage_chunk_when_asked() {
    let mut frames = text_frames(&["Hi", " there"], "end_turn");
    frames.truncate(frames.len() - 2);
    frames.push(Frame::Event(
        "messageStop",
        json!({"stopReason": "end_turn"}),
    ));
    frames.push(Frame::Event(
        "metadata",
        json!({"usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 2114,
            "cacheReadInputTokens": 2000, "cacheWriteInputTokens": 100}, "metrics": {"latencyMs": 1}}),
    ));
    let fake = FakeBedrock::start(vec![Reply::Stream(frames)]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = stream_req(user("hi"));
    r["stream_options"] = json!({"include_usage": true});
    let events = sse_of(app.chat(r).await).await;
    let last = chunks(&events).pop().unwrap();
    assert_eq!(last["choices"], json!([]));
    let (usage, cost) = split_cost(&last["usage"]);
    assert!(cost > 0.0, "streamed usage carries its cost");
    assert_eq!(
        usage,
        json!({"prompt_tokens": 2110, "completion_tokens": 4, "total_tokens": 2114,
            "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 100}})
    );
    assert!(fake.last_body().get("stream_options").is_none());
    app.stop().await;
}

#[tokio::test]
async fn streaming_tool_call_fragments_reassemble() {
    let fake = FakeBedrock::start(vec![Reply::Stream(recorded_frames(
        "invoke_tool_call_streaming.bin",
    ))])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = stream_req(user("What's the weather in Florence,Italy?"));
    r["tools"] = json!([weather_tool()]);
    let events = sse_of(app.chat(r).await).await;
    let first = chunks(&events)
        .into_iter()
        .find_map(|c| c["choices"][0]["delta"].get("tool_calls").cloned())
        .unwrap();
    assert_eq!(
        first,
        json!([{"index": 0, "id": "toolu_bdrk_018dfpvS9zVjdozFjuwZf5cx", "type": "function",
            "function": {"name": "weather", "arguments": ""}}])
    );
    let args: Value = serde_json::from_str(&tool_args(&events, 0)).unwrap();
    assert_eq!(args, json!({"location": "Florence,Italy"}));
    assert_eq!(finish_reason(&events).as_deref(), Some("tool_calls"));
    app.stop().await;
}

#[tokio::test]
async fn json_schema_and_json_object_are_answered_through_a_forced_tool() {
    let mut stream = vec![
        Frame::Event("messageStart", json!({"role": "assistant"})),
        Frame::Event(
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "j", "name": "json_response"}}}),
        ),
        Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"city\": "}}}),
        ),
        Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "\"Rome\"}"}}}),
        ),
        Frame::Event("contentBlockStop", json!({"contentBlockIndex": 0})),
    ];
    stream.extend(end_frames("tool_use", 9, 12));
    let fake = FakeBedrock::start(vec![
        Reply::message(
            json!([{"toolUse": {"toolUseId": "j", "name": "json_response", "input": {"city": "Rome"}}}]),
            "tool_use",
        ),
        Reply::Stream(stream),
    ])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let mut r = req(user("A city in Italy, as JSON"));
    r["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "city", "strict": true, "schema": schema}});
    let (status, body) = json_of(app.chat(r.clone()).await).await;
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["content"], "{\"city\":\"Rome\"}");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        fake.last_body()["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "json_response",
            "description": "Give your whole answer as a JSON object: the input of this tool is the response.",
            "inputSchema": {"json": schema}}}],
            "toolChoice": {"tool": {"name": "json_response"}}})
    );

    r["response_format"] = json!({"type": "json_object"});
    r["stream"] = json!(true);
    let events = sse_of(app.chat(r).await).await;
    assert_eq!(content(&events), "{\"city\": \"Rome\"}");
    assert_eq!(finish_reason(&events).as_deref(), Some("stop"));
    assert_eq!(
        fake.last_body()["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"],
        json!({"type": "object"})
    );
    app.stop().await;
}

#[tokio::test]
async fn images_by_url_are_fetched_and_data_urls_inlined() {
    use base64::Engine;
    let fake = FakeBedrock::start(vec![Reply::message(
        json!([{"text": "A dot."}]),
        "end_turn",
    )])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
    let r = req(json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": fake.image_url("cat.png"), "detail": "low"}},
        {"type": "image_url", "image_url": {"url": format!("data:image/webp;base64,{b64}")}}
    ]}]));
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fake.last_body()["messages"][0]["content"],
        json!([
            {"text": "What is in these?"},
            {"image": {"format": "png", "source": {"bytes": b64}}},
            {"image": {"format": "webp", "source": {"bytes": b64}}}
        ])
    );
    for name in ["missing.png", "photo.tiff", "huge.png"] {
        let r = req(json!([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": fake.image_url(name)}}]}]));
        let (status, out) = json_of(app.chat(r).await).await;
        assert_eq!(status, 400, "{name}: {out}");
        assert_eq!(out["error"]["param"], "messages", "{name}");
    }
    assert_eq!(
        fake.calls(),
        1,
        "nothing is sent when an image cannot be used"
    );
    app.stop().await;
}

#[tokio::test]
async fn system_and_developer_messages_anywhere_become_the_system_prompt() {
    let fake = FakeBedrock::start(vec![Reply::message(
        json!([{"text": "Bonjour"}]),
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
    r["stop"] = json!(["\n\n", "END"]);
    r["max_completion_tokens"] = json!(300);
    r["temperature"] = json!(0.2);
    r["top_p"] = json!(0.9);
    r["top_k"] = json!(40);
    let resp = app.chat(r).await;
    assert!(resp.headers().get("x-switchyard-dropped-params").is_none());
    assert_eq!(resp.status(), 200);
    let sent = fake.last_body();
    assert_eq!(
        sent["system"],
        json!([{"text": "You are terse."}, {"text": "From now on, answer in French."}])
    );
    assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
    assert_eq!(
        sent["inferenceConfig"],
        json!({"maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stopSequences": ["\n\n", "END"]})
    );
    assert_eq!(sent["additionalModelRequestFields"], json!({"top_k": 40}));
    app.stop().await;
}

#[tokio::test]
async fn reasoning_streams_as_reasoning_and_its_signature_round_trips() {
    let mut stream = vec![
        Frame::Event("messageStart", json!({"role": "assistant"})),
        Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "The user wants "}}}),
        ),
        Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "the weather."}}}),
        ),
        Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqQBCkgIARABGAIiQL"}}}),
        ),
        Frame::Event("contentBlockStop", json!({"contentBlockIndex": 0})),
        Frame::Event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_r", "name": "weather"}}}),
        ),
        Frame::Event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"location\": \"Florence\"}"}}}),
        ),
        Frame::Event("contentBlockStop", json!({"contentBlockIndex": 1})),
    ];
    stream.extend(end_frames("tool_use", 500, 80));
    let fake = FakeBedrock::start(vec![
        Reply::Stream(stream),
        Reply::message(json!([{"text": "It is 40°C."}]), "end_turn"),
    ])
    .await;
    let app = TestApp::spawn(&one(&fake)).await;
    let mut r = stream_req(user("What's the weather in Florence?"));
    r["tools"] = json!([weather_tool()]);
    r["reasoning"] = json!({"effort": "low"});
    let events = sse_of(app.chat(r).await).await;
    assert_eq!(
        fake.last_body()["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2048}})
    );
    assert_eq!(fake.last_body()["inferenceConfig"]["maxTokens"], 4096);
    assert_eq!(content(&events), "");
    let reasoning = field(&events, "reasoning");
    assert_eq!(reasoning, "The user wants the weather.");
    let details: Vec<Value> = chunks(&events)
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]
                .get("reasoning_details")
                .cloned()
        })
        .flat_map(|v| v.as_array().cloned().unwrap())
        .collect();
    assert!(details
        .iter()
        .any(|d| d["signature"] == "EqQBCkgIARABGAIiQL"));
    assert_eq!(finish_reason(&events).as_deref(), Some("tool_calls"));

    // The client echoes the stream's reasoning_details fragments as they came.
    let r = json!({"model": "test/claude", "reasoning": {"effort": "low"}, "tools": [weather_tool()], "messages": [
        {"role": "user", "content": "What's the weather in Florence?"},
        {"role": "assistant", "content": null, "reasoning": reasoning, "reasoning_details": details,
         "tool_calls": [{"id": "tooluse_r", "type": "function", "function": {"name": "weather", "arguments": tool_args(&events, 0)}}]},
        {"role": "tool", "tool_call_id": "tooluse_r", "content": "40 C"}
    ]});
    let (status, body) = json_of(app.chat(r).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fake.last_body()["messages"][1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "The user wants the weather.", "signature": "EqQBCkgIARABGAIiQL"}}},
            {"toolUse": {"toolUseId": "tooluse_r", "name": "weather", "input": {"location": "Florence"}}}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn mid_stream_exception_ends_the_stream_with_an_error_chunk() {
    let mut frames = text_frames(&["Hel", "lo"], "end_turn");
    frames.truncate(2);
    frames.push(Frame::Exception(
        "modelStreamErrorException",
        "The model stream failed".into(),
    ));
    let fake = FakeBedrock::start(vec![Reply::Stream(frames)]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    let resp = app.chat(stream_req(user("hi"))).await;
    let id = request_id(&resp);
    let events = sse_of(resp).await;
    assert_eq!(content(&events), "Hel");
    let err = error_chunk(&events).expect("an error chunk");
    assert_eq!(err["choices"][0]["finish_reason"], "error");
    assert_eq!(err["error"]["code"], 500);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The model stream failed"),
        "{err}"
    );
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    assert_eq!(app.record(&id).await.outcome, "cut");
    app.stop().await;
}

#[tokio::test]
async fn failures_before_output_fall_back_invisibly() {
    let start = Frame::Event("messageStart", json!({"role": "assistant"}));
    for (what, reply) in [
        (
            "throttling exception",
            Reply::Stream(vec![
                start.clone(),
                Frame::Exception("throttlingException", "Too many tokens".into()),
            ]),
        ),
        (
            "cut",
            Reply::StreamCut(text_frames(&["never"], "end_turn"), 1),
        ),
        (
            "bad CRC",
            Reply::Stream(vec![
                start.clone(),
                Frame::Corrupt(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
                ),
            ]),
        ),
    ] {
        let bad = FakeBedrock::start(vec![reply]).await;
        let good =
            FakeBedrock::start(vec![Reply::Stream(text_frames(&["fine"], "end_turn"))]).await;
        let app = TestApp::spawn(&two(&bad, &good)).await;
        let events = sse_of(app.chat(stream_req(user("hi"))).await).await;
        assert_eq!(content(&events), "fine", "{what}");
        assert!(error_chunk(&events).is_none(), "{what}");
        assert!(
            chunks(&events).iter().all(|c| c["provider"] == "b2"),
            "{what}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_stream_cut_after_output_reports_an_error_chunk() {
    let fake = FakeBedrock::start(vec![Reply::StreamCut(
        text_frames(&["Hel", "lo"], "end_turn"),
        3,
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
    for (status, class, seen) in [
        (429, "ThrottlingException", 429),
        (503, "ServiceUnavailableException", 503),
        (500, "InternalServerException", 500),
        (424, "ModelErrorException", 502),
        (408, "ModelTimeoutException", 408),
        (400, "ServiceQuotaExceededException", 429),
        (403, "AccessDeniedException", 403),
    ] {
        let bad = FakeBedrock::start(vec![Reply::Error(
            status,
            class,
            "try later".into(),
            vec![("retry-after", "2".into())],
        )])
        .await;
        let good =
            FakeBedrock::start(vec![Reply::message(json!([{"text": "ok"}]), "end_turn")]).await;
        let app = TestApp::spawn(&two(&bad, &good)).await;
        let resp = app.chat(req(user("hi"))).await;
        let id = request_id(&resp);
        let (code, body) = json_of(resp).await;
        assert_eq!(
            (code, body["provider"].as_str()),
            (200, Some("b2")),
            "{class}: {body}"
        );
        let rec = app.record(&id).await;
        assert_eq!(rec.attempts[0].status, Some(seen as i64), "{class}");
        let error = rec.attempts[0].error.as_deref().unwrap();
        assert!(
            error.contains("try later") && error.contains(class),
            "{class}: {error}"
        );
        app.stop().await;
    }
    // Nothing else to try: the client sees Bedrock's reason and Retry-After.
    let bad = FakeBedrock::start(vec![Reply::Error(
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.".into(),
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
            .contains("please wait before trying again"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_validation_error_is_returned_with_bedrocks_reason_and_no_fallback() {
    let bad = FakeBedrock::start(vec![Reply::error(
        400,
        "ValidationException",
        "Input is too long for requested model.",
    )])
    .await;
    let good = FakeBedrock::start(vec![Reply::message(json!([{"text": "ok"}]), "end_turn")]).await;
    let app = TestApp::spawn(&two(&bad, &good)).await;
    let (status, body) = json_of(app.chat(req(user("very long"))).await).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Input is too long for requested model."),
        "{message}"
    );
    assert!(message.contains("ValidationException"), "{message}");
    assert!(
        message.contains("fake-req-0001"),
        "the request id helps support: {message}"
    );
    assert_eq!(good.calls(), 0);

    // The fake's own checks are Bedrock's: a blank message never reaches it as one.
    let (status, body) = json_of(
        app.chat(req(json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}, {"role": "user", "content": "again"}])))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        bad.last_body()["messages"].as_array().unwrap().len(),
        1,
        "blank turns are dropped and merged"
    );
    app.stop().await;
}

#[tokio::test]
async fn unsupported_parameters_are_refused_by_name_or_reported_as_dropped() {
    let fake = FakeBedrock::start(vec![Reply::message(json!([{"text": "ok"}]), "end_turn")]).await;
    let app = TestApp::spawn(&one(&fake)).await;
    for (param, value) in [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(2)),
        ("web_search_options", json!({})),
        ("modalities", json!(["text", "audio"])),
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
    let no_tools = req(json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"}
    ]));
    let (status, body) = json_of(app.chat(no_tools).await).await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("tools")),
        "{body}"
    );
    assert_eq!(fake.calls(), 0, "nothing reached the upstream");

    let mut r = req(user("hi"));
    r["seed"] = json!(7);
    r["presence_penalty"] = json!(0.4);
    r["frequency_penalty"] = json!(0.2);
    r["logit_bias"] = json!({"50256": -100});
    r["user"] = json!("user-42");
    r["temperature"] = json!(1.5);
    let resp = app.chat(r).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-switchyard-dropped-params"],
        "seed,logit_bias,presence_penalty,frequency_penalty,user,temperature"
    );
    let sent = fake.last_body();
    assert_eq!(sent["inferenceConfig"]["temperature"], 1.0);
    assert!(sent.get("additionalModelRequestFields").is_none());
    app.stop().await;
}

#[tokio::test]
async fn model_families_differ_in_what_they_take() {
    let fake = FakeBedrock::start(vec![Reply::message(json!([{"text": "ok"}]), "end_turn")]).await;
    let reg = fake.provider("bedrock")
        + &model(
            "test/llama",
            &[("bedrock", "meta.llama3-70b-instruct-v1:0")],
            &[],
        );
    let app = TestApp::spawn(&reg).await;
    let r = json!({"model": "test/llama", "messages": user("hi"), "top_k": 5, "reasoning_effort": "high"});
    let resp = app.chat(r).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-switchyard-dropped-params"],
        "reasoning_effort,top_k"
    );
    let sent = fake.last_body();
    assert!(sent.get("additionalModelRequestFields").is_none(), "{sent}");
    assert!(
        sent.get("inferenceConfig").is_none(),
        "no maxTokens default for other models: {sent}"
    );
    assert_eq!(
        fake.received()[0].path,
        "/model/meta.llama3-70b-instruct-v1%3A0/converse"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unsupported_request_falls_back_to_an_endpoint_that_can_serve_it() {
    let bedrock =
        FakeBedrock::start(vec![Reply::message(json!([{"text": "ok"}]), "end_turn")]).await;
    let openai = Fake::start(vec![OpenAiReply::simple()]).await;
    let reg = bedrock.provider("bedrock")
        + &provider("openai", &openai.base_url())
        + &model(
            "test/claude",
            &[("bedrock", UPSTREAM), ("openai", "gpt-x")],
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
    assert_eq!(bedrock.calls(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_the_gateways_problem_not_the_clients() {
    std::env::set_var("SWITCHYARD_TEST_BEDROCK_WRONG_SECRET", "not-the-secret");
    let fake = FakeBedrock::start(vec![Reply::message(json!([{"text": "ok"}]), "end_turn")]).await;
    let reg = fake.provider("bedrock").replace(
        "secret_key_env = \"SWITCHYARD_TEST_BEDROCK_SECRET_KEY\"",
        "secret_key_env = \"SWITCHYARD_TEST_BEDROCK_WRONG_SECRET\"",
    ) + &model("test/claude", &[("bedrock", UPSTREAM)], &[]);
    let app = TestApp::spawn(&reg).await;
    let (status, body) = json_of(app.chat(req(user("hi"))).await).await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("signature we calculated does not match"),
        "{message}"
    );
    assert!(message.contains("check its key"), "{message}");
    app.stop().await;
}
