//! Entry points for fuzzing: every parser and translator that reads bytes from a client or an
//! upstream, each of which must return (an error is fine) and never panic, whatever it is
//! fed. `fuzz/` runs them under libFuzzer (`cargo fuzz`); the tests below run them on the
//! recorded captures and on deterministic mutations of them, so `cargo test` exercises every
//! target too.

use crate::routing::preset::{self, Door};
use crate::types::preset::{Preset, PresetDecl};
use crate::types::{ChatRequest, RawObject};

/// One preset with every field set, named `p`.
fn sample_presets() -> std::collections::HashMap<String, std::sync::Arc<Preset>> {
    let json = r#"{"name":"p","model":"a/b","models":["c/d"],"provider":{"order":["x"]},
        "system_prompt":"s","parameters":{"temperature":0.5,"max_tokens":9}}"#;
    serde_json::from_str::<PresetDecl>(json)
        .map(|d| (d.name.clone(), std::sync::Arc::new(Preset::new(d, 1))))
        .into_iter()
        .collect()
}

/// A request body: the top-level parse, and the request parse on top of it. A body that
/// parses must re-serialise to an object that parses the same.
pub fn request(data: &[u8]) {
    if let Ok(obj) = RawObject::parse(data) {
        // Under the fuzzer a panic is the finding: say which property broke.
        #[allow(clippy::expect_used)]
        let again = RawObject::parse(&obj.to_vec()).expect("a parsed object re-parses");
        assert_eq!(again.to_vec(), obj.to_vec());
        // A preset applied on each door, and the door's parse of the result.
        let presets = sample_presets();
        for door in [
            Door::Chat,
            Door::Messages,
            Door::Responses,
            Door::Completions,
        ] {
            let mut body = obj.clone();
            if preset::expand(&mut body, door, &presets).is_ok() {
                let _ = ChatRequest::from_body(body);
            }
        }
    }
    if let Ok(chat) = ChatRequest::parse(data) {
        let _ = chat.check_bounds(Default::default());
        let _ = chat.used_parameters().count();
    }
    // The other front doors' parsers and translators.
    if let Ok(m) = crate::http::messages::request::MessagesRequest::parse(data) {
        let _ = m.to_chat();
        let _ = m.estimate_input_tokens();
    }
    let _ = crate::types::ops::OpRequest::embeddings(data).map(|r| r.texts());
    let _ = crate::types::ops::OpRequest::completions(data);
    // Content for traces: any body, as request and as answer, through each door's
    // conversion; what comes out is within the cap.
    let text = String::from_utf8_lossy(data).into_owned();
    let captured = crate::store::CapturedContent {
        request_body: Some(text.clone()),
        request_truncated: false,
        response_body: Some(text),
        response_truncated: false,
    };
    // A small cap for some inputs, a roomy one for others.
    let max = if data.len() % 2 == 0 { 64 } else { 4096 };
    for door in ["chat", "messages", "responses", "completions"] {
        for kv in crate::telemetry::content::attributes(door, &captured, max) {
            if let opentelemetry::Value::String(s) = kv.value {
                assert!(s.as_str().len() <= max, "{} over the cap", kv.key);
            }
        }
    }
}

/// Upstream SSE bodies through each adapter's stream handling.
pub fn streams(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    crate::providers::openai_compat::fuzz_stream(&text);
    crate::providers::anthropic::fuzz_stream(&text, data.first().is_some_and(|b| b & 1 == 1));
    crate::providers::gemini::fuzz_stream(&text);
    crate::providers::openai_compat::fuzz_responses_stream(&text);
    // Chunks from OpenAI-compatible upstreams reach the Messages renderer as they came.
    let mut renderer = crate::http::messages::render::StreamRenderer::new("msg_f", "m", 1);
    let mut out = Vec::new();
    for line in text.lines() {
        let data = line.strip_prefix("data:").map_or(line, str::trim_start);
        if let Ok(obj) = RawObject::parse(data.as_bytes()) {
            renderer.chunk(&obj, &mut out);
            let _ = crate::http::messages::render::message(&obj, "msg_f", "m");
        }
    }
    renderer.finish(&mut out);
}

/// A Bedrock binary event stream, split at a point the input chooses.
pub fn bedrock(data: &[u8]) {
    let split = data.first().map_or(1, |b| usize::from(*b) + 1);
    crate::providers::bedrock::fuzz_stream(data, split);
}

