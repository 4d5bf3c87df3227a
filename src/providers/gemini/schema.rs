//! JSON Schema preparation for Gemini, which rejects `$ref`/`$defs`: local references are
//! inlined and the definitions dropped. A reference that cannot be inlined (recursive, remote,
//! dangling) is an error: structured output must fail loudly, never degrade to prose.
//! Pure; no IO.

use serde_json::{Map, Value};

/// Inlining can grow a schema exponentially (a definition used twice by a definition used
/// twice ...); past this many nodes the request is refused instead.
const MAX_NODES: usize = 50_000;

/// Returns `schema` with every local `$ref` replaced by what it points at, or why it cannot.
pub fn inline_refs(schema: &Value) -> Result<Value, String> {
    let mut walker = Walker {
        root: schema,
        stack: Vec::new(),
        budget: MAX_NODES,
    };
    walker.schema(schema)
}

struct Walker<'a> {
    root: &'a Value,
    /// References being expanded, outermost first: one seen again is a cycle.
    stack: Vec<&'a str>,
    budget: usize,
}

impl<'a> Walker<'a> {
    /// A schema position: an object or a boolean schema.
    fn schema(&mut self, node: &'a Value) -> Result<Value, String> {
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or("the schema grows too large when its `$ref`s are inlined")?;
        let Value::Object(map) = node else {
            return Ok(node.clone());
        };
        let mut out = match map.get("$ref") {
            Some(Value::String(reference)) => match self.reference(reference)? {
                Value::Object(m) => m,
                // A reference to a boolean schema with no siblings stays a boolean.
                other if map.len() == 1 => return Ok(other),
                _ => return Err(format!("`$ref` `{reference}` points at a boolean schema")),
            },
            Some(_) => return Err("`$ref` must be a string".into()),
            None => Map::new(),
        };
        for (key, value) in map {
            let translated = match key.as_str() {
                "$ref" | "$defs" | "definitions" => continue,
                // Maps from names to subschemas.
                "properties" | "patternProperties" | "dependentSchemas" => match value {
                    Value::Object(named) => {
                        let mut m = Map::with_capacity(named.len());
                        for (name, sub) in named {
                            m.insert(name.clone(), self.schema(sub)?);
                        }
                        Value::Object(m)
                    }
                    other => other.clone(),
                },
                // Lists of subschemas.
                "anyOf" | "oneOf" | "allOf" | "prefixItems" => self.list(value)?,
                // One subschema (or, for old-style `items`, a list).
                "items"
                | "additionalItems"
                | "additionalProperties"
                | "not"
                | "contains"
                | "propertyNames"
                | "if"
                | "then"
                | "else"
                | "unevaluatedItems"
                | "unevaluatedProperties" => match value {
                    Value::Array(_) => self.list(value)?,
                    other => self.schema(other)?,
                },
                // Everything else is data (`enum`, `const`, `default`, `required`, ...) and may
                // legitimately contain a key called `$ref`.
                _ => value.clone(),
            };
            // Keywords beside a `$ref` refine the referenced schema (a description, say).
            out.insert(key.clone(), translated);
        }
        Ok(Value::Object(out))
    }

    fn list(&mut self, value: &'a Value) -> Result<Value, String> {
        match value {
            Value::Array(items) => items
                .iter()
                .map(|s| self.schema(s))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn reference(&mut self, reference: &'a str) -> Result<Value, String> {
        if self.stack.contains(&reference) {
            return Err(format!(
                "`$ref` `{reference}` is recursive, and Gemini accepts no `$ref`s, so the schema cannot be inlined"
            ));
        }
        let target = pointer(self.root, reference)?;
        self.stack.push(reference);
        let resolved = self.schema(target);
        self.stack.pop();
        resolved
    }
}

/// Resolves a local reference (`#`, `#/$defs/Name`, `#/definitions/a~1b`).
fn pointer<'a>(root: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let Some(path) = reference.strip_prefix('#') else {
        return Err(format!(
            "`$ref` `{reference}` is not local to the schema; Gemini accepts no `$ref`s and the gateway does not fetch schemas"
        ));
    };
    if path.is_empty() {
        return Ok(root);
    }
    let Some(path) = path.strip_prefix('/') else {
        return Err(format!(
            "`$ref` `{reference}` names an anchor; only JSON-pointer references (`#/$defs/...`) can be inlined"
        ));
    };
    let mut node = root;
    for raw in path.split('/') {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let next = match node {
            Value::Object(m) => m.get(&token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        node =
            next.ok_or_else(|| format!("`$ref` `{reference}` points at nothing in the schema"))?;
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inlines_defs_and_keeps_siblings() {
        let schema = json!({
            "type": "object",
            "$defs": {
                "Step": {"type": "object", "properties": {"say": {"type": "string"}}},
                "a/b": {"type": "integer"}
            },
            "properties": {
                "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
                "first": {"$ref": "#/$defs/Step", "description": "the first"},
                "n": {"$ref": "#/$defs/a~1b"},
                "$ref": {"type": "string"}
            },
            "required": ["steps"],
            "default": {"$ref": "not a reference, just data"}
        });
        let out = inline_refs(&schema).unwrap();
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "steps": {"type": "array", "items": {"type": "object", "properties": {"say": {"type": "string"}}}},
                    "first": {"type": "object", "properties": {"say": {"type": "string"}}, "description": "the first"},
                    "n": {"type": "integer"},
                    "$ref": {"type": "string"}
                },
                "required": ["steps"],
                "default": {"$ref": "not a reference, just data"}
            })
        );
    }

    #[test]
    fn definitions_and_nested_refs() {
        let schema = json!({
            "definitions": {"A": {"anyOf": [{"$ref": "#/definitions/B"}, {"type": "null"}]}, "B": {"type": "string"}},
            "$ref": "#/definitions/A"
        });
        assert_eq!(
            inline_refs(&schema).unwrap(),
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        );
    }

    #[test]
    fn refuses_what_cannot_be_inlined() {
        let recursive = json!({
            "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
            "$ref": "#/$defs/Node"
        });
        assert!(inline_refs(&recursive).unwrap_err().contains("recursive"));
        let root = json!({"type": "object", "properties": {"next": {"$ref": "#"}}});
        assert!(inline_refs(&root).unwrap_err().contains("recursive"));
        let remote = json!({"$ref": "https://example.com/schema.json"});
        assert!(inline_refs(&remote).unwrap_err().contains("not local"));
        let dangling = json!({"$ref": "#/$defs/Missing"});
        assert!(inline_refs(&dangling)
            .unwrap_err()
            .contains("points at nothing"));
        let anchor = json!({"$ref": "#node"});
        assert!(inline_refs(&anchor).unwrap_err().contains("anchor"));
    }

    #[test]
    fn exponential_growth_is_refused() {
        // Each level uses the previous one twice: 2^30 nodes once inlined.
        let mut defs = Map::new();
        defs.insert("L0".into(), json!({"type": "string"}));
        for i in 1..30 {
            let prev = format!("#/$defs/L{}", i - 1);
            defs.insert(
                format!("L{i}"),
                json!({"type": "object", "properties": {"a": {"$ref": prev}, "b": {"$ref": prev}}}),
            );
        }
        let schema = json!({"$defs": defs, "$ref": "#/$defs/L29"});
        assert!(inline_refs(&schema).unwrap_err().contains("too large"));
    }

    #[test]
    fn schemas_without_refs_are_unchanged() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string", "enum": ["x"]}}, "additionalProperties": false});
        assert_eq!(inline_refs(&schema).unwrap(), schema);
    }
}
