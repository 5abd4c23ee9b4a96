//! One generation of CMA-ES: sampling a population (with injected solutions first) and updating the
//! mean, the evolution paths, the covariance matrix and the step size from its ranked values, in
//! pycma's order (`CMAEvolutionStrategy.ask_geno` and `tell`).
//!
//! Every population member keeps its standard normal vector `z` and its step `y = B D z` (the point is
//! `mean + σ y`), so that the update needs no product with C^{-1/2}: the whitened mean shift is
//! `B Σ wᵢ zᵢ` and the Mahalanobis length of a step is `‖z‖`. For an injected solution, `z` is computed
//! from its step with the same decomposition.

use glompo_core::{Evaluation, OptimizerError};
use nalgebra::DMatrix;

use super::CmaEs;

/// One asked population, by columns: the standard normal vectors, the steps and the points in the box,
/// and how many of the first members were injected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generation {
    pub(crate) z: DMatrix<f64>,
    pub(crate) y: DMatrix<f64>,
    pub(crate) pheno: DMatrix<f64>,
    pub(crate) injected: usize,
}

impl Generation {
    fn zeros(n: usize, lambda: usize) -> Self {
        Generation {
            z: DMatrix::zeros(n, lambda),
            y: DMatrix::zeros(n, lambda),
            pheno: DMatrix::zeros(n, lambda),
            injected: 0,
        }
    }

    /// The points to evaluate.
    pub(crate) fn points(&self) -> Vec<Vec<f64>> {
        self.pheno.as_slice().chunks_exact(self.pheno.nrows()).map(<[f64]>::to_vec).collect()
    }

    /// Checks that `evals` answers this population: same length, same dimension.
    pub(crate) fn check_tell(&self, evals: &[Evaluation]) -> Result<(), OptimizerError> {
        let (n, lambda) = self.pheno.shape();
        if evals.len() != lambda {
            return Err(OptimizerError::Protocol(format!(
                "{lambda} points were asked but {} evaluations were told",
                evals.len()
            )));
        }
        if let Some((i, e)) = evals.iter().enumerate().find(|(_, e)| e.x.len() != n) {
            return Err(OptimizerError::Protocol(format!(
                "evaluation {i} has {} coordinates but {n} were asked",
                e.x.len()
            )));
        }
        Ok(())
    }
}

/// Buffers reused from generation to generation, so that a generation allocates only the points it
/// hands out.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    /// The buffers of the last told generation, reused for the next one.
    pub(crate) spare: Option<Generation>,
    /// The ranked values of the generation being told.
    pub(crate) values: Vec<f64>,
    /// Its values, sorted (what the stop criteria read).
    pub(crate) sorted: Vec<f64>,
    order: Vec<usize>,
    /// The update vectors of C by columns (the rank-one vector first), their weights and a scratch copy.
    v: DMatrix<f64>,
    vw: DMatrix<f64>,
    w: Vec<f64>,
    /// Weighted sums of the selected steps and of their normal vectors.
    yw: Vec<f64>,
    zw: Vec<f64>,
    /// The state before an update, to return to if the update overflows.
    backup: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(n: usize, lambda: usize) -> Self {
        Scratch {
            spare: None,
            values: Vec::with_capacity(lambda),
            sorted: Vec::with_capacity(lambda),
            order: Vec::with_capacity(lambda),
            v: DMatrix::zeros(n, lambda + 1),
            vw: DMatrix::zeros(n, lambda + 1),
            w: Vec::with_capacity(lambda + 1),
            yw: vec![0.0; n],
            zw: vec![0.0; n],
            backup: Vec::with_capacity(3 * n + 1),
        }
    }
}

impl CmaEs {
    /// Samples a population: injected solutions first (at most λ − 1), then `mean + σ B D z` for
    /// standard normal `z`; renews the decomposition first if it is due.
    pub(crate) fn sample(&mut self) -> Generation {
        self.model.decompose_if_due(self.params.lazy_gap);
        let (n, lambda) = (self.params.n, self.params.lambda);
        let mut g = self.scratch.spare.take().unwrap_or_else(|| Generation::zeros(n, lambda));
        let take = self.injections.len().min(lambda - 1);
        let injections: Vec<Vec<f64>> = self.injections.drain(..take).collect();
        for (k, direction) in injections.iter().enumerate() {
            let y = &mut g.y.as_mut_slice()[k * n..(k + 1) * n];
            for (yi, di) in y.iter_mut().zip(direction) {
                *yi = di / self.sigma;
            }
            let z = &mut g.z.as_mut_slice()[k * n..(k + 1) * n];
            self.model.whiten(y, z);
            // pycma keeps the direction if its Mahalanobis length is at most √n and otherwise shortens it
            // to the length of a random normal vector.
            let length = z.iter().map(|v| v * v).sum::<f64>().sqrt();
            if length > (n as f64).sqrt() {
                let mut r = vec![0.0; n];
                self.rng.fill_normal(&mut r);
                let factor = r.iter().map(|v| v * v).sum::<f64>().sqrt() / length;
                z.iter_mut().for_each(|v| *v *= factor);
                y.iter_mut().for_each(|v| *v *= factor);
            }
        }
        g.injected = take;
        self.rng.fill_normal(&mut g.z.as_mut_slice()[take * n..]);
        self.model.shape(g.z.columns(take, lambda - take), g.y.columns_mut(take, lambda - take));
        for (y, x) in g.y.as_slice().chunks_exact(n).zip(g.pheno.as_mut_slice().chunks_exact_mut(n)) {
            for (i, (xi, yi)) in x.iter_mut().zip(y).enumerate() {
                *xi = self.transform.transform_i(self.mean[i] + self.sigma * yi, i);
            }
        }
        g
    }

