//! Applying a preset to a request, before it is parsed for routing: the request's body is
//! rewritten one level deep so that every front door then parses, plans and forwards it as
//! if the client had sent the preset's fields itself. Pure; no IO.
//!
//! A request names a preset in one of OpenRouter's three ways: `"model": "@preset/NAME"`,
//! `"preset": "NAME"`, or `"model": "SLUG@preset/NAME"`. The merge is OpenRouter's shallow
//! one, where what the request sets always wins:
//!
//! - `model`: the preset's, unless the request names one (`SLUG@preset/NAME`, or `model`
//!   beside a `preset` field);
//! - `models` and `provider`: the preset's only when the request sends none; a request's
//!   `provider` object replaces the preset's whole (no field-by-field merge), so what a
//!   client sends is exactly what routes it;
//! - `parameters`: each fills the request field of its name when the request leaves it out
//!   (or sends `null`); an output cap in any spelling the door knows counts as set;
//! - `system_prompt`: put before the request's own system prompt (a first system message
//!   on chat, the first block of `system` on Messages, the start of `instructions` on
//!   Responses); legacy completions and embeddings have none.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use serde_json::value::RawValue;

use crate::types::preset::{Preset, MAX_NAME};
use crate::types::{InvalidRequest, RawObject};

const PREFIX: &str = "@preset/";

/// Preset names listed in an unknown preset's error, at most.
const LISTED: usize = 20;

/// The front door a request came through: where a system prompt goes and which
/// parameters apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Chat,
    Completions,
    Messages,
    Responses,
    Embeddings,
}

impl Door {
    /// The request field a preset parameter fills on this door, if it applies here.
    fn field(self, key: &str) -> Option<&str> {
        match (self, key) {
            (Door::Embeddings, "dimensions" | "encoding_format" | "user") => Some(key),
            (Door::Embeddings, _) => None,
            (_, "dimensions" | "encoding_format") => None,
            (Door::Responses, "max_tokens" | "max_completion_tokens") => Some("max_output_tokens"),
            (Door::Messages, "max_completion_tokens" | "max_output_tokens") => Some("max_tokens"),
            (Door::Chat | Door::Completions, "max_output_tokens") => Some("max_tokens"),
            _ => Some(key),
        }
    }

    /// The fields that cap a request's output on this door: when the request sets one, the
    /// preset's cap does not apply.
    fn output_caps(self) -> &'static [&'static str] {
        match self {
            Door::Chat => &["max_tokens", "max_completion_tokens"],
            Door::Completions | Door::Messages => &["max_tokens"],
            Door::Responses => &["max_output_tokens"],
            Door::Embeddings => &[],
        }
    }
}

/// The preset a request used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub name: String,
    pub version: i64,
}

