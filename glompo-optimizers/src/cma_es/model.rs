//! The Gaussian model of CMA-ES: the covariance matrix C with its lazily renewed eigendecomposition
//! C = B D² Bᵀ, as pycma's `GaussFullSampler` keeps it.
//!
//! All products with B are matrix products on contiguous column-major storage: a population is sampled
//! as one matrix product Y = (B D) Z, and C is updated as one product C ← δ C + V W Vᵀ over all update
//! vectors, so that the cost per generation is that of two well-blocked matrix products (through
//! nalgebra and its `matrixmultiply` kernels) plus, every few generations, nalgebra's symmetric
//! eigendecomposition.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVectorView, DVectorViewMut, Dyn, SymmetricEigen};

/// The covariance matrix and its eigendecomposition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Model {
    /// The covariance matrix C, symmetric.
    pub(crate) c: DMatrix<f64>,
    /// The eigenvectors of the last decomposition, by columns, in the order of `d`.
    pub(crate) b: DMatrix<f64>,
    /// The square roots of the eigenvalues of the last decomposition, ascending.
    pub(crate) d: Vec<f64>,
    /// `B diag(D)`, the sampling transformation (derived from `b` and `d`).
    bd: DMatrix<f64>,
    /// The number of updates of C so far.
    pub(crate) count_tell: usize,
    /// The value of `count_tell` at the last decomposition.
    pub(crate) last_update: usize,
}

impl Model {
    /// The identity in `n` dimensions.
    pub(crate) fn identity(n: usize) -> Self {
        Model {
            c: DMatrix::identity(n, n),
            b: DMatrix::identity(n, n),
            d: vec![1.0; n],
            bd: DMatrix::identity(n, n),
            count_tell: 0,
            last_update: 0,
        }
    }

    /// A model from saved parts; `b` and `d` must be a decomposition of (an earlier) `c`.
    pub(crate) fn from_parts(
        c: DMatrix<f64>,
        b: DMatrix<f64>,
        d: Vec<f64>,
        count_tell: usize,
        last_update: usize,
    ) -> Self {
        let mut model = Model { bd: b.clone(), c, b, d, count_tell, last_update };
        model.refresh_bd();
        model
    }

    /// The dimension.
    pub(crate) fn dim(&self) -> usize {
        self.d.len()
    }

    fn refresh_bd(&mut self) {
        self.bd.copy_from(&self.b);
        for (col, &dk) in self.bd.column_iter_mut().zip(&self.d) {
            for v in col {
                *v *= dk;
            }
        }
    }

    /// Renews the decomposition if at least `gap` updates of C happened since the last one, as pycma's
    /// `GaussFullSampler.update_now` does.
    pub(crate) fn decompose_if_due(&mut self, gap: f64) {
        if (self.count_tell as f64) < self.last_update as f64 + gap {
            return;
        }
        self.decompose();
    }

    /// Renews the decomposition of C. Should an eigenvalue come out non-positive, the smallest
    /// previous eigenvalue is added to the diagonal and the decomposition repeated, as pycma does;
    /// eigenvalues are finally floored at a tiny positive value.
    pub(crate) fn decompose(&mut self) {
        let n = self.dim();
        symmetrize(&mut self.c);
        let d_old_min = self.d.iter().copied().fold(f64::INFINITY, f64::min);
        let mut attempt = 0;
        let eig = loop {
            match SymmetricEigen::try_new(self.c.clone(), f64::EPSILON, 1000 * n.max(10)) {
                Some(e) if e.eigenvalues.iter().all(|&v| v > 0.0 && v.is_finite()) || attempt >= 3 => {
                    break e;
                }
                Some(_) => {
                    for i in 0..n {
                        self.c[(i, i)] += d_old_min * d_old_min;
                    }
                    attempt += 1;
                }
                None => return,
            }
        };
        let values = &eig.eigenvalues;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let floor = values.iter().copied().fold(0.0, f64::max) * 1e-30 + f64::MIN_POSITIVE;
        for (k, &i) in order.iter().enumerate() {
            self.d[k] = values[i].max(floor).sqrt();
            self.b.column_mut(k).copy_from(&eig.eigenvectors.column(i));
        }
        self.refresh_bd();
        self.last_update = self.count_tell;
    }

    /// `y = B D z` for every column `z` of `z`: the standard normal columns of `z` become samples of
    /// N(0, C) (for the last decomposition).
    pub(crate) fn shape(&self, z: DMatrixView<'_, f64>, mut y: DMatrixViewMut<'_, f64>) {
        y.gemm(1.0, &self.bd, &z, 0.0);
    }

    /// `z = D⁻¹ Bᵀ y`, the coordinates of `y` in the eigenbasis, whitened: `B z = C^{-1/2} y` and
    /// `‖z‖ = ‖C^{-1/2} y‖` is the Mahalanobis length of `y`.
    pub(crate) fn whiten(&self, y: &[f64], z: &mut [f64]) {
        let n = self.dim();
        let mut out = DVectorViewMut::from_slice(z, n);
        out.gemv_tr(1.0, &self.b, &DVectorView::from_slice(y, n), 0.0);
        for (v, dk) in z.iter_mut().zip(&self.d) {
            *v /= dk;
        }
    }

