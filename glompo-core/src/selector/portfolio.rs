//! The portfolio selector: the configured optimizers share the run, and the ones whose runs find
//! better values are given more of it as the run goes on.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Ended, OptimizerSpec, SelectContext, Selection, Selector, Starts, identity};
use crate::optimizer::OptimizerFactory;
use crate::state::{self, StateError};

/// The most wins a portfolio counts for one optimizer: its weight stops growing at `2^MAX_WINS`.
pub const MAX_WINS: u32 = 30;

/// A portfolio that learns. Each configured optimizer is started once, in order (as `cycle` would);
/// from then on the next start goes to the one that has used the fewest evaluations for its weight,
/// `2^wins`, where a *win* is a run of it that ended holding the run's best point (it found the best
/// value of the run so far, of every optimizer, running or ended). An optimizer whose runs keep
/// finding better minima is thus given twice the share of the run per win, and one whose runs never
/// hold the best keeps a share that halves at each of the others' wins, never nothing.
/// The evaluations an optimizer has used are those of its ended runs plus, for each running one, the
/// mean of its ended runs (of all ended runs while it has none). An optimizer that has used its
/// [`max_starts`](OptimizerSpec::max_starts) is passed over, and when all have, it stops; when the
/// chosen one does not fit in the free slots it waits, as `cycle` does.
///
/// With `"restarts"` (IPOP, BIPOP) around it, the restarts of one optimizer count as its runs.
#[derive(Debug, Clone)]
pub struct PortfolioSelector {
    specs: Vec<OptimizerSpec>,
    starts: Starts,
    arms: Vec<Arm>,
}

/// What a [`PortfolioSelector`] has learnt of one optimizer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Arm {
    /// Its runs that have ended.
    ended: u64,
    /// Their evaluations.
    evaluations: u64,
    /// Its wins, at most [`MAX_WINS`].
    wins: u32,
}

/// The state of a [`PortfolioSelector`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortfolioState {
    started: Vec<u64>,
    arms: Vec<Arm>,
}

impl PortfolioSelector {
    /// A portfolio over `specs`, which must not be empty.
    pub fn new(specs: Vec<OptimizerSpec>) -> crate::Result<Self> {
        if specs.is_empty() {
            return Err(crate::CoreError::config("optimizers", "at least one optimizer is needed"));
        }
        Ok(PortfolioSelector { starts: Starts::new(&specs), arms: vec![Arm::default(); specs.len()], specs })
    }

    /// The wins of each optimizer so far, in the order of its specs.
    pub fn wins(&self) -> Vec<u32> {
        self.arms.iter().map(|a| a.wins).collect()
    }

    /// The spec `factory` belongs to: by the factory itself, or by its name and settings (a factory
    /// rebuilt by a resume).
    fn spec_of(&self, factory: &Arc<dyn OptimizerFactory>) -> Option<usize> {
        self.specs.iter().position(|s| Arc::ptr_eq(&s.factory, factory)).or_else(|| {
            let id = identity(factory.as_ref());
            self.specs.iter().position(|s| identity(s.factory.as_ref()) == id)
        })
    }

    /// The evaluations optimizer `i` has used for its weight.
    fn share(&self, i: usize) -> f64 {
        let arm = &self.arms[i];
        let mean =
            |ended: u64, evaluations: u64| if ended == 0 { 0.0 } else { evaluations as f64 / ended as f64 };
        let own = mean(arm.ended, arm.evaluations);
        let all =
            mean(self.arms.iter().map(|a| a.ended).sum(), self.arms.iter().map(|a| a.evaluations).sum());
        let running = self.starts.0[i].saturating_sub(arm.ended) as f64;
        let used = arm.evaluations as f64 + running * if arm.ended == 0 { all } else { own };
        used / f64::from(arm.wins).exp2()
    }
}

impl Selector for PortfolioSelector {
    fn name(&self) -> &str {
        "portfolio"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
        let left: Vec<usize> = (0..self.specs.len()).filter(|&i| self.starts.left(&self.specs, i)).collect();
        let first = left.iter().copied().find(|&i| self.starts.0[i] == 0);
        let chosen = first.or_else(|| {
            // The smallest share; the first configured on a tie.
            left.iter().copied().min_by(|&a, &b| self.share(a).total_cmp(&self.share(b)).then(a.cmp(&b)))
        });
        match chosen {
            None => Selection::Stop,
            Some(i) if self.specs[i].workers > ctx.free_slots => Selection::Wait,
            Some(i) => self.starts.start(&self.specs, i),
        }
    }

    /// Counts the run for its optimizer, and a win when it holds the run's best point. An end of an
    /// optimizer that is none of its specs (which no selector wrapping it hands on) changes nothing.
    fn ended(&mut self, end: &Ended<'_>) {
        let Some(i) = self.spec_of(end.factory) else { return };
        let arm = &mut self.arms[i];
        arm.ended += 1;
        arm.evaluations += end.evaluations;
        if end.found_best {
            arm.wins = (arm.wins + 1).min(MAX_WINS);
        }
    }

    /// `{"started": [n₀, …], "arms": [{"ended", "evaluations", "wins"}, …]}`: the starts, ended runs,
    /// their evaluations and the wins of each optimizer.
    fn save(&self) -> Value {
        state::save(&PortfolioState { started: self.starts.0.clone(), arms: self.arms.clone() })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        const COMPONENT: &str = "selector portfolio";
        let saved: PortfolioState = state::load(COMPONENT, state)?;
        if saved.started.len() != self.specs.len() || saved.arms.len() != self.specs.len() {
            return Err(StateError::new(
                COMPONENT,
                format!(
                    "{} start counts and {} arms for {} optimizers",
                    saved.started.len(),
                    saved.arms.len(),
                    self.specs.len()
                ),
            ));
        }
        if let Some(i) = (0..self.specs.len()).find(|&i| saved.arms[i].ended > saved.started[i]) {
            return Err(StateError::new(
                COMPONENT,
                format!(
                    "optimizer {i} has {} runs ended of {} started",
                    saved.arms[i].ended, saved.started[i]
                ),
            ));
        }
        if let Some(arm) = saved.arms.iter().find(|a| a.wins > MAX_WINS) {
            return Err(StateError::new(
                COMPONENT,
                format!("{} wins exceed the cap of {MAX_WINS}", arm.wins),
            ));
        }
        self.starts.restore(COMPONENT, saved.started)?;
        self.arms = saved.arms;
        Ok(())
    }
}