impl Applied {
    /// `NAME@vN`.
    pub fn label(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PresetError {
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    /// No preset of that name; `param` is the field that named it.
    #[error("Preset `{name}` does not exist")]
    Unknown {
        name: String,
        param: &'static str,
        available: Vec<String>,
    },
}

fn invalid(msg: impl Into<String>, param: &'static str, code: &'static str) -> PresetError {
    PresetError::Invalid(InvalidRequest::new(msg, Some(param), code))
}

/// Absent, or `null`.
fn absent(body: &RawObject, key: &str) -> bool {
    !matches!(body.get(key), Some(v) if v.get() != "null")
}

/// Applies the preset `body` names, if any, and removes the `preset` field (it never
/// reaches an upstream). `Ok(None)`: the request names no preset and is unchanged.
pub fn expand(
    body: &mut RawObject,
    door: Door,
    presets: &HashMap<String, Arc<Preset>>,
) -> Result<Option<Applied>, PresetError> {
    let field = match body.remove("preset") {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => Some(serde_json::from_str::<String>(raw.get()).map_err(|_| {
            invalid(
                "`preset` must be a string naming a preset",
                "preset",
                "invalid_type",
            )
        })?),
    };
    let model = body.get_as::<String>("model").and_then(Result::ok);
    let in_model = model
        .as_deref()
        .and_then(|m| m.find(PREFIX).map(|i| (&m[..i], &m[i + PREFIX.len()..])));
    let (name, slug, param) = match (in_model, field.as_deref()) {
        (None, None) => return Ok(None),
        (Some((_, name)), Some(other)) if name != other => {
            return Err(invalid(
                format!("`model` names the preset `{name}` and `preset` names `{other}`: name one"),
                "preset",
                "invalid_value",
            ))
        }
        (Some((slug, name)), _) => (name, Some(slug), "model"),
        (None, Some(name)) => (name, None, "preset"),
    };
    if name.is_empty() {
        return Err(invalid(
            "`@preset/` must be followed by a preset name",
            param,
            "invalid_value",
        ));
    }
    if name.len() > MAX_NAME {
        // Not echoed: a name is bounded, a request body is not.
        return Err(invalid(
            format!("`{param}` names a preset longer than {MAX_NAME} bytes"),
            param,
            "string_above_max_length",
        ));
    }
    let Some(preset) = presets.get(name) else {
        let mut available: Vec<String> = presets.keys().cloned().collect();
        available.sort();
        available.truncate(LISTED);
        return Err(PresetError::Unknown {
            name: name.to_owned(),
            param,
            available,
        });
    };
    let d = &preset.decl;

    match slug {
        // `@preset/NAME`: the preset's model, or none (then its `models` route).
        Some("") => match &d.model {
            Some(m) => body.insert("model", m),
            None => {
                body.remove("model");
            }
        },
        Some(slug) => body.insert("model", slug),
        None => {
            if let (true, Some(m)) = (absent(body, "model"), &d.model) {
                body.insert("model", m);
            }
        }
    }
    if absent(body, "models") && !d.models.is_empty() {
        body.insert("models", &d.models);
    }
    if absent(body, "model") && absent(body, "models") {
        return Err(invalid(
            format!("The preset `{name}` names no model: name one in `model`"),
            "model",
            "missing_required_parameter",
        ));
    }
    if let (true, Some(p)) = (absent(body, "provider"), &preset.provider) {
        body.insert_raw("provider", p.clone());
    }

    let capped = door.output_caps().iter().any(|c| !absent(body, c));
    for (key, value) in &preset.parameters {
        let Some(field) = door.field(key) else {
            continue;
        };
        if capped && door.output_caps().contains(&field) {
            continue;
        }
        if absent(body, field) {
            body.insert_raw(field, value.clone());
        }
    }
    if let Some(prompt) = &d.system_prompt {
        prepend_system(body, door, prompt);
    }
    Ok(Some(Applied {
        name: d.name.clone(),
        version: preset.version,
    }))
}

/// Puts `prompt` before the request's own system prompt, in the door's form. A field of
/// the wrong shape is left alone for the door's parser to refuse.
fn prepend_system(body: &mut RawObject, door: Door, prompt: &str) {
    let raw = |v: serde_json::Value| serde_json::value::to_raw_value(&v).ok();
    let updated = match door {
        Door::Chat => body
            .get_as::<Vec<Box<RawValue>>>("messages")
            .and_then(Result::ok)
            .and_then(|messages| {
                let mut all = Vec::with_capacity(messages.len() + 1);
                all.push(raw(json!({"role": "system", "content": prompt}))?);
                all.extend(messages);
                Some(("messages", serde_json::value::to_raw_value(&all).ok()?))
            }),
        Door::Messages => {
            let block = json!({"type": "text", "text": prompt});
            let system = if absent(body, "system") {
                raw(json!(prompt))
            } else if let Some(Ok(s)) = body.get_as::<String>("system") {
                raw(json!([block, {"type": "text", "text": s}]))
            } else if let Some(Ok(blocks)) = body.get_as::<Vec<Box<RawValue>>>("system") {
                let mut all = Vec::with_capacity(blocks.len() + 1);
                all.extend(raw(block));
                all.extend(blocks);
                serde_json::value::to_raw_value(&all).ok()
            } else {
                None
            };
            system.map(|s| ("system", s))
        }
        Door::Responses => {
            let instructions = if absent(body, "instructions") {
                raw(json!(prompt))
            } else if let Some(Ok(s)) = body.get_as::<String>("instructions") {
                raw(json!(format!("{prompt}\n\n{s}")))
            } else {
                None
            };
            instructions.map(|i| ("instructions", i))
        }
        Door::Completions | Door::Embeddings => None,
    };
    if let Some((key, value)) = updated {
        body.insert_raw(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::preset::PresetDecl;
    use serde_json::{json, Value};

    fn presets() -> HashMap<String, Arc<Preset>> {
        let decls = [
            json!({
                "name": "writer", "model": "a/m", "models": ["b/m"],
                "provider": {"order": ["p1"]}, "system_prompt": "Be brief.",
                "parameters": {"temperature": 0.2, "max_tokens": 50, "x_custom": {"k": 1}}
            }),
            json!({"name": "fallbacks", "models": ["b/m", "c/m"]}),
            json!({"name": "bare"}),
            json!({"name": "embed", "model": "e/m", "parameters": {"dimensions": 8, "temperature": 1}}),
        ];
        decls
            .into_iter()
            .map(|d| {
                let d: PresetDecl = serde_json::from_value(d).unwrap();
                (d.name.clone(), Arc::new(Preset::new(d, 2)))
            })
            .collect()
    }

    fn run(door: Door, body: Value) -> Result<(Value, Option<Applied>), PresetError> {
        let mut obj = RawObject::parse(body.to_string().as_bytes()).unwrap();
        let applied = expand(&mut obj, door, &presets())?;
        Ok((serde_json::from_slice(&obj.to_vec()).unwrap(), applied))
    }

    fn user() -> Value {
        json!([{"role": "user", "content": "hi"}])
    }

    #[test]
    fn no_preset_leaves_the_body_alone() {
        let body = json!({"model": "a/m", "messages": user(), "temperature": 1});
        let (out, applied) = run(Door::Chat, body.clone()).unwrap();
        assert_eq!(out, body);
        assert_eq!(applied, None);
        // A `null` preset is no preset, and is not forwarded.
        let (out, applied) = run(Door::Chat, json!({"model": "a/m", "preset": null})).unwrap();
        assert_eq!(out, json!({"model": "a/m"}));
        assert_eq!(applied, None);
    }

    #[test]
    fn model_reference_brings_everything() {
        let (out, applied) = run(
            Door::Chat,
            json!({"model": "@preset/writer", "messages": user()}),
        )
        .unwrap();
        assert_eq!(applied.unwrap().label(), "writer@v2");
        assert_eq!(
            out,
            json!({
                "model": "a/m",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                "models": ["b/m"],
                "provider": {"order": ["p1"]},
                "temperature": 0.2, "max_tokens": 50, "x_custom": {"k": 1}
            })
        );
    }

    #[test]
    fn the_three_syntaxes_and_what_the_request_keeps() {
        // `preset` field: the request's model wins; the field is consumed.
        let (out, _) = run(
            Door::Chat,
            json!({"model": "z/m", "preset": "writer", "messages": user()}),
        )
        .unwrap();
        assert_eq!(out["model"], "z/m");
        assert!(out.get("preset").is_none());
        assert_eq!(out["temperature"], 0.2);
        // `preset` field without a model: the preset's model.
        let (out, _) = run(Door::Chat, json!({"preset": "writer", "messages": user()})).unwrap();
        assert_eq!(out["model"], "a/m");
        // `SLUG@preset/NAME`: the slug wins.
        let (out, _) = run(
            Door::Chat,
            json!({"model": "z/m@preset/writer", "messages": user()}),
        )
        .unwrap();
        assert_eq!(out["model"], "z/m");
        assert_eq!(out["models"], json!(["b/m"]));
        // Request fields win over the preset's, whole.
        let (out, _) = run(
            Door::Chat,
            json!({"model": "@preset/writer", "messages": user(), "models": ["q/m"],
                   "provider": {"sort": "price"}, "temperature": 0.9, "max_completion_tokens": 7}),
        )
        .unwrap();
        assert_eq!(out["models"], json!(["q/m"]));
        assert_eq!(out["provider"], json!({"sort": "price"}));
        assert_eq!(out["temperature"], 0.9);
        assert!(
            out.get("max_tokens").is_none(),
            "the request's cap stands: {out}"
        );
        // `null` is not a value the request set.
        let (out, _) = run(
            Door::Chat,
            json!({"model": "@preset/writer", "messages": user(), "temperature": null}),
        )
        .unwrap();
        assert_eq!(out["temperature"], 0.2);
    }

    #[test]
    fn a_preset_without_a_model_routes_by_its_models() {
        let (out, _) = run(
            Door::Chat,
            json!({"model": "@preset/fallbacks", "messages": user()}),
        )
        .unwrap();
        assert!(out.get("model").is_none());
        assert_eq!(out["models"], json!(["b/m", "c/m"]));
        let e = run(
            Door::Chat,
            json!({"model": "@preset/bare", "messages": user()}),
        )
        .unwrap_err();
        assert!(
            matches!(&e, PresetError::Invalid(i) if i.param == Some("model")),
            "{e:?}"
        );
        assert!(e.to_string().contains("`bare` names no model"), "{e}");
    }

    #[test]
    fn refusals_name_the_preset_and_the_field() {
        match run(Door::Chat, json!({"model": "@preset/nope"})).unwrap_err() {
            PresetError::Unknown {
                name,
                param,
                available,
            } => {
                assert_eq!((name.as_str(), param), ("nope", "model"));
                assert_eq!(available, vec!["bare", "embed", "fallbacks", "writer"]);
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            run(Door::Chat, json!({"model": "a/m", "preset": "nope"})).unwrap_err(),
            PresetError::Unknown {
                param: "preset",
                ..
            }
        ));
        let cases = [
            (json!({"model": "a/m", "preset": 5}), "preset"),
            (json!({"model": "@preset/"}), "model"),
            (
                json!({"model": "@preset/writer", "preset": "bare"}),
                "preset",
            ),
            (
                json!({"model": format!("@preset/{}", "x".repeat(65))}),
                "model",
            ),
            (json!({"model": "a/m", "preset": "x".repeat(65)}), "preset"),
        ];
        for (body, param) in cases {
            match run(Door::Chat, body.clone()).unwrap_err() {
                PresetError::Invalid(i) => assert_eq!(i.param, Some(param), "{body}"),
                e => panic!("{body}: {e:?}"),
            }
        }
        // Naming the same preset twice is fine.
        run(
            Door::Chat,
            json!({"model": "@preset/writer", "preset": "writer"}),
        )
        .unwrap();
    }

    #[test]
    fn each_door_gets_the_system_prompt_in_its_own_form() {
        let (out, _) = run(
            Door::Messages,
            json!({"model": "@preset/writer", "messages": user()}),
        )
        .unwrap();
        assert_eq!(out["system"], "Be brief.");
        let (out, _) = run(
            Door::Messages,
            json!({"model": "@preset/writer", "system": "Mine."}),
        )
        .unwrap();
        assert_eq!(
            out["system"],
            json!([{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Mine."}])
        );
        let (out, _) = run(
            Door::Messages,
            json!({"model": "@preset/writer", "system": [{"type": "text", "text": "Mine.", "cache_control": {"type": "ephemeral"}}]}),
        )
        .unwrap();
        assert_eq!(out["system"][0]["text"], "Be brief.");
        assert_eq!(out["system"][1]["cache_control"]["type"], "ephemeral");
        let (out, _) = run(
            Door::Responses,
            json!({"model": "@preset/writer", "input": "hi"}),
        )
        .unwrap();
        assert_eq!(out["instructions"], "Be brief.");
        let (out, _) = run(
            Door::Responses,
            json!({"model": "@preset/writer", "instructions": "Mine."}),
        )
        .unwrap();
        assert_eq!(out["instructions"], "Be brief.\n\nMine.");
        let (out, _) = run(
            Door::Completions,
            json!({"model": "@preset/writer", "prompt": "hi"}),
        )
        .unwrap();
        assert_eq!(out["prompt"], "hi");
        assert!(out.get("system").is_none() && out.get("messages").is_none());
        // A malformed field is left for the door to refuse.
        let (out, _) = run(
            Door::Chat,
            json!({"model": "@preset/writer", "messages": "hi"}),
        )
        .unwrap();
        assert_eq!(out["messages"], "hi");
    }

    #[test]
    fn parameters_take_each_doors_names() {
        let (out, _) = run(
            Door::Responses,
            json!({"model": "@preset/writer", "input": "hi"}),
        )
        .unwrap();
        assert_eq!(out["max_output_tokens"], 50);
        assert!(out.get("max_tokens").is_none());
        let (out, _) = run(
            Door::Responses,
            json!({"model": "@preset/writer", "max_output_tokens": 5}),
        )
        .unwrap();
        assert_eq!(out["max_output_tokens"], 5);
        let (out, _) = run(
            Door::Messages,
            json!({"model": "@preset/writer", "max_tokens": 5}),
        )
        .unwrap();
        assert_eq!(out["max_tokens"], 5);
        // Embeddings take only embedding parameters; chat doors never take those.
        let (out, _) = run(
            Door::Embeddings,
            json!({"model": "@preset/embed", "input": "x"}),
        )
        .unwrap();
        assert_eq!(out, json!({"model": "e/m", "input": "x", "dimensions": 8}));
        let (out, _) = run(
            Door::Chat,
            json!({"model": "@preset/embed", "messages": user()}),
        )
        .unwrap();
        assert!(out.get("dimensions").is_none());
        assert_eq!(out["temperature"], 1);
    }
}
