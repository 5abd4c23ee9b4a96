//! Pure logic of a trajectory plot: the evaluations of a run reduced, in one pass and bounded
//! memory, to what a picture a few thousand pixels wide can show; and the y scale.
//!
//! The call ids are cut into buckets of `width` consecutive ids. Each optimizer's curve keeps, per
//! bucket, its first, lowest, highest and last point (the M4 reduction), so that its line looks as it
//! would with every point drawn. When the run outgrows `columns` buckets, the width doubles and the
//! buckets are merged in pairs: the buckets never number more than `columns`, however long the run.

use std::collections::BTreeMap;

use glompo_core::optimizer::OptimizerId;

/// A point of a curve: the call id and the value.
pub(crate) type Point = (u64, f64);

/// What one bucket of a curve keeps: its index (call ids `index · width` to `(index + 1) · width −
/// 1`) and its first, lowest, highest and last points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) index: u64,
    pub(crate) first: Point,
    pub(crate) min: Point,
    pub(crate) max: Point,
    pub(crate) last: Point,
}

impl Bucket {
    fn new(index: u64, p: Point) -> Self {
        Bucket { index, first: p, min: p, max: p, last: p }
    }

    /// Adds `later`, whose points all come after this bucket's.
    fn absorb(&mut self, later: &Bucket) {
        if later.min.1 < self.min.1 {
            self.min = later.min;
        }
        if later.max.1 > self.max.1 {
            self.max = later.max;
        }
        self.last = later.last;
    }
}

/// One decimated curve, its points in call-id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Series {
    buckets: Vec<Bucket>,
}

impl Series {
    /// Appends `p`, whose call id is above every earlier one, at the bucket `width`.
    fn push(&mut self, p: Point, width: u64) {
        let index = p.0 / width;
        match self.buckets.last_mut() {
            Some(b) if b.index == index => b.absorb(&Bucket::new(index, p)),
            _ => self.buckets.push(Bucket::new(index, p)),
        }
    }

    /// Merges the buckets that fall together when the width grows by `factor`.
    fn coarsen(&mut self, factor: u64) {
        let mut merged: Vec<Bucket> = Vec::with_capacity(self.buckets.len() / 2 + 1);
        for mut b in self.buckets.drain(..) {
            b.index /= factor;
            match merged.last_mut() {
                Some(m) if m.index == b.index => m.absorb(&b),
                _ => merged.push(b),
            }
        }
        self.buckets = merged;
    }

    /// Its buckets, in index order.
    pub(crate) fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The points to draw, in call-id order: each bucket's first, extremes and last, once each.
    pub(crate) fn points(&self) -> Vec<Point> {
        let mut out = Vec::with_capacity(self.buckets.len() * 4);
        for b in &self.buckets {
            let mut four = [b.first, b.min, b.max, b.last];
            four.sort_by_key(|p| p.0);
            for p in four {
                if out.last().is_none_or(|q: &Point| q.0 != p.0) {
                    out.push(p);
                }
            }
        }
        out
    }
}

/// What the plot shows of one optimizer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Track {
    /// Its finite values.
    pub(crate) curve: Series,
    /// Its evaluations, failed ones included.
    pub(crate) evaluations: u64,
    /// Its best finite value.
    pub(crate) best: Option<f64>,
    /// The call id of its last evaluation.
    pub(crate) last_call: u64,
}

/// A run's evaluations, reduced for a plot of at most `columns` buckets across.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trajectories {
    columns: u64,
    width: u64,
    /// Each optimizer's track.
    pub(crate) tracks: BTreeMap<OptimizerId, Track>,
    /// The best value so far, at each improvement.
    pub(crate) best: Series,
    /// The best finite value and its call id.
    pub(crate) best_point: Option<Point>,
    /// The buckets that hold an evaluation without a finite value.
    failure_buckets: Vec<u64>,
    /// Evaluations read.
    pub(crate) evaluations: u64,
    /// Evaluations that failed (NaN).
    pub(crate) failed: u64,
    /// Evaluations whose value was infinite.
    pub(crate) infinite: u64,
    /// The highest call id read.
    pub(crate) last_call: u64,
    /// The lowest and highest finite values.
    pub(crate) range: Option<(f64, f64)>,
}

