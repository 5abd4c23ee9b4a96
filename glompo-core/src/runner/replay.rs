//! Replay of a resumed runner: the logged evaluations it must not make again.

use std::collections::HashMap;

use super::EvalRecord;
use super::link::PendingEval;

/// The pending evaluations of a resumed runner, by the bits of their points.
#[derive(Debug)]
pub(super) struct Replay {
    /// For each point, its records in reverse log order (the first logged is taken first).
    pending: HashMap<Vec<u64>, Vec<EvalRecord>>,
    left: u64,
    used: u64,
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

impl Replay {
    pub(super) fn new(pending: Vec<PendingEval>) -> Self {
        let left = pending.len() as u64;
        let mut by_point: HashMap<Vec<u64>, Vec<EvalRecord>> = HashMap::with_capacity(pending.len());
        for p in pending.into_iter().rev() {
            by_point.entry(bits(&p.x)).or_default().push(p.record);
        }
        Replay { pending: by_point, left, used: 0 }
    }

    /// For each point of `batch`, in order, the record of a pending evaluation of exactly that point,
    /// taken out of the pending ones, or `None`.
    pub(super) fn take(&mut self, batch: &[Vec<f64>]) -> Vec<Option<EvalRecord>> {
        batch
            .iter()
            .map(|x| {
                let key = bits(x);
                let records = self.pending.get_mut(&key)?;
                let record = records.pop();
                if records.is_empty() {
                    self.pending.remove(&key);
                }
                if record.is_some() {
                    self.left -= 1;
                    self.used += 1;
                }
                record
            })
            .collect()
    }

    /// Whether no pending evaluation is left.
    pub(super) fn is_done(&self) -> bool {
        self.left == 0
    }

    /// The pending evaluations used so far, and those left.
    pub(super) fn counts(&self) -> (u64, u64) {
        (self.used, self.left)
    }
}
