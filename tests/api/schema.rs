//! A small JSON Schema checker for the vendors' response schemas in tests/fixtures/schemas/
//! (`openrouter.json`, `openai.json`; see `extract.py` beside them). It knows the keywords
//! those files use: `$ref`, `type` (a name or a list), `nullable`, `enum`, `const`,
//! `required`, `properties`, `additionalProperties`, `items`, `allOf`, `anyOf`, `oneOf`
//! (exactly one branch), and the numeric, length and item-count bounds. It reads
//! `discriminator` as the hint it is (every `oneOf` branch is tried anyway) and ignores
//! `format`, `pattern` and `propertyNames`, which constrain strings no answer of ours
//! builds from client text; `$recursiveRef` (OpenAI's recursive filter inputs, never in an
//! answer we render) accepts anything. The `jsonschema` crate would do this too, but it
//! brings some twenty crates (regex engines, IDNA, URL parsing) into the build.

use std::sync::OnceLock;

use serde_json::Value;

/// Enums that name OpenRouter's own world and that its SDKs read as open (any string goes):
/// a self-hosted gateway's providers are not on OpenRouter's list.
const OPEN_ENUMS: &[&str] = &["#/$defs/ProviderName"];

pub struct Schemas(Value);

fn read(file: &str) -> Schemas {
    let path = format!(
        "{}/tests/fixtures/schemas/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    Schemas(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

impl Schemas {
    /// OpenRouter's schemas (the /api/v1 dialect).
    pub fn load() -> Schemas {
        read("openrouter.json")
    }

    /// The OpenRouter schemas, parsed once per test binary.
    pub fn openrouter() -> &'static Schemas {
        static S: OnceLock<Schemas> = OnceLock::new();
        S.get_or_init(Schemas::load)
    }

    /// OpenAI's schemas (the /v1 dialect), parsed once per test binary.
    pub fn openai() -> &'static Schemas {
        static S: OnceLock<Schemas> = OnceLock::new();
        S.get_or_init(|| read("openai.json"))
    }

    /// Panics with every violation when `doc` does not match the response schema `name`
    /// (the keys of the file's `responses` map: `models`, `chat`, `chat_chunk`, `error_404`…).
    pub fn check(&self, name: &str, doc: &Value) {
        let errors = self.violations(name, doc);
        assert!(
            errors.is_empty(),
            "{name}: {} violation(s):\n{}\n{doc:#}",
            errors.len(),
            errors.join("\n")
        );
    }

    /// Whether the file has a response schema `name`.
    pub fn has(&self, name: &str) -> bool {
        !self.0["responses"][name].is_null()
    }

    pub fn violations(&self, name: &str, doc: &Value) -> Vec<String> {
        let schema = &self.0["responses"][name];
        assert!(!schema.is_null(), "no schema `{name}`");
        let mut errors = Vec::new();
        self.walk(schema, doc, "$", false, &mut errors);
        errors
    }

    /// Each branch's violations of `v`.
    fn branches(&self, subs: &[Value], v: &Value, at: &str) -> Vec<Vec<String>> {
        subs.iter()
            .map(|sub| {
                let mut e = Vec::new();
                self.walk(sub, v, at, false, &mut e);
                e
            })
            .collect()
    }

    fn walk(&self, s: &Value, v: &Value, at: &str, open: bool, errors: &mut Vec<String>) {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            let target = &self.0["$defs"][name];
            assert!(!target.is_null(), "unresolved {r}");
            self.walk(target, v, at, OPEN_ENUMS.contains(&r), errors);
        }
        // OpenAPI 3.0's spelling of `type: [.., "null"]`, which OpenAI's document still uses.
        if v.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.iter().any(|t| is_type(v, t)) {
                errors.push(format!("{at}: {v} is not {types:?}"));
                return;
            }
        }
        if let (Some(options), false) = (s.get("enum").and_then(Value::as_array), open) {
            if !options.contains(v) {
                errors.push(format!("{at}: {v} is not one of {options:?}"));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                errors.push(format!("{at}: {v} is not {c}"));
            }
        }
        self.bounds(s, v, at, errors);
        for sub in list(s, "allOf") {
            self.walk(sub, v, at, false, errors);
        }
        for (k, wanted) in [("anyOf", 1..usize::MAX), ("oneOf", 1..2)] {
            let Some(subs) = s.get(k).and_then(Value::as_array) else {
                continue;
            };
            let found = self.branches(subs, v, at);
            let n = found.iter().filter(|e| e.is_empty()).count();
            if !wanted.contains(&n) {
                // The nearest miss says more than "none matched".
                let nearest = found.iter().min_by_key(|e| e.len()).cloned();
                let why = nearest.unwrap_or_default().join("; ");
                errors.push(format!("{at}: matches {n} of {k} (nearest miss: {why})"));
            }
        }
        if let Some(obj) = v.as_object() {
            for r in list(s, "required").filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: `{r}` is required"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                let here = format!("{at}.{k}");
                match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                    (Some(sub), _) => self.walk(sub, val, &here, false, errors),
                    (None, Some(Value::Bool(false))) => errors.push(format!("{here}: not allowed")),
                    (None, Some(sub)) if sub.is_object() => {
                        self.walk(sub, val, &here, false, errors)
                    }
                    _ => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.walk(items, item, &format!("{at}[{i}]"), false, errors);
            }
        }
    }

    fn bounds(&self, s: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let bound = |k: &str| s.get(k).and_then(Value::as_f64);
        let size = match v {
            Value::String(t) => Some((t.chars().count() as f64, "minLength", "maxLength")),
            Value::Array(a) => Some((a.len() as f64, "minItems", "maxItems")),
            Value::Object(o) => Some((o.len() as f64, "minProperties", "maxProperties")),
            _ => None,
        };
        let checks = match (v.as_f64(), size) {
            (Some(n), _) => Some((n, "minimum", "maximum")),
            (None, size) => size,
        };
        if let Some((n, lo, hi)) = checks {
            if bound(lo).is_some_and(|b| n < b) || bound(hi).is_some_and(|b| n > b) {
                errors.push(format!("{at}: {v} is outside {lo}/{hi}"));
            }
        }
    }
}

