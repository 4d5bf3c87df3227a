//! `RawObject`: a JSON object parsed one level deep, whose member values stay as raw text.
//!
//! The gateway must forward request fields it does not know byte for byte and must rewrite
//! only a few top-level fields of responses and stream chunks (`model`, `provider`, `usage`).
//! Parsing just the top level keeps that exact and cheap: nested values are validated by the
//! parser but never rebuilt into a tree and never re-serialised.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

/// Members past which parsing indexes keys to find repeats.
const INDEX_FROM: usize = 32;

/// A JSON object as an ordered list of (key, raw value) pairs.
#[derive(Debug, Clone, Default)]
pub struct RawObject {
    fields: Vec<(String, Box<RawValue>)>,
}

impl RawObject {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `bytes`, which must hold one JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Builds an object from any serialisable value that serialises to a JSON object.
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        let bytes = serde_json::to_vec(value)?;
        Self::parse(&bytes)
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Deserialises one member; `None` when the key is absent.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, serde_json::Error>> {
        self.get(key).map(|raw| serde_json::from_str(raw.get()))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    /// Sets `key` to a raw value, replacing an existing member in place.
    pub fn insert_raw(&mut self, key: &str, value: Box<RawValue>) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }

    /// Sets `key` to the JSON form of `value`.
    pub fn insert<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        // Serialising plain data (strings, numbers, our own structs) cannot fail.
        if let Ok(raw) = serde_json::value::to_raw_value(value) {
            self.insert_raw(key, raw);
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let pos = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.remove(pos).1)
    }

    /// Appends the object's JSON text to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(out, key);
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
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
            .map(|(k, v)| k.len() + v.get().len() + 4)
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

impl<'de> serde::Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor;
        impl<'de> Visitor<'de> for ObjVisitor {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut obj = RawObject {
                    fields: Vec::with_capacity(map.size_hint().unwrap_or(8)),
                };
                // Small objects (every real request) scan for repeated keys; past a few
                // dozen members an index keeps a hostile body of distinct keys linear.
                let mut index: Option<HashMap<String, usize>> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    if index.is_none() && obj.fields.len() >= INDEX_FROM {
                        let built = obj
                            .fields
                            .iter()
                            .enumerate()
                            .map(|(i, (k, _))| (k.clone(), i));
                        index = Some(built.collect());
                    }
                    // A repeated key keeps its last value, in its first place, as most JSON
                    // parsers do.
                    match &mut index {
                        None => obj.insert_raw(&key, value),
                        Some(ix) => match ix.get(&key) {
                            Some(&i) => obj.fields[i].1 = value,
                            None => {
                                ix.insert(key.clone(), obj.fields.len());
                                obj.fields.push((key, value));
                            }
                        },
                    }
                }
                Ok(obj)
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
            map.serialize_entry(k, v)?;
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
    fn escapes_keys_when_needed() {
        let mut obj = RawObject::new();
        obj.insert("a\"b", &1);
        assert_eq!(obj.to_vec(), br#"{"a\"b":1}"#);
    }
}
