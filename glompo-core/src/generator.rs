//! Generators: where a new optimizer starts.

use std::fmt;

use crate::point::{Bounds, Evaluation};
use crate::record::OptimizerRecord;
use crate::rng::SeededRng;

/// What a generator sees when the manager starts an optimizer.
#[derive(Debug, Clone, Copy)]
pub struct GenerateContext<'a> {
    /// The search box; the generated point must lie inside it.
    pub bounds: &'a Bounds,
    /// The run's best evaluation so far.
    pub best: Option<&'a Evaluation>,
    /// Every optimizer started so far.
    pub optimizers: &'a [OptimizerRecord],
    /// Evaluations logged so far.
    pub evaluations: u64,
}

/// Chooses the start point of each new optimizer. Random generators own a seeded RNG.
///
/// ```
/// use glompo_core::generator::{GenerateContext, Generator};
///
/// /// Starts every optimizer at the centre of the box.
/// #[derive(Debug)]
/// struct Centre;
///
/// impl Generator for Centre {
///     fn name(&self) -> &str { "centre" }
///     fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> { ctx.bounds.centre() }
/// }
///
/// let bounds = glompo_core::Bounds::uniform(2, -1.0, 3.0).unwrap();
/// let ctx = GenerateContext { bounds: &bounds, best: None, optimizers: &[], evaluations: 0 };
/// assert_eq!(Centre.generate(&ctx), vec![1.0, 1.0]);
/// ```
pub trait Generator: Send + fmt::Debug {
    /// The generator's name, as in configs.
    fn name(&self) -> &str;

    /// A start point inside `ctx.bounds`.
    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64>;
}

/// Uniformly random start points in the box.
#[derive(Debug, Clone)]
pub struct RandomGenerator {
    rng: SeededRng,
}

impl RandomGenerator {
    /// A random generator with its own seed.
    pub fn new(seed: u64) -> Self {
        RandomGenerator { rng: SeededRng::new(seed) }
    }
}

impl Generator for RandomGenerator {
    fn name(&self) -> &str {
        "random"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        ctx.bounds.pairs().map(|(lo, hi)| self.rng.uniform_in(lo, hi)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_points_are_inside_and_reproducible() {
        let bounds = Bounds::new([(-1.0, 1.0), (100.0, 100.5)]).unwrap();
        let ctx = GenerateContext { bounds: &bounds, best: None, optimizers: &[], evaluations: 0 };
        let mut a = RandomGenerator::new(3);
        let mut b = RandomGenerator::new(3);
        for _ in 0..1000 {
            let x = a.generate(&ctx);
            assert!(bounds.contains(&x));
            assert_eq!(x, b.generate(&ctx));
        }
        assert_ne!(RandomGenerator::new(4).generate(&ctx), RandomGenerator::new(3).generate(&ctx));
    }
}
