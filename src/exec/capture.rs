//! Capture of a request's content (its body as received, and the answer) for the request
//! log, when `[accounting] capture_content` asks for it. A meter holds a `Capture` only for
//! such requests: everything here costs nothing otherwise. Each side is cut to the
//! configured size (on a character boundary, with a flag saying it was cut); NUL bytes are
//! replaced, as PostgreSQL refuses them. The content goes to the database, never to a log.

use serde::Deserialize;

use crate::providers::{Chunk, Completion};
use crate::store::CapturedContent;

/// What is being captured of one request.
#[derive(Debug)]
pub struct Capture {
    max: usize,
    request: String,
    request_truncated: bool,
    /// The whole answer as JSON (a non-streamed request).
    json: Option<String>,
    /// A stream's output, assembled from its chunks.
    content: String,
    reasoning: String,
    tool_calls: Vec<ToolCall>,
    /// The `output_index` of each native Responses function call, by its place in
    /// `tool_calls`.
    native_calls: Vec<u64>,
    /// Output bytes taken so far; past `max` the rest is dropped and `truncated` set.
    taken: usize,
    truncated: bool,
    /// Only the request is kept (embeddings: the answer is vectors).
    input_only: bool,
    /// The request log keeps it (otherwise it is taken for traces only).
    pub store: bool,
}

#[derive(Debug, Default, serde::Serialize)]
struct ToolCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    name: String,
    arguments: String,
}

/// `s` without NUL bytes and cut to at most `max` bytes on a character boundary; `true`
/// when it was cut.
fn cut(s: &str, max: usize) -> (String, bool) {
    let s = crate::store::sanitize::text(s);
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_owned(), end < s.len())
}

