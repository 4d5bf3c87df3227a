//! The stream renderer: canonical chunks to Responses SSE events, one output item at a time.

use super::*;

/// The output item open in the client's stream (always the last of `Output::items`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    /// `detail`: the `reasoning_details` index the open summary part renders, once known;
    /// `part`: a summary part is open; `sealed`: the item has its `encrypted_content` and
    /// takes no more reasoning.
    Reasoning {
        detail: Option<u64>,
        part: bool,
        sealed: bool,
    },
    /// `part`: a content part (the last one) is open.
    Message {
        part: bool,
    },
    /// A function call by its OpenAI tool-call index.
    Tool {
        call: u32,
    },
}

/// Sequence numbers: every event's, counting from 0 across the stream.
#[derive(Debug, Default)]
struct Events {
    next: u64,
}

impl Events {
    /// `event: <event>\ndata: {"type":"<event>","sequence_number":N` — the caller adds
    /// members and `end`s it.
    fn begin(&mut self, out: &mut Vec<u8>, event: &str) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.extend_from_slice(b"\ndata: {\"type\":\"");
        out.extend_from_slice(event.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        write_u64(out, self.next);
        self.next += 1;
    }

    /// `begin`, then `"item_id"` and `"output_index"` of the item at `index`.
    fn begin_item(&mut self, out: &mut Vec<u8>, event: &str, items: &[Item], index: usize) {
        self.begin(out, event);
        out.extend_from_slice(b",\"item_id\":");
        write_json_string(out, items.get(index).map_or("", Item::id));
        out.extend_from_slice(b",\"output_index\":");
        write_u64(out, index as u64);
    }
}

fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"}\n\n");
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{n}");
}

/// The output items of one response and their event lifecycle; shared by streams and by
/// whole responses (which discard the events).
#[derive(Debug)]
pub(super) struct Output {
    /// The response id without its `resp_` prefix, for item ids.
    base: String,
    ev: Events,
    items: Vec<Item>,
    open: Open,
    /// OpenAI indexes of the tool calls whose items were started.
    calls: Vec<u32>,
}

impl Output {
    pub(super) fn new(response_id: &str) -> Output {
        Output {
            base: response_id
                .strip_prefix("resp_")
                .unwrap_or(response_id)
                .to_owned(),
            ev: Events::default(),
            items: Vec::new(),
            open: Open::None,
            calls: Vec::new(),
        }
    }

    pub(super) fn items(&self) -> &[Item] {
        &self.items
    }

    /// One canonical `message` or `delta`: reasoning, then text and refusal, then tool calls.
    pub(super) fn delta(&mut self, d: &InMessage<'_>, out: &mut Vec<u8>) {
        reasoning_steps(d, |step| match step {
            Reasoning::Text(text, index) => self.reasoning_text(text, index, out),
            Reasoning::Encrypted(data) => self.encrypted(data, out),
            // A Responses item has no field for a signature (see the module notes).
            Reasoning::Signature(..) => {}
        });
        if let Some(c) = &d.content {
            c.for_each_text(|t| self.content(false, t, out));
        }
        if let Some(r) = d.refusal.as_deref() {
            self.content(true, r, out);
        }
        for (pos, call) in d.tool_calls.iter().flatten().enumerate() {
            self.tool_call(call, pos as u32, out);
        }
    }