impl Trajectories {
    /// An empty reduction for `columns` buckets (at least 2).
    pub(crate) fn new(columns: usize) -> Self {
        Trajectories {
            columns: columns.max(2) as u64,
            width: 1,
            tracks: BTreeMap::new(),
            best: Series::default(),
            best_point: None,
            failure_buckets: Vec::new(),
            evaluations: 0,
            failed: 0,
            infinite: 0,
            last_call: 0,
            range: None,
        }
    }

    /// Adds the evaluation `call_id` of `opt_id` with value `fx` (NaN: failed). Call ids come in
    /// increasing order, as in `evaluations.jsonl`.
    pub(crate) fn add(&mut self, call_id: u64, opt_id: OptimizerId, fx: f64) {
        while call_id / self.width >= self.columns {
            self.coarsen();
        }
        self.evaluations += 1;
        self.last_call = self.last_call.max(call_id);
        let track = self.tracks.entry(opt_id).or_default();
        track.evaluations += 1;
        track.last_call = call_id;
        if !fx.is_finite() {
            if fx.is_nan() {
                self.failed += 1;
            } else {
                self.infinite += 1;
            }
            let index = call_id / self.width;
            if self.failure_buckets.last() != Some(&index) {
                self.failure_buckets.push(index);
            }
            return;
        }
        track.curve.push((call_id, fx), self.width);
        track.best = Some(track.best.map_or(fx, |b| b.min(fx)));
        self.range = Some(self.range.map_or((fx, fx), |(lo, hi)| (lo.min(fx), hi.max(fx))));
        if self.best_point.is_none_or(|(_, b)| fx < b) {
            self.best_point = Some((call_id, fx));
            self.best.push((call_id, fx), self.width);
        }
    }

    /// The bucket width: how many consecutive call ids a bucket holds.
    pub(crate) fn width(&self) -> u64 {
        self.width
    }

    /// The indices of the buckets that hold an evaluation without a finite value, in order.
    pub(crate) fn failure_buckets(&self) -> &[u64] {
        &self.failure_buckets
    }

    /// Doubles the bucket width.
    fn coarsen(&mut self) {
        self.width *= 2;
        for track in self.tracks.values_mut() {
            track.curve.coarsen(2);
        }
        self.best.coarsen(2);
        let mut merged: Vec<u64> = Vec::with_capacity(self.failure_buckets.len());
        for index in self.failure_buckets.drain(..).map(|i| i / 2) {
            if merged.last() != Some(&index) {
                merged.push(index);
            }
        }
        self.failure_buckets = merged;
    }

    /// The middle call id of every bucket that holds an evaluation without a finite value.
    pub(crate) fn failure_marks(&self) -> Vec<u64> {
        let w = self.width;
        self.failure_buckets.iter().map(|i| (i * w + w / 2).min(self.last_call).max(1)).collect()
    }

    /// The best-so-far curve as steps: each best holds until the next improvement, and the last one
    /// to the end of the run.
    pub(crate) fn best_steps(&self) -> Vec<Point> {
        let points = self.best.points();
        let mut out = Vec::with_capacity(points.len() * 2 + 1);
        for (i, &p) in points.iter().enumerate() {
            if i > 0 {
                out.push((p.0, points[i - 1].1));
            }
            out.push(p);
        }
        if let Some(&(c, f)) = out.last()
            && c < self.last_call
        {
            out.push((self.last_call, f));
        }
        out
    }
}

/// How values are placed on the y axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scale {
    /// f as it is, from `lo` to `hi`.
    Linear {
        /// The axis' bottom.
        lo: f64,
        /// The axis' top.
        hi: f64,
    },
    /// log f (every finite value is positive), from `lo` to `hi`.
    Log {
        /// The axis' bottom (> 0).
        lo: f64,
        /// The axis' top.
        hi: f64,
    },
    /// log (f − `min` + `offset`): values that reach zero or below, spanning decades above their
    /// minimum.
    ShiftedLog {
        /// The lowest value.
        min: f64,
        /// What the lowest value is plotted as.
        offset: f64,
        /// The axis' top, shifted.
        hi: f64,
    },
}

