//! A small JSON Schema checker for the OpenRouter response schemas in
//! tests/fixtures/openrouter/catalog-schema.json (see the script beside it). It knows the
//! keywords that file uses: `$ref`, `type`, `enum`, `required`, `properties`, `items`,
//! `additionalProperties`, `allOf`, `anyOf`. The `jsonschema` crate would do this too, but it
//! brings some twenty crates (regex engines, IDNA, URL parsing) into the build for one file.

use serde_json::Value;

/// Enums that name OpenRouter's own world and that its SDKs read as open (any string goes):
/// a self-hosted gateway's providers are not on OpenRouter's list.
const OPEN_ENUMS: &[&str] = &["#/$defs/ProviderName"];

pub struct Schemas(Value);

impl Schemas {
    pub fn load() -> Schemas {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/openrouter/catalog-schema.json"
        );
        Schemas(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    /// Panics with every violation when `doc` does not match the response schema `name`
    /// (`models`, `count`, `endpoints`, `providers`, `not_found`).
    pub fn check(&self, name: &str, doc: &Value) {
        let schema = &self.0["responses"][name];
        assert!(!schema.is_null(), "no schema `{name}`");
        let mut errors = Vec::new();
        self.walk(schema, doc, "$", false, &mut errors);
        assert!(
            errors.is_empty(),
            "{name}: {} violation(s):\n{}\n{doc:#}",
            errors.len(),
            errors.join("\n")
        );
    }

    fn walk(&self, s: &Value, v: &Value, at: &str, open: bool, errors: &mut Vec<String>) {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            let target = &self.0["$defs"][name];
            assert!(!target.is_null(), "unresolved {r}");
            self.walk(target, v, at, OPEN_ENUMS.contains(&r), errors);
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
                errors.push(format!("{at}: {v} is not one of the enum's values"));
            }
        }
        for sub in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.walk(sub, v, at, false, errors);
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            let fits = any.iter().any(|sub| {
                let mut e = Vec::new();
                self.walk(sub, v, at, false, &mut e);
                e.is_empty()
            });
            if !fits {
                errors.push(format!("{at}: {v} matches none of anyOf"));
            }
        }
        if let Some(obj) = v.as_object() {
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap();
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
