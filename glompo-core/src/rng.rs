//! Seeded, portable and checkpointable randomness.
//!
//! Every stochastic component owns a [`SeededRng`] derived from the run seed and its own stream
//! number; nothing uses a global or thread-local generator. The generator is ChaCha8, named explicitly
//! because `StdRng` is not portable across `rand` versions, and the normal sampler is our own
//! polar-method step so that golden values do not change when `rand_distr` does.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A seeded ChaCha8 generator whose exact position can be saved and restored.
#[derive(Debug, Clone, PartialEq)]
pub struct SeededRng {
    seed: u64,
    inner: ChaCha8Rng,
}

/// The complete state of a [`SeededRng`], as stored in optimizer states and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 64-bit seed the generator was made from.
    pub seed: u64,
    /// The ChaCha stream number.
    pub stream: u64,
    /// The position in the stream, in 32-bit words, as a decimal string (it is a `u128`).
    pub word_pos: String,
}

/// The largest integer every JSON reader keeps exact (2⁵³ − 1, the largest a double holds exactly).
pub const MAX_EXACT_SEED: u64 = (1 << 53) - 1;

/// The component number of the run's generator (optimizers use their ids, from 1).
const GENERATOR_STREAM: u64 = 0;
/// The component number of the run's selector.
const SELECTOR_STREAM: u64 = 1 << 41;
/// Hunter leaves use the component numbers after this one, one per leaf of the expression.
const HUNTER_STREAMS: u64 = 1 << 40;

/// Mixes a run seed and a component number into a well-spread 64-bit seed (SplitMix64 finaliser).
/// Only [`RunSeeds`] calls it, so that every component number is chosen in one place.
fn derive_seed(seed: u64, component: u64) -> u64 {
    let mut z = seed ^ component.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seeds of every random component of a run, derived from the run seed: the one place where
/// component seeds are made. Each component has its own number, so no two share a seed: optimizer `id`
/// has `id` (ids start at 1), the generator 0, hunter leaf `i` (from 0, left to right) `2^40 + 1 + i`
/// and the selector `2^41`.
///
/// ```
/// use glompo_core::rng::RunSeeds;
/// let seeds = RunSeeds::new(42);
/// assert_eq!(seeds.optimizer(1), 0x1b_2c73_400d_90b5);
/// assert!(seeds.optimizer(2) <= glompo_core::rng::MAX_EXACT_SEED);
/// assert_ne!(seeds.generator(), seeds.selector());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSeeds {
    /// The run seed.
    pub run: u64,
}

impl RunSeeds {
    /// The seeds of the run with seed `run`.
    pub fn new(run: u64) -> Self {
        RunSeeds { run }
    }

    /// The seed of the optimizer with id `id` (the manager's ids start at 1). It is logged, so it is
    /// at most [`MAX_EXACT_SEED`]: a JSON reader that reads numbers as doubles (pandas, JavaScript)
    /// keeps it exact.
    pub fn optimizer(self, id: crate::OptimizerId) -> u64 {
        derive_seed(self.run, id) >> 11
    }

    /// The seed of the run's generator.
    pub fn generator(self) -> u64 {
        derive_seed(self.run, GENERATOR_STREAM)
    }

    /// The seed of the run's selector.
    pub fn selector(self) -> u64 {
        derive_seed(self.run, SELECTOR_STREAM)
    }

    /// The seed of leaf `index` of the hunter expression, counted from 0 left to right (the order of
    /// [`Expr::leaves`](crate::expr::Expr::leaves)).
    pub fn hunter_leaf(self, index: u64) -> u64 {
        derive_seed(self.run, HUNTER_STREAMS + 1 + index)
    }
}

impl SeededRng {
    /// A generator for `seed`, on stream 0.
    pub fn new(seed: u64) -> Self {
        SeededRng { seed, inner: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// A generator for `seed` on its own `stream`: streams of one seed never overlap.
    pub fn with_stream(seed: u64, stream: u64) -> Self {
        let mut rng = Self::new(seed);
        rng.inner.set_stream(stream);
        rng
    }

    /// Saves the exact position of the generator.
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.seed,
            stream: self.inner.get_stream(),
            word_pos: self.inner.get_word_pos().to_string(),
        }
    }

    /// Rebuilds a generator at the exact position `state` was saved at.
    pub fn from_state(state: &RngState) -> Result<Self, String> {
        let pos: u128 =
            state.word_pos.parse().map_err(|_| format!("word_pos {:?} is not an integer", state.word_pos))?;
        let mut rng = Self::with_stream(state.seed, state.stream);
        rng.inner.set_word_pos(pos);
        Ok(rng)
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform value in `[lo, hi)`; `lo` when the interval is empty.
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        let v = lo + (hi - lo) * self.uniform();
        if v < hi { v } else { lo }
    }

