//! What the manager knows about each optimizer: the incremental statistics hunters read.

use serde::Serialize;

use crate::optimizer::OptimizerId;
use crate::point::Evaluation;

/// Where an optimizer is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Asking and telling.
    Running,
    /// Told to stop (killed by a hunt, a STOP file or the end of the run); its runner has not ended yet.
    Stopping,
    /// Its runner has ended.
    Ended,
}

/// The manager's record of one optimizer. Every statistic is kept incrementally, so reading it costs
/// O(1) whatever the length of the optimizer's history.
#[derive(Debug, Clone)]
pub struct OptimizerRecord {
    id: OptimizerId,
    type_name: String,
    workers: usize,
    lifecycle: Lifecycle,
    evaluations: u64,
    best: Option<Evaluation>,
    last: Option<Evaluation>,
    running_min: Vec<f64>,
    trailing_invalid: u64,
}

impl OptimizerRecord {
    /// A record for a newly started optimizer.
    pub fn new(id: OptimizerId, type_name: impl Into<String>, workers: usize) -> Self {
        OptimizerRecord {
            id,
            type_name: type_name.into(),
            workers,
            lifecycle: Lifecycle::Running,
            evaluations: 0,
            best: None,
            last: None,
            running_min: Vec::new(),
            trailing_invalid: 0,
        }
    }

    /// Adds one evaluation; `fx` is non-finite for a failed one.
    pub fn record(&mut self, x: &[f64], fx: f64) {
        self.evaluations += 1;
        if fx.is_finite() {
            self.trailing_invalid = 0;
            if self.best.as_ref().is_none_or(|b| fx < b.fx) {
                self.best = Some(Evaluation { x: x.to_vec(), fx });
            }
        } else {
            self.trailing_invalid += 1;
        }
        self.running_min.push(self.best.as_ref().map_or(f64::INFINITY, |b| b.fx));
        match &mut self.last {
            Some(last) if last.x.len() == x.len() => {
                last.x.copy_from_slice(x);
                last.fx = fx;
            }
            _ => self.last = Some(Evaluation { x: x.to_vec(), fx }),
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

    /// Its last evaluation (possibly non-finite).
    pub fn last(&self) -> Option<&Evaluation> {
        self.last.as_ref()
    }

    /// The best finite value among all but its last `calls` evaluations (`+inf` if there was none);
    /// `None` when it has no more than `calls` evaluations.
    pub fn best_before(&self, calls: u64) -> Option<f64> {
        let n = self.running_min.len() as u64;
        (n > calls).then(|| self.running_min[(n - calls - 1) as usize])
    }

    /// How many of its most recent evaluations in a row were non-finite.
    pub fn trailing_invalid(&self) -> u64 {
        self.trailing_invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_incremental_and_skip_non_finite_values() {
        let mut r = OptimizerRecord::new(1, "t", 1);
        assert_eq!(r.best_before(0), None);
        r.record(&[1.0], f64::NAN);
        assert_eq!(r.best_before(0), Some(f64::INFINITY));
        for (x, fx) in [(2.0, 5.0), (3.0, 7.0), (4.0, 4.0), (5.0, f64::INFINITY)] {
            r.record(&[x], fx);
        }
        assert_eq!(r.evaluations(), 5);
        assert_eq!(r.best().unwrap().x, vec![4.0]);
        assert_eq!(r.last().unwrap().x, vec![5.0]);
        assert_eq!(r.trailing_invalid(), 1);
        assert_eq!(r.best_before(0), Some(4.0));
        assert_eq!(r.best_before(2), Some(5.0));
        assert_eq!(r.best_before(4), Some(f64::INFINITY));
        assert_eq!(r.best_before(5), None);
    }
}
