//! Reading a JSON object of a config field by field, with errors that name the field by its path
//! (`generator.focus`, `optimizers[1].workers`, `max_jobs`) and say what is wrong in words, and that
//! reject unknown fields with the valid names and the likeliest one ([`crate::expr::closest`]).
//!
//! ```
//! use glompo_core::fields::Fields;
//! let options = serde_json::json!({"Max-Evals": 500, "focus": 2}).as_object().cloned().unwrap();
//! let mut f = Fields::new("generator", options);
//! assert_eq!(f.u64("max_evals", 0).unwrap(), 500);
//! assert_eq!(f.finish().unwrap_err().to_string(), "generator.focus: unknown option; expected one of max_evals");
//! ```
//!
//! Keys are normalised (lowercase, `_` for `-`) and `null` stands for an absent field, so that a
//! resolved config, which writes `null` for every default it left unset, reads back the same.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{CoreError, Result};
use crate::expr::{expected_one_of, normalise_name};

/// The longest time a config may give in seconds: a year. Durations far beyond it are typos, and
/// they would overflow the clocks that deadlines are computed on.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// The largest whole number a config may give: 2^53, below which every whole number is exact in a
/// JSON number read as floating point (`1e6` is accepted as one million).
const MAX_WHOLE: f64 = 9_007_199_254_740_992.0;

/// The options of one component, or the fields of one object of a config, consumed field by field;
/// [`Fields::finish`] rejects the rest.
#[derive(Debug)]
pub struct Fields {
    prefix: String,
    map: Map<String, Value>,
    known: Vec<&'static str>,
    /// A key given twice in two spellings (`max_jobs` and `max-jobs`).
    twice: Option<String>,
}

impl Fields {
    /// The fields of `map`, named `prefix.<name>` in errors (just `<name>` when `prefix` is empty).
    pub fn new(prefix: &str, map: Map<String, Value>) -> Self {
        let mut normalised = Map::new();
        let mut twice = None;
        for (key, value) in map {
            let key = normalise_name(&key);
            if normalised.contains_key(&key) {
                twice.get_or_insert(key.clone());
            }
            normalised.insert(key, value);
        }
        Fields { prefix: prefix.to_owned(), map: normalised, known: Vec::new(), twice }
    }

