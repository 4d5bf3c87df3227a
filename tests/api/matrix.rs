//! Every inbound protocol against every upstream kind: chat, Messages and Responses, each
//! JSON and streamed, served by OpenAI-compatible, Anthropic, Gemini and Bedrock fakes.
//! (Bedrock serves a non-Claude model here, so every door goes through Converse; Claude on
//! Bedrock passes Messages through natively, see `messages`.)
//! What is checked is what a client of that door needs: a 200 in the door's shape, the text,
//! and the door's own end of stream.

use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::fake_anthropic::{self as anth, FakeAnthropic};
use crate::fake_bedrock::{self as bed, FakeBedrock};
use crate::fake_gemini::{self as gem, FakeGemini};
use crate::helpers::*;

const GEMINI_KEY_VAR: &str = "SWITCHYARD_TEST_GEMINI_KEY";

async fn registry() -> (String, Vec<Box<dyn std::any::Any + Send>>) {
    std::env::set_var(GEMINI_KEY_VAR, gem::KEY);
    let oai_json = Fake::start(vec![Reply::simple()]).await;
    let oai_stream = Fake::start(vec![Reply::simple_stream()]).await;
    let anth_json = FakeAnthropic::start(vec![anth::Reply::message(
        json!([{"type": "text", "text": "Olá!"}]),
        "end_turn",
    )])
    .await;
    let anth_stream = FakeAnthropic::start(vec![anth::Reply::Sse(anth::text_events(
        &["Ol", "á!"],
        "end_turn",
    ))])
    .await;
    let gem_json = FakeGemini::start(vec![gem::Reply::json_fixture("simple.json")]).await;
    let gem_stream = FakeGemini::start(vec![gem::Reply::sse_fixture("simple_streaming.sse")]).await;
    let bed_json = FakeBedrock::start(vec![bed::Reply::message(
        json!([{"text": "Olá!"}]),
        "end_turn",
    )])
    .await;
    let bed_stream = FakeBedrock::start(vec![bed::Reply::Stream(bed::text_frames(
        &["Ol", "á!"],
        "end_turn",
    ))])
    .await;
    let gemini = |id: &str, f: &FakeGemini| {
        format!(
            "[[providers]]\nid = \"{id}\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key_env = \"{GEMINI_KEY_VAR}\"\n\n",
            f.base_url()
        )
    };
    let reg = provider("oai-json", &oai_json.base_url())
        + &provider("oai-stream", &oai_stream.base_url())
        + &anth_json.provider("anth-json")
        + &anth_stream.provider("anth-stream")
        + &gemini("gem-json", &gem_json)
        + &gemini("gem-stream", &gem_stream)
        + &bed_json.provider("bed-json")
        + &bed_stream.provider("bed-stream")
        + &model("m/oai-json", &[("oai-json", "gpt")], &[])
        + &model("m/oai-stream", &[("oai-stream", "gpt")], &[])
        + &model("m/anth-json", &[("anth-json", "claude")], &[])
        + &model("m/anth-stream", &[("anth-stream", "claude")], &[])
        + &model("m/gem-json", &[("gem-json", "gemini-2.5-flash")], &[])
        + &model("m/gem-stream", &[("gem-stream", "gemini-2.5-flash")], &[])
        + &model("m/bed-json", &[("bed-json", "amazon.nova-pro-v1:0")], &[])
        + &model(
            "m/bed-stream",
            &[("bed-stream", "amazon.nova-pro-v1:0")],
            &[],
        );
    let keep: Vec<Box<dyn std::any::Any + Send>> = vec![
        Box::new(oai_json),
        Box::new(oai_stream),
        Box::new(anth_json),
        Box::new(anth_stream),
        Box::new(gem_json),
        Box::new(gem_stream),
        Box::new(bed_json),
        Box::new(bed_stream),
    ];
    (reg, keep)
}

#[derive(Clone, Copy, Debug)]
enum Door {
    Chat,
    Messages,
    Responses,
}

