//! The annealing generator: generalized simulated annealing (Tsallis & Stariolo; Xiang et al.), the
//! method of SciPy's `dual_annealing`, used to pick start points. Its evaluations are asked of the
//! manager through [`Generator::wants`], so they are logged and counted like any other.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{GenerateContext, Generator, uniform_point};
use crate::error::{CoreError, Result};
use crate::point::{Bounds, Evaluation};
use crate::rng::{RngState, SeededRng};
use crate::state::{self, ExactPoint, StateError};

/// Generalized simulated annealing over the whole box. Each start runs one Markov chain of `2 n`
/// visits from the chain's current state (the first `n` move every coordinate, the others one
/// coordinate each) and starts the optimizer at the best point the chain saw. The temperature falls
/// as `T0 (2^(qv−1) − 1) / ((1 + k)^(qv−1) − 1)` with the chain number `k`, and the search restarts from
/// a random point when it falls below `restart_temp_ratio · T0`.
#[derive(Debug, Clone)]
pub struct AnnealingGenerator {
    /// The acceptance parameter (negative; −5 by default).
    pub qa: f64,
    /// The visiting parameter, in (1, 3) (2.62 by default).
    pub qv: f64,
    /// The initial temperature (5230 by default).
    pub initial_temp: f64,
    /// The fraction of the initial temperature at which the search restarts (2e-5 by default).
    pub restart_temp_ratio: f64,
    rng: SeededRng,
    /// The chain's current state and its value.
    current: Option<Evaluation>,
    /// The best point of the chain under way.
    chain_best: Option<Evaluation>,
    /// The chain number since the last restart.
    k: u64,
    /// Visits made in the chain under way, and the candidate waiting for its value.
    visits: usize,
    pending: Option<Vec<f64>>,
    chain_done: bool,
}

impl AnnealingGenerator {
    /// Checked parameters.
    pub fn new(qa: f64, qv: f64, initial_temp: f64, restart_temp_ratio: f64, seed: u64) -> Result<Self> {
        let bad = |f: &str, m: &str| Err(CoreError::config(format!("generator.{f}"), m));
        if !(qa.is_finite() && qa < 0.0) {
            return bad("qa", "must be < 0");
        }
        if !(qv > 1.0 && qv < 3.0) {
            return bad("qv", "must be in (1, 3)");
        }
        if !(initial_temp.is_finite() && initial_temp > 0.0) {
            return bad("initial_temp", "must be > 0");
        }
        if !(restart_temp_ratio > 0.0 && restart_temp_ratio < 1.0) {
            return bad("restart_temp_ratio", "must be in (0, 1)");
        }
        Ok(AnnealingGenerator {
            qa,
            qv,
            initial_temp,
            restart_temp_ratio,
            rng: SeededRng::new(seed),
            current: None,
            chain_best: None,
            k: 0,
            visits: 0,
            pending: None,
            chain_done: false,
        })
    }

    fn temperature(&self) -> f64 {
        let e = self.qv - 1.0;
        self.initial_temp * (2f64.powf(e) - 1.0) / ((2.0 + self.k as f64).powf(e) - 1.0)
    }

    /// One draw of the Tsallis visiting distribution at temperature `t`, for `dim` coordinates.
    fn visit(&mut self, t: f64, dim: usize) -> Vec<f64> {
        let qv = self.qv;
        let f1 = (t.ln() / (qv - 1.0)).exp();
        let f2 = ((4.0 - qv) * (qv - 1.0).ln()).exp();
        let f3 = ((2.0 - qv) * 2f64.ln() / (qv - 1.0)).exp();
        let f4 = std::f64::consts::PI.sqrt() * f1 * f2 / (f3 * (3.0 - qv));
        let f5 = 1.0 / (qv - 1.0) - 0.5;
        let d1 = 2.0 - f5;
        let f6 = std::f64::consts::PI * (1.0 - f5)
            / (std::f64::consts::PI * (1.0 - f5)).sin()
            / ln_gamma(d1).exp();
        let sigma = (-(qv - 1.0) * (f6 / f4).ln() / (3.0 - qv)).exp();
        let mut x = vec![0.0; dim];
        let mut y = vec![0.0; dim];
        self.rng.fill_normal(&mut x);
        self.rng.fill_normal(&mut y);
        x.iter().zip(&y).map(|(a, b)| sigma * a / ((qv - 1.0) * b.abs().ln() / (3.0 - qv)).exp()).collect()
    }