/// Decades the finite values must span for a log scale.
const LOG_DECADES: f64 = 3.0;
/// The smallest offset of a shifted log scale, relative to the lowest value's magnitude (closer
/// than that, values are equal for the plot).
const MIN_OFFSET: f64 = 1e-12;
/// The smallest offset relative to the range: a shifted axis spans at most 24 decades.
const MAX_DECADES_DOWN: f64 = 1e-24;

impl Scale {
    /// The scale for finite values from `lo` to `hi` whose smallest positive distance above `lo` is
    /// `gap` (infinite when there is none).
    ///
    /// Positive values get a log scale when they span more than three decades. Values that reach
    /// zero or below are shifted, `f − lo + c` with `c` the smallest gap (at least 10⁻¹² of |lo|, closer
    /// than which values are equal for the eye, and 10⁻²⁴ of the range), and get a log scale when those span
    /// more than three decades.
    pub(crate) fn choose(lo: f64, hi: f64, gap: f64) -> Scale {
        let range = hi - lo;
        if lo > 0.0 && hi / lo > 10f64.powf(LOG_DECADES) {
            return Scale::Log { lo, hi };
        }
        if lo <= 0.0 && range.is_finite() && range > 0.0 {
            let offset = gap.min(range).max(lo.abs() * MIN_OFFSET).max(range * MAX_DECADES_DOWN);
            if (range + offset) / offset > 10f64.powf(LOG_DECADES) {
                return Scale::ShiftedLog { min: lo, offset, hi: range + offset };
            }
        }
        let pad = if range > 0.0 && range.is_finite() { range * 0.04 } else { lo.abs().max(1.0) * 0.1 };
        Scale::Linear { lo: lo - pad, hi: hi + pad }
    }

    /// Where `f` goes on the axis (in the axis' own units, before any log).
    pub(crate) fn y(&self, f: f64) -> f64 {
        match *self {
            Scale::Linear { .. } | Scale::Log { .. } => f,
            Scale::ShiftedLog { min, offset, .. } => f - min + offset,
        }
    }

    /// The axis' ends, a margin added on log scales.
    pub(crate) fn bounds(&self) -> (f64, f64) {
        match *self {
            Scale::Linear { lo, hi } => (lo, hi),
            Scale::Log { lo, hi } => (lo / 10f64.powf(0.15), hi * 10f64.powf(0.15)),
            Scale::ShiftedLog { offset, hi, .. } => (offset / 10f64.powf(0.15), hi * 10f64.powf(0.15)),
        }
    }

    /// Whether the axis is logarithmic.
    pub(crate) fn is_log(&self) -> bool {
        !matches!(self, Scale::Linear { .. })
    }

    /// The axis' label.
    pub(crate) fn label(&self) -> String {
        match *self {
            Scale::Linear { .. } => "f".to_owned(),
            Scale::Log { .. } => "f (log scale)".to_owned(),
            Scale::ShiftedLog { min, offset, .. } => {
                let (offset, min) = (super::number(offset, 2), super::number(min, 5));
                format!("f − min f + {offset}  (log scale; min f = {min})")
            }
        }
    }
}