fn list<'a>(s: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    s.get(k).and_then(Value::as_array).into_iter().flatten()
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        _ => true,
    }
}

#[test]
#[should_panic(expected = "violation")]
fn the_checker_finds_violations() {
    Schemas::load().check(
        "models",
        &serde_json::json!({"data": [{"id": 1}], "total_count": "2", "links": {}}),
    );
}

#[test]
fn the_checker_knows_one_of_nullable_and_const() {
    let s = Schemas(serde_json::json!({"$defs": {}, "responses": {
        "x": {"type": "object", "properties": {
            "a": {"oneOf": [{"type": "string"}, {"type": "string", "const": "k"}]},
            "b": {"type": "string", "nullable": true},
            "c": {"const": 3, "minimum": 1}
        }}
    }}));
    let v = |doc| s.violations("x", &doc).len();
    assert_eq!(v(serde_json::json!({"a": "j", "b": null, "c": 3})), 0);
    assert_eq!(
        v(serde_json::json!({"a": "k"})),
        1,
        "two oneOf branches fit"
    );
    assert_eq!(v(serde_json::json!({"b": 1, "c": 2})), 2);
}

/// The vendor schema that an answer on `path` (query and all) with `status` must match, and
/// its name there: OpenRouter's for `/api/v1`, OpenAI's for `/v1`. `event` asks for the
/// schema of one SSE event's data. None where the vendor documents no such answer (OpenAI
/// has no `/key`; Anthropic's `/v1/messages` is not OpenAI's to describe; admin and health
/// are Switchyard's own).
pub fn schema_for(path: &str, status: u16, event: bool) -> Option<(&'static Schemas, String)> {
    let path = path.split('?').next().unwrap_or(path);
    let (schemas, rest) = match path.strip_prefix("/api/v1") {
        Some(rest) => (Schemas::openrouter(), rest),
        None => (Schemas::openai(), path.strip_prefix("/v1")?),
    };
    let openrouter = std::ptr::eq(schemas, Schemas::openrouter());
    let name = match (rest, status) {
        ("/messages", _) if !openrouter => return None,
        ("/messages", s) if s >= 400 => "messages_error".to_owned(),
        ("/messages", _) if event => "messages_event".to_owned(),
        ("/messages/count_tokens" | "/health", _) => return None,
        (_, s) if s >= 400 && openrouter => format!("error_{s}"),
        (_, s) if s >= 400 => "error".to_owned(),
        ("/chat/completions", _) if event => "chat_chunk".to_owned(),
        ("/chat/completions", _) => "chat".to_owned(),
        ("/responses", _) if event => "responses_event".to_owned(),
        // OpenAI documents legacy completion chunks as whole CreateCompletionResponses.
        (
            "/completions" | "/responses" | "/embeddings" | "/key" | "/credits" | "/generation"
            | "/activity",
            _,
        ) => rest[1..].to_owned(),
        ("/models", _) => "models".to_owned(),
        ("/models/count" | "/providers", _) => rest[1..].replace("models/", ""),
        (r, _) if r.starts_with("/models/") && openrouter && r.ends_with("/endpoints") => {
            "endpoints".to_owned()
        }
        (r, _) if r.starts_with("/models/") && !openrouter => "model".to_owned(),
        _ => return None,
    };
    schemas.has(&name).then_some((schemas, name))
}