    /// The path of `field` as errors name it: `prefix.field`.
    pub fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() { field.to_owned() } else { format!("{}.{field}", self.prefix) }
    }

    /// An error about `field`.
    pub fn error(&self, field: &str, message: impl Into<String>) -> CoreError {
        CoreError::config(self.path(field), message)
    }

    /// The error for a required `field` that is absent: `message`, or, when a field that is not read
    /// yet looks like a misspelling of it, that field as an unknown option (the likelier mistake).
    pub fn missing(&self, field: &str, message: &str) -> CoreError {
        self.misspelt(&[field]).unwrap_or_else(|| self.error(field, message))
    }

    /// The error for a field not read yet that looks like a misspelling of one of `fields`, if any.
    pub fn misspelt(&self, fields: &[&str]) -> Option<CoreError> {
        self.map.iter().filter(|(_, v)| !v.is_null()).find_map(|(key, _)| {
            let near = crate::expr::closest(key, fields)?;
            Some(self.error(key, format!("unknown option; did you mean `{near}`?")))
        })
    }

    /// The raw value of `field`, or `None` when it is absent or `null`; the field counts as known.
    pub fn take(&mut self, field: &'static str) -> Option<Value> {
        self.known.push(field);
        self.map.remove(field).filter(|v| !v.is_null())
    }

    /// Whether `field` is given (and not `null`).
    pub fn has(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(|v| !v.is_null())
    }

    /// An object, or `None` when absent.
    pub fn object(&mut self, field: &'static str) -> Result<Option<Map<String, Value>>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(v) => Err(self.error(field, format!("expected an object {{…}}, found {}", found(&v)))),
        }
    }

    /// A number, or `default` when absent.
    pub fn f64(&mut self, field: &'static str, default: f64) -> Result<f64> {
        match self.take(field) {
            None => Ok(default),
            Some(v) => {
                v.as_f64().ok_or_else(|| self.error(field, format!("expected a number, found {}", found(&v))))
            }
        }
    }

    /// A whole number ≥ 0 (written `500` or `5e2`), or `default` when absent.
    pub fn u64(&mut self, field: &'static str, default: u64) -> Result<u64> {
        Ok(self.whole(field)?.unwrap_or(default))
    }

    /// A whole number ≥ 0, or `None` when absent.
    pub fn whole(&mut self, field: &'static str) -> Result<Option<u64>> {
        match self.take(field) {
            None => Ok(None),
            Some(v) => whole(&v).map(Some).ok_or_else(|| {
                self.error(field, format!("expected a whole number ≥ 0, found {}", found(&v)))
            }),
        }
    }

    /// A whole number in `min..=max`, or `default` when absent.
    pub fn count(&mut self, field: &'static str, default: u64, min: u64, max: u64) -> Result<u64> {
        let n = self.u64(field, default)?;
        if n < min {
            return Err(self.error(field, format!("must be at least {min}, found {n}")));
        }
        if n > max {
            return Err(self.error(field, format!("must be at most {max}, found {n}")));
        }
        Ok(n)
    }

    /// A boolean, or `default` when absent.
    pub fn bool(&mut self, field: &'static str, default: bool) -> Result<bool> {
        match self.take(field) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.error(field, format!("expected true or false, found {}", found(&v)))),
        }
    }

    /// A string, or `None` when absent.
    pub fn string(&mut self, field: &'static str) -> Result<Option<String>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.error(field, format!("expected a string, found {}", found(&v)))),
        }
    }

    /// A name that must be one of `valid` (compared normalised), returned normalised; `default` when
    /// absent.
    pub fn choice(&mut self, field: &'static str, default: &str, valid: &[&str]) -> Result<String> {
        let name = match self.take(field) {
            None => default.to_owned(),
            Some(Value::String(s)) => s,
            Some(v) => return Err(self.error(field, format!("expected a name, found {}", found(&v)))),
        };
        let norm = normalise_name(&name);
        if valid.iter().any(|v| normalise_name(v) == norm) {
            Ok(norm)
        } else {
            Err(self.error(field, format!("unknown value `{name}`; {}", expected_one_of(&name, valid))))
        }
    }

    /// A duration in seconds, > 0 and at most [`MAX_SECONDS`], or `None` when absent.
    pub fn seconds(&mut self, field: &'static str) -> Result<Option<Duration>> {
        let Some(v) = self.take(field) else { return Ok(None) };
        match v.as_f64() {
            Some(t) if t > 0.0 && t <= MAX_SECONDS => Duration::try_from_secs_f64(t)
                .map(Some)
                .map_err(|_| self.error(field, format!("{t} is not a number of seconds"))),
            Some(t) if t > MAX_SECONDS => Err(self.error(
                field,
                format!(
                    "{} seconds is too long; the limit is {MAX_SECONDS} seconds (a year)",
                    crate::expr::fmt_num(t)
                ),
            )),
            _ => Err(self.error(field, format!("expected seconds > 0, found {}", found(&v)))),
        }
    }

    /// A list of numbers, or `None` when absent.
    pub fn f64s(&mut self, field: &'static str) -> Result<Option<Vec<f64>>> {
        self.list(field, ("numbers", "a number"), Value::as_f64)
    }

    /// A list of whole numbers ≥ 0, or `None` when absent.
    pub fn u64s(&mut self, field: &'static str) -> Result<Option<Vec<u64>>> {
        self.list(field, ("whole numbers ≥ 0", "a whole number ≥ 0"), whole)
    }

    fn list<T>(
        &mut self,
        field: &'static str,
        (what, one): (&str, &str),
        item: fn(&Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    let Some(x) = item(v) else {
                        let path = format!("{}[{i}]", self.path(field));
                        return Err(CoreError::config(path, format!("expected {one}, found {}", found(v))));
                    };
                    out.push(x);
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.error(field, format!("expected a list of {what}, found {}", found(&v)))),
        }
    }

    /// Fails on the first field that is not one of `valid`, before any is read: a misspelt field is
    /// reported as such rather than as the field it was meant to be missing.
    pub fn only(&self, valid: &[&str]) -> Result<()> {
        self.check_twice()?;
        match self.map.keys().find(|k| !valid.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(self.unknown(key, valid)),
        }
    }

    /// Fails on any field that was not read, listing the ones that were.
    pub fn finish(self) -> Result<()> {
        self.check_twice()?;
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) if self.known.is_empty() => {
                Err(self.error(key, format!("unknown option; `{}` takes none", self.prefix)))
            }
            Some(key) => Err(self.unknown(key, &self.known)),
        }
    }

    /// The fields not read yet, for a component that reads its options itself.
    pub fn rest(self) -> Result<Map<String, Value>> {
        self.check_twice()?;
        Ok(self.map)
    }

    fn check_twice(&self) -> Result<()> {
        match &self.twice {
            Some(key) => Err(self.error(key, "given twice (in two spellings)")),
            None => Ok(()),
        }
    }

    fn unknown(&self, key: &str, valid: &[&str]) -> CoreError {
        let noun = if self.prefix.is_empty() { "field" } else { "option" };
        self.error(key, format!("unknown {noun}; {}", expected_one_of(key, valid)))
    }
}

/// A whole number ≥ 0: an integer, or a float without fraction below 2^53 (`1e6`).
fn whole(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= MAX_WHOLE).map(|f| f as u64))
}

/// How many characters of a wrong value a message shows.
const SHOWN: usize = 60;