    /// The next candidate of the chain: a visit from the current state, wrapped into the box.
    fn candidate(&mut self, bounds: &Bounds) -> Vec<f64> {
        let n = bounds.dim();
        let t = self.temperature();
        let here = self.current.as_ref().map(|c| c.x.clone()).unwrap_or_else(|| bounds.centre());
        let mut x = here.clone();
        if self.visits < n {
            for (xi, v) in x.iter_mut().zip(self.visit(t, n)) {
                *xi += v;
            }
        } else {
            let i = self.visits - n;
            x[i] += self.visit(t, 1)[0];
        }
        for (xi, (lo, hi)) in x.iter_mut().zip(bounds.pairs()) {
            // Far-flung visits (a heavy tail) and non-finite ones become uniform draws; the rest wrap
            // around the box periodically.
            *xi = if xi.is_finite() && xi.abs() < 1e8 {
                lo + (*xi - lo).rem_euclid(hi - lo)
            } else {
                self.rng.uniform_in(lo, hi)
            };
            *xi = xi.clamp(lo, hi);
        }
        x
    }

    fn accept(&mut self, e: Evaluation) {
        let better = |a: &Evaluation, b: &Option<Evaluation>| b.as_ref().is_none_or(|b| a.fx < b.fx);
        if e.fx.is_finite() && better(&e, &self.chain_best) {
            self.chain_best = Some(e.clone());
        }
        let Some(current) = &self.current else {
            self.current = Some(e);
            return;
        };
        if !e.fx.is_finite() {
            return;
        }
        if !current.fx.is_finite() || e.fx < current.fx {
            self.current = Some(e);
            return;
        }
        let step_temp = self.temperature() / (self.k as f64 + 1.0);
        let p = 1.0 - (1.0 - self.qa) * (e.fx - current.fx) / step_temp;
        let accept_p = if p <= 0.0 { 0.0 } else { (p.ln() / (1.0 - self.qa)).exp() };
        if self.rng.uniform() <= accept_p {
            self.current = Some(e);
        }
    }
}

impl Generator for AnnealingGenerator {
    fn name(&self) -> &str {
        "annealing"
    }

    fn wants(&mut self, ctx: &GenerateContext<'_>) -> Vec<Vec<f64>> {
        if self.chain_done {
            return Vec::new();
        }
        let n = ctx.bounds.dim();
        let x = if self.current.is_none() {
            uniform_point(&mut self.rng, ctx.bounds)
        } else if self.visits < 2 * n {
            self.candidate(ctx.bounds)
        } else {
            self.chain_done = true;
            return Vec::new();
        };
        self.pending = Some(x.clone());
        vec![x]
    }

    fn tell(&mut self, evals: &[Evaluation]) {
        for e in evals {
            if self.pending.take().is_some() {
                if self.current.is_some() {
                    self.visits += 1;
                }
                self.accept(e.clone());
            }
        }
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        let x = match (self.chain_best.take(), &self.current) {
            (Some(best), _) => best.x,
            (None, Some(current)) => current.x.clone(),
            (None, None) => uniform_point(&mut self.rng, ctx.bounds),
        };
        // The next start runs the next chain, cooler, or restarts the search once it is cold.
        self.k += 1;
        self.visits = 0;
        self.chain_done = false;
        if self.temperature() < self.restart_temp_ratio * self.initial_temp {
            self.k = 0;
            self.current = None;
        }
        x
    }