    /// A uniform integer in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0) has no value");
        // Lemire's multiply-shift with rejection: unbiased and portable.
        let n = n as u64;
        loop {
            let m = (self.inner.next_u64() as u128) * (n as u128);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// A standard normal value (one polar-method draw; the pair's second value is discarded).
    pub fn normal(&mut self) -> f64 {
        let mut pair = [0.0; 2];
        self.fill_normal(&mut pair);
        pair[0]
    }

    /// Fills `out` with independent standard normal values, two per step of Marsaglia's polar method
    /// (a Box–Muller variant without trigonometric functions).
    pub fn fill_normal(&mut self, out: &mut [f64]) {
        for chunk in out.chunks_mut(2) {
            let (u, v, s) = loop {
                let u = 2.0 * self.uniform() - 1.0;
                let v = 2.0 * self.uniform() - 1.0;
                let s = u * u + v * v;
                if s > 0.0 && s < 1.0 {
                    break (u, v, s);
                }
            };
            let factor = (-2.0 * s.ln() / s).sqrt();
            chunk[0] = u * factor;
            if let Some(second) = chunk.get_mut(1) {
                *second = v * factor;
            }
        }
    }

    /// The next raw 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip_continues_the_same_sequence() {
        let mut a = SeededRng::with_stream(7, 3);
        for _ in 0..13 {
            a.uniform();
        }
        let saved = a.state();
        let json = serde_json::to_string(&saved).unwrap();
        let mut b = SeededRng::from_state(&serde_json::from_str(&json).unwrap()).unwrap();
        let xs: Vec<f64> = (0..50).map(|_| a.normal()).collect();
        let ys: Vec<f64> = (0..50).map(|_| b.normal()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn from_state_restores_every_position_exactly() {
        // ChaCha8 fills a buffer of 64 words; positions inside it, at its ends and past them all restore.
        let mut a = SeededRng::with_stream(9, 1 << 40);
        for draws in 0..150u64 {
            let saved = a.state();
            assert_eq!(saved.word_pos, (2 * draws).to_string());
            let mut b = SeededRng::from_state(&saved).unwrap();
            assert_eq!(b.state(), saved);
            let mut c = a.clone();
            let xs: Vec<u64> = (0..3).map(|_| c.next_u64()).collect();
            let ys: Vec<u64> = (0..3).map(|_| b.next_u64()).collect();
            assert_eq!(xs, ys, "at {draws} draws");
            a.next_u64();
        }
        assert_eq!(
            SeededRng::from_state(&RngState { seed: 1, stream: 0, word_pos: "-1".into() }).unwrap_err(),
            "word_pos \"-1\" is not an integer"
        );
    }

    #[test]
    fn streams_differ_and_seeds_reproduce() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::with_stream(1, 0);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::with_stream(1, 1);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::with_stream(1, 0);
                move |_| r.next_u64()
            })
            .collect();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn normal_sample_has_unit_moments() {
        let mut r = SeededRng::new(42);
        let mut v = vec![0.0; 200_000];
        r.fill_normal(&mut v);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        // The tails: P(|z| > 2) = 0.0455 and P(|z| > 3) = 0.0027 for a standard normal.
        let beyond = |k: f64| v.iter().filter(|z| z.abs() > k).count() as f64 / v.len() as f64;
        assert!((beyond(2.0) - 0.0455).abs() < 0.002, "{}", beyond(2.0));
        assert!((beyond(3.0) - 0.0027).abs() < 0.0005, "{}", beyond(3.0));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SeededRng::new(5);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[r.below(7)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
    }

    /// Seeds computed with the code before `RunSeeds` existed: runs stay reproducible from their seeds.
    #[test]
    fn derived_seeds_are_pinned() {
        let pinned: [(u64, [u64; 6]); 3] = [
            (
                0,
                [
                    0x6e78_9e6a_a1b9_65f4,
                    0xc584_133a_c916_ab3c,
                    0xe220_a839_7b1d_cdaf,
                    0x0480_c2cd_4063_0642,
                    0x0b9f_1c6e_4cad_87c8,
                    0xb6b8_7796_a27b_e215,
                ],
            ),
            (
                1,
                [
                    0xbeeb_8da1_658e_ec67,
                    0x85e7_bb0f_1227_8575,
                    0xe4d9_7177_1b65_2c20,
                    0x29b1_3267_58a7_56e9,
                    0x06d3_43fc_05f6_7973,
                    0x65c4_d86f_0e5d_f3ae,
                ],
            ),
            (
                42,
                [
                    0xd963_9a00_6c85_adb0,
                    0xb434_6c5a_4ac0_89c3,
                    0xbdd7_3226_2feb_6e95,
                    0x0a67_2272_5c99_4e05,
                    0x6741_dd06_5f89_2cef,
                    0x6e5b_f246_638a_e868,
                ],
            ),
        ];
        for (run, [opt1, opt7, generator, selector, hunter1, hunter3]) in pinned {
            assert_eq!(derive_seed(run, 1), opt1);
            assert_eq!(derive_seed(run, 7), opt7);
            assert_eq!(derive_seed(run, GENERATOR_STREAM), generator);
            assert_eq!(derive_seed(run, SELECTOR_STREAM), selector);
            assert_eq!(derive_seed(run, HUNTER_STREAMS + 1), hunter1);
            assert_eq!(derive_seed(run, HUNTER_STREAMS + 3), hunter3);
            let seeds = RunSeeds::new(run);
            assert_eq!(
                [seeds.optimizer(1), seeds.optimizer(7), seeds.generator(), seeds.selector()],
                [opt1 >> 11, opt7 >> 11, generator, selector],
                "optimizer seeds keep the top 53 bits"
            );
            assert_eq!([seeds.hunter_leaf(0), seeds.hunter_leaf(2)], [hunter1, hunter3]);
        }
    }

    #[test]
    fn derived_seeds_are_distinct() {
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|i| derive_seed(1, i)).collect();
        assert_eq!(seeds.len(), 1000);
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
    }
}
