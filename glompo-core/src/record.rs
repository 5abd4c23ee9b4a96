//! What the manager knows about each optimizer: the incremental statistics hunters read.
//!
//! A record keeps counters, the best and the last evaluation, and a bounded window of recent history
//! (values, running minima and step lengths) as long as the longest window any hunter of the run reads.
//! Memory per optimizer is therefore O(window), and every hunter reads O(1) or O(window) data,
//! whatever the length of the optimizer's history.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::optimizer::OptimizerId;
use crate::point::Evaluation;

/// Where an optimizer is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Asking and telling.
    Running,
    /// Told to stop (killed by a hunt, a STOP file or the end of the run); its runner has not ended yet.
    Stopping,
    /// Its runner has ended.
    Ended,
}

/// The manager's record of one optimizer. It is serializable, exactly (non-finite values included),
/// for the run book of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptimizerRecord {
    id: OptimizerId,
    /// Shared by the records of one configuration.
    type_name: Arc<str>,
    workers: usize,
    lifecycle: Lifecycle,
    evaluations: u64,
    best: Option<Evaluation>,
    /// What only a running optimizer needs; `None` once it ended, so that an ended record costs its
    /// summary only (counts and best point).
    running: Option<Box<Running>>,
}

/// The part of a record that hunters read while the optimizer runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Running {
    last: Option<Evaluation>,
    trailing_invalid: u64,
    window: usize,
    /// The last `window` values, oldest first.
    #[serde(with = "crate::exact::deque")]
    fx: VecDeque<f64>,
    /// The best finite value after each of the last `window + 1` evaluations (`+inf` before any).
    #[serde(with = "crate::exact::deque")]
    min: VecDeque<f64>,
    /// The distances between consecutive points, for the last `window` steps.
    #[serde(with = "crate::exact::deque")]
    steps: VecDeque<f64>,
}

fn push_bounded(q: &mut VecDeque<f64>, v: f64, cap: usize) {
    if cap == 0 {
        return;
    }
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(v);
}

impl OptimizerRecord {
    /// A record for a newly started optimizer that keeps `window` evaluations of recent history.
    pub fn new(id: OptimizerId, type_name: impl Into<Arc<str>>, workers: usize, window: usize) -> Self {
        OptimizerRecord {
            id,
            type_name: type_name.into(),
            workers,
            lifecycle: Lifecycle::Running,
            evaluations: 0,
            best: None,
            running: Some(Box::new(Running {
                last: None,
                trailing_invalid: 0,
                window,
                fx: VecDeque::with_capacity(window.min(1 << 16)),
                min: VecDeque::with_capacity((window + 1).min(1 << 16)),
                steps: VecDeque::with_capacity(window.min(1 << 16)),
            })),
        }
    }

    /// Adds one evaluation; `fx` is non-finite for a failed one.
    pub fn record(&mut self, x: &[f64], fx: f64) {
        self.evaluations += 1;
        if fx.is_finite() && self.best.as_ref().is_none_or(|b| fx < b.fx) {
            self.best = Some(Evaluation { x: x.to_vec(), fx });
        }
        let best = self.best.as_ref().map_or(f64::INFINITY, |b| b.fx);
        // An ended record takes late evaluations (of an abandoned runner) into its counts only.
        let Some(r) = self.running.as_deref_mut() else { return };
        if fx.is_finite() {
            r.trailing_invalid = 0;
        } else {
            r.trailing_invalid += 1;
        }
        push_bounded(&mut r.fx, fx, r.window);
        push_bounded(&mut r.min, best, r.window + 1);
        match &mut r.last {
            Some(last) if last.x.len() == x.len() => {
                if r.window > 0 {
                    let step = last.x.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
                    push_bounded(&mut r.steps, step, r.window);
                }
                last.x.copy_from_slice(x);
                last.fx = fx;
            }
            _ => r.last = Some(Evaluation { x: x.to_vec(), fx }),
        }
    }

    /// The optimizer's id.
    pub fn id(&self) -> OptimizerId {
        self.id
    }

