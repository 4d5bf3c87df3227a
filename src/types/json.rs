//! `RawObject`: a JSON object parsed one level deep, whose member values stay as raw text.
//!
//! The gateway must forward request fields it does not know byte for byte and must rewrite
//! only a few top-level fields of responses and stream chunks (`model`, `provider`, `usage`).
//! Parsing just the top level keeps that exact and cheap: nested values are validated by the
//! parser but never rebuilt into a tree and never re-serialised.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

/// Members past which parsing indexes keys to find repeats.
const INDEX_FROM: usize = 32;

/// A member's key or value: a span of the parsed text, or text of its own (set later, or
/// parsed from a source the object does not keep).
#[derive(Debug, Clone)]
enum Part {
    Span(usize, usize),
    Owned(Box<str>),
}

/// A JSON object as an ordered list of (key, raw value) pairs.
///
/// A parsed object keeps the text it was parsed from and refers to its members by span, so
/// parsing allocates twice (the text's handle and the member list) however many members
/// there are, and cloning shares the text. Keys held as spans had no escapes in the source
/// (serde_json borrows only those), so their text is their value.
#[derive(Debug, Clone, Default)]
pub struct RawObject {
    src: Option<Arc<String>>,
    fields: Vec<(Part, Part)>,
}

/// A member's raw JSON text, borrowed from its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRef<'a>(&'a str);

impl<'a> From<&'a RawValue> for RawRef<'a> {
    fn from(raw: &'a RawValue) -> Self {
        RawRef(raw.get())
    }
}

impl<'a> RawRef<'a> {
    /// The member's JSON text, exactly as parsed or set.
    pub fn get(self) -> &'a str {
        self.0
    }

    /// An owned copy, to set on another object.
    pub fn to_raw_value(self) -> Box<RawValue> {
        // The text is one valid JSON value: it was parsed as one, or set from a `RawValue`.
        RawValue::from_string(self.0.to_owned()).unwrap_or_default()
    }
}

impl RawObject {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `bytes`, which must hold one JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse_string(text.to_owned()).map_err(|(e, _)| e),
            // serde_json's own error, which says where the bad bytes are.
            Err(_) => match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(e) => Err(e),
                Ok(_) => Err(serde::de::Error::custom("the body is not valid UTF-8")),
            },
        }
    }

    /// Parses `text`, which must hold one JSON object, keeping it as the object's text.
    /// A failure gives the text back, for the error message.
    pub fn parse_string(text: String) -> Result<Self, (serde_json::Error, String)> {
        let src = Arc::new(text);
        let parsed = {
            let mut de = serde_json::Deserializer::from_str(src.as_str());
            de.deserialize_map(SpanVisitor { base: src.as_str() })
                .and_then(|fields| de.end().map(|()| fields))
        };
        match parsed {
            Ok(fields) => Ok(RawObject {
                src: Some(src),
                fields,
            }),
            Err(e) => Err((e, Arc::unwrap_or_clone(src))),
        }
    }

    /// Builds an object from any serialisable value that serialises to a JSON object.
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        Self::parse_string(serde_json::to_string(value)?).map_err(|(e, _)| e)
    }

    fn text<'a>(&'a self, part: &'a Part) -> &'a str {
        match part {
            Part::Owned(s) => s,
            Part::Span(a, b) => self
                .src
                .as_deref()
                .and_then(|s| s.get(*a..*b))
                .unwrap_or("null"),
        }
    }

    /// Where `key` is. Lookups are frequent (every known field of a request, a few per
    /// stream chunk): compare lengths first and bytes without slicing checks.
    fn position(&self, key: &str) -> Option<usize> {
        let src = self.src.as_deref().map_or(&[][..], |s| s.as_bytes());
        let key = key.as_bytes();
        self.fields.iter().position(|(k, _)| match k {
            Part::Owned(s) => s.as_bytes() == key,
            Part::Span(a, b) => b - a == key.len() && src.get(*a..*b) == Some(key),
        })
    }

    pub fn get(&self, key: &str) -> Option<RawRef<'_>> {
        let i = self.position(key)?;
        Some(RawRef(self.text(&self.fields[i].1)))
    }

    /// Deserialises one member; `None` when the key is absent.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, serde_json::Error>> {
        self.get(key).map(|raw| serde_json::from_str(raw.get()))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| self.text(k))
    }

    /// Sets `key` to a raw value, replacing an existing member in place.
    pub fn insert_raw(&mut self, key: &str, value: Box<RawValue>) {
        self.set(key, Part::Owned(value.into()));
    }

    fn set(&mut self, key: &str, value: Part) {
        match self.position(key) {
            Some(i) => self.fields[i].1 = value,
            None => self.fields.push((Part::Owned(key.into()), value)),
        }
    }

    /// Sets `key` to the JSON form of `value`.
    pub fn insert<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        // Serialising plain data (strings, numbers, our own structs) cannot fail.
        if let Ok(text) = serde_json::to_string(value) {
            self.set(key, Part::Owned(text.into()));
        }
    }

    /// Sets `key` to a JSON string, without going through serde.
    pub fn insert_str(&mut self, key: &str, value: &str) {
        let mut out = Vec::with_capacity(value.len() + 2);
        write_json_string(&mut out, value);
        // `write_json_string` writes UTF-8 (its input's bytes, or serde_json's).
        if let Ok(text) = String::from_utf8(out) {
            self.set(key, Part::Owned(text.into()));
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let pos = self.position(key)?;
        let raw = RawRef(self.text(&self.fields[pos].1)).to_raw_value();
        self.fields.remove(pos);
        Some(raw)
    }

    /// Appends the object's JSON text to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match key {
                // A borrowed key had no escapes: its text is its JSON string's content.
                Part::Span(..) => {
                    out.push(b'"');
                    out.extend_from_slice(self.text(key).as_bytes());
                    out.push(b'"');
                }
                Part::Owned(k) => write_json_string(out, k),
            }
            out.push(b':');
            out.extend_from_slice(self.text(value).as_bytes());
        }
        out.push(b'}');
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_hint());
        self.write_to(&mut out);
        out
    }

    fn len_hint(&self) -> usize {
        2 + self
            .fields
            .iter()
            .map(|(k, v)| self.text(k).len() + self.text(v).len() + 4)
            .sum::<usize>()
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Keys and slugs are almost always plain ASCII; escape only when needed.
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Where `part` lies in `base`, when serde_json lent it from there.
fn span_in(base: &str, part: &str) -> Option<Part> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(Part::Span(start, end))
}