    /// `out = alpha B z + beta out`.
    pub(crate) fn rotate(&self, alpha: f64, z: &[f64], beta: f64, out: &mut [f64]) {
        let n = self.dim();
        let mut out = DVectorViewMut::from_slice(out, n);
        out.gemv(alpha, &self.b, &DVectorView::from_slice(z, n), beta);
    }

    /// `C ← decay C + Σ_k w_k v_k v_kᵀ` over the columns `v_k` of `v`, with `vw` as scratch of the same
    /// shape; C stays exactly symmetric. Counts as one update for the lazy decomposition. Returns
    /// whether C is still finite.
    pub(crate) fn update(&mut self, decay: f64, v: &DMatrix<f64>, w: &[f64], vw: &mut DMatrix<f64>) -> bool {
        let (n, m) = v.shape();
        vw.copy_from(v);
        for (mut col, &wk) in vw.column_iter_mut().zip(w) {
            col *= wk;
        }
        // Vᵀ as a view of the same storage with swapped strides, so that the product runs through the
        // blocked kernels without a copy.
        let vt = DMatrixView::<'_, f64, Dyn, Dyn>::from_slice_with_strides(v.as_slice(), m, n, n, 1);
        self.c.gemm(1.0, &*vw, &vt, decay);
        self.count_tell += 1;
        symmetrize(&mut self.c)
    }

    /// Rebuilds C from the last decomposition (after an update that overflowed).
    pub(crate) fn reset_to_decomposition(&mut self) {
        let n = self.dim();
        let bdt = DMatrixView::<'_, f64, Dyn, Dyn>::from_slice_with_strides(self.bd.as_slice(), n, n, n, 1);
        self.c.gemm(1.0, &self.bd, &bdt, 0.0);
        symmetrize(&mut self.c);
    }
}

/// Makes `c` exactly symmetric by averaging mirrored entries; returns whether every entry is finite.
/// Works in square tiles so that the transposed accesses stay in cache for large matrices.
fn symmetrize(c: &mut DMatrix<f64>) -> bool {
    const TILE: usize = 32;
    let n = c.nrows();
    let data = c.as_mut_slice();
    let mut finite = true;
    for j0 in (0..n).step_by(TILE) {
        for i0 in (j0..n).step_by(TILE) {
            for j in j0..(j0 + TILE).min(n) {
                for i in i0.max(j)..(i0 + TILE).min(n) {
                    // Column-major: (i, j) is at i + j n.
                    let v = 0.5 * (data[i + j * n] + data[j + i * n]);
                    finite &= v.is_finite();
                    data[i + j * n] = v;
                    data[j + i * n] = v;
                }
            }
        }
    }
    finite
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_model(n: usize) -> Model {
        let mut m = Model::identity(n);
        let v = DMatrix::from_fn(n, 2 * n, |i, j| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
        let w: Vec<f64> = (0..2 * n).map(|k| 0.3 / (k + 1) as f64).collect();
        let mut vw = v.clone();
        assert!(m.update(0.8, &v, &w, &mut vw));
        m.decompose();
        m
    }

    #[test]
    fn update_is_a_symmetric_weighted_sum_of_outer_products() {
        let n = 9;
        let mut m = Model::identity(n);
        let v = DMatrix::from_fn(n, 8, |i, j| (i as f64 - j as f64 * 0.5).sin());
        let w = [0.5, 0.2, 0.1, 0.05, 0.0, -0.1, -0.2, -0.3];
        let mut vw = v.clone();
        assert!(m.update(0.7, &v, &w, &mut vw));
        let mut expected = DMatrix::<f64>::identity(n, n) * 0.7;
        for (k, wk) in w.iter().enumerate() {
            expected += v.column(k) * v.column(k).transpose() * *wk;
        }
        assert!((&m.c - &expected).abs().max() < 1e-14);
        assert_eq!(m.c, m.c.transpose());
        assert_eq!(m.count_tell, 1);
    }

    #[test]
    fn decomposition_shapes_and_whitens() {
        let n = 7;
        let m = random_model(n);
        assert!(m.d.windows(2).all(|w| w[0] <= w[1]));
        let rebuilt = &m.bd * m.bd.transpose();
        assert!((&rebuilt - &m.c).abs().max() < 1e-12);
        // Whitening inverts shaping: D⁻¹ Bᵀ (B D z) = z.
        let z = DMatrix::from_fn(n, 1, |i, _| i as f64 - 3.0);
        let mut y = DMatrix::zeros(n, 1);
        m.shape(z.columns(0, 1), y.columns_mut(0, 1));
        let mut back = vec![0.0; n];
        m.whiten(y.as_slice(), &mut back);
        for (a, b) in back.iter().zip(z.iter()) {
            assert!((a - b).abs() < 1e-12, "{back:?}");
        }
        // B z is C^{-1/2} y.
        let mut white = vec![0.0; n];
        m.rotate(1.0, &back, 0.0, &mut white);
        let inv_sqrt = &m.b
            * DMatrix::from_diagonal(&m.d.iter().map(|d| 1.0 / d).collect::<Vec<_>>().into())
            * m.b.transpose();
        let expected = &inv_sqrt * &y;
        for (a, b) in white.iter().zip(expected.iter()) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn reset_rebuilds_c_from_the_decomposition() {
        let mut m = random_model(6);
        let c = m.c.clone();
        m.c.fill(f64::NAN);
        m.reset_to_decomposition();
        assert!((&m.c - &c).abs().max() < 1e-12);
    }
}