fn request(door: Door, model: &str, stream: bool) -> (&'static str, Value) {
    let hi = json!([{"role": "user", "content": "Say hi in Portuguese"}]);
    match door {
        Door::Chat => (
            "/v1/chat/completions",
            json!({"model": model, "messages": hi, "stream": stream}),
        ),
        Door::Messages => (
            "/v1/messages",
            json!({"model": model, "max_tokens": 200, "messages": hi, "stream": stream}),
        ),
        Door::Responses => (
            "/v1/responses",
            json!({"model": model, "input": "Say hi in Portuguese", "stream": stream}),
        ),
    }
}

/// The answer's text from a JSON body in the door's shape.
fn json_text(door: Door, v: &Value) -> String {
    match door {
        Door::Chat => v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        Door::Messages => v["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["text"].as_str())
            .collect(),
        Door::Responses => v["output"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["text"].as_str().map(str::to_owned))
            .collect(),
    }
}

/// The text of a stream in the door's shape, and whether it ended as the door ends streams.
fn stream_text(door: Door, body: &str) -> (String, bool) {
    let data: Vec<&str> = body
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .collect();
    let json: Vec<Value> = data
        .iter()
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    match door {
        Door::Chat => (
            json.iter()
                .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
                .collect(),
            data.last() == Some(&"[DONE]"),
        ),
        Door::Messages => (
            json.iter()
                .filter_map(|e| e["delta"]["text"].as_str())
                .collect(),
            json.last().is_some_and(|e| e["type"] == "message_stop"),
        ),
        Door::Responses => (
            json.iter()
                .filter(|e| e["type"] == "response.output_text.delta")
                .filter_map(|e| e["delta"].as_str())
                .collect(),
            json.last()
                .is_some_and(|e| e["type"] == "response.completed"),
        ),
    }
}

#[tokio::test]
async fn every_door_against_every_upstream_kind() {
    let (reg, _fakes) = registry().await;
    let app = TestApp::spawn(&reg).await;
    let mut failures = Vec::new();
    for door in [Door::Chat, Door::Messages, Door::Responses] {
        for kind in ["oai", "anth", "gem", "bed"] {
            for stream in [false, true] {
                let model = format!("m/{kind}-{}", if stream { "stream" } else { "json" });
                let (path, body) = request(door, &model, stream);
                let resp = app
                    .client
                    .post(app.url(path))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap();
                let what = format!("{door:?} → {model}");
                if status != 200 {
                    failures.push(format!(
                        "{what}: HTTP {status}: {}",
                        &text[..text.len().min(300)]
                    ));
                    continue;
                }
                let (answer, ended) = if stream {
                    stream_text(door, &text)
                } else {
                    (json_text(door, &serde_json::from_str(&text).unwrap()), true)
                };
                if !answer.contains("Ol") || !ended {
                    failures.push(format!(
                        "{what}: text {answer:?}, ended {ended}: {}",
                        &text[..text.len().min(300)]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    app.stop().await;
}

/// A client that leaves mid-stream cancels the upstream and is recorded as cancelled,
/// whichever door it came through.
#[tokio::test]
async fn leaving_mid_stream_cancels_the_upstream_on_every_door() {
    use futures::StreamExt;
    use std::time::Duration;
    let pieces: Vec<String> = (0..50).map(|i| format!("p{i} ")).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    for door in [Door::Chat, Door::Messages, Door::Responses] {
        let fake = Fake::start(vec![Reply::Sse {
            events: crate::fake::text_stream(&refs),
            first: Duration::ZERO,
            between: Duration::from_millis(100),
        }])
        .await;
        let app = TestApp::spawn(
            &(provider("oai", &fake.base_url()) + &model("m/slow", &[("oai", "gpt")], &[])),
        )
        .await;
        let (path, body) = request(door, "m/slow", true);
        let resp = app
            .client
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let id = request_id(&resp);
        let mut stream = resp.bytes_stream();
        let mut seen = String::new();
        while !seen.contains("p2 ") {
            seen.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
        }
        assert_eq!(fake.open_streams(), 1, "{door:?}");
        drop(stream);
        let mut closed = false;
        for _ in 0..50 {
            if fake.open_streams() == 0 {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(closed, "{door:?}: the upstream stream was not cancelled");
        let rec = app.record(&id).await;
        assert_eq!(rec.outcome, "cancelled", "{door:?}");
        assert!(
            rec.completion_tokens > 0,
            "{door:?}: what was generated is estimated"
        );
        app.stop().await;
    }
}
