//! Typed, validated access to a function's parameters from a JSON config.

use serde_json::{Map, Value};

use crate::error::CoreError;

/// Typed access to a function's parameters. Errors name the field `objective.<key>`.
pub(super) struct Params<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// Wraps the parameters of a config.
    pub(super) fn new(map: &'a Map<String, Value>) -> Self {
        Params { map }
    }

    /// The raw value of `key`, if it is given.
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Whether `key` is given.
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A finite number.
    pub(super) fn f64(&self, key: &str, default: f64) -> Result<f64, CoreError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(x),
                _ => Err(param_error(key, format!("expected a finite number, got {v}"))),
            },
        }
    }

    /// A finite number that is at least `min`.
    pub(super) fn f64_at_least(&self, key: &str, default: f64, min: f64) -> Result<f64, CoreError> {
        let x = self.f64(key, default)?;
        if x < min {
            return Err(param_error(key, format!("must be at least {min}, got {x}")));
        }
        Ok(x)
    }

    /// A finite number that is above zero.
    pub(super) fn f64_positive(&self, key: &str, default: f64) -> Result<f64, CoreError> {
        let x = self.f64(key, default)?;
        if x <= 0.0 {
            return Err(param_error(key, format!("must be above 0, got {x}")));
        }
        Ok(x)
    }

    /// A boolean.
    pub(super) fn bool(&self, key: &str, default: bool) -> Result<bool, CoreError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => {
                v.as_bool().ok_or_else(|| param_error(key, format!("expected true or false, got {v}")))
            }
        }
    }

    /// A non-negative integer.
    pub(super) fn u64(&self, key: &str, default: u64) -> Result<u64, CoreError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| param_error(key, format!("expected a non-negative integer, got {v}"))),
        }
    }

    /// An integer that must be one of `allowed`.
    pub(super) fn choice(&self, key: &str, default: u64, allowed: &[u64]) -> Result<u64, CoreError> {
        let v = self.u64(key, default)?;
        if !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().map(u64::to_string).collect();
            return Err(param_error(key, format!("must be one of {}, got {v}", list.join(", "))));
        }
        Ok(v)
    }

    /// A positive integer.
    pub(super) fn count(&self, key: &str, default: usize) -> Result<usize, CoreError> {
        let v = self.u64(key, default as u64)?;
        match usize::try_from(v) {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
            Ok(n) if n > MAX_COUNT => Err(param_error(key, format!("must be at most {MAX_COUNT}, got {v}"))),
            _ => Err(param_error(key, format!("must be a positive integer, got {v}"))),
        }
    }
}

/// The largest count parameter (`n_train`): a count sizes the function's data, so a typo must not
/// allocate gigabytes.
const MAX_COUNT: usize = 1_000_000;

/// A [`CoreError::Config`] for the parameter `key`.
pub(super) fn param_error(key: &str, message: impl Into<String>) -> CoreError {
    CoreError::config(format!("objective.{key}"), message)
}