    /// `{"rng": …, "current": {"x", "fx"} | null, "chain_best": {"x", "fx"} | null, "k": 3,
    /// "visits": 2, "pending": [x…] | null, "chain_done": false}`: the chain's state and its value,
    /// the best point of the chain under way, the chain number (which sets the temperature), the
    /// visits made in the chain, the point it asked for and waits the value of, and whether the
    /// chain is done.
    fn save(&self) -> Value {
        state::save(&AnnealingState {
            rng: self.rng.state(),
            current: self.current.clone(),
            chain_best: self.chain_best.clone(),
            k: self.k,
            visits: self.visits,
            pending: self.pending.clone().map(ExactPoint),
            chain_done: self.chain_done,
        })
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        const NAME: &str = "generator annealing";
        let saved: AnnealingState = state::load(NAME, state)?;
        let dims: Vec<usize> = [&saved.current, &saved.chain_best]
            .into_iter()
            .flatten()
            .map(|e| e.x.len())
            .chain(saved.pending.iter().map(|p| p.0.len()))
            .collect();
        if dims.windows(2).any(|w| w[0] != w[1]) {
            return Err(StateError::new(NAME, format!("its points have different dimensions: {dims:?}")));
        }
        if saved.current.is_none() && saved.visits > 0 {
            return Err(StateError::new(NAME, format!("{} visits without a current state", saved.visits)));
        }
        self.rng = state::rng(NAME, &saved.rng)?;
        self.current = saved.current;
        self.chain_best = saved.chain_best;
        self.k = saved.k;
        self.visits = saved.visits;
        self.pending = saved.pending.map(|p| p.0);
        self.chain_done = saved.chain_done;
        Ok(())
    }
}

