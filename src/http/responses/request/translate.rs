//! The translation half of `to_chat`: input items, tools and options as chat values.

use super::*;
use serde_json::{json, Map, Value};

/// Parameters of the `local_shell` function that stands in for the `local_shell` tool.
fn local_shell_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "command": {"type": "array", "items": {"type": "string"}},
            "workdir": {"type": "string"},
            "timeout_ms": {"type": "integer"},
        },
        "required": ["command"],
    })
}

/// Parameters of the function that stands in for a `custom` (freeform) tool.
fn custom_tool_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
    })
}

/// Chat messages built from `instructions` and `input`.
///
/// Tool outputs must follow their assistant message directly, so images and files in a
/// tool output cannot ride along; they wait in `pending` and follow the run of tool
/// messages as one user message.
#[derive(Default)]
pub(super) struct Conversation {
    messages: Vec<Value>,
    pending: Vec<Value>,
}

impl Conversation {
    /// Adds a message other than a tool output.
    pub(super) fn push(&mut self, msg: Value) {
        self.flush();
        self.messages.push(msg);
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let parts = std::mem::take(&mut self.pending);
            self.messages
                .push(json!({"role": "user", "content": parts}));
        }
    }

    pub(super) fn finish(mut self) -> Vec<Value> {
        self.flush();
        self.messages
    }

    /// `input`: a string is one user message; items are translated in order.
    pub(super) fn input(
        &mut self,
        v: &Value,
        dropped: &mut Vec<&'static str>,
    ) -> Result<(), InvalidRequest> {
        match v {
            Value::String(s) => {
                self.push(json!({"role": "user", "content": s}));
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.item(i, item, dropped)?;
                }
                Ok(())
            }
            _ => Err(invalid_type(
                "input",
                "a string or a non-empty array of input items",
            )),
        }
    }

    fn item(
        &mut self,
        i: usize,
        item: &Value,
        dropped: &mut Vec<&'static str>,
    ) -> Result<(), InvalidRequest> {
        let at = format!("input[{i}]");
        if !item.is_object() {
            return Err(input_error(format!("`{at}` must be an object")));
        }
        let str_field = |name: &str| {
            item.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| input_error(format!("`{at}.{name}` must be a string")))
        };
        match item.get("type") {
            None | Some(Value::Null) => self.message(&at, item, dropped),
            Some(Value::String(ty)) => match ty.as_str() {
                "message" => self.message(&at, item, dropped),
                "function_call" => {
                    let arguments = match item.get("arguments") {
                        None | Some(Value::Null) => "{}".to_owned(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    };
                    self.call(str_field("call_id")?, str_field("name")?, arguments);
                    Ok(())
                }
                "local_shell_call" => {
                    let action = item
                        .get("action")
                        .filter(|a| a.is_object())
                        .ok_or_else(|| input_error(format!("`{at}.action` must be an object")))?;
                    self.call(str_field("call_id")?, "local_shell", action.to_string());
                    Ok(())
                }
                "custom_tool_call" => {
                    let input = str_field("input")?;
                    let arguments = json!({ "input": input }).to_string();
                    self.call(str_field("call_id")?, str_field("name")?, arguments);
                    Ok(())
                }
                "function_call_output" | "custom_tool_call_output" => {
                    self.output(&at, str_field("call_id")?, item, dropped)
                }
                // The spec names the call by `id` here; Codex sends `call_id`.
                "local_shell_call_output" => {
                    let id = match item.get("call_id") {
                        Some(Value::String(id)) => id.as_str(),
                        _ => str_field("id")?,
                    };
                    self.output(&at, id, item, dropped)
                }
                "reasoning" => {
                    dropped.push(REASONING_ITEMS);
                    Ok(())
                }
                "item_reference" => Err(InvalidRequest::new(
                    format!(
                        "`{at}`: `item_reference` items are not supported: this gateway is \
                         stateless and stores no items. Send the item itself"
                    ),
                    Some("input"),
                    "unsupported_value",
                )),
                // Hosted-tool calls and outputs, MCP items, compaction items, future types.
                _ => {
                    dropped.push(INPUT_ITEMS);
                    Ok(())
                }
            },
            Some(_) => Err(input_error(format!("`{at}.type` must be a string"))),
        }
    }

    /// A message item. System and developer messages become `system` messages with their
    /// text joined by blank lines (every chat provider takes `system`; OpenAI reads it as
    /// `developer` for reasoning models). Assistant messages become text, refusals
    /// included. User messages keep their parts.
    fn message(
        &mut self,
        at: &str,
        item: &Value,
        dropped: &mut Vec<&'static str>,
    ) -> Result<(), InvalidRequest> {
        let role = item
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| input_error(format!("`{at}.role` is required and must be a string")))?;
        let content = item.get("content").unwrap_or(&Value::Null);
        let parts = match content {
            Value::String(s) => {
                let role = if role == "developer" { "system" } else { role };
                if !ROLES.contains(&role) {
                    return Err(bad_role(at, role));
                }
                self.push(json!({"role": role, "content": s}));
                return Ok(());
            }
            Value::Array(parts) => parts,
            _ => {
                return Err(input_error(format!(
                    "`{at}.content` is required and must be a string or an array of content \
                     parts"
                )))
            }
        };
        let at = format!("{at}.content");
        match role {
            "system" | "developer" => {
                let texts = texts_of(parts, &at, "\n\n", dropped)?;
                self.push(json!({"role": "system", "content": texts}));
            }
            "assistant" => {
                let text = texts_of(parts, &at, "", dropped)?;
                self.push(json!({"role": "assistant", "content": text}));
            }
            "user" => {
                let mut out = Vec::new();
                for (j, p) in parts.iter().enumerate() {
                    out.extend(user_part(p, &format!("{at}[{j}]"), dropped)?);
                }
                // Every part was dropped: keep the turn, empty.
                let content = if out.is_empty() {
                    json!("")
                } else {
                    json!(out)
                };
                self.push(json!({"role": "user", "content": content}));
            }
            other => return Err(bad_role(at.trim_end_matches(".content"), other)),
        }
        Ok(())
    }

    /// A tool call: joins the assistant message just before it (its text, or the calls of
    /// the same turn), else starts one.
    fn call(&mut self, id: &str, name: &str, arguments: String) {
        self.flush();
        let call = json!({
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        });
        let last = self
            .messages
            .last_mut()
            .and_then(Value::as_object_mut)
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
        match last {
            Some(msg) => {
                if msg.get("content").and_then(Value::as_str) == Some("") {
                    msg.insert("content".into(), Value::Null);
                }
                match msg.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    Some(calls) => calls.push(call),
                    None => {
                        msg.insert("tool_calls".into(), json!([call]));
                    }
                }
            }
            None => self.messages.push(json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [call],
            })),
        }
    }

    /// A tool output → a `tool` message: a string as is; parts as their text joined by
    /// newlines, images and files following the tool messages in a user message.
    fn output(
        &mut self,
        at: &str,
        id: &str,
        item: &Value,
        dropped: &mut Vec<&'static str>,
    ) -> Result<(), InvalidRequest> {
        let text = match item.get("output").unwrap_or(&Value::Null) {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(parts) => {
                let mut texts = Vec::new();
                for (j, p) in parts.iter().enumerate() {
                    if let Some(part) = user_part(p, &format!("{at}.output[{j}]"), dropped)? {
                        match part.get("text").and_then(Value::as_str) {
                            Some(t) if part.get("type").and_then(Value::as_str) == Some("text") => {
                                texts.push(t.to_owned());
                            }
                            _ => self.pending.push(part),
                        }
                    }
                }
                texts.join("\n")
            }
            // Not in the spec; kept as JSON text rather than refused.
            other => other.to_string(),
        };
        self.messages
            .push(json!({"role": "tool", "tool_call_id": id, "content": text}));
        Ok(())
    }
}

