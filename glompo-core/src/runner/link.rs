//! The data of the link between the manager and a runner that is not plain evaluations: a saved
//! state, and how to resume from one.

use serde::{Deserialize, Serialize};

use super::EvalRecord;

/// A runner's answer to a save request ([`Message::Saved`](super::Message::Saved)), made at a batch
/// boundary: after a `tell` and before the next `ask`.
///
/// On the wire it is `{"state": …, "evaluations": n, "replayed": k}`, or `{"error": "why", …}` when
/// the optimizer could not save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "SavedWire", try_from = "SavedWire")]
pub struct SavedState {
    /// [`Optimizer::save`](crate::Optimizer::save)'s state, or why it failed (the runner goes on).
    pub state: Result<serde_json::Value, String>,
    /// The evaluations whose results this runner had sent when it saved. All of them were told to the
    /// optimizer, and all were sent before this answer: a manager that reads it has read exactly the
    /// results the state includes.
    pub evaluations: u64,
    /// The evaluations of [`ResumeFrom::pending`] that a resumed runner had replayed into the
    /// optimizer (they are in the state too, but were not sent again); 0 for a runner that was not
    /// resumed.
    pub replayed: u64,
}

/// [`SavedState`] as JSON: exactly one of `state` and `error`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    evaluations: u64,
    #[serde(default)]
    replayed: u64,
}

impl From<SavedState> for SavedWire {
    fn from(s: SavedState) -> Self {
        let (state, error) = match s.state {
            Ok(state) => (Some(state), None),
            Err(error) => (None, Some(error)),
        };
        SavedWire { state, error, evaluations: s.evaluations, replayed: s.replayed }
    }
}

impl TryFrom<SavedWire> for SavedState {
    type Error = String;

    fn try_from(w: SavedWire) -> Result<Self, String> {
        let state = match (w.state, w.error) {
            (Some(state), None) => Ok(state),
            (None, Some(error)) => Err(error),
            (Some(_), Some(_)) => return Err("a saved state has both `state` and `error`".into()),
            (None, None) => return Err("a saved state has neither `state` nor `error`".into()),
        };
        Ok(SavedState { state, evaluations: w.evaluations, replayed: w.replayed })
    }
}

/// Where a runner resumes from ([`RunnerRecipe::resume`](super::RunnerRecipe::resume)): the state its
/// optimizer restores before its first `ask`, and the evaluations of this optimizer that were logged
/// after that state was saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeFrom {
    /// A state made by [`Optimizer::save`](crate::Optimizer::save) of the same type; `None`: the
    /// optimizer starts fresh from the recipe (one that never saved) and replays from its first
    /// evaluation.
    #[serde(default)]
    pub state: Option<serde_json::Value>,
    /// Evaluations already logged after `state`, in log order. While some are left, an asked point
    /// bitwise equal to one of them gets its record instead of an evaluation, is not sent again and
    /// takes no credit. Replay ends at the first batch none of whose points is pending; the runner
    /// then drops what is left and reports [`Message::Replayed`](super::Message::Replayed) once.
    #[serde(default)]
    pub pending: Vec<PendingEval>,
}

/// An evaluation that is already logged: its point and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingEval {
    /// The point, exactly.
    #[serde(with = "crate::exact::vec")]
    pub x: Vec<f64>,
    /// Its outcome, as the runner sent it.
    pub record: EvalRecord,
}
