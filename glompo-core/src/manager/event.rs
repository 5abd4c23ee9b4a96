//! What happens in a run, as typed events, and the observers that receive them.
//!
//! The manager tells every observer of each event as it happens: the log writer (`evaluations.jsonl`,
//! `optimizers.jsonl`) is one observer, the status line another; a dashboard or a Python callback is
//! one more ([`ManagerBuilder::observer`](super::ManagerBuilder::observer)).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Progress, RunResult, StatusSink};
use crate::error::Result;
use crate::optimizer::OptimizerId;

/// The start of an optimizer, as `optimizers.jsonl` logs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerStart {
    /// The optimizer.
    pub opt_id: OptimizerId,
    /// Seconds since the run started.
    pub t: f64,
    /// Its type name, as in configs.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its factory's settings.
    pub settings: serde_json::Value,
    /// Its population, when it is fixed.
    pub popsize: Option<usize>,
    /// Its level-2 worker slots.
    pub workers: usize,
    /// Its level-2 evaluator's name.
    pub evaluator: String,
    /// Its own seed.
    pub seed: u64,
    /// Its start point.
    pub x0: Vec<f64>,
}

/// Who killed an optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by")]
pub enum KilledBy {
    /// A hunt by the owner of the global best.
    #[serde(rename = "hunt")]
    Hunt {
        /// The hunting optimizer.
        hunter: OptimizerId,
        /// The hunter expression with each leaf's value.
        expression: String,
    },
    /// A `STOP_<id>` file.
    #[serde(rename = "STOP file")]
    StopFile,
}

/// How an optimizer ended (the `reason` of its end event and what goes with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EndHow {
    /// It converged by its own criterion.
    Converged {
        /// Which (`tolfun`, ...).
        criterion: String,
    },
    /// It was killed.
    Killed {
        /// By whom.
        #[serde(flatten)]
        by: KilledBy,
        /// When it was told to stop.
        t_kill: f64,
        /// The run's evaluation count then.
        at_call_id: u64,
    },
    /// It was told to stop (the end of the run, no feedback) or stopped by itself.
    Stopped {
        /// What stopped it (`end of run`, `runner`, `no feedback for 60 s`).
        by: String,
        /// When it was told to stop, if it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        t_stop: Option<f64>,
    },
    /// It failed.
    Crashed {
        /// The error.
        error: String,
        /// What it had been told before, if anything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<EndHow>>,
    },
    /// It did not stop in time and was given up on.
    Abandoned {
        /// How long it was waited for.
        error: String,
        /// What it had been told before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<EndHow>>,
    },
}

/// The end of an optimizer, as `optimizers.jsonl` logs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerEnd {
    /// The optimizer.
    pub opt_id: OptimizerId,
    /// Seconds since the run started.
    pub t: f64,
    /// Its evaluations, logged.
    pub evaluations: u64,
    /// Its best finite value.
    pub best_fx: Option<f64>,
    /// How it ended.
    #[serde(flatten)]
    pub how: EndHow,
}

/// A `STOP_<id>` file that could not act: it was removed, and this says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopIgnored {
    /// The id it named.
    pub opt_id: OptimizerId,
    /// Seconds since the run started.
    pub t: f64,
    /// The file's name.
    pub file: Option<String>,
    /// Why it could not act.
    pub why: String,
}

/// What a resumed optimizer made of the evaluations it had logged after its saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    /// The optimizer.
    pub opt_id: OptimizerId,
    /// Seconds since the run started.
    pub t: f64,
    /// The logged evaluations it was told again instead of evaluating them.
    pub used: u64,
    /// Those it never asked for again (they stay in the log, counted).
    pub unused: u64,
}

/// One line of `optimizers.jsonl`, tagged by `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OptimizerEvent {
    /// An optimizer started.
    Start(OptimizerStart),
    /// An optimizer ended.
    End(OptimizerEnd),
    /// A STOP file could not act.
    StopIgnored(StopIgnored),
    /// A resumed optimizer replayed its logged evaluations.
    Replayed(Replayed),
}