fn bad_role(at: &str, role: &str) -> InvalidRequest {
    input_error(format!(
        "`{at}.role` must be `user`, `assistant`, `system` or `developer`, not `{role}`"
    ))
}

/// The text of text-like parts (`input_text`, `output_text`, `refusal`), joined by `sep`;
/// other parts are dropped.
fn texts_of(
    parts: &[Value],
    at: &str,
    sep: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<String, InvalidRequest> {
    let mut texts = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let at = format!("{at}[{j}]");
        match part_type(p, &at)? {
            "input_text" | "output_text" | "text" => texts.push(text_of(p, "text", &at)?),
            "refusal" => texts.push(text_of(p, "refusal", &at)?),
            _ => dropped.push(CONTENT_PARTS),
        }
    }
    Ok(texts.join(sep))
}

/// The chat part for one user-side content part, if chat can carry it.
fn user_part(
    p: &Value,
    at: &str,
    dropped: &mut Vec<&'static str>,
) -> Result<Option<Value>, InvalidRequest> {
    let str_of = |name: &str| {
        p.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    Ok(match part_type(p, at)? {
        "input_text" | "output_text" | "text" => Some(text_part(text_of(p, "text", at)?)),
        "input_image" => match str_of("image_url") {
            Some(url) => {
                let mut image = Map::new();
                image.insert("url".into(), url.into());
                if let Some(d) = str_of("detail").filter(|d| ["auto", "low", "high"].contains(d)) {
                    image.insert("detail".into(), d.into());
                }
                Some(json!({"type": "image_url", "image_url": image}))
            }
            None if str_of("file_id").is_some() => {
                dropped.push(CONTENT_PARTS);
                None
            }
            None => {
                return Err(input_error(format!(
                    "`{at}` must have an `image_url` (a URL or a data URL) or a `file_id`"
                )))
            }
        },
        "input_file" => match str_of("file_data") {
            Some(data) => Some(json!({"type": "file", "file": {
                "filename": str_of("filename").unwrap_or("file"),
                "file_data": data,
            }})),
            None if str_of("file_id").is_some() || str_of("file_url").is_some() => {
                dropped.push(CONTENT_PARTS);
                None
            }
            None => {
                return Err(input_error(format!(
                    "`{at}` must have `file_data`, `file_id` or `file_url`"
                )))
            }
        },
        _ => {
            dropped.push(CONTENT_PARTS);
            None
        }
    })
}

fn part_type<'a>(p: &'a Value, at: &str) -> Result<&'a str, InvalidRequest> {
    p.get("type").and_then(Value::as_str).ok_or_else(|| {
        input_error(format!(
            "`{at}` must be a content part: an object with a string `type`"
        ))
    })
}

