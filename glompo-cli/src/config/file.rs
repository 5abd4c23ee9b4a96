//! Reading a config file: at most [`MAX_CONFIG_BYTES`], strict JSON (a field given twice is an error,
//! not a silent choice of the last one) with whole-line `//` comments, and an object at the top.

use std::io::Read;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The largest config file read: a config is a few kilobytes of JSON, and a wrong path (`/dev/zero`,
/// a data file) must not fill the memory.
pub(crate) const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The top-level object of the config file at `path`; errors say what is wrong with the file.
pub(crate) fn read(path: &Path) -> Result<Map<String, Value>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "the file is larger than {} MiB; a config is a small JSON file (is this the right file?)",
            MAX_CONFIG_BYTES >> 20
        ));
    }
    blank_comment_lines(&mut bytes);
    let Strict(value) = serde_json::from_slice(&bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(not_an_object(&other)),
    }
}

/// Blanks every line whose first non-blank characters are `//` (a comment, as `glompo init` writes
/// them), keeping its newline so that JSON errors still give the file's line numbers. A JSON string
/// cannot hold a raw newline, so such a line is never inside one.
fn blank_comment_lines(bytes: &mut [u8]) {
    for line in bytes.split_mut(|&b| b == b'\n') {
        let start = line.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(line.len());
        if line[start..].starts_with(b"//") {
            line.fill(b' ');
        }
    }
}

/// What is wrong with a config that is `value`, not an object.
pub(crate) fn not_an_object(value: &Value) -> String {
    format!(
        "expected a JSON object of the run's fields ({{\"objective\": …, \"optimizers\": …}}), found {}",
        glompo_core::fields::found(value)
    )
}

/// A JSON value read like [`Value`], except that an object with a key given twice is an error.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("the field `{key}` is given twice")));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &[u8]) -> Result<Map<String, Value>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("c.json");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        read(&path)
    }

    #[test]
    fn duplicate_fields_and_non_objects_are_refused() {
        let err = read_text(br#"{"a": {"b": 1, "b": 2}}"#).unwrap_err();
        assert_eq!(err, "invalid JSON: the field `b` is given twice at line 1 column 18");
        assert_eq!(read_text(br#"{"a": [1, {"b": null}]}"#).unwrap()["a"][1]["b"], Value::Null);
        let err = read_text(b"[1, 2]").unwrap_err();
        assert!(err.starts_with("expected a JSON object of the run's fields"), "{err}");
        assert!(err.ends_with("found [1,2]"), "{err}");
        let err = read_text(b"{\"a\": ").unwrap_err();
        assert_eq!(err, "invalid JSON: EOF while parsing a value at line 1 column 6");
    }

    #[test]
    fn the_size_is_limited() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err,
            "the file is larger than 16 MiB; a config is a small JSON file (is this the right file?)"
        );
        let mut big = b"{\"a\": \"".to_vec();
        big.resize(MAX_CONFIG_BYTES as usize - 2, b'x');
        big.extend_from_slice(b"\"}");
        assert_eq!(read_text(&big).unwrap()["a"].as_str().map(str::len), Some(MAX_CONFIG_BYTES as usize - 9));
    }
}
