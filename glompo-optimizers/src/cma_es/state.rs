//! The saved form of a [`CmaEs`]: every field of its state, RNG included, with exact floats, so that a
//! restored strategy continues with exactly the points the original would have asked.

use glompo_core::{OptimizerError, RngState, SeededRng};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::CmaEs;
use super::model::Model;
use super::stop::{FitHistory, XStagnation};
use super::strategy::Generation;
use crate::util::{BestRecord, exact};

/// A pending population, its matrices by columns.
#[derive(Serialize, Deserialize)]
struct SavedGeneration {
    #[serde(with = "exact::vecs")]
    z: Vec<Vec<f64>>,
    #[serde(with = "exact::vecs")]
    y: Vec<Vec<f64>>,
    #[serde(with = "exact::vecs")]
    pheno: Vec<Vec<f64>>,
    injected: usize,
}

/// Every field of a [`CmaEs`] that changes while it runs; matrices by rows.
#[derive(Serialize, Deserialize)]
pub(crate) struct Saved {
    rng: RngState,
    #[serde(with = "exact")]
    sigma0: f64,
    #[serde(with = "exact::vec")]
    mean: Vec<f64>,
    #[serde(with = "exact")]
    sigma: f64,
    #[serde(with = "exact::vecs")]
    c: Vec<Vec<f64>>,
    #[serde(with = "exact::vecs")]
    b: Vec<Vec<f64>>,
    #[serde(with = "exact::vec")]
    d: Vec<f64>,
    #[serde(with = "exact::vec")]
    pc: Vec<f64>,
    #[serde(with = "exact::vec")]
    ps: Vec<f64>,
    count_tell: usize,
    last_update: usize,
    countiter: usize,
    countevals: usize,
    fit: FitHistory,
    best: BestRecord,
    best_evals: usize,
    xstag: XStagnation,
    pending: Option<SavedGeneration>,
    #[serde(with = "exact::vecs")]
    injections: Vec<Vec<f64>>,
}

/// The rows of a matrix.
pub(crate) fn rows(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows()).map(|i| m.row(i).iter().copied().collect()).collect()
}

fn columns(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    m.as_slice().chunks_exact(m.nrows().max(1)).map(<[f64]>::to_vec).collect()
}

/// An `n × n` matrix from its rows, if they have that shape.
fn from_rows(rows: &[Vec<f64>], n: usize) -> Option<DMatrix<f64>> {
    (rows.len() == n && rows.iter().all(|r| r.len() == n)).then(|| DMatrix::from_fn(n, n, |i, j| rows[i][j]))
}

/// An `n × m` matrix from its columns, if they have that shape.
fn from_columns(cols: &[Vec<f64>], n: usize, m: usize) -> Option<DMatrix<f64>> {
    (cols.len() == m && cols.iter().all(|c| c.len() == n))
        .then(|| DMatrix::from_iterator(n, m, cols.iter().flatten().copied()))
}

impl Saved {
    pub(crate) fn of(es: &CmaEs) -> Self {
        Saved {
            rng: es.rng.state(),
            sigma0: es.sigma0,
            mean: es.mean.clone(),
            sigma: es.sigma,
            c: rows(&es.model.c),
            b: rows(&es.model.b),
            d: es.model.d.clone(),
            pc: es.pc.clone(),
            ps: es.ps.clone(),
            count_tell: es.model.count_tell,
            last_update: es.model.last_update,
            countiter: es.countiter,
            countevals: es.countevals,
            fit: es.fit.clone(),
            best: es.best.clone(),
            best_evals: es.best_evals,
            xstag: es.xstag.clone(),
            pending: es.pending.as_ref().map(|g| SavedGeneration {
                z: columns(&g.z),
                y: columns(&g.y),
                pheno: columns(&g.pheno),
                injected: g.injected,
            }),
            injections: es.injections.clone(),
        }
    }

    /// Checks that the state fits `es` (dimension and population size) and moves it in.
    pub(crate) fn restore_into(self, es: &mut CmaEs) -> Result<(), OptimizerError> {
        let s = self;
        let (n, lambda) = (es.params.n, es.params.lambda);
        let bad = |message: String| OptimizerError::BadState { optimizer: CmaEs::NAME.into(), message };
        let vectors_fit = [&s.mean, &s.d, &s.pc, &s.ps].iter().all(|v| v.len() == n)
            && s.injections.iter().all(|v| v.len() == n)
            && s.xstag.dim() == n
            && s.best.get().is_none_or(|e| e.x.len() == n);
        let (Some(c), Some(b)) = (from_rows(&s.c, n), from_rows(&s.b, n)) else {
            return Err(bad(format!("the covariance matrix is not {n} x {n}")));
        };
        let pending = match &s.pending {
            None => None,
            Some(g) => match (
                from_columns(&g.z, n, lambda),
                from_columns(&g.y, n, lambda),
                from_columns(&g.pheno, n, lambda),
            ) {
                (Some(z), Some(y), Some(pheno)) if g.injected < lambda => {
                    Some(Generation { z, y, pheno, injected: g.injected })
                }
                _ => return Err(bad(format!("the pending population is not {lambda} points of {n}"))),
            },
        };
        if !vectors_fit {
            return Err(bad(format!("the state does not fit dimension {n}")));
        }
        es.rng = SeededRng::from_state(&s.rng).map_err(bad)?;
        es.sigma0 = s.sigma0;
        es.mean = s.mean;
        es.sigma = s.sigma;
        es.model = Model::from_parts(c, b, s.d, s.count_tell, s.last_update);
        es.pc = s.pc;
        es.ps = s.ps;
        es.countiter = s.countiter;
        es.countevals = s.countevals;
        es.fit = s.fit;
        es.best = s.best;
        es.best_evals = s.best_evals;
        es.xstag = s.xstag;
        es.pending = pending;
        es.injections = s.injections;
        Ok(())
    }
}