    fn item_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}_{}", self.base, self.items.len())
    }

    /// The output index of the open item.
    fn at(&self) -> usize {
        self.items.len().saturating_sub(1)
    }

    /// Closes the open item and opens `item` with `response.output_item.added`.
    fn open_item(&mut self, item: Item, open: Open, out: &mut Vec<u8>) {
        self.close(Status::Completed, out);
        self.items.push(item);
        self.open = open;
        let at = self.at();
        self.ev.begin(out, "response.output_item.added");
        out.extend_from_slice(b",\"output_index\":");
        write_u64(out, at as u64);
        out.extend_from_slice(b",\"item\":");
        self.items[at].write(out);
        end(out);
    }

    fn reasoning_text(&mut self, text: &str, index: Option<u64>, out: &mut Vec<u8>) {
        let (detail, mut part) = match self.open {
            Open::Reasoning {
                detail,
                part,
                sealed: false,
            } => (detail, part),
            _ => {
                let item = Item::Reasoning {
                    id: self.item_id("rs"),
                    summary: Vec::new(),
                    encrypted_content: None,
                };
                let open = Open::Reasoning {
                    detail: index,
                    part: false,
                    sealed: false,
                };
                self.open_item(item, open, out);
                (index, false)
            }
        };
        if part && !same_detail(detail, index) {
            self.close_part(out);
            part = false;
        }
        let detail = if part { detail.or(index) } else { index };
        self.open = Open::Reasoning {
            detail,
            part: true,
            sealed: false,
        };
        let at = self.at();
        let Some(Item::Reasoning { summary, .. }) = self.items.last_mut() else {
            return;
        };
        if !part {
            summary.push(Summary::new());
            self.ev.begin_item(
                out,
                "response.reasoning_summary_part.added",
                &self.items,
                at,
            );
            out.extend_from_slice(b",\"summary_index\":");
            write_u64(out, self.summary_index());
            out.extend_from_slice(b",\"part\":{\"type\":\"summary_text\",\"text\":\"\"}");
            end(out);
        }
        let summary_index = self.summary_index();
        if let Some(Item::Reasoning { summary, .. }) = self.items.last_mut() {
            if let Some(s) = summary.last_mut() {
                s.text.push_str(text);
            }
        }
        self.ev.begin_item(
            out,
            "response.reasoning_summary_text.delta",
            &self.items,
            at,
        );
        out.extend_from_slice(b",\"summary_index\":");
        write_u64(out, summary_index);
        out.extend_from_slice(b",\"delta\":");
        write_json_string(out, text);
        end(out);
    }

    /// The index of the last summary part of the open reasoning item.
    fn summary_index(&self) -> u64 {
        match self.items.last() {
            Some(Item::Reasoning { summary, .. }) => summary.len().saturating_sub(1) as u64,
            _ => 0,
        }
    }

    /// Encrypted reasoning joins the open reasoning item unless that has some already.
    fn encrypted(&mut self, data: &str, out: &mut Vec<u8>) {
        let (detail, part) = match self.open {
            Open::Reasoning {
                detail,
                part,
                sealed: false,
            } => (detail, part),
            _ => {
                let item = Item::Reasoning {
                    id: self.item_id("rs"),
                    summary: Vec::new(),
                    encrypted_content: None,
                };
                let open = Open::Reasoning {
                    detail: None,
                    part: false,
                    sealed: false,
                };
                self.open_item(item, open, out);
                (None, false)
            }
        };
        if let Some(Item::Reasoning {
            encrypted_content, ..
        }) = self.items.last_mut()
        {
            *encrypted_content = Some(data.to_owned());
        }
        self.open = Open::Reasoning {
            detail,
            part,
            sealed: true,
        };
    }

    /// Message text (`refusal` false) or refusal text, in the open message item when there
    /// is one; a change between the two starts a new content part.
    fn content(&mut self, refusal: bool, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let part = match self.open {
            Open::Message { part } => part,
            _ => {
                let item = Item::Message {
                    id: self.item_id("msg"),
                    status: Status::InProgress,
                    role: "assistant",
                    content: Vec::new(),
                };
                self.open_item(item, Open::Message { part: false }, out);
                false
            }
        };
        let Some(Item::Message { content, .. }) = self.items.last_mut() else {
            return;
        };
        let same_kind = matches!(
            (content.last(), refusal),
            (Some(Part::OutputText { .. }), false) | (Some(Part::Refusal { .. }), true)
        );
        if part && !same_kind {
            self.close_part(out);
        }
        let at = self.at();
        let Some(Item::Message { content, .. }) = self.items.last_mut() else {
            return;
        };
        if !(part && same_kind) {
            content.push(if refusal {
                Part::Refusal {
                    refusal: String::new(),
                }
            } else {
                Part::text()
            });
            let index = content.len() - 1;
            self.ev
                .begin_item(out, "response.content_part.added", &self.items, at);
            out.extend_from_slice(b",\"content_index\":");
            write_u64(out, index as u64);
            out.extend_from_slice(b",\"part\":");
            if let Some(Item::Message { content, .. }) = self.items.last() {
                content[index].write(out);
            }
            end(out);
            self.open = Open::Message { part: true };
        }
        let Some(Item::Message { content, .. }) = self.items.last_mut() else {
            return;
        };
        let index = content.len() - 1;
        match content.last_mut() {
            Some(Part::OutputText { text: t, .. }) => t.push_str(text),
            Some(Part::Refusal { refusal: t }) => t.push_str(text),
            None => {}
        }
        let event = if refusal {
            "response.refusal.delta"
        } else {
            "response.output_text.delta"
        };
        self.ev.begin_item(out, event, &self.items, at);
        out.extend_from_slice(b",\"content_index\":");
        write_u64(out, index as u64);
        out.extend_from_slice(b",\"delta\":");
        write_json_string(out, text);
        if !refusal {
            out.extend_from_slice(b",\"logprobs\":[]");
        }
        end(out);
    }

    /// One tool-call fragment. A new OpenAI index (or a new id at the open index) starts a
    /// `function_call` item. Fragments for a call whose item was already closed (upstreams
    /// that interleave parallel calls) cannot be sent in the item lifecycle and are dropped.
    fn tool_call(&mut self, call: &InToolCall<'_>, pos: u32, out: &mut Vec<u8>) {
        let k = call.index.unwrap_or(pos);
        let new_id = call.id.as_deref().filter(|id| !id.is_empty());
        let f = call.function.as_ref();
        let name = f.and_then(|f| f.name.as_deref()).filter(|n| !n.is_empty());
        let continues = match (&self.open, self.items.last()) {
            (Open::Tool { call: open }, Some(Item::FunctionCall { call_id, .. })) => {
                *open == k && new_id.is_none_or(|n| n == call_id)
            }
            _ => false,
        };
        if continues {
            if let (Some(n), Some(Item::FunctionCall { name, .. })) = (name, self.items.last_mut())
            {
                if name.is_empty() {
                    n.clone_into(name);
                }
            }
        } else {
            if new_id.is_none() && self.calls.contains(&k) {
                tracing::debug!(index = k, "dropping a fragment of a closed tool call");
                return;
            }
            let item = Item::FunctionCall {
                id: self.item_id("fc"),
                call_id: new_id.map_or_else(generated_call_id, str::to_owned),
                name: name.unwrap_or("").to_owned(),
                arguments: String::new(),
                status: Status::InProgress,
            };
            self.open_item(item, Open::Tool { call: k }, out);
            self.calls.push(k);
        }
        let Some(args) = f
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        else {
            return;
        };
        if let Some(Item::FunctionCall { arguments, .. }) = self.items.last_mut() {
            arguments.push_str(args);
        }
        let at = self.at();
        self.ev.begin_item(
            out,
            "response.function_call_arguments.delta",
            &self.items,
            at,
        );
        out.extend_from_slice(b",\"delta\":");
        write_json_string(out, args);
        end(out);
    }

    /// Closes the open summary or content part, if any.
    fn close_part(&mut self, out: &mut Vec<u8>) {
        let at = self.at();
        match &mut self.open {
            Open::Reasoning { part, .. } if *part => {
                *part = false;
                let Some(Item::Reasoning { summary, .. }) = self.items.last() else {
                    return;
                };
                let Some(s) = summary.last() else {
                    return;
                };
                let index = summary.len() as u64 - 1;
                self.ev
                    .begin_item(out, "response.reasoning_summary_text.done", &self.items, at);
                out.extend_from_slice(b",\"summary_index\":");
                write_u64(out, index);
                out.extend_from_slice(b",\"text\":");
                write_json_string(out, &s.text);
                end(out);
                self.ev
                    .begin_item(out, "response.reasoning_summary_part.done", &self.items, at);
                out.extend_from_slice(b",\"summary_index\":");
                write_u64(out, index);
                out.extend_from_slice(b",\"part\":{\"type\":\"summary_text\",\"text\":");
                write_json_string(out, &s.text);
                out.push(b'}');
                end(out);
            }
            Open::Message { part } if *part => {
                *part = false;
                let Some(Item::Message { content, .. }) = self.items.last() else {
                    return;
                };
                let Some(p) = content.last() else {
                    return;
                };
                let index = content.len() as u64 - 1;
                match p {
                    Part::OutputText { text, .. } => {
                        self.ev
                            .begin_item(out, "response.output_text.done", &self.items, at);
                        out.extend_from_slice(b",\"content_index\":");
                        write_u64(out, index);
                        out.extend_from_slice(b",\"text\":");
                        write_json_string(out, text);
                        out.extend_from_slice(b",\"logprobs\":[]");
                    }
                    Part::Refusal { refusal } => {
                        self.ev
                            .begin_item(out, "response.refusal.done", &self.items, at);
                        out.extend_from_slice(b",\"content_index\":");
                        write_u64(out, index);
                        out.extend_from_slice(b",\"refusal\":");
                        write_json_string(out, refusal);
                    }
                }
                end(out);
                self.ev
                    .begin_item(out, "response.content_part.done", &self.items, at);
                out.extend_from_slice(b",\"content_index\":");
                write_u64(out, index);
                out.extend_from_slice(b",\"part\":");
                p.write(out);
                end(out);
            }
            _ => {}
        }
    }

    /// Closes the open item, if any, with `status`: its part, the arguments' `done`, then
    /// `response.output_item.done` with the whole item.
    pub(super) fn close(&mut self, status: Status, out: &mut Vec<u8>) {
        if self.open == Open::None {
            return;
        }
        self.close_part(out);
        let at = self.at();
        if let (
            Open::Tool { .. },
            Some(Item::FunctionCall {
                name, arguments, ..
            }),
        ) = (self.open, self.items.last())
        {
            self.ev.begin_item(
                out,
                "response.function_call_arguments.done",
                &self.items,
                at,
            );
            out.extend_from_slice(b",\"name\":");
            write_json_string(out, name);
            out.extend_from_slice(b",\"arguments\":");
            write_json_string(out, arguments);
            end(out);
        }
        self.open = Open::None;
        let Some(item) = self.items.last_mut() else {
            return;
        };
        item.set_status(status);
        self.ev.begin(out, "response.output_item.done");
        out.extend_from_slice(b",\"output_index\":");
        write_u64(out, at as u64);
        out.extend_from_slice(b",\"item\":");
        self.items[at].write(out);
        end(out);
    }
}

