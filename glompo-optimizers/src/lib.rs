//! glompo-optimizers: the ask/tell optimizers that glompo's manager runs.
//!
//! Every optimizer implements [`glompo_core::Optimizer`]: the runner asks it for a batch of points inside
//! the bounds, evaluates them and tells it their values; failed evaluations arrive as NaN and rank worst.
//! Each has a validated config struct, a factory implementing [`glompo_core::OptimizerFactory`] and a
//! complete, exact [`save`](glompo_core::Optimizer::save)/[`restore`](glompo_core::Optimizer::restore), RNG
//! included, so that a restored optimizer asks exactly the points the original would have.
//!
//! | type name | optimizer | config | factory |
//! |---|---|---|---|
//! | `cma-es` | [`CmaEs`]: CMA-ES with pycma's defaults, active covariance update, bound transformation and stop criteria | [`CmaEsConfig`] | [`CmaEsFactory`] |
//! | `coordinate-search` | [`CoordinateSearch`]: a global line search per coordinate (a grid, then a golden section), sweep after sweep | [`CoordinateSearchConfig`] | [`CoordinateSearchFactory`] |
//! | `differential-evolution` | [`DifferentialEvolution`]: SciPy's differential evolution, the whole population as one batch | [`DifferentialEvolutionConfig`] | [`DifferentialEvolutionFactory`] |
//! | `nelder-mead` | [`NelderMead`]: bounded, optionally adaptive Nelder–Mead, SciPy's tolerances | [`NelderMeadConfig`] | [`NelderMeadFactory`] |
//! | `random-search` | [`RandomSearch`]: uniform sampling in the bounds | [`RandomSearchConfig`] | [`RandomSearchFactory`] |
//!
//! [`factory`] builds a factory from a config entry's type name and options; [`NAMES`] lists the names.
//!
//! ```
//! use glompo_core::serde_json::json;
//! use glompo_core::{Bounds, Evaluation, StartContext, Status};
//!
//! let options = json!({ "xatol": 1e-8, "fatol": 1e-12 });
//! let factory = glompo_optimizers::factory("nelder-mead", options.as_object().unwrap()).unwrap();
//! let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
//! let ctx = StartContext { opt_id: 1, x0: &[1.0, 2.0], bounds: &bounds, seed: 1, workers: 1 };
//! let mut opt = factory.build(&ctx).unwrap();
//! while let Ok(batch) = opt.ask() {
//!     let evals: Vec<Evaluation> =
//!         batch.into_iter().map(|x| Evaluation { fx: (x[0] - 1.0).powi(2) + x[1] * x[1], x }).collect();
//!     if opt.tell(&evals).unwrap() != Status::Running {
//!         break;
//!     }
//! }
//! assert!((opt.best().unwrap().x[0] - 1.0).abs() < 1e-4);
//! ```
#![deny(missing_docs)]

pub mod cma_es;
pub mod coordinate_search;
pub mod differential_evolution;
pub mod nelder_mead;
pub mod random_search;
mod registry;
mod util;

pub use cma_es::{CmaEs, CmaEsConfig, CmaEsFactory};
pub use coordinate_search::{CoordinateSearch, CoordinateSearchConfig, CoordinateSearchFactory};
pub use differential_evolution::{
    DifferentialEvolution, DifferentialEvolutionConfig, DifferentialEvolutionFactory,
};
pub use nelder_mead::{NelderMead, NelderMeadConfig, NelderMeadFactory};
pub use random_search::{RandomSearch, RandomSearchConfig, RandomSearchFactory};
pub use registry::{NAMES, factory};
