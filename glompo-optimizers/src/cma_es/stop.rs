//! pycma's termination criteria (`_CMAStopDict._update` in `cma/evolution_strategy.py`), checked after
//! every `tell` and reported by name, the first one that holds in pycma's order.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::util::exact;

/// The resolved tolerances; each defaults to pycma's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tolerances {
    pub(crate) tolfun: f64,
    pub(crate) tolfunhist: f64,
    pub(crate) tolx: f64,
    pub(crate) tolstagnation: usize,
    pub(crate) tolconditioncov: f64,
    pub(crate) tolupsigma: f64,
    pub(crate) tolfacupx: f64,
    pub(crate) tolflatfitness: usize,
    pub(crate) maxiter: usize,
}

/// The f-value histories the criteria look at, most recent first, as pycma keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FitHistory {
    /// The best value of each of the last `10 + ⌈30 n / λ⌉` generations.
    #[serde(with = "exact::vec")]
    pub(crate) hist: Vec<f64>,
    /// The best value of every fifth generation.
    #[serde(with = "exact::vec")]
    pub(crate) histbest: Vec<f64>,
    /// The median value of every fifth generation.
    #[serde(with = "exact::vec")]
    pub(crate) histmedian: Vec<f64>,
    /// Consecutive generations whose best value equals their 75 % quantile.
    pub(crate) flatfit: usize,
}

impl FitHistory {
    /// Records generation `countiter` (counted from 1) with its sorted values.
    pub(crate) fn record(&mut self, sorted: &[f64], countiter: usize, n: usize, lambda: usize) {
        self.hist.insert(0, sorted[0]);
        if countiter.is_multiple_of(5) {
            self.histbest.insert(0, sorted[0]);
            self.histmedian.insert(0, median(sorted));
        }
        if self.histbest.len() > 20_000 {
            self.histbest.pop();
            self.histmedian.pop();
        }
        if self.hist.len() as f64 > 10.0 + 30.0 * n as f64 / lambda as f64 {
            self.hist.pop();
        }
    }
}

/// pycma's `tolxstagnation` with its default thresholds `[1e-9, 20, 0.1]`: the mean has moved less than
/// 1e-9 (growing with the square root of the waiting time) for more than `20 + 0.1 · iterations`
/// iterations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct XStagnation {
    count: usize,
    count_x: usize,
    #[serde(with = "exact::vec")]
    x: Vec<f64>,
}

impl XStagnation {
    const DELTA: f64 = 1e-9;
    const OFFSET: f64 = 20.0;
    const FRACTION: f64 = 0.1;

    pub(crate) fn new(x: &[f64]) -> Self {
        XStagnation { count: 0, count_x: 0, x: x.to_vec() }
    }

    fn time_threshold(&self) -> f64 {
        Self::OFFSET + Self::FRACTION * self.count as f64
    }

    /// Takes the mean after a generation.
    pub(crate) fn update(&mut self, x: &[f64]) {
        self.count += 1;
        let waited = (self.count - self.count_x) as f64 / self.time_threshold();
        let delta = Self::DELTA * waited.max(1.0).sqrt();
        let moved = self.x.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        if moved > delta {
            self.x = x.to_vec();
            self.count_x = self.count;
        }
    }

    pub(crate) fn stop(&self) -> bool {
        (self.count - self.count_x) as f64 > self.time_threshold()
    }

    pub(crate) fn dim(&self) -> usize {
        self.x.len()
    }
}

/// What the criteria read of the strategy after a `tell`.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub(crate) n: usize,
    pub(crate) lambda: usize,
    /// Generations told, counting this one.
    pub(crate) countiter: usize,
    pub(crate) countevals: usize,
    /// The evaluation count at which the best value was found.
    pub(crate) best_evals: usize,
    pub(crate) sigma: f64,
    pub(crate) sigma0: f64,
    pub(crate) mean: &'a [f64],
    pub(crate) pc: &'a [f64],
    /// The current covariance matrix.
    pub(crate) c: &'a DMatrix<f64>,
    /// The square roots of the eigenvalues of the last decomposition, ascending, and its eigenvectors.
    pub(crate) d: &'a [f64],
    pub(crate) b: &'a DMatrix<f64>,
    /// This generation's values, sorted, non-finite ones as `+inf`.
    pub(crate) fit: &'a [f64],
}

/// The median of sorted values (the mean of the two middle ones for an even count).
pub(crate) fn median(sorted: &[f64]) -> f64 {
    let k = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[k] } else { (sorted[k - 1] + sorted[k]) / 2.0 }
}

fn median_of(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    median(&v)
}