// ---------------------------------------------------------------------------------------
// Streams.

/// Turns a canonical chunk stream into Responses SSE events
/// (`event: <type>\ndata: <json>\n\n`, each with its `sequence_number`).
#[derive(Debug)]
pub struct StreamRenderer {
    id: String,
    created_at: i64,
    echo: Echo,
    started: bool,
    /// `finish` or `error` ran: nothing more is written.
    done: bool,
    output: Output,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl StreamRenderer {
    /// `id` is the response id (`resp_…`), `created_at` its Unix time in seconds.
    pub fn new(id: &str, created_at: i64, echo: Echo) -> StreamRenderer {
        StreamRenderer {
            id: id.to_owned(),
            created_at,
            echo,
            started: false,
            done: false,
            output: Output::new(id),
            finish_reason: None,
            usage: None,
        }
    }

    /// Events to send before any chunk: `response.created` and `response.in_progress`,
    /// each with the response as it stands (status `in_progress`, no output). Idempotent.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        for event in ["response.created", "response.in_progress"] {
            self.output.ev.begin(out, event);
            out.extend_from_slice(b",\"response\":");
            write_response(
                out,
                &self.id,
                self.created_at,
                &self.echo,
                End::InProgress,
                &[],
                None,
            );
            end(out);
        }
    }

    /// One OpenAI chunk (usage-only chunks included): appends the events it produces.
    /// Choices other than the first are ignored; a malformed chunk produces nothing.
    pub fn chunk(&mut self, chunk: &RawObject, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(out);
        if let Some(raw) = chunk.get("usage").filter(|u| u.get() != "null") {
            match serde_json::from_str::<Usage>(raw.get()) {
                Ok(u) => self.usage = Some(u),
                Err(e) => tracing::debug!(error = %e, "ignoring malformed chunk usage"),
            }
        }
        let Some(raw) = chunk.get("choices") else {
            return;
        };
        let choices: Vec<InChoice<'_>> = match serde_json::from_str(raw.get()) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring malformed chunk choices");
                return;
            }
        };
        let Some(choice) = choices.iter().find(|c| c.index.unwrap_or(0) == 0) else {
            return;
        };
        if let Some(delta) = &choice.delta {
            self.output.delta(delta, out);
        }
        if let Some(f) = raw_str(choice.finish_reason) {
            self.finish_reason = Some(f.into_owned());
        }
    }

    /// The stream ended normally: closes the open item, then `response.completed` (or
    /// `response.incomplete` for `length` / `content_filter`, `response.failed` for a
    /// canonical `error` finish) with the whole response: every output item and the usage.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let end = End::from_finish(self.finish_reason.as_deref());
        self.terminate(end, out);
    }

    /// The stream failed after it started: the open item closes as `incomplete`, then
    /// `response.failed` with `error: {code, message}` (see `error_code`). Nothing follows.
    pub fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.terminate(End::Failed(error_code(status), message), out);
    }

    fn terminate(&mut self, end: End<'_>, out: &mut Vec<u8>) {
        self.start(out);
        self.done = true;
        self.output.close(end.item_status(), out);
        self.output.ev.begin(out, end.event());
        out.extend_from_slice(b",\"response\":");
        write_response(
            out,
            &self.id,
            self.created_at,
            &self.echo,
            end,
            self.output.items(),
            self.usage.as_ref(),
        );
        super::stream::end(out);
    }

    /// The last usage seen in a chunk, if any.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}
