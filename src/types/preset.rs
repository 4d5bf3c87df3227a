//! Presets (OpenRouter's `@preset/NAME`): a named bundle of model, fallback models, provider
//! preferences, a system prompt and default request parameters, as the config file, the
//! admin API and the database describe it (`PresetDecl`), and as requests use it (`Preset`,
//! its values pre-serialised so applying one copies raw JSON). Pure data.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::chat::ProviderPreferences;
use super::registry::DeclError;

/// Longest preset name.
pub const MAX_NAME: usize = 64;

/// Request fields a preset's `parameters` may not set: they have fields of their own
/// (`model`, `models`, `provider`, `system_prompt`), belong to each request (the
/// conversation, streaming), or are the gateway's own.
const NOT_PARAMETERS: &[&str] = &[
    "model",
    "models",
    "provider",
    "preset",
    "system",
    "instructions",
    "messages",
    "input",
    "prompt",
    "stream",
    "stream_options",
    "route",
    "transforms",
    "usage",
    "plugins",
];

/// Parameters whose type the gateway checks when a preset is saved (a wrong type would
/// otherwise fail every request that uses the preset, at the upstream).
const NUMBERS: &[&str] = &[
    "temperature",
    "top_p",
    "min_p",
    "top_a",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
];
const POSITIVE_INTEGERS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "top_k",
    "n",
    "dimensions",
];

/// A preset as declared: every field but `name` is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetDecl {
    /// `[a-z0-9][a-z0-9._-]*`, at most 64 characters; used as `@preset/NAME`.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The model requests get unless they name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// OpenRouter's `models` fallback list, for requests that send none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// OpenRouter's `provider` preferences, for requests that send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Map<String, Value>>,
    /// Put before the request's own system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Request fields (`temperature`, `max_tokens`, ...) for requests that do not set them.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> DeclError {
    DeclError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A preset name: lowercase letters, digits, `-`, `_`, `.`; starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}

fn model_name_problem(m: &str) -> Option<&'static str> {
    if m.trim().is_empty() {
        Some("must not be empty")
    } else if m.contains("@preset/") {
        Some("must name a model, not a preset")
    } else {
        None
    }
}

impl PresetDecl {
    pub fn validate(&self) -> Result<(), DeclError> {
        if !valid_name(&self.name) {
            return Err(bad(
                "name",
                format!(
                    "`{}` is not a valid preset name: use at most {MAX_NAME} lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit",
                    self.name
                ),
            ));
        }
        if let Some(p) = self.model.as_deref().and_then(model_name_problem) {
            return Err(bad("model", p));
        }
        for (i, m) in self.models.iter().enumerate() {
            if let Some(p) = model_name_problem(m) {
                return Err(bad(format!("models[{i}]"), p));
            }
        }
        if let Some(p) = &self.provider {
            if let Err(e) = serde_json::from_value::<ProviderPreferences>(Value::Object(p.clone()))
            {
                return Err(bad("provider", e.to_string()));
            }
        }
        for (key, value) in &self.parameters {
            let field = || format!("parameters.{key}");
            if NOT_PARAMETERS.contains(&key.as_str()) {
                let hint = match key.as_str() {
                    "model" | "models" | "provider" => format!("use the preset's own `{key}`"),
                    "system" | "instructions" => "use `system_prompt`".to_owned(),
                    _ => "it belongs to each request".to_owned(),
                };
                return Err(bad(field(), format!("cannot be set by a preset: {hint}")));
            }
            if NUMBERS.contains(&key.as_str()) && !value.is_number() {
                return Err(bad(field(), "must be a number"));
            }
            if POSITIVE_INTEGERS.contains(&key.as_str()) && value.as_u64().is_none_or(|n| n == 0) {
                return Err(bad(field(), "must be a positive integer"));
            }
            if key == "seed" && !(value.is_i64() || value.is_u64()) {
                return Err(bad(field(), "must be an integer"));
            }
            if key == "stop" && !is_stop(value) {
                return Err(bad(field(), "must be a string or an array of strings"));
            }
        }
        Ok(())
    }
}