/// The state of an [`AnnealingGenerator`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnealingState {
    rng: RngState,
    #[serde(deserialize_with = "Option::deserialize")]
    current: Option<Evaluation>,
    #[serde(deserialize_with = "Option::deserialize")]
    chain_best: Option<Evaluation>,
    k: u64,
    visits: usize,
    #[serde(deserialize_with = "Option::deserialize")]
    pending: Option<ExactPoint>,
    chain_done: bool,
}

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, nine terms; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // The reflection formula.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_known_values() {
        for (x, expected) in [
            (1.0, 0.0),
            (2.0, 0.0),
            (5.0, 24f64.ln()),
            (0.5, std::f64::consts::PI.sqrt().ln()),
            (1.883, -0.044_939_617_337_822_48),
            (0.3, 1.095_797_994_818_075_2),
            (7.5, 7.534_364_236_758_734),
        ] {
            assert!((ln_gamma(x) - expected).abs() < 1e-12, "ln Γ({x}) = {} ≠ {expected}", ln_gamma(x));
        }
    }

    /// Runs the generator's protocol as the manager does, with `f` as the objective.
    fn start(g: &mut AnnealingGenerator, bounds: &Bounds, f: &dyn Fn(&[f64]) -> f64) -> (Vec<f64>, usize) {
        let ctx = GenerateContext { bounds, best: None, optimizers: &[], evaluations: 0 };
        let mut count = 0;
        loop {
            let points = g.wants(&ctx);
            if points.is_empty() {
                break;
            }
            count += points.len();
            let evals: Vec<Evaluation> = points.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
            g.tell(&evals);
        }
        (g.generate(&ctx), count)
    }

    #[test]
    fn chains_stay_inside_the_box_and_find_low_points() {
        let bounds = Bounds::new([(-5.0, 5.0), (0.0, 2.0), (100.0, 101.0)]).unwrap();
        let f = |x: &[f64]| (x[0] - 1.0).powi(2) + (x[1] - 0.5).powi(2) + (x[2] - 100.25).powi(2);
        let mut g = AnnealingGenerator::new(-5.0, 2.62, 5230.0, 2e-5, 3).unwrap();
        let (first, count) = start(&mut g, &bounds, &f);
        // The first start draws the initial state and runs one chain of 2n visits.
        assert_eq!(count, 1 + 6);
        let mut best = f(&first);
        for _ in 0..60 {
            let (x, count) = start(&mut g, &bounds, &f);
            assert_eq!(count, 6);
            assert!(bounds.contains(&x), "{x:?}");
            best = best.min(f(&x));
        }
        assert!(best < 0.5, "{best}");
        // Reproducible from its seed.
        let mut a = AnnealingGenerator::new(-5.0, 2.62, 5230.0, 2e-5, 9).unwrap();
        let mut b = AnnealingGenerator::new(-5.0, 2.62, 5230.0, 2e-5, 9).unwrap();
        for _ in 0..5 {
            assert_eq!(start(&mut a, &bounds, &f), start(&mut b, &bounds, &f));
        }
    }

    #[test]
    fn parameters_are_checked() {
        assert_eq!(
            AnnealingGenerator::new(1.0, 2.62, 1.0, 0.1, 0).unwrap_err().to_string(),
            "generator.qa: must be < 0"
        );
        assert!(AnnealingGenerator::new(-5.0, 3.5, 1.0, 0.1, 0).is_err());
        assert!(AnnealingGenerator::new(-5.0, 2.62, 0.0, 0.1, 0).is_err());
        assert!(AnnealingGenerator::new(-5.0, 2.62, 1.0, 1.5, 0).is_err());
    }

    #[test]
    fn a_chain_saved_while_it_waits_for_a_value_continues_exactly() {
        let bounds = Bounds::new([(-5.0, 5.0), (0.0, 2.0)]).unwrap();
        let f = |x: &[f64]| (x[0] - 1.0).powi(2) + (x[1] - 0.5).powi(2);
        let build = || AnnealingGenerator::new(-5.0, 2.62, 5230.0, 2e-5, 4).unwrap();
        let ctx = GenerateContext { bounds: &bounds, best: None, optimizers: &[], evaluations: 0 };
        let mut g = build();
        for _ in 0..3 {
            start(&mut g, &bounds, &f);
        }
        // Mid-chain: a candidate was asked for and its value has not come yet.
        start_chain(&mut g, &ctx, &f, 2);
        let asked = g.wants(&ctx);
        assert_eq!(asked.len(), 1);
        let saved: Value = serde_json::from_str(&g.save().to_string()).unwrap();
        assert_eq!(saved["pending"], serde_json::json!(asked[0]), "{saved}");
        assert_eq!((saved["k"].as_u64(), saved["visits"].as_u64()), (Some(3), Some(2)), "{saved}");
        let mut resumed = build();
        resumed.restore(&saved).unwrap();
        for g in [&mut g, &mut resumed] {
            g.tell(&[Evaluation { fx: f(&asked[0]), x: asked[0].clone() }]);
        }
        for _ in 0..20 {
            assert_eq!(start(&mut resumed, &bounds, &f), start(&mut g, &bounds, &f));
        }
        assert_eq!(resumed.save(), g.save());
    }

    #[test]
    fn non_finite_values_in_a_chain_round_trip() {
        let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
        let mut g = AnnealingGenerator::new(-5.0, 2.62, 5230.0, 2e-5, 4).unwrap();
        // Every evaluation failed: the chain's state has the value NaN.
        let (_, count) = start(&mut g, &bounds, &|_| f64::NAN);
        assert_eq!(count, 5);
        let text = g.save().to_string();
        assert!(text.contains(r#""fx":"nan""#), "{text}");
        let mut resumed = AnnealingGenerator::new(-5.0, 2.62, 5230.0, 2e-5, 4).unwrap();
        resumed.restore(&serde_json::from_str(&text).unwrap()).unwrap();
        assert!(resumed.current.as_ref().is_some_and(|c| c.fx.is_nan()));
        let f = |x: &[f64]| x[0] + x[1];
        assert_eq!(start(&mut resumed, &bounds, &f), start(&mut g, &bounds, &f));
    }

    /// Runs `visits` steps of the chain under way.
    fn start_chain(
        g: &mut AnnealingGenerator,
        ctx: &GenerateContext<'_>,
        f: &dyn Fn(&[f64]) -> f64,
        visits: usize,
    ) {
        for _ in 0..visits {
            let points = g.wants(ctx);
            let evals: Vec<Evaluation> = points.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
            g.tell(&evals);
        }
    }
}
