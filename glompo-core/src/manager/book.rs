//! The run book: everything the manager knows and decides from, as data.
//!
//! The event loop keeps its state here rather than in locals, so that a checkpoint can write it and a
//! resumed run can start from it: counters, every optimizer's record, the best point, the hunt and
//! crash bookkeeping, and the wall-clock periods the run has lived.

use serde::{Deserialize, Serialize};

use super::{Best, Counters};
use crate::record::OptimizerRecord;

/// One stretch of wall-clock time a run was alive (a resumed run has one per session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Period {
    /// Seconds since the Unix epoch when it began.
    pub(crate) start_unix: f64,
    /// When it ended; `None` while it lasts.
    pub(crate) end_unix: Option<f64>,
    /// Its length on the manager's monotonic clock (set when it ends).
    pub(crate) seconds: f64,
}

/// What a run is, apart from its components and its runners.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunBook {
    /// The counters.
    pub(crate) counters: Counters,
    /// Every optimizer started, by id (`records[id - 1]`).
    pub(crate) records: Vec<OptimizerRecord>,
    /// The best finite evaluation so far.
    pub(crate) best: Option<Best>,
    /// The evaluation count at the last hunt.
    pub(crate) last_hunt: u64,
    /// Optimizers in a row that crashed before their first evaluation, and the last one's error.
    pub(crate) immediate_crashes: u32,
    pub(crate) last_crash: String,
    /// Whether new optimizers may still start, and why not once they may not.
    pub(crate) spawning: bool,
    pub(crate) spawn_note: Option<String>,
    /// The sessions of the run; the last one is the current one.
    pub(crate) periods: Vec<Period>,
    /// The checkpoints written, and the file names of those kept, oldest first.
    pub(crate) checkpoints: u64,
    pub(crate) checkpoint_files: Vec<String>,
}

impl RunBook {
    /// The book of a new run, starting now.
    pub(crate) fn new(start_unix: f64) -> Self {
        RunBook {
            counters: Counters::default(),
            records: Vec::new(),
            best: None,
            last_hunt: 0,
            immediate_crashes: 0,
            last_crash: String::new(),
            spawning: true,
            spawn_note: None,
            periods: vec![Period { start_unix, end_unix: None, seconds: 0.0 }],
            checkpoints: 0,
            checkpoint_files: Vec::new(),
        }
    }

    /// The seconds of the sessions before the current one.
    pub(crate) fn earlier_seconds(&self) -> f64 {
        let n = self.periods.len().saturating_sub(1);
        self.periods[..n].iter().map(|p| p.seconds).sum()
    }

    /// The book of a resumed run: this one, with a new session starting now.
    pub(crate) fn resumed(mut self, start_unix: f64) -> Self {
        self.periods.push(Period { start_unix, end_unix: None, seconds: 0.0 });
        self
    }

    /// Ends the current session at `end_unix`, after `seconds` on the manager's clock.
    pub(crate) fn close_period(&mut self, end_unix: f64, seconds: f64) {
        if let Some(p) = self.periods.last_mut() {
            p.end_unix = Some(end_unix);
            p.seconds = seconds;
        }
    }
}