fn is_stop(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// A preset's current version as requests use it.
#[derive(Debug, Clone)]
pub struct Preset {
    pub version: i64,
    pub decl: PresetDecl,
    /// `provider` as JSON text, inserted as is into requests that send none.
    pub provider: Option<Box<RawValue>>,
    /// `parameters`, each as JSON text.
    pub parameters: Vec<(String, Box<RawValue>)>,
}

impl Preset {
    pub fn new(decl: PresetDecl, version: i64) -> Preset {
        let raw = |v: &Value| serde_json::value::to_raw_value(v).ok();
        Preset {
            version,
            provider: decl
                .provider
                .as_ref()
                .and_then(|p| raw(&Value::Object(p.clone()))),
            parameters: decl
                .parameters
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), raw(v)?)))
                .collect(),
            decl,
        }
    }

    /// `NAME@vN`, as the request record and `x-switchyard-preset` name it.
    pub fn label(&self) -> String {
        format!("{}@v{}", self.decl.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decl(v: Value) -> PresetDecl {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names() {
        for ok in ["a", "email-copywriter", "v1.2_x", "0"] {
            assert!(valid_name(ok), "{ok}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in ["", "-a", "A", "a/b", "a@b", "a b", long.as_str()] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (json!({"name": "Bad"}), "name"),
            (json!({"name": "p", "model": ""}), "model"),
            (json!({"name": "p", "model": "@preset/q"}), "model"),
            (json!({"name": "p", "models": ["a", " "]}), "models[1]"),
            (
                json!({"name": "p", "provider": {"sort": "cheapest"}}),
                "provider",
            ),
            (json!({"name": "p", "provider": {"nope": 1}}), "provider"),
            (
                json!({"name": "p", "parameters": {"temperature": "hot"}}),
                "parameters.temperature",
            ),
            (
                json!({"name": "p", "parameters": {"max_tokens": 0}}),
                "parameters.max_tokens",
            ),
            (
                json!({"name": "p", "parameters": {"max_tokens": 1.5}}),
                "parameters.max_tokens",
            ),
            (
                json!({"name": "p", "parameters": {"seed": "x"}}),
                "parameters.seed",
            ),
            (
                json!({"name": "p", "parameters": {"stop": [1]}}),
                "parameters.stop",
            ),
            (
                json!({"name": "p", "parameters": {"messages": []}}),
                "parameters.messages",
            ),
            (
                json!({"name": "p", "parameters": {"system": "x"}}),
                "parameters.system",
            ),
        ];
        for (v, field) in cases {
            let e = decl(v.clone()).validate().expect_err(&v.to_string());
            assert_eq!(e.field, field, "{v}: {}", e.problem);
        }
        decl(json!({
            "name": "p", "model": "a/b", "models": ["c/d"], "system_prompt": "s",
            "provider": {"order": ["x"], "sort": "price"},
            "parameters": {"temperature": 0.2, "max_tokens": 10, "stop": ["\n"], "seed": -1, "x_custom": {"k": 1}}
        }))
        .validate()
        .unwrap();
    }

    #[test]
    fn compiles_raw_values_in_order() {
        let p = Preset::new(
            decl(
                json!({"name": "p", "provider": {"only": ["a"]}, "parameters": {"top_p": 0.5, "temperature": 1}}),
            ),
            3,
        );
        assert_eq!(p.label(), "p@v3");
        assert_eq!(p.provider.unwrap().get(), r#"{"only":["a"]}"#);
        let keys: Vec<_> = p
            .parameters
            .iter()
            .map(|(k, v)| (k.as_str(), v.get()))
            .collect();
        assert_eq!(keys, vec![("top_p", "0.5"), ("temperature", "1")]);
    }
}
