//! The runner config: what a runner process of the `processes` backend needs besides its recipe to
//! rebuild its optimizer, evaluator and objective. [`config`] writes it into the runner's command line
//! (`glompo __runner CONFIG`) and [`runner_parts`] reads it in the child.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use glompo_backends::Processes;
use glompo_core::expr::expected_one_of;
use glompo_core::fields::Fields;
use glompo_core::runner::RunnerRecipe;
use serde_json::{Value, json};

use super::{EvaluatorKind, RunConfig, objective};

/// The runner config of `config`: its objective (every path absolute) and `evaluation_timeout_s`.
pub(super) fn config(config: &RunConfig) -> Value {
    let run_dir = std::path::absolute(&config.output.dir).unwrap_or_else(|_| config.output.dir.clone());
    of(config.objective.to_json(), config.evaluation_timeout, &run_dir)
}

/// The runner config of an objective (its resolved JSON), its timeout and the run directory.
pub(super) fn of(objective: Value, timeout: Option<std::time::Duration>, run_dir: &Path) -> Value {
    json!({
        "objective": objective,
        "evaluation_timeout_s": timeout.map(|t| t.as_secs_f64()),
        // Where scratch directories go when the objective does not say.
        "run_dir": run_dir,
    })
}

/// The objective of a runner config, its plan's worker spec and its timeout.
fn read(
    runner_config: &str,
) -> Result<(Arc<dyn glompo_core::Objective>, glompo_backends::CommandSpec), String> {
    let config: Value = serde_json::from_str(runner_config).map_err(|e| format!("bad runner config: {e}"))?;
    let mut f = Fields::new(
        "runner config",
        config.as_object().cloned().ok_or("the runner config is not an object")?,
    );
    let map =
        f.object("objective").map_err(|e| e.to_string())?.ok_or("the runner config has no objective")?;
    let timeout = f.seconds("evaluation_timeout_s").map_err(|e| e.to_string())?;
    // Only an objective with scratch directories in the run directory needs it.
    let run_dir = f.string("run_dir").map_err(|e| e.to_string())?.map(PathBuf::from);
    // Every path of a runner config is absolute, so the folder they would be relative to is moot.
    let (plan, resolved) =
        objective::plan(map, Path::new("/"), run_dir.as_deref()).map_err(|e| e.to_string())?;
    let worker_spec = plan.worker_spec(&resolved, timeout).map_err(|e| e.to_string())?;
    let objective = plan.objective(timeout, None).map_err(|e| e.to_string())?;
    Ok((objective, worker_spec))
}

/// The MPI ranks' side of a CLI run (`glompo run` under mpirun): runners from the runner config
/// and recipe as [`runner_parts`] builds them, and the objective of level-2 evaluations.
#[cfg(feature = "mpi")]
#[derive(Debug, Clone, Copy)]
pub struct RankHost;

#[cfg(feature = "mpi")]
impl glompo_backends::mpi::Host for RankHost {
    fn runner(
        &self,
        context: &str,
        recipe: &RunnerRecipe,
    ) -> Result<glompo_backends::process::RunnerParts, String> {
        runner_parts(context, recipe)
    }

    fn objective(&self, context: &str) -> Result<Arc<dyn glompo_core::Objective>, String> {
        read(context).map(|(objective, _)| objective)
    }
}

/// The child side of the `processes` backend (`glompo __runner CONFIG`, with the recipe on stdin: see
/// [`glompo_backends::process::serve_runner`]): rebuilds a runner's optimizer, evaluator and objective
/// from the run's `runner_config` and the runner's `recipe`. An external program's workers start when
/// the first evaluation needs one.
pub fn runner_parts(
    runner_config: &str,
    recipe: &RunnerRecipe,
) -> Result<glompo_backends::process::RunnerParts, String> {
    let (objective, worker_spec) = read(runner_config)?;
    let options = recipe.options.as_object().cloned().unwrap_or_default();
    let factory = glompo_optimizers::factory(&recipe.optimizer, &options).map_err(|e| e.to_string())?;
    let optimizer = factory.build(&recipe.start_context()).map_err(|e| e.to_string())?;
    let Some(kind) = EvaluatorKind::from_name(&recipe.evaluator) else {
        let names = EvaluatorKind::ALL.map(EvaluatorKind::name);
        return Err(format!(
            "unknown evaluator `{}`; {}",
            recipe.evaluator,
            expected_one_of(&recipe.evaluator, &names)
        ));
    };
    let evaluator = kind.factory(&Arc::new(Processes::new(worker_spec)), None)?;
    let evaluator = evaluator.build(recipe.workers).map_err(|e| e.to_string())?;
    Ok((optimizer, evaluator, objective))
}