/// A key, lent by the parser when it has no escapes.
struct KeySeed<'b> {
    base: &'b str,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Part;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Part, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Part;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Part, E> {
        Ok(span_in(self.base, v).unwrap_or_else(|| Part::Owned(v.into())))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Part, E> {
        Ok(Part::Owned(v.into()))
    }
}

/// Reads an object's members as spans of the text being parsed.
struct SpanVisitor<'b> {
    base: &'b str,
}

impl<'de> Visitor<'de> for SpanVisitor<'_> {
    type Value = Vec<(Part, Part)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let base = self.base;
        let mut members = Members::new(base, map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key_seed(KeySeed { base })? {
            let value: &'de RawValue = map.next_value()?;
            let value =
                span_in(base, value.get()).unwrap_or_else(|| Part::Owned(value.get().into()));
            members.push(key, value);
        }
        Ok(members.fields)
    }
}

fn text_of<'a>(base: &'a str, part: &'a Part) -> &'a str {
    match part {
        Part::Owned(s) => s,
        Part::Span(a, b) => base.get(*a..*b).unwrap_or(""),
    }
}

/// Members being collected: a repeated key keeps its last value, in its first place, as
/// most JSON parsers do. Small objects (every real request) scan for repeats; past a few
/// dozen members an index keeps a hostile body of distinct keys linear.
struct Members<'b> {
    base: &'b str,
    fields: Vec<(Part, Part)>,
    index: Option<HashMap<String, usize>>,
}

impl<'b> Members<'b> {
    fn new(base: &'b str, n: usize) -> Self {
        Members {
            base,
            fields: Vec::with_capacity(n.min(64)),
            index: None,
        }
    }

    fn push(&mut self, key: Part, value: Part) {
        let base = self.base;
        if self.index.is_none() && self.fields.len() >= INDEX_FROM {
            let built = self
                .fields
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (text_of(base, k).to_owned(), i));
            self.index = Some(built.collect());
        }
        let k = text_of(base, &key);
        match &mut self.index {
            None => match self.fields.iter().position(|(f, _)| text_of(base, f) == k) {
                Some(i) => self.fields[i].1 = value,
                None => self.fields.push((key, value)),
            },
            Some(ix) => match ix.get(k) {
                Some(&i) => self.fields[i].1 = value,
                None => {
                    ix.insert(k.to_owned(), self.fields.len());
                    self.fields.push((key, value));
                }
            },
        }
    }
}