/// One logged evaluation, as `evaluations.jsonl` holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluated<'a> {
    /// Its global number, 1, 2, 3, ... in the order the manager logged them.
    pub call_id: u64,
    /// The optimizer that asked for it (0: the generator).
    pub opt_id: OptimizerId,
    /// The point.
    pub x: &'a [f64],
    /// Its value (NaN when it failed).
    pub fx: f64,
    /// Seconds since the run started, when it reached the manager.
    pub t: f64,
    /// Extras of a detailed evaluation.
    pub extras: Option<&'a serde_json::Value>,
    /// Why it failed, or that its value was not finite.
    pub error: Option<&'a str>,
}

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An optimizer started or ended, or a STOP file could not act.
    Optimizer(&'a OptimizerEvent),
    /// An evaluation was logged.
    Evaluation(&'a Evaluated<'a>),
    /// A hunt was made.
    Hunt {
        /// Seconds since the run started.
        t: f64,
        /// The hunting optimizer.
        hunter: OptimizerId,
        /// The optimizers it killed.
        killed: &'a [OptimizerId],
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Seconds since the run started.
        t: f64,
        /// The file.
        path: &'a std::path::Path,
        /// Its number among the run's checkpoints.
        count: u64,
        /// What took it (`every_seconds`, `CHKPT file`, `SIGUSR1`, ...).
        reason: &'a str,
    },
    /// A snapshot of the run, at every manager tick (100 ms).
    Progress(&'a Progress),
    /// The run ended; nothing follows.
    Finished(&'a RunResult),
}

/// Receives a run's events as they happen, in the manager's thread: an observer must be quick (hand
/// slow work to a thread of its own). An error ends the run as a failure to write its logs.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use glompo_core::manager::{Event, Manager, Observe};
/// use glompo_core::selector::{CycleSelector, OptimizerSpec};
/// use glompo_core::{Bounds, checker, objective::from_fn, testing::ScriptedFactory};
///
/// /// What it saw: the evaluations, the lowest value among them, and whether the run finished.
/// #[derive(Debug, Default)]
/// struct Seen { evaluations: u64, lowest: f64, finished: bool }
///
/// struct Tally(Arc<Mutex<Seen>>);
///
/// impl Observe for Tally {
///     fn observe(&mut self, event: &Event<'_>) -> glompo_core::Result<()> {
///         let mut seen = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
///         match event {
///             Event::Evaluation(e) => {
///                 seen.evaluations += 1;
///                 seen.lowest = if seen.evaluations == 1 { e.fx } else { seen.lowest.min(e.fx) };
///             }
///             Event::Finished(_) => seen.finished = true,
///             _ => {}
///         }
///         Ok(())
///     }
/// }
///
/// let seen = Arc::new(Mutex::new(Seen::default()));
/// let optimizer = Arc::new(ScriptedFactory::descending());
/// let sphere = Arc::new(from_fn(|x: &[f64]| x.iter().map(|v| v * v).sum()));
/// let result = Manager::builder(sphere, Bounds::uniform(2, -1.0, 1.0).unwrap())
///     .selector(Box::new(CycleSelector::new(vec![OptimizerSpec::new(optimizer)]).unwrap()))
///     .checker(checker::max_evals(30))
///     .observer(Box::new(Tally(Arc::clone(&seen))))
///     .build()
///     .unwrap()
///     .run()
///     .unwrap();
/// let seen = seen.lock().unwrap();
/// assert!(seen.finished);
/// assert_eq!(seen.evaluations, result.counters.evaluations);
/// assert_eq!(Some(seen.lowest), result.best.map(|b| b.fx));
/// ```
pub trait Observe: Send {
    /// One event.
    fn observe(&mut self, event: &Event<'_>) -> Result<()>;
}

/// The status line: a [`Progress`] handed to a sink at most every `every`.
pub(crate) struct Status {
    every: Duration,
    last: Instant,
    sink: StatusSink,
}

impl Status {
    pub(crate) fn new(every: Duration, sink: StatusSink) -> Self {
        Status { every, last: Instant::now(), sink }
    }
}

impl Observe for Status {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        if let Event::Progress(progress) = event
            && self.last.elapsed() >= self.every
        {
            self.last = Instant::now();
            (self.sink)(progress);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn end(how: EndHow) -> OptimizerEvent {
        OptimizerEvent::End(OptimizerEnd { opt_id: 3, t: 1.5, evaluations: 40, best_fx: Some(0.25), how })
    }

    #[test]
    fn end_events_keep_the_log_format_and_read_back() {
        let cases = [
            (
                EndHow::Killed {
                    by: KilledBy::Hunt { hunter: 1, expression: "min_evals(5) = true".into() },
                    t_kill: 1.0,
                    at_call_id: 99,
                },
                json!({"reason": "killed", "by": "hunt", "hunter": 1, "expression": "min_evals(5) = true",
                       "t_kill": 1.0, "at_call_id": 99}),
            ),
            (
                EndHow::Killed { by: KilledBy::StopFile, t_kill: 1.0, at_call_id: 7 },
                json!({"reason": "killed", "by": "STOP file", "t_kill": 1.0, "at_call_id": 7}),
            ),
            (
                EndHow::Stopped { by: "runner".into(), t_stop: None },
                json!({"reason": "stopped", "by": "runner"}),
            ),
            (
                EndHow::Abandoned {
                    error: "did not stop within 2 s".into(),
                    after: Some(Box::new(EndHow::Stopped { by: "end of run".into(), t_stop: Some(1.25) })),
                },
                json!({"reason": "abandoned", "error": "did not stop within 2 s",
                       "after": {"reason": "stopped", "by": "end of run", "t_stop": 1.25}}),
            ),
            (
                EndHow::Crashed { error: "ask failed".into(), after: None },
                json!({"reason": "crashed", "error": "ask failed"}),
            ),
            (
                EndHow::Converged { criterion: "tolfun".into() },
                json!({"reason": "converged", "criterion": "tolfun"}),
            ),
        ];
        for (how, detail) in cases {
            let event = end(how);
            let mut expected =
                json!({"event": "end", "opt_id": 3, "t": 1.5, "evaluations": 40, "best_fx": 0.25});
            expected.as_object_mut().unwrap().extend(detail.as_object().unwrap().clone());
            assert_eq!(serde_json::to_value(&event).unwrap(), expected);
            let back: OptimizerEvent = serde_json::from_value(expected).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn start_and_stop_ignored_events_are_tagged() {
        let event = OptimizerEvent::StopIgnored(StopIgnored {
            opt_id: 9,
            t: 0.5,
            file: Some("STOP_9".into()),
            why: "no optimizer with this id has started".into(),
        });
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["event"], "stop_ignored");
        assert_eq!(serde_json::from_value::<OptimizerEvent>(value).unwrap(), event);
        let start = OptimizerEvent::Start(OptimizerStart {
            opt_id: 1,
            t: 0.0,
            type_name: "cma-es".into(),
            settings: json!({"sigma": 0.3}),
            popsize: Some(10),
            workers: 2,
            evaluator: "threads".into(),
            seed: 17,
            x0: vec![0.5, -1.0],
        });
        let value = serde_json::to_value(&start).unwrap();
        assert_eq!((value["event"].as_str(), value["type"].as_str()), (Some("start"), Some("cma-es")));
        assert_eq!(serde_json::from_value::<OptimizerEvent>(value).unwrap(), start);
    }
}