/// The smallest positive distance above `lo` among the curves' points (infinite when none).
pub(crate) fn smallest_gap<'a>(curves: impl Iterator<Item = &'a [Point]>, lo: f64) -> f64 {
    curves.flatten().map(|p| p.1 - lo).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::number;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.9949590570932969, 7), "0.9949591");
        assert_eq!(number(-9.10385, 4), "-9.104");
        assert_eq!(number(1e14, 4), "1e14");
        assert_eq!(number(1.5e-7, 4), "1.5e-7");
        assert_eq!(number(200.0, 4), "200");
        assert_eq!(number(0.0, 4), "0");
    }

    #[test]
    fn a_long_run_keeps_at_most_the_columns_and_every_extreme() {
        let mut t = Trajectories::new(100);
        for c in 1..=1_000_000u64 {
            let fx = if c == 777_777 {
                -5.0
            } else if c == 123_457 {
                99.0
            } else {
                (c % 10) as f64
            };
            t.add(c, 1, fx);
        }
        let track = &t.tracks[&1];
        assert!(track.curve.buckets.len() <= 100, "{}", track.curve.buckets.len());
        assert!(track.curve.buckets.len() > 50);
        let points = track.curve.points();
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "in call-id order");
        assert_eq!(points.first(), Some(&(1, 1.0)));
        assert_eq!(points.last(), Some(&(1_000_000, 0.0)));
        assert!(points.contains(&(777_777, -5.0)) && points.contains(&(123_457, 99.0)));
        assert_eq!((t.evaluations, t.range, track.best), (1_000_000, Some((-5.0, 99.0)), Some(-5.0)));
    }

    #[test]
    fn optimizers_interleave_and_keep_their_own_curves() {
        let mut t = Trajectories::new(10);
        for c in 1..=1000u64 {
            t.add(c, c % 3, if c % 3 == 0 { f64::NAN } else { c as f64 });
        }
        assert_eq!(t.tracks.len(), 3);
        assert_eq!(t.tracks[&0].evaluations, 333);
        assert!(t.tracks[&0].curve.points().is_empty());
        assert_eq!(t.tracks[&2].curve.points().last(), Some(&(998, 998.0)));
        assert_eq!(t.failed, 333);
        let marks = t.failure_marks();
        assert!(!marks.is_empty() && marks.len() <= 10, "{marks:?}");
        assert!(marks.iter().all(|&m| (1..=1000).contains(&m)));
    }

    #[test]
    fn the_best_so_far_is_a_step_curve_to_the_end() {
        let mut t = Trajectories::new(1000);
        for (c, fx) in [(1, 5.0), (2, 7.0), (3, 4.0), (4, f64::INFINITY), (5, 4.5), (6, 1.0), (7, 3.0)] {
            t.add(c, 1, fx);
        }
        assert_eq!(t.best_steps(), vec![(1, 5.0), (3, 5.0), (3, 4.0), (6, 4.0), (6, 1.0), (7, 1.0)]);
        assert_eq!((t.best_point, t.infinite, t.failed), (Some((6, 1.0)), 1, 0));
    }

    #[test]
    fn the_scale_is_logarithmic_only_over_decades() {
        assert!(matches!(Scale::choose(1.0, 500.0, 0.5), Scale::Linear { .. }));
        assert_eq!(Scale::choose(1e-6, 50.0, 1.0), Scale::Log { lo: 1e-6, hi: 50.0 });
        // Below zero: shifted by the minimum, offset by the smallest gap above it.
        let s = Scale::choose(-100.0, 100.0, 1e-5);
        assert_eq!(s, Scale::ShiftedLog { min: -100.0, offset: 1e-5, hi: 200.0 + 1e-5 });
        assert_eq!(s.y(-100.0), 1e-5);
        assert_eq!(s.label(), "f − min f + 1e-5  (log scale; min f = -100)");
        // The offset is at least 1e-12 of the minimum's magnitude; a coarse spread stays linear.
        let tiny = Scale::choose(-1.0, 1.0, 1e-30);
        assert_eq!(tiny, Scale::ShiftedLog { min: -1.0, offset: 1e-12, hi: 2.0 + 1e-12 });
        // Outliers of 1e14 do not squash the values near the minimum.
        let lj = Scale::choose(-9.1, 1e14, 1e-6);
        assert!(matches!(lj, Scale::ShiftedLog { offset, .. } if offset == 1e-6), "{lj:?}");
        assert!(matches!(Scale::choose(-1.0, 1.0, 0.1), Scale::Linear { .. }));
        // One value only: a linear axis around it.
        let one = Scale::choose(3.0, 3.0, f64::INFINITY);
        assert!(matches!(one, Scale::Linear { lo, hi } if lo < 3.0 && hi > 3.0), "{one:?}");
    }
}