impl<'de> serde::Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor;
        impl<'de> Visitor<'de> for ObjVisitor {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut members = Members::new("", map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    members.push(Part::Owned(key.into()), Part::Owned(value.into()));
                }
                Ok(RawObject {
                    src: None,
                    fields: members.fields,
                })
            }
        }
        deserializer.deserialize_map(ObjVisitor)
    }
}

impl Serialize for RawObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            // Borrowing re-reads the member's text, which is one valid JSON value.
            let raw: &RawValue =
                serde_json::from_str(self.text(v)).map_err(serde::ser::Error::custom)?;
            map.serialize_entry(self.text(k), raw)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_unknown_fields_byte_for_byte() {
        let src = br#"{"model":"x","weird":{"a":[1,2.50,"\u00e9"]},"n":1}"#;
        let mut obj = RawObject::parse(src).unwrap();
        obj.insert("model", "y");
        assert_eq!(
            String::from_utf8(obj.to_vec()).unwrap(),
            r#"{"model":"y","weird":{"a":[1,2.50,"\u00e9"]},"n":1}"#
        );
    }

    #[test]
    fn rejects_non_objects() {
        assert!(RawObject::parse(b"[1]").is_err());
        assert!(RawObject::parse(b"{\"a\":").is_err());
    }

    /// A hang guard, not a benchmark: an 8 MiB body of distinct keys once took a linear
    /// duplicate scan per key (minutes); it must parse in well under the bound.
    #[test]
    fn many_distinct_keys_parse_without_quadratic_work() {
        let n = 400_000;
        let mut body = String::from("{");
        for i in 0..n {
            body.push_str(&format!("\"k{i}\":{i},"));
        }
        body.push_str("\"k0\":\"last\"}");
        let started = std::time::Instant::now();
        let obj = RawObject::parse(body.as_bytes()).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(obj.keys().count(), n);
        // A repeated key still keeps its last value, in its first place.
        assert_eq!(obj.get("k0").unwrap().get(), "\"last\"");
        assert_eq!(obj.keys().next(), Some("k0"));
    }

    #[test]
    fn escaped_keys_and_spans_write_back_exactly() {
        let src = r#" {"a\"b" : [1, 2] ,"plain":"x\u00e9","n":null} "#;
        let obj = RawObject::parse(src.as_bytes()).unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), ["a\"b", "plain", "n"]);
        assert_eq!(obj.get("a\"b").unwrap().get(), "[1, 2]");
        assert_eq!(obj.get("plain").unwrap().get(), r#""x\u00e9""#);
        assert_eq!(
            String::from_utf8(obj.to_vec()).unwrap(),
            r#"{"a\"b":[1, 2],"plain":"x\u00e9","n":null}"#
        );
        // A clone shares the text; changing it leaves the original alone.
        let mut copy = obj.clone();
        copy.insert_str("plain", "y");
        copy.remove("n");
        assert_eq!(copy.to_vec(), br#"{"a\"b":[1, 2],"plain":"y"}"#);
        assert_eq!(obj.get("plain").unwrap().get(), r#""x\u00e9""#);
        // serde sees the same members.
        let v: serde_json::Value = serde_json::to_value(&obj).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a\"b": [1, 2], "plain": "x\u{e9}", "n": null})
        );
        let back: RawObject = serde_json::from_value(v).unwrap();
        assert_eq!(back.get("n").unwrap().get(), "null");
    }

    #[test]
    fn failures_give_the_text_back_and_name_bad_bytes() {
        let (_, text) = RawObject::parse_string("{\"a\":1} x".into()).unwrap_err();
        assert_eq!(text, "{\"a\":1} x");
        assert!(RawObject::parse(b"{\"a\":\"\xff\"}").is_err());
        assert!(RawObject::parse(b"{\"a\":1}\xff").is_err());
    }

    #[test]
    fn escapes_keys_when_needed() {
        let mut obj = RawObject::new();
        obj.insert("a\"b", &1);
        assert_eq!(obj.to_vec(), br#"{"a\"b":1}"#);
    }
}