fn text_of(p: &Value, field: &str, at: &str) -> Result<String, InvalidRequest> {
    p.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| input_error(format!("`{at}.{field}` must be a string")))
}

fn text_part(text: String) -> Value {
    json!({"type": "text", "text": text})
}

/// Responses tools → chat function tools. `function` tools map one to one; `custom` and
/// `local_shell` become functions (see the module docs); hosted tools and other types are
/// dropped. `None` when no tool is left.
pub(super) fn tools(
    v: &Value,
    dropped: &mut Vec<&'static str>,
) -> Result<Option<Vec<Value>>, InvalidRequest> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(invalid_type("tools", "an array of tool definitions")),
    };
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let tools_error = |what: String| InvalidRequest::new(what, Some("tools"), "invalid_value");
        let ty = t.get("type").and_then(Value::as_str).ok_or_else(|| {
            tools_error(format!(
                "`tools[{i}]` must be an object with a string `type`"
            ))
        })?;
        let name = || {
            t.get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| tools_error(format!("`tools[{i}].name` must be a string")))
        };
        let description = t.get("description").and_then(Value::as_str);
        let mut function = Map::new();
        match ty {
            "function" => {
                function.insert("name".into(), name()?.into());
                if let Some(d) = description {
                    function.insert("description".into(), d.into());
                }
                let parameters = match t.get("parameters") {
                    Some(s) if s.is_object() => s.clone(),
                    None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
                    Some(_) => {
                        return Err(tools_error(format!(
                            "`tools[{i}].parameters` must be a JSON Schema object"
                        )))
                    }
                };
                function.insert("parameters".into(), parameters);
                if let Some(strict) = t.get("strict").filter(|s| s.is_boolean()) {
                    function.insert("strict".into(), strict.clone());
                }
            }
            "custom" => {
                function.insert("name".into(), name()?.into());
                let mut text = description.unwrap_or_default().to_owned();
                // A grammar cannot constrain a function's arguments: tell the model instead.
                let format = t.get("format");
                if format.and_then(|f| f.get("type")).and_then(Value::as_str) == Some("grammar") {
                    let syntax = format
                        .and_then(|f| f.get("syntax"))
                        .and_then(Value::as_str)
                        .unwrap_or("lark");
                    let definition = format
                        .and_then(|f| f.get("definition"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(&format!(
                        "The `input` string must match this {syntax} grammar:\n{definition}"
                    ));
                }
                if !text.is_empty() {
                    function.insert("description".into(), text.into());
                }
                function.insert("parameters".into(), custom_tool_parameters());
            }
            "local_shell" => {
                function.insert("name".into(), "local_shell".into());
                function.insert(
                    "description".into(),
                    "Runs a command on the user's machine and returns its output.".into(),
                );
                function.insert("parameters".into(), local_shell_parameters());
            }
            // web_search*, file_search, code_interpreter, computer_use*, image_generation,
            // mcp, and types with no chat equivalent.
            _ => {
                dropped.push(SERVER_TOOLS);
                continue;
            }
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// `tool_choice` → the chat choice. Hosted tools, MCP tools and allowed-tools sets have
/// no chat equivalent: dropped and reported.
pub(super) fn tool_choice(
    v: &Value,
    dropped: &mut Vec<&'static str>,
) -> Result<Option<Value>, InvalidRequest> {
    let bad = |what: &str| InvalidRequest::new(what, Some("tool_choice"), "invalid_value");
    match v {
        Value::Null => Ok(None),
        Value::String(s) if ["auto", "none", "required"].contains(&s.as_str()) => {
            Ok(Some(v.clone()))
        }
        Value::String(s) => Err(bad(&format!(
            "`tool_choice` must be `auto`, `none`, `required` or an object, not `{s}`"
        ))),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                let name = map
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("`tool_choice.name` must be a string"))?;
                Ok(Some(
                    json!({"type": "function", "function": {"name": name}}),
                ))
            }
            Some(_) => {
                dropped.push(TOOL_CHOICE);
                Ok(None)
            }
            None => Err(bad("`tool_choice` must be an object with a string `type`")),
        },
        _ => Err(invalid_type("tool_choice", "a string or an object")),
    }
}