fn range(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

/// Evaluates every criterion (updating the flat-fitness counter, as pycma does) and returns the name of
/// the first that holds, in pycma's order.
pub(crate) fn check(
    tol: &Tolerances,
    v: &View<'_>,
    hist: &mut FitHistory,
    xstag: &XStagnation,
) -> Option<&'static str> {
    let n = v.n;
    let lambda = v.lambda as f64;
    let stds: Vec<f64> = (0..n).map(|i| v.sigma * v.c[(i, i)].max(0.0).sqrt()).collect();

    let maxiter = v.countiter >= tol.maxiter;
    let tolfacupx = stds.iter().any(|&s| s > v.sigma0 * tol.tolfacupx);
    // pycma compares the signed entries of σ p_c with tolx; their magnitudes are what is meant.
    let tolx = stds.iter().all(|&s| s < tol.tolx) && v.pc.iter().all(|p| (v.sigma * p).abs() < tol.tolx);
    let current_range = range(v.fit);
    let historic_range = range(&hist.hist);
    let tolfun = current_range < tol.tolfun && historic_range < tol.tolfun;
    let tolfunhist = hist.hist.len() > 9 && historic_range < tol.tolfunhist;

    let mut tolstagnation = false;
    let stag = tol.tolstagnation as f64;
    let l = (stag / 5.0 / 2.0).max(hist.histbest.len() as f64 / 10.0);
    if tol.tolstagnation > 0 && l <= v.countiter as f64 {
        let l = l as usize;
        let (hb, hm) = (&hist.histbest, &hist.histmedian);
        tolstagnation = v.countiter as f64 > n as f64 * (5.0 + 100.0 / lambda)
            && (v.countevals - v.best_evals.min(v.countevals)) as f64 / lambda > stag / 2.0
            && hb.len() > 100
            && 2 * l < hb.len()
            && median_of(&hm[..l]) >= median_of(&hm[l..2 * l])
            && median_of(&hb[..l]) >= median_of(&hb[l..2 * l]);
    }

    let dmax = v.d.iter().copied().fold(0.0, f64::max);
    let tolupsigma = v.sigma / dmax > v.sigma0 * tol.tolupsigma;
    let noeffectcoord = (0..n).any(|i| v.mean[i] == v.mean[i] + 0.2 * stds[i]);
    let axis = v.countiter % n;
    let noeffectaxis = (0..n).all(|j| v.mean[j] == v.mean[j] + 0.1 * v.sigma * v.d[axis] * v.b[(j, axis)]);
    let tolconditioncov = v.d[n - 1] > tol.tolconditioncov.sqrt() * v.d[0];

    let q75 = (0.75 * v.fit.len() as f64) as usize;
    if v.fit[0] < v.fit[q75.min(v.fit.len() - 1)] {
        hist.flatfit = 0;
    } else {
        hist.flatfit += 1;
    }
    let tolflatfitness = hist.flatfit > tol.tolflatfitness;

    [
        ("maxiter", maxiter),
        ("tolfacupx", tolfacupx),
        ("tolx", tolx),
        ("tolfun", tolfun),
        ("tolfunhist", tolfunhist),
        ("tolstagnation", tolstagnation),
        ("tolxstagnation", xstag.stop()),
        ("tolupsigma", tolupsigma),
        ("noeffectcoord", noeffectcoord),
        ("noeffectaxis", noeffectaxis),
        ("tolconditioncov", tolconditioncov),
        ("tolflatfitness", tolflatfitness),
    ]
    .into_iter()
    .find_map(|(name, hit)| hit.then_some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tolerances() -> Tolerances {
        Tolerances {
            tolfun: 1e-11,
            tolfunhist: 1e-12,
            tolx: 1e-11,
            tolstagnation: 100,
            tolconditioncov: 1e14,
            tolupsigma: 1e20,
            tolfacupx: 1e3,
            tolflatfitness: 1,
            maxiter: 1000,
        }
    }

    /// A healthy two-dimensional state in which no criterion holds.
    struct Fixture {
        mean: Vec<f64>,
        pc: Vec<f64>,
        c: DMatrix<f64>,
        d: Vec<f64>,
        b: DMatrix<f64>,
        fit: Vec<f64>,
        sigma: f64,
        countiter: usize,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                mean: vec![1.0, 2.0],
                pc: vec![0.1, -0.1],
                c: DMatrix::identity(2, 2),
                d: vec![1.0, 1.0],
                b: DMatrix::identity(2, 2),
                fit: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                sigma: 0.5,
                countiter: 3,
            }
        }

        fn check(&self, tol: &Tolerances, hist: &mut FitHistory) -> Option<&'static str> {
            let view = View {
                n: 2,
                lambda: 6,
                countiter: self.countiter,
                countevals: 6 * self.countiter,
                best_evals: 6 * self.countiter,
                sigma: self.sigma,
                sigma0: 0.5,
                mean: &self.mean,
                pc: &self.pc,
                c: &self.c,
                d: &self.d,
                b: &self.b,
                fit: &self.fit,
            };
            check(tol, &view, hist, &XStagnation::new(&self.mean))
        }
    }

    fn history() -> FitHistory {
        FitHistory { hist: vec![1.0, 2.0, 3.0], ..Default::default() }
    }

    #[test]
    fn a_healthy_state_runs() {
        assert_eq!(Fixture::new().check(&tolerances(), &mut history()), None);
    }

    #[test]
    fn each_criterion_triggers_on_its_own_scenario() {
        let tol = tolerances();
        let mut f = Fixture::new();
        f.countiter = 1000;
        assert_eq!(f.check(&tol, &mut history()), Some("maxiter"));

        let mut f = Fixture::new();
        f.sigma = 600.0;
        assert_eq!(f.check(&tol, &mut history()), Some("tolfacupx"));

        let mut f = Fixture::new();
        f.sigma = 1e-12;
        assert_eq!(f.check(&tol, &mut history()), Some("tolx"));
        f.pc = vec![100.0, -100.0];
        assert_ne!(f.check(&tol, &mut history()), Some("tolx"), "a long p_c keeps tolx off");

        let mut f = Fixture::new();
        f.fit = vec![1.0; 6];
        f.fit[5] = 1.0 + 1e-12;
        let mut h = FitHistory { hist: vec![1.0, 1.0 + 5e-12], ..Default::default() };
        assert_eq!(f.check(&tol, &mut h), Some("tolfun"));

        let mut f = Fixture::new();
        f.fit = vec![1.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        let mut h = FitHistory { hist: vec![1.0; 10], ..Default::default() };
        assert_eq!(f.check(&tol, &mut h), Some("tolfunhist"));

        let mut f = Fixture::new();
        f.d = vec![1e-21, 1e-21];
        f.c = DMatrix::identity(2, 2) * 1e-42;
        assert_eq!(f.check(&tol, &mut history()), Some("tolupsigma"));

        let mut f = Fixture::new();
        f.mean = vec![1e10, 2.0];
        f.sigma = 1e-8;
        assert_eq!(f.check(&tol, &mut history()), Some("noeffectcoord"));

        // An axis without effect while every coordinate still moves: the axis is a tiny diagonal one.
        let mut f = Fixture::new();
        f.mean = vec![1e10, 1e10];
        f.sigma = 1e-4;
        let s = std::f64::consts::FRAC_1_SQRT_2;
        f.b = DMatrix::from_row_slice(2, 2, &[s, s, -s, s]);
        f.d = vec![1e-3, 1e3];
        f.c = DMatrix::from_row_slice(2, 2, &[5e5, 5e5, 5e5, 5e5]);
        f.countiter = 4;
        assert_eq!(f.check(&tol, &mut history()), Some("noeffectaxis"));

        let mut f = Fixture::new();
        f.d = vec![1e-4, 1e4];
        assert_eq!(f.check(&tol, &mut history()), Some("tolconditioncov"));

        let mut f = Fixture::new();
        f.fit = vec![1.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        let mut h = history();
        assert_eq!(f.check(&tol, &mut h), None, "one flat generation is tolerated");
        assert_eq!(f.check(&tol, &mut h), Some("tolflatfitness"));
    }

    #[test]
    fn stagnation_compares_old_and_recent_medians() {
        let tol = tolerances();
        let mut f = Fixture::new();
        f.countiter = 600;
        // 120 entries of every fifth generation: the recent ones (first) are no better than older ones.
        let mut h = history();
        h.histbest = (0..120).map(|i| 1.0 + (i % 3) as f64).collect();
        h.histmedian = h.histbest.clone();
        let view = View {
            n: 2,
            lambda: 6,
            countiter: 600,
            countevals: 3600,
            best_evals: 10,
            sigma: f.sigma,
            sigma0: 0.5,
            mean: &f.mean,
            pc: &f.pc,
            c: &f.c,
            d: &f.d,
            b: &f.b,
            fit: &f.fit,
        };
        assert_eq!(check(&tol, &view, &mut h, &XStagnation::new(&f.mean)), Some("tolstagnation"));
        // Improving medians keep it running.
        h.histmedian = (0..120).map(|i| i as f64).collect();
        assert_eq!(check(&tol, &view, &mut h, &XStagnation::new(&f.mean)), None);
    }

    #[test]
    fn x_stagnation_needs_a_still_mean() {
        let mut s = XStagnation::new(&[0.0]);
        for _ in 0..23 {
            s.update(&[0.0]);
        }
        assert!(s.stop());
        let mut s = XStagnation::new(&[0.0]);
        for k in 0..100 {
            s.update(&[k as f64 * 1e-6]);
            assert!(!s.stop());
        }
    }

    #[test]
    fn history_lengths_follow_pycma() {
        let mut h = FitHistory::default();
        for it in 1..=200 {
            h.record(&[it as f64, 2.0 * it as f64, 3.0 * it as f64], it, 10, 10);
        }
        assert_eq!(h.hist.len(), 40);
        assert_eq!(h.hist[0], 200.0);
        assert_eq!(h.histbest.len(), 40);
        assert_eq!(h.histmedian[0], 400.0);
    }
}