/// Documented exceptions: where a vendor's schema and its own API disagree, Switchyard
/// answers like the API, and the schema's demand is taken out of the checked copy here.
/// Each is backed by the vendor's recorded answers (tests/fixtures/openai/) or its docs.
fn quirks(path: &str, doc: &Value) -> Value {
    let mut doc = doc.clone();
    let Some(obj) = doc.as_object_mut() else {
        return doc;
    };
    match path {
        "/v1/responses" => {
            // The Response schema types the deprecated `user` as a string, but the API
            // answers `"user": null` when the request set none (its SDKs type it optional).
            let response = match obj.get_mut("response") {
                Some(Value::Object(r)) => r,
                _ => obj,
            };
            if response.get("user") == Some(&Value::Null) {
                response.remove("user");
            }
        }
        // With `stream_options.include_usage`, OpenAI sends `"usage": null` on every chunk
        // but the last (see the recorded *_streaming.sse), which its chunk schema types as an
        // object.
        "/v1/chat/completions" if obj.get("usage") == Some(&Value::Null) => {
            obj.remove("usage");
        }
        "/v1/completions" => {
            // Legacy completion chunks are documented as whole CreateCompletionResponses,
            // whose finish_reason is never null; a stream's chunks before the last carry
            // `null` there, as OpenAI's own streams do. "stop" stands in for it, so the rest
            // of the choice is still checked.
            for choice in obj
                .get_mut("choices")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(c) = choice.as_object_mut() {
                    if c.get("finish_reason") == Some(&Value::Null) {
                        c.insert("finish_reason".into(), "stop".into());
                    }
                }
            }
        }
        "/v1/embeddings" | "/api/v1/embeddings" => {
            // `encoding_format: "base64"` makes each embedding a base64 string of
            // little-endian floats (both vendors' docs); the schemas know only the array.
            for item in obj
                .get_mut("data")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let base64 = item["embedding"].as_str().is_some_and(|e| {
                    !e.is_empty()
                        && e.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                });
                if base64 {
                    item["embedding"] = Value::Array(Vec::new());
                }
            }
        }
        _ => {}
    }
    doc
}

/// Every violation of an answer on `path` (one SSE event's data when `event`) of its
/// vendor's schema, after the documented exceptions (`quirks`). Answers the vendors do not
/// document have none.
pub fn answer_violations(path: &str, status: u16, event: bool, doc: &Value) -> Vec<String> {
    let path = path.split('?').next().unwrap_or(path);
    let midstream_error = event && doc.get("error").is_some();
    let found = match schema_for(path, status, event) {
        // Switchyard's own mid-stream error, in both dialects by design (README, "Mid-stream
        // errors are OpenRouter's error chunk in both"): a chunk with a top-level `error` and
        // `finish_reason: "error"`, which OpenAI's SDKs raise on before reading it as a
        // chunk. OpenAI's chunk schema does not describe it; OpenRouter's does.
        Some((schemas, name)) if midstream_error && std::ptr::eq(schemas, Schemas::openai()) => {
            match name.as_str() {
                "chat_chunk" => Some((Schemas::openrouter(), name)),
                _ => Some((schemas, "error".to_owned())),
            }
        }
        found => found,
    };
    let Some((schemas, name)) = found else {
        return Vec::new();
    };
    schemas
        .violations(&name, &quirks(path, doc))
        .into_iter()
        .map(|e| format!("{name}: {e}"))
        .collect()
}

/// The test helpers' hook: panics when an answer on `path` does not match its vendor's
/// schema.
pub fn conform(path: &str, status: u16, event: bool, doc: &Value) {
    let errors = answer_violations(path, status, event, doc);
    assert!(
        errors.is_empty(),
        "{path} ({status}) does not match its vendor's schema: {} violation(s):\n{}\n{doc:#}",
        errors.len(),
        errors.join("\n")
    );
}