    /// Updates the distribution with a told generation; `values` are ranked values (non-finite as +inf).
    /// Leaves the sorted values in `scratch.sorted`. Returns `false`, with the state before the update
    /// (C rebuilt from its decomposition), if the update overflowed.
    pub(crate) fn update(&mut self, g: &Generation, values: &[f64]) -> bool {
        let p = &self.params;
        let (n, lambda) = (p.n, values.len());
        let s = &mut self.scratch;
        s.order.clear();
        s.order.extend(0..lambda);
        s.order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
        s.sorted.clear();
        s.sorted.extend(s.order.iter().map(|&i| values[i]));
        self.fit.record(&s.sorted, self.countiter, n, lambda);
        s.backup.clear();
        s.backup.extend(self.mean.iter().chain(&self.pc).chain(&self.ps));
        s.backup.push(self.sigma);

        // The new mean: the weighted sum of the μ best steps, and the same sum of their normal vectors.
        s.yw.fill(0.0);
        s.zw.fill(0.0);
        for (w, &k) in p.positive_weights().iter().zip(&s.order) {
            let (yk, zk) = (&g.y.as_slice()[k * n..(k + 1) * n], &g.z.as_slice()[k * n..(k + 1) * n]);
            for ((a, b), (yi, zi)) in s.yw.iter_mut().zip(s.zw.iter_mut()).zip(yk.iter().zip(zk)) {
                *a += w * yi;
                *b += w * zi;
            }
        }
        for (m, y) in self.mean.iter_mut().zip(&s.yw) {
            *m += self.sigma * y;
        }

        // Cumulation for the step size, p_σ ← (1 − c_σ) p_σ + √(c_σ (2 − c_σ) μ_eff) C^{-1/2} Δm / σ, where
        // C^{-1/2} Δm / σ = B Σ wᵢ zᵢ; then the stall indicator h_σ and the path p_c.
        let (cs, cc, mueff) = (p.cs, p.cc, p.mueff);
        self.model.rotate((cs * (2.0 - cs) * mueff).sqrt(), &s.zw, 1.0 - cs, &mut self.ps);
        let ps_sq: f64 = self.ps.iter().map(|v| v * v).sum();
        let corrected = ps_sq / (1.0 - (1.0 - cs).powi(2 * self.countiter as i32));
        let hsig = if corrected / n as f64 - 1.0 < 1.0 + 4.0 / (n as f64 + 1.0) { 1.0 } else { 0.0 };
        let c1a = p.c1 * (1.0 - (1.0 - hsig) * cc * (2.0 - cc));
        let f = hsig * (cc * (2.0 - cc) * mueff).sqrt();
        for (pc, y) in self.pc.iter_mut().zip(&s.yw) {
            *pc = (1.0 - cc) * *pc + f * y;
        }

        // Covariance matrix: decay, rank-one and rank-μ (with active) terms in one product. Injected
        // solutions get no negative weight; other negative weights are scaled by n / ‖C^{-1/2} y‖².
        let mut finite = true;
        if c1a + p.cmu > 0.0 {
            s.w.clear();
            s.w.push(c1a);
            let f = (p.c1 / (c1a + 1e-23)).sqrt();
            for (v, pc) in s.v.as_mut_slice()[..n].iter_mut().zip(&self.pc) {
                *v = f * pc;
            }
            let mut sum = c1a;
            for (j, &k) in s.order.iter().enumerate() {
                let mut w = p.cmu * p.weights.get(j).copied().unwrap_or(0.0);
                if k < g.injected && w < 0.0 {
                    w = 0.0;
                }
                sum += w;
                if w < 0.0 {
                    let norm = g.z.column(k).norm();
                    w *= n as f64 / (norm + 1e-9).powi(2);
                }
                s.w.push(w);
                s.v.column_mut(j + 1).copy_from(&g.y.column(k));
            }
            finite = self.model.update(1.0 - sum, &s.v, &s.w, &mut s.vw);
        }

        // Cumulative step-size adaptation, the change clipped to a factor of e as pycma does.
        let norm_ps = ps_sq.sqrt();
        let change = (p.cs / p.damps * (norm_ps / p.chi_n - 1.0)).clamp(-1.0, 1.0);
        self.sigma *= change.exp();
        if !finite || !self.vectors_are_finite() {
            let s = &self.scratch;
            self.mean.copy_from_slice(&s.backup[..n]);
            self.pc.copy_from_slice(&s.backup[n..2 * n]);
            self.ps.copy_from_slice(&s.backup[2 * n..3 * n]);
            self.sigma = s.backup[3 * n];
            self.model.reset_to_decomposition();
            return false;
        }
        self.xstag.update(&self.mean);
        true
    }
}
