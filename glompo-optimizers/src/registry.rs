//! Builds optimizer factories from config entries by type name.

use std::sync::Arc;

use glompo_core::{OptimizerError, OptimizerFactory};

use crate::{
    CmaEsFactory, CoordinateSearchFactory, DifferentialEvolutionFactory, NelderMeadFactory,
    RandomSearchFactory,
};

/// The canonical names of the optimizers [`factory`] knows, as written in configs.
pub const NAMES: &[&str] =
    &["cma-es", "coordinate-search", "differential-evolution", "nelder-mead", "random-search"];

/// Builds a factory from a config entry's type name and its options (the JSON object without `type`,
/// `workers` and `evaluator`).
///
/// Names are those of [`NAMES`]; `-` and `_` are interchangeable and case does not matter. An unknown name,
/// an unknown option or an invalid value is an [`OptimizerError::InvalidOption`] naming it.
///
/// ```
/// use glompo_core::serde_json::{Map, json};
/// use glompo_optimizers::factory;
///
/// let options = json!({ "sigma0": 2.5, "popsize": 12 });
/// let f = factory("CMA_ES", options.as_object().unwrap()).unwrap();
/// assert_eq!(f.name(), "cma-es");
/// assert_eq!(f.settings()["popsize"], 12);
///
/// let err = factory("simplex", &Map::new()).unwrap_err();
/// assert_eq!(err.to_string(),
///            "type: unknown optimizer `simplex`; expected one of cma-es, coordinate-search, \
///             differential-evolution, nelder-mead, random-search");
/// ```
pub fn factory(
    type_name: &str,
    options: &serde_json::Map<String, serde_json::Value>,
) -> Result<Arc<dyn OptimizerFactory>, OptimizerError> {
    let canonical = type_name.trim().to_ascii_lowercase().replace('_', "-");
    Ok(match canonical.as_str() {
        "cma-es" => Arc::new(CmaEsFactory::from_options(options)?),
        "coordinate-search" => Arc::new(CoordinateSearchFactory::from_options(options)?),
        "differential-evolution" => Arc::new(DifferentialEvolutionFactory::from_options(options)?),
        "nelder-mead" => Arc::new(NelderMeadFactory::from_options(options)?),
        "random-search" => Arc::new(RandomSearchFactory::from_options(options)?),
        _ => {
            return Err(OptimizerError::invalid_option(
                "type",
                format!(
                    "unknown optimizer `{type_name}`; {}",
                    glompo_core::expr::expected_one_of(type_name, NAMES)
                ),
            ));
        }
    })
}
