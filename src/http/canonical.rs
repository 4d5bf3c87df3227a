//! Canonical (OpenAI chat-shaped) completions and chunks as the front doors' renderers read
//! them: parsed leniently, borrowing from the body where they can. The Messages and
//! Responses renderers share these views and the reasoning rules, so both read an upstream's
//! answer the same way.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InChoice<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default, borrow)]
    pub message: Option<InMessage<'a>>,
    #[serde(default, borrow)]
    pub delta: Option<InMessage<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub native_finish_reason: Option<&'a RawValue>,
    /// The stop string that matched, where an upstream reports it.
    #[serde(default, borrow)]
    pub stop_sequence: Option<&'a RawValue>,
}

/// `message` of a completion or `delta` of a chunk.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InMessage<'a> {
    #[serde(default, borrow)]
    pub content: Option<InContent<'a>>,
    #[serde(default, borrow)]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning_details: Option<Vec<InDetail<'a>>>,
    #[serde(default, borrow)]
    pub tool_calls: Option<Vec<InToolCall<'a>>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum InContent<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Parts(#[serde(borrow)] Vec<InPart<'a>>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct InPart<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

impl InContent<'_> {
    /// Appends the text (text parts only) to `f`, piece by piece.
    pub(crate) fn for_each_text(&self, mut f: impl FnMut(&str)) {
        match self {
            InContent::Text(t) => f(t),
            InContent::Parts(parts) => {
                for p in parts {
                    if matches!(p.kind.as_deref(), None | Some("text" | "output_text")) {
                        if let Some(t) = &p.text {
                            f(t);
                        }
                    }
                }
            }
        }
    }
}

/// One `reasoning_details` entry (OpenRouter's extension).
#[derive(Debug, Deserialize)]
pub(crate) struct InDetail<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub summary: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub data: Option<Cow<'a, str>>,
    #[serde(default)]
    pub index: Option<u64>,
}

impl InDetail<'_> {
    /// The reasoning text this entry carries, if any.
    pub(crate) fn text(&self) -> Option<&str> {
        match self.kind.as_ref() {
            "reasoning.text" => self.text.as_deref(),
            "reasoning.summary" => self.summary.as_deref(),
            _ => None,
        }
        .filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct InToolCall<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub function: Option<InFunction<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InFunction<'a> {
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub arguments: Option<Cow<'a, str>>,
}

/// A raw member that is a JSON string, as text; anything else (null included) is `None`.
pub(crate) fn raw_str(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
}

/// Reasoning in one message or delta, as steps in order: the text from `reasoning` /
/// `reasoning_content` only when `reasoning_details` does not carry it too.
pub(crate) enum Reasoning<'m> {
    Text(&'m str, Option<u64>),
    Signature(&'m str, Option<u64>),
    Encrypted(&'m str),
}

pub(crate) fn reasoning_steps<'m>(m: &'m InMessage<'_>, mut f: impl FnMut(Reasoning<'m>)) {
    let details: &[InDetail<'_>] = m.reasoning_details.as_deref().unwrap_or(&[]);
    let plain = m
        .reasoning
        .as_deref()
        .filter(|t| !t.is_empty())
        .or_else(|| m.reasoning_content.as_deref().filter(|t| !t.is_empty()));
    if let Some(text) = plain {
        if !details.iter().any(|d| d.text().is_some()) {
            let index = details
                .iter()
                .find(|d| d.kind == "reasoning.text")
                .and_then(|d| d.index);
            f(Reasoning::Text(text, index));
        }
    }
    for d in details {
        if let Some(text) = d.text() {
            f(Reasoning::Text(text, d.index));
        }
        match d.kind.as_ref() {
            "reasoning.text" => {
                if let Some(sig) = d.signature.as_deref().filter(|s| !s.is_empty()) {
                    f(Reasoning::Signature(sig, d.index));
                }
            }
            "reasoning.encrypted" => {
                if let Some(data) = d.data.as_deref().filter(|s| !s.is_empty()) {
                    f(Reasoning::Encrypted(data));
                }
            }
            _ => {}
        }
    }
}

/// Reasoning at `next` continues a thinking block begun at `open` unless both name
/// different `reasoning_details` indexes.
pub(crate) fn same_detail(open: Option<u64>, next: Option<u64>) -> bool {
    match (open, next) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}