impl Capture {
    /// Starts capturing a request whose body is `body`, keeping at most `max` bytes a side.
    pub fn new(body: &[u8], max: usize, input_only: bool, store: bool) -> Capture {
        let (request, request_truncated) = cut(&String::from_utf8_lossy(body), max);
        Capture {
            max,
            request,
            request_truncated,
            json: None,
            content: String::new(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            native_calls: Vec::new(),
            taken: 0,
            truncated: false,
            input_only,
            store,
        }
    }

    /// A non-streamed answer: the upstream's JSON (its own protocol's when passed through).
    pub fn completion(&mut self, c: &Completion) {
        if self.input_only {
            return;
        }
        let bytes = c.native.as_ref().unwrap_or(&c.body).to_vec();
        let (json, truncated) = cut(&String::from_utf8_lossy(&bytes), self.max);
        self.json = Some(json);
        self.truncated = truncated;
    }

    /// Appends `piece` to the part `which` selects, within what is left of the cap.
    fn take(&mut self, piece: &str, which: impl FnOnce(&mut Capture) -> &mut String) {
        if piece.is_empty() {
            return;
        }
        let room = self.max.saturating_sub(self.taken);
        if room == 0 {
            self.truncated = true;
            return;
        }
        let (kept, was_cut) = cut(piece, room);
        self.taken += kept.len();
        self.truncated |= was_cut;
        which(self).push_str(&kept);
    }

    /// One chunk of a stream: its text, reasoning and tool-call fragments.
    pub fn chunk(&mut self, c: &Chunk) {
        if self.input_only {
            return;
        }
        if let Some(Ok(choices)) = c.body.get_as::<Vec<ChoiceView>>("choices") {
            for delta in choices.into_iter().filter_map(|c| c.delta) {
                self.delta(delta);
            }
        } else if let Some(frame) = &c.native {
            self.native_frame(frame);
        }
    }

    fn delta(&mut self, d: DeltaView) {
        if let Some(t) = d.content.as_deref().or(d.refusal.as_deref()) {
            self.take(t, |s| &mut s.content);
        }
        if let Some(t) = d.reasoning.as_deref().or(d.reasoning_content.as_deref()) {
            self.take(t, |s| &mut s.reasoning);
        }
        for t in d.tool_calls.into_iter().flatten() {
            let i = t.index.unwrap_or(0);
            if i > 128 {
                continue;
            }
            while self.tool_calls.len() <= i {
                self.tool_calls.push(ToolCall::default());
            }
            if let Some(id) = t.id {
                self.tool_calls[i].id = Some(cut(&id, 256).0);
            }
            if let Some(f) = t.function {
                if let Some(n) = f.name {
                    self.take(&n, |s| &mut s.tool_calls[i].name);
                }
                if let Some(a) = f.arguments {
                    self.take(&a, |s| &mut s.tool_calls[i].arguments);
                }
            }
        }
    }

    /// A Responses event passed through as it came (its chunk has no chat body): the text
    /// and reasoning deltas, and function calls (named when their item is added, then their
    /// arguments' deltas, matched by `output_index`).
    fn native_frame(&mut self, frame: &[u8]) {
        let Some(data) = std::str::from_utf8(frame)
            .ok()
            .and_then(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        else {
            return;
        };
        #[derive(Deserialize)]
        struct Event {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            delta: Option<String>,
            #[serde(default)]
            output_index: Option<u64>,
            #[serde(default)]
            item: Option<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            call_id: Option<String>,
            #[serde(default)]
            name: Option<String>,
        }
        let Ok(ev) = serde_json::from_str::<Event>(data) else {
            return;
        };
        if ev.kind == "response.output_item.added" {
            let (Some(item), Some(at)) = (ev.item, ev.output_index) else {
                return;
            };
            if item.kind == "function_call" && self.tool_calls.len() < 128 {
                let name = item.name.unwrap_or_default();
                self.tool_calls.push(ToolCall {
                    id: item.call_id.map(|id| cut(&id, 256).0),
                    ..ToolCall::default()
                });
                self.native_calls.push(at);
                let i = self.tool_calls.len() - 1;
                self.take(&name, |s| &mut s.tool_calls[i].name);
            }
            return;
        }
        let Some(delta) = ev.delta else { return };
        if ev.kind == "response.function_call_arguments.delta" {
            let at = ev.output_index;
            if let Some(i) = self.native_calls.iter().position(|c| Some(*c) == at) {
                self.take(&delta, |s| &mut s.tool_calls[i].arguments);
            }
        } else if ev.kind == "response.output_text.delta" || ev.kind == "response.refusal.delta" {
            self.take(&delta, |s| &mut s.content);
        } else if ev.kind.starts_with("response.reasoning") && ev.kind.ends_with(".delta") {
            self.take(&delta, |s| &mut s.reasoning);
        }
    }

    /// What is stored for the request.
    pub fn finish(self, finish_reason: Option<&str>) -> CapturedContent {
        let response_body = if self.input_only {
            None
        } else if let Some(json) = self.json {
            Some(json)
        } else {
            let mut out =
                serde_json::json!({ "content": self.content, "finish_reason": finish_reason });
            if !self.reasoning.is_empty() {
                out["reasoning"] = self.reasoning.into();
            }
            if !self.tool_calls.is_empty() {
                out["tool_calls"] = serde_json::to_value(&self.tool_calls).unwrap_or_default();
            }
            Some(out.to_string())
        };
        CapturedContent {
            request_body: Some(self.request),
            request_truncated: self.request_truncated,
            response_body,
            response_truncated: self.truncated,
        }
    }
}

#[derive(Deserialize)]
struct ChoiceView {
    #[serde(default)]
    delta: Option<DeltaView>,
}

#[derive(Deserialize)]
struct DeltaView {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolDeltaView>>,
}

#[derive(Deserialize)]
struct ToolDeltaView {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionView>,
}

#[derive(Deserialize)]
struct FunctionView {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RawObject;

    fn chunk(json: &str) -> Chunk {
        Chunk {
            body: RawObject::parse(json.as_bytes()).unwrap(),
            usage: None,
            has_output: true,
            finished: false,
            usage_only: false,
            output_bytes: 0,
            native: None,
        }
    }

    #[test]
    fn a_stream_is_assembled_and_cut_at_the_cap() {
        let mut c = Capture::new(b"{\"messages\":[]}", 10, false, true);
        c.chunk(&chunk(r#"{"choices":[{"delta":{"content":"Hello, "}}]}"#));
        c.chunk(&chunk(
            r#"{"choices":[{"delta":{"content":"wörld and more"}}]}"#,
        ));
        let out = c.finish(Some("stop"));
        assert_eq!(out.request_body.as_deref(), Some("{\"messages"));
        assert!(out.request_truncated);
        let v: serde_json::Value =
            serde_json::from_str(out.response_body.as_deref().unwrap()).unwrap();
        // "Hello, w" is 8 bytes; "ö" (2 bytes) would make 10, "r" 11.
        assert_eq!(v["content"], "Hello, wö");
        assert_eq!(v["finish_reason"], "stop");
        assert!(out.response_truncated);
    }

    #[test]
    fn tool_calls_and_reasoning_are_kept() {
        let mut c = Capture::new(b"{}", 1000, false, true);
        c.chunk(&chunk(r#"{"choices":[{"delta":{"reasoning":"think"}}]}"#));
        c.chunk(&chunk(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"get","arguments":"{\"a\""}}]}}]}"#));
        c.chunk(&chunk(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#));
        let out = c.finish(Some("tool_calls"));
        assert!(!out.request_truncated && !out.response_truncated);
        let v: serde_json::Value =
            serde_json::from_str(out.response_body.as_deref().unwrap()).unwrap();
        assert_eq!(v["reasoning"], "think");
        assert_eq!(v["tool_calls"][0]["id"], "call_1");
        assert_eq!(v["tool_calls"][0]["name"], "get");
        assert_eq!(v["tool_calls"][0]["arguments"], "{\"a\":1}");
    }

    #[test]
    fn native_responses_frames_and_input_only() {
        let mut c = Capture::new(b"{}", 1000, false, true);
        let mut ch = chunk("{}");
        ch.native = Some(crate::providers::http::sse_frame(
            r#"{"type":"response.output_text.delta","delta":"hi\u0000"}"#,
        ));
        c.chunk(&ch);
        let out = c.finish(None);
        let v: serde_json::Value =
            serde_json::from_str(out.response_body.as_deref().unwrap()).unwrap();
        assert_eq!(v["content"], "hi\u{FFFD}");
        let c = Capture::new(b"{\"input\":\"x\"}", 1000, true, true);
        assert_eq!(c.finish(None).response_body, None);
    }

    #[test]
    fn native_responses_function_calls_are_kept() {
        let mut c = Capture::new(b"{}", 1000, false, true);
        for data in [
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs_1"}}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_9","name":"get_weather","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","output_index":1,"item_id":"fc_1","delta":"{\"city\":"}"#,
            r#"{"type":"response.function_call_arguments.delta","output_index":1,"item_id":"fc_1","delta":"\"Paris\"}"}"#,
            r#"{"type":"response.function_call_arguments.delta","output_index":7,"delta":"stray"}"#,
        ] {
            let mut ch = chunk("{}");
            ch.native = Some(crate::providers::http::sse_frame(data));
            c.chunk(&ch);
        }
        let out = c.finish(Some("tool_calls"));
        let v: serde_json::Value =
            serde_json::from_str(out.response_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            v["tool_calls"],
            serde_json::json!([{"id": "call_9", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}])
        );
    }
}