    /// Its type name (`cma-es`, ...).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The worker slots it holds while alive.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Where it is in its life.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    pub(crate) fn set_lifecycle(&mut self, lifecycle: Lifecycle) {
        self.lifecycle = lifecycle;
    }

    /// Marks it ended and keeps only its summary: counts and best point. An ended optimizer is never
    /// hunted, so its history windows go, and its last point is forgotten (its best stands for it), so
    /// that a run's memory hardly grows with every restart.
    pub(crate) fn retire(&mut self) {
        self.lifecycle = Lifecycle::Ended;
        self.running = None;
    }

    /// Whether it is running and not told to stop.
    pub fn is_running(&self) -> bool {
        self.lifecycle == Lifecycle::Running
    }

    /// How many of its evaluations arrived.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Its best finite evaluation.
    pub fn best(&self) -> Option<&Evaluation> {
        self.best.as_ref()
    }

    /// Its last evaluation (possibly non-finite). An ended optimizer is remembered by its best point
    /// only: its last evaluation is then its best (a hunter comparing with it compares with the
    /// minimum it found).
    pub fn last(&self) -> Option<&Evaluation> {
        match &self.running {
            Some(r) => r.last.as_ref(),
            None => self.best.as_ref(),
        }
    }

    /// How many of its most recent evaluations in a row were non-finite.
    pub fn trailing_invalid(&self) -> u64 {
        self.running.as_ref().map_or(0, |r| r.trailing_invalid)
    }

    /// The best finite value among all but its last `calls` evaluations (`+inf` if there was none);
    /// `None` when it has no more than `calls` evaluations or `calls` exceeds the kept window.
    pub fn best_before(&self, calls: u64) -> Option<f64> {
        let min = &self.running.as_ref()?.min;
        if self.evaluations <= calls || calls as usize >= min.len() {
            return None;
        }
        Some(min[min.len() - 1 - calls as usize])
    }

    /// Its last `calls` values, oldest first; `None` when fewer are known or kept.
    pub fn recent_values(&self, calls: u64) -> Option<impl Iterator<Item = f64> + '_> {
        let fx = &self.running.as_ref()?.fx;
        let n = fx.len();
        (calls as usize <= n).then(|| fx.range(n - calls as usize..).copied())
    }

    /// The distances between its last `steps + 1` points; `None` when fewer are known or kept.
    pub fn recent_steps(&self, steps: u64) -> Option<impl Iterator<Item = f64> + '_> {
        let all = &self.running.as_ref()?.steps;
        let n = all.len();
        (steps as usize <= n).then(|| all.range(n - steps as usize..).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_incremental_and_skip_non_finite_values() {
        let mut r = OptimizerRecord::new(1, "t", 1, 10);
        assert_eq!(r.best_before(0), None);
        r.record(&[1.0], f64::NAN);
        assert_eq!(r.best_before(0), Some(f64::INFINITY));
        for (x, fx) in [(2.0, 5.0), (3.0, 7.0), (4.0, 4.0), (6.0, f64::INFINITY)] {
            r.record(&[x], fx);
        }
        assert_eq!(r.evaluations(), 5);
        assert_eq!(r.best().unwrap().x, vec![4.0]);
        assert_eq!(r.last().unwrap().x, vec![6.0]);
        assert_eq!(r.trailing_invalid(), 1);
        assert_eq!(r.best_before(0), Some(4.0));
        assert_eq!(r.best_before(2), Some(5.0));
        assert_eq!(r.best_before(4), Some(f64::INFINITY));
        assert_eq!(r.best_before(5), None);
        assert_eq!(r.recent_values(2).unwrap().collect::<Vec<_>>(), [4.0, f64::INFINITY]);
        assert!(r.recent_values(6).is_none());
        assert_eq!(r.recent_steps(2).unwrap().collect::<Vec<_>>(), [1.0, 2.0]);
    }

    #[test]
    fn memory_is_bounded_by_the_window() {
        let mut r = OptimizerRecord::new(1, "t", 1, 3);
        for i in 0..1000 {
            r.record(&[i as f64], 1000.0 - i as f64);
        }
        let h = r.running.as_ref().unwrap();
        assert_eq!((h.fx.len(), h.min.len(), h.steps.len()), (3, 4, 3));
        assert_eq!(r.best_before(3), Some(4.0));
        assert_eq!(r.best_before(4), None);
        assert_eq!(r.recent_values(3).unwrap().collect::<Vec<_>>(), [3.0, 2.0, 1.0]);
        let none = OptimizerRecord::new(2, "t", 1, 0);
        assert!(none.recent_values(1).is_none());
    }

    #[test]
    fn a_record_reads_back_exactly_and_goes_on_the_same() {
        let mut r = OptimizerRecord::new(4, "cma-es", 2, 5);
        for (i, fx) in [3.0, f64::NAN, 0.1 + 0.2, f64::INFINITY, 2.5, 1.0, f64::NAN].into_iter().enumerate() {
            r.record(&[i as f64 * 0.3, 1.0], fx);
        }
        let text = serde_json::to_string(&r).unwrap();
        let mut back: OptimizerRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        for rec in [&mut r, &mut back] {
            rec.record(&[9.0, 9.0], 0.5);
        }
        assert_eq!(back.best_before(2), r.best_before(2));
        assert_eq!(
            back.recent_values(5).unwrap().map(f64::to_bits).collect::<Vec<_>>(),
            r.recent_values(5).unwrap().map(f64::to_bits).collect::<Vec<_>>()
        );
        assert_eq!(
            back.recent_steps(4).unwrap().collect::<Vec<_>>(),
            r.recent_steps(4).unwrap().collect::<Vec<_>>()
        );
        assert_eq!((back.trailing_invalid(), back.evaluations(), back.type_name()), (0, 8, "cma-es"));
    }

    #[test]
    fn a_retired_record_keeps_its_summary_and_frees_its_history() {
        let mut r = OptimizerRecord::new(1, "t", 1, 1000);
        for i in 0..1000 {
            r.record(&[i as f64, 1.0], (i as f64 - 500.0).abs());
        }
        r.retire();
        assert_eq!(*r.lifecycle(), Lifecycle::Ended);
        assert_eq!((r.evaluations(), r.best().unwrap().fx), (1000, 0.0));
        // Its last point is forgotten: its best stands for it.
        assert_eq!(r.last().unwrap().x, [500.0, 1.0]);
        let mut failed = OptimizerRecord::new(2, "t", 1, 10);
        failed.record(&[1.0], f64::NAN);
        failed.retire();
        assert!(failed.last().is_none() && failed.best().is_none());
        assert!(r.running.is_none());
        assert!(r.recent_values(1).is_none());
    }
}
