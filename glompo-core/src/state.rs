//! Saved states of the run's components: selectors, generators, hunters and checkers.
//!
//! Every component trait has `save(&self) -> serde_json::Value` and
//! `restore(&mut self, state) -> Result<(), StateError>`. A component whose later decisions depend
//! only on its configuration and on what the manager shows it is stateless: it saves `null` and
//! restores only `null` (the traits' defaults, [`stateless`]). A stateful component (one with an RNG, a
//! counter or points it remembers) saves a JSON object of its own shape and restores only that shape:
//! `null` is refused too, even for a component that has not stepped yet, because a stateful component
//! never saves `null` and a checkpoint that holds one for it was made with another configuration.
//! Restoring into a component built from the same configuration and seed makes it continue exactly
//! as the saved one would have: RNG positions are exact ([`crate::rng::RngState`]) and numbers
//! round-trip to the same bits (finite ones as JSON numbers, the others through [`crate::exact`]).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::rng::{RngState, SeededRng};

/// A saved state that a component cannot take: it names the component and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot restore the state of {component}: {message}")]
pub struct StateError {
    /// The component, as a user reads it: `selector cycle`, `hunter leaf 2, time_annealing(1)`.
    pub component: String,
    /// What is wrong with the state.
    pub message: String,
}

impl StateError {
    /// A state error of `component`.
    pub fn new(component: impl Into<String>, message: impl Into<String>) -> Self {
        StateError { component: component.into(), message: message.into() }
    }
}

/// The state of a component as JSON.
pub fn save<T: Serialize>(state: &T) -> Value {
    // The states are plain structs of numbers, strings, lists and options, whose serialization into a
    // `Value` cannot fail (only maps with non-string keys can).
    serde_json::to_value(state).expect("a component state serializes to JSON")
}

/// Reads the state of `component` saved by [`save`]; a state of another shape is an error naming the
/// component, and so is `null` (a stateful component never saves `null`).
pub fn load<T: DeserializeOwned>(component: &str, state: &Value) -> Result<T, StateError> {
    if state.is_null() {
        return Err(StateError::new(component, "found null; this component saves a state of its own"));
    }
    T::deserialize(state).map_err(|e| StateError::new(component, format!("{e}, in {}", excerpt(state))))
}

/// The default `restore` of a stateless component: `null` is its only state.
pub fn stateless(component: &str, state: &Value) -> Result<(), StateError> {
    if state.is_null() {
        Ok(())
    } else {
        Err(StateError::new(component, format!("it holds no state; expected null, found {}", excerpt(state))))
    }
}

/// An RNG rebuilt at the position `state` was saved at, for `component`.
pub fn rng(component: &str, state: &RngState) -> Result<SeededRng, StateError> {
    SeededRng::from_state(state).map_err(|e| StateError::new(component, format!("rng: {e}")))
}

/// The state of a component whose only state is its RNG: `{"rng": {"seed": …, "stream": …, "word_pos": "…"}}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RngOnly {
    pub(crate) rng: RngState,
}

/// The state of a component whose only state is `rng`.
pub(crate) fn save_rng(rng: &SeededRng) -> Value {
    save(&RngOnly { rng: rng.state() })
}

/// The RNG of a component whose only state is its RNG, from a state made by [`save_rng`].
pub(crate) fn load_rng(component: &str, state: &Value) -> Result<SeededRng, StateError> {
    let saved: RngOnly = load(component, state)?;
    rng(component, &saved.rng)
}

/// A point in a state, every coordinate exact (non-finite ones included).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub(crate) struct ExactPoint(#[serde(with = "crate::exact::vec")] pub(crate) Vec<f64>);

/// The most characters of a state an error quotes.
const EXCERPT_CHARS: usize = 120;

/// A state as an error quotes it: its JSON, cut after [`EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(state: &Value) -> String {
    let text = state.to_string();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Counter {
        next: u64,
    }

    #[test]
    fn states_round_trip_and_bad_ones_name_the_component() {
        let saved = save(&Counter { next: 3 });
        assert_eq!(saved, serde_json::json!({"next": 3}));
        assert_eq!(load::<Counter>("selector cycle", &saved).unwrap(), Counter { next: 3 });
        let err = |v: Value| load::<Counter>("selector cycle", &v).unwrap_err().to_string();
        assert_eq!(
            err(Value::Null),
            "cannot restore the state of selector cycle: found null; this component saves a state of its own"
        );
        assert_eq!(
            err(serde_json::json!({"next": "three"})),
            "cannot restore the state of selector cycle: invalid type: string \"three\", expected u64, in \
             {\"next\":\"three\"}"
        );
        assert!(err(serde_json::json!({"next": 1, "extra": 2})).contains("unknown field `extra`"));
        assert_eq!(stateless("checker max_evals(10)", &Value::Null), Ok(()));
        assert_eq!(
            stateless("checker max_evals(10)", &serde_json::json!([1])).unwrap_err().to_string(),
            "cannot restore the state of checker max_evals(10): it holds no state; expected null, found [1]"
        );
        let long = Value::String("x".repeat(500));
        assert!(stateless("c", &long).unwrap_err().message.ends_with("xxx…"));
    }
}