/// The SSE reader (with its event cap), fed in pieces the input chooses.
pub fn sse(data: &[u8]) {
    use futures::Stream;
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let pieces: Vec<Result<bytes::Bytes, reqwest::Error>> = rest
        .chunks(usize::from(n) + 1)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let events = crate::providers::http::sse_data(futures::stream::iter(pieces), 4096);
    // Everything is ready at once: polling with a no-op waker drives the stream to its end.
    let mut events = std::pin::pin!(events);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    while let std::task::Poll::Ready(Some(_)) = events.as_mut().poll_next(&mut cx) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `dir`, recursively.
    fn files(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }

    /// The recorded exchanges the tests ship (`tests/fixtures`).
    fn seeds() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        files(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")),
            &mut out,
        );
        assert!(out.len() > 10, "fixtures missing");
        out
    }

    /// Deterministic mutations: truncations, flipped bytes, spliced pieces.
    fn mutations(seed: &[u8], rounds: usize, mut x: u64) -> Vec<Vec<u8>> {
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % (n.max(1) as u64)) as usize
        };
        let mut out = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let mut m = seed.to_vec();
            match rnd(4) {
                0 => m.truncate(rnd(m.len() + 1)),
                1 => {
                    for _ in 0..=rnd(8) {
                        if !m.is_empty() {
                            let i = rnd(m.len());
                            m[i] = rnd(256) as u8;
                        }
                    }
                }
                2 => {
                    let (a, b) = (rnd(m.len() + 1), rnd(m.len() + 1));
                    let piece = m[a.min(b)..a.max(b)].to_vec();
                    let at = rnd(m.len() + 1);
                    m.splice(at..at, piece);
                }
                _ => {
                    let at = rnd(m.len() + 1);
                    let junk: &[u8] = [
                        &b"\"\\u0000"[..],
                        b"\n\n",
                        b"{",
                        b"]",
                        b"\xff\xfe",
                        b"1e999999",
                    ][rnd(6)];
                    m.splice(at..at, junk.iter().copied());
                }
            }
            out.push(m);
        }
        out
    }

    #[test]
    fn every_target_survives_the_captures_and_their_mutations() {
        for (i, seed) in seeds().iter().enumerate() {
            for input in std::iter::once(seed.clone()).chain(mutations(seed, 40, 0x9E37 + i as u64))
            {
                request(&input);
                streams(&input);
                bedrock(&input);
                sse(&input);
            }
        }
    }

    /// Property: any JSON object with distinct keys, written compactly at the top level and
    /// in any form inside its values, passes `RawObject` byte for byte.
    #[test]
    fn valid_objects_round_trip_byte_for_byte() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        fn value(rnd: &mut dyn FnMut(u64) -> u64, depth: u32) -> serde_json::Value {
            use serde_json::Value;
            match if depth > 3 { rnd(4) } else { rnd(6) } {
                0 => Value::Null,
                1 => Value::Bool(rnd(2) == 1),
                2 => serde_json::json!(rnd(1 << 40) as f64 / 7.0),
                3 => Value::String(
                    ["", "é", "a\"b\\c", "\u{1F600}", "\n\t", "x"][rnd(6) as usize]
                        .repeat(rnd(3) as usize + 1),
                ),
                4 => Value::Array((0..rnd(4)).map(|_| value(rnd, depth + 1)).collect()),
                _ => Value::Object(
                    (0..rnd(4))
                        .map(|i| (format!("k{i}"), value(rnd, depth + 1)))
                        .collect(),
                ),
            }
        }
        for _ in 0..500 {
            let mut text = String::from("{");
            for i in 0..rnd(12) {
                if i > 0 {
                    text.push(',');
                }
                let key =
                    serde_json::to_string(&format!("f{i}{}", ["", "é", "\"q\""][rnd(3) as usize]))
                        .unwrap();
                let v = value(&mut rnd, 0);
                let v = if rnd(2) == 0 {
                    serde_json::to_string(&v)
                } else {
                    serde_json::to_string_pretty(&v)
                }
                .unwrap();
                text.push_str(&key);
                text.push(':');
                text.push_str(&v);
            }
            text.push('}');
            let obj = RawObject::parse(text.as_bytes()).unwrap();
            // Keys may be written escaped differently; the bytes must match when re-read.
            let out = String::from_utf8(obj.to_vec()).unwrap();
            let (a, b): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(&text).unwrap(),
                serde_json::from_str(&out).unwrap(),
            );
            assert_eq!(a, b);
            for (k, raw) in obj
                .keys()
                .zip(obj.keys().map(|k| obj.get(k).unwrap().get()))
            {
                assert!(text.contains(raw), "value of {k} changed: {raw}");
            }
        }
    }
}
