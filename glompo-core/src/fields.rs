//! Reading the options of a component from a JSON object, with errors that name the field
//! (`generator.focus`) and reject unknown ones, listing the valid names.

use serde_json::{Map, Value};

use crate::error::{CoreError, Result};

/// The options of one component, consumed field by field; [`Fields::finish`] rejects the rest.
#[derive(Debug)]
pub(crate) struct Fields {
    prefix: String,
    map: Map<String, Value>,
    known: Vec<&'static str>,
}

impl Fields {
    /// The options in `map`, whose fields are named `prefix.<name>` in errors.
    pub(crate) fn new(prefix: &str, map: Map<String, Value>) -> Self {
        let map = map.into_iter().map(|(k, v)| (crate::expr::normalise_name(&k), v)).collect();
        Fields { prefix: prefix.to_owned(), map, known: Vec::new() }
    }

    fn name(&self, field: &str) -> String {
        format!("{}.{field}", self.prefix)
    }

    fn take(&mut self, field: &'static str) -> Option<Value> {
        self.known.push(field);
        self.map.remove(field)
    }

    /// A number, or `default` when absent.
    pub(crate) fn f64(&mut self, field: &'static str, default: f64) -> Result<f64> {
        match self.take(field) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| CoreError::config(self.name(field), format!("expected a number, found {v}"))),
        }
    }

    /// A whole number ≥ 0, or `default` when absent.
    pub(crate) fn u64(&mut self, field: &'static str, default: u64) -> Result<u64> {
        match self.take(field) {
            None => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| {
                CoreError::config(self.name(field), format!("expected a whole number ≥ 0, found {v}"))
            }),
        }
    }

    /// A boolean, or `default` when absent.
    pub(crate) fn bool(&mut self, field: &'static str, default: bool) -> Result<bool> {
        match self.take(field) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| {
                CoreError::config(self.name(field), format!("expected true or false, found {v}"))
            }),
        }
    }

    /// A list of numbers, or `None` when absent.
    pub(crate) fn f64s(&mut self, field: &'static str) -> Result<Option<Vec<f64>>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_f64())
                .collect::<Option<Vec<f64>>>()
                .map(Some)
                .ok_or_else(|| CoreError::config(self.name(field), "expected a list of numbers")),
            Some(v) => {
                Err(CoreError::config(self.name(field), format!("expected a list of numbers, found {v}")))
            }
        }
    }

    /// A list of whole numbers, or `None` when absent.
    pub(crate) fn u64s(&mut self, field: &'static str) -> Result<Option<Vec<u64>>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                items.iter().map(|v| v.as_u64()).collect::<Option<Vec<u64>>>().map(Some).ok_or_else(|| {
                    CoreError::config(self.name(field), "expected a list of whole numbers ≥ 0")
                })
            }
            Some(v) => Err(CoreError::config(
                self.name(field),
                format!("expected a list of whole numbers, found {v}"),
            )),
        }
    }

    /// Fails on any field that was not read, listing the ones that were.
    pub(crate) fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) if self.known.is_empty() => Err(CoreError::config(
                self.name(key),
                format!("unknown option; `{}` takes none", self.prefix),
            )),
            Some(key) => Err(CoreError::config(
                self.name(key),
                format!("unknown option; expected one of {}", self.known.join(", ")),
            )),
        }
    }
}

/// Splits a component config, a name or `{"type": name, options…}`, into its normalised name and options.
pub(crate) fn component(prefix: &str, value: &Value) -> Result<(String, Map<String, Value>)> {
    match value {
        Value::String(name) => Ok((crate::expr::normalise_name(name), Map::new())),
        Value::Object(map) => {
            let mut map = map.clone();
            match map.remove("type") {
                Some(Value::String(name)) => Ok((crate::expr::normalise_name(&name), map)),
                Some(other) => Err(CoreError::config(
                    format!("{prefix}.type"),
                    format!("expected a name, found {other}"),
                )),
                None => Err(CoreError::config(format!("{prefix}.type"), "missing")),
            }
        }
        other => Err(CoreError::config(
            prefix,
            format!("expected a name or an object with a `type`, found {other}"),
        )),
    }
}