/// `reasoning.effort` → OpenRouter's `reasoning: {"effort": …}`: `minimal` → `low`,
/// `xhigh`/`max` → `high`, `none` → no reasoning object. `summary` is not a request
/// parameter in chat: reasoning comes back whenever the provider returns it.
pub(super) fn reasoning(v: &Value) -> Result<Option<Value>, InvalidRequest> {
    let map = match v {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => return Err(invalid_type("reasoning", "an object")),
    };
    let effort = match map.get("effort") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(e)) => match e.as_str() {
            "low" | "medium" | "high" => e.as_str(),
            "minimal" => "low",
            "xhigh" | "max" => "high",
            "none" => return Ok(None),
            other => {
                return Err(InvalidRequest::new(
                    format!(
                        "`reasoning.effort` must be `none`, `minimal`, `low`, `medium`, \
                         `high`, `xhigh` or `max`, not `{other}`"
                    ),
                    Some("reasoning"),
                    "invalid_value",
                ))
            }
        },
        Some(_) => {
            return Err(invalid_type(
                "reasoning",
                "an object whose `effort` is a string",
            ))
        }
    };
    Ok(Some(json!({ "effort": effort })))
}

/// `text.format` → `response_format`, `text.verbosity` → `verbosity`.
pub(super) fn text_options(v: &Value) -> Result<(Option<Value>, Option<Value>), InvalidRequest> {
    let map = match v {
        Value::Null => return Ok((None, None)),
        Value::Object(map) => map,
        _ => return Err(invalid_type("text", "an object")),
    };
    let bad = |what: &str| InvalidRequest::new(what, Some("text"), "invalid_value");
    let format = match map.get("format") {
        None | Some(Value::Null) => None,
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("text") => None,
            Some("json_object") => Some(json!({"type": "json_object"})),
            Some("json_schema") => {
                let schema = f
                    .get("schema")
                    .filter(|s| s.is_object())
                    .ok_or_else(|| bad("`text.format.schema` must be a JSON Schema object"))?;
                let mut js = Map::new();
                let name = f.get("name").and_then(Value::as_str).unwrap_or("response");
                js.insert("name".into(), name.into());
                if let Some(d) = f.get("description").filter(|d| d.is_string()) {
                    js.insert("description".into(), d.clone());
                }
                js.insert("schema".into(), schema.clone());
                if let Some(s) = f.get("strict").filter(|s| s.is_boolean()) {
                    js.insert("strict".into(), s.clone());
                }
                Some(json!({"type": "json_schema", "json_schema": js}))
            }
            _ => {
                return Err(bad(
                    "`text.format.type` must be `text`, `json_schema` or `json_object`",
                ))
            }
        },
    };
    let verbosity = match map.get("verbosity") {
        None | Some(Value::Null) => None,
        Some(v @ Value::String(_)) => Some(v.clone()),
        Some(_) => {
            return Err(invalid_type(
                "text",
                "an object whose `verbosity` is a string",
            ))
        }
    };
    Ok((format, verbosity))
}

pub(super) fn parse_raw(
    raw: crate::types::RawRef<'_>,
    param: &'static str,
) -> Result<Value, InvalidRequest> {
    serde_json::from_str(raw.get())
        .map_err(|e| InvalidRequest::new(format!("`{param}`: {e}"), Some(param), "invalid_value"))
}

pub(super) fn input_error(message: String) -> InvalidRequest {
    InvalidRequest::new(message, Some("input"), "invalid_value")
}

pub(super) fn invalid_type(param: &'static str, expected: &str) -> InvalidRequest {
    InvalidRequest::new(
        format!("`{param}` must be {expected}"),
        Some(param),
        "invalid_type",
    )
}