/// A value as a message shows it: its JSON text, cut short when it is long.
///
/// ```
/// assert_eq!(glompo_core::fields::found(&serde_json::json!("yes")), "\"yes\"");
/// assert!(glompo_core::fields::found(&serde_json::json!("x".repeat(500))).ends_with("…"));
/// ```
pub fn found(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Splits a component config, a name or `{"type": name, options…}`, into its normalised name, its
/// options and the path where the name was written (`generator` or `generator.type`).
pub fn component(prefix: &str, value: &Value) -> Result<(String, Map<String, Value>, String)> {
    match value {
        Value::String(name) => Ok((normalise_name(name), Map::new(), prefix.to_owned())),
        Value::Object(map) => {
            let mut map = map.clone();
            let at = format!("{prefix}.type");
            match map.remove("type") {
                Some(Value::String(name)) => Ok((normalise_name(&name), map, at)),
                Some(other) => {
                    Err(CoreError::config(at, format!("expected a name, found {}", found(&other))))
                }
                None => Err(CoreError::config(at, "missing")),
            }
        }
        other => Err(CoreError::config(
            prefix,
            format!("expected a name or an object with a `type`, found {}", found(other)),
        )),
    }
}

/// The error for a component name that is not one of `valid`, at the path [`component`] returned.
pub fn unknown_component(at: String, kind: &str, name: &str, valid: &[&str]) -> CoreError {
    CoreError::config(at, format!("unknown {kind} `{name}`; {}", expected_one_of(name, valid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(prefix: &str, v: Value) -> Fields {
        Fields::new(prefix, v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn values_are_read_with_their_paths_in_errors() {
        let mut f = fields("", serde_json::json!({"max_jobs": 1e3, "seed": -1, "flag": "yes", "gone": null}));
        assert_eq!(f.u64("max_jobs", 0).unwrap(), 1000);
        assert_eq!(f.u64("seed", 0).unwrap_err().to_string(), "seed: expected a whole number ≥ 0, found -1");
        assert_eq!(
            f.bool("flag", false).unwrap_err().to_string(),
            "flag: expected true or false, found \"yes\""
        );
        assert!(f.bool("gone", true).unwrap(), "null is the default");
        let mut f = fields("optimizers[1]", serde_json::json!({"workers": 0, "x": [1, "a"]}));
        assert_eq!(
            f.count("workers", 1, 1, 8).unwrap_err().to_string(),
            "optimizers[1].workers: must be at least 1, found 0"
        );
        assert_eq!(
            f.f64s("x").unwrap_err().to_string(),
            "optimizers[1].x[1]: expected a number, found \"a\""
        );
    }

    #[test]
    fn seconds_are_positive_and_at_most_a_year() {
        let mut f = fields("objective", serde_json::json!({"a": 1e300, "b": 0, "c": 2.5, "d": "x"}));
        assert_eq!(
            f.seconds("a").unwrap_err().to_string(),
            "objective.a: 1e300 seconds is too long; the limit is 31536000 seconds (a year)"
        );
        assert_eq!(f.seconds("b").unwrap_err().to_string(), "objective.b: expected seconds > 0, found 0");
        assert_eq!(f.seconds("c").unwrap(), Some(Duration::from_millis(2500)));
        assert!(f.seconds("d").is_err());
        assert_eq!(f.seconds("e").unwrap(), None);
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let f = fields("", serde_json::json!({"max_job": 2}));
        assert_eq!(
            f.only(&["max_jobs", "seed"]).unwrap_err().to_string(),
            "max_job: unknown field; did you mean `max_jobs`? expected one of max_jobs, seed"
        );
        let mut f = fields("generator", serde_json::json!({"focsu": 2}));
        f.f64("focus", 1.0).unwrap();
        assert_eq!(
            f.finish().unwrap_err().to_string(),
            "generator.focsu: unknown option; did you mean `focus`? expected one of focus"
        );
        let f = fields("selector", serde_json::json!({"threshold": [1]}));
        assert_eq!(
            f.missing("thresholds", "missing").to_string(),
            "selector.threshold: unknown option; did you mean `thresholds`?"
        );
        assert_eq!(f.missing("x0", "missing").to_string(), "selector.x0: missing");
        let f = fields("", serde_json::json!({"max_jobs": 2, "Max-Jobs": 3}));
        assert_eq!(
            f.only(&["max_jobs"]).unwrap_err().to_string(),
            "max_jobs: given twice (in two spellings)"
        );
        let mut f = fields("", serde_json::json!({"backend": "thread"}));
        assert_eq!(
            f.choice("backend", "threads", &["threads", "processes"]).unwrap_err().to_string(),
            "backend: unknown value `thread`; did you mean `threads`? expected one of threads, processes"
        );
    }

    #[test]
    fn long_values_are_cut_short() {
        let shown = found(&serde_json::json!("é".repeat(100)));
        assert_eq!(shown.chars().count(), SHOWN + 1);
    }
}
