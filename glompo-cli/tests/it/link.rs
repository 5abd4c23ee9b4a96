//! The link with the real optimizers (CMA-ES, Nelder-Mead, differential evolution, random search),
//! each on a thread and in a `glompo __runner` process, with the serial and the thread evaluators: a
//! state saved at a batch boundary restores into an optimizer that asks the batch the runner went on
//! with, and a runner resumed from it with the evaluations logged after it replays them, then sends
//! exactly what the uninterrupted runner sent after them. The objective is a Python program that logs
//! every call, so the calls are counted in both kinds of runner.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use glompo_backends::{CommandObjective, CommandSpec, ProcessBackend, Threads};
use glompo_core::backend::{Backend, ThreadBackend};
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::runner::{
    Control, EvalRecord, Message, PendingEval, ResumeFrom, Runner, RunnerEnd, RunnerRecipe,
};
use glompo_core::testing::{LinkProbe, results};
use glompo_core::{Bounds, Optimizer, StartContext};
use serde_json::{Value, json};

const OPT_ID: u64 = 3;

/// The objective: appends the point to the log named by its argument, then answers.
const MODEL: &str = r#"
import json, sys
log = sys.argv[1]
for line in sys.stdin:
    x = json.loads(line)["x"]
    with open(log, "a") as f:
        f.write(json.dumps(x) + "\n")
    fx = sum((v - 0.3) ** 2 for v in x) + 0.5 * x[0] * x[1]
    print(json.dumps({"fx": fx}), flush=True)
"#;

#[derive(Debug, Clone, Copy)]
enum Level1 {
    Thread,
    Process,
}

/// A temporary folder with the model, its call log, and how to start it.
struct Model {
    dir: tempfile::TempDir,
}

impl Model {
    fn new() -> Model {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("model.py"), MODEL).unwrap();
        Model { dir }
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.calls"))
    }

    fn argv(&self, log: &Path) -> Vec<String> {
        let model = self.dir.path().join("model.py");
        ["python3", &model.to_string_lossy(), &log.to_string_lossy()].map(String::from).to_vec()
    }
}

fn options(optimizer: &str) -> Value {
    match optimizer {
        "cma-es" => json!({"sigma0": 0.5}),
        "differential-evolution" => json!({"popsize": 4}),
        "random-search" => json!({"iters": 100000, "batch": 3}),
        _ => json!({}),
    }
}

fn recipe(optimizer: &str, evaluator: &str, stepped: bool, resume: Option<ResumeFrom>) -> RunnerRecipe {
    let factory = glompo_optimizers::factory(optimizer, options(optimizer).as_object().unwrap()).unwrap();
    RunnerRecipe {
        opt_id: OPT_ID,
        optimizer: factory.name().into(),
        options: factory.settings(),
        evaluator: evaluator.into(),
        workers: 2,
        x0: vec![1.0, -0.5, 0.25],
        bounds: Bounds::uniform(3, -2.0, 2.0).unwrap(),
        seed: 17,
        detailed: false,
        limited: false,
        stepped,
        resume,
        evaluations: 0,
    }
}

/// A fresh optimizer of `recipe`, built the way `glompo __runner` builds it.
fn optimizer(recipe: &RunnerRecipe) -> Box<dyn Optimizer> {
    let factory = glompo_optimizers::factory(&recipe.optimizer, recipe.options.as_object().unwrap()).unwrap();
    let ctx = StartContext {
        opt_id: recipe.opt_id,
        x0: &recipe.x0,
        bounds: &recipe.bounds,
        seed: recipe.seed,
        workers: recipe.workers,
    };
    factory.build(&ctx).unwrap()
}

/// A started runner (a [`LinkProbe`]) and the log of its objective's calls.
struct Link {
    probe: LinkProbe,
    log: PathBuf,
}

impl std::ops::Deref for Link {
    type Target = LinkProbe;
    fn deref(&self) -> &LinkProbe {
        &self.probe
    }
}

impl std::ops::DerefMut for Link {
    fn deref_mut(&mut self) -> &mut LinkProbe {
        &mut self.probe
    }
}

impl Link {
    fn start(level1: Level1, model: &Model, name: &str, recipe: RunnerRecipe) -> Link {
        let what = format!("{} on a {level1:?} × {}", recipe.optimizer, recipe.evaluator);
        let log = model.log(name);
        let (tx, rx) = crossbeam_channel::unbounded();
        let control = Arc::new(Control::for_recipe(&recipe));
        let spec = CommandSpec { argv: model.argv(&log), ..CommandSpec::default() };
        let factory: &dyn EvaluatorFactory = if recipe.evaluator == "serial" { &Serial } else { &Threads };
        let evaluator = factory.build(recipe.workers).unwrap();
        let backend: Box<dyn Backend> = match level1 {
            Level1::Thread => Box::new(ThreadBackend::default()),
            Level1::Process => {
                let objective =
                    json!({"command": spec.argv, "dim": 3, "timeout_s": null, "cwd": model.dir.path()});
                let config = json!({"objective": objective, "evaluation_timeout_s": null}).to_string();
                let argv = vec![env!("CARGO_BIN_EXE_glompo").into(), "__runner".into(), config];
                Box::new(ProcessBackend::new(argv).unwrap())
            }
        };
        let objective = Arc::new(CommandObjective::new(spec).unwrap());
        let runner = Runner::new(recipe.clone(), optimizer(&recipe), evaluator, objective, control, tx);
        Link { probe: LinkProbe::start(what, backend, runner, rx).unwrap(), log }
    }

    fn calls(&self) -> Vec<Vec<f64>> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The bits of points and values, sorted unless `in_order` (the serial evaluator reports a batch in
/// its order, the thread evaluator in the order its points finish).
fn canonical(in_order: bool, evals: &[(Vec<f64>, Option<f64>)]) -> Vec<(Vec<u64>, Option<u64>)> {
    let mut bits: Vec<(Vec<u64>, Option<u64>)> =
        evals.iter().map(|(x, fx)| (x.iter().map(|v| v.to_bits()).collect(), fx.map(f64::to_bits))).collect();
    if !in_order {
        bits.sort();
    }
    bits
}

fn with_values(evals: &[(Vec<f64>, EvalRecord)]) -> Vec<(Vec<f64>, Option<f64>)> {
    evals.iter().map(|(x, r)| (x.clone(), Some(r.fx))).collect()
}

fn bare(points: &[Vec<f64>]) -> Vec<(Vec<f64>, Option<f64>)> {
    points.iter().map(|x| (x.clone(), None)).collect()
}

/// The whole check for one optimizer on every level-1 backend with both evaluators.
fn saved_states_restore_and_resume(optimizer_type: &str) {
    for level1 in [Level1::Thread, Level1::Process] {
        for evaluator in ["serial", "threads"] {
            let in_order = evaluator == "serial";
            let model = Model::new();
            // The uninterrupted runner: two batches, a save, three batches more.
            let mut original =
                Link::start(level1, &model, "original", recipe(optimizer_type, evaluator, true, None));
            let what = original.what.clone();
            original.control.step(2);
            let first = original.batches(2);
            original.control.request_save();
            let saved = original.saved();
            assert_eq!(saved.evaluations, first[1], "{what}");
            assert_eq!(results(&original.seen).len() as u64, first[1], "{what}");
            original.control.step(3);
            let next = original.batches(3);
            assert_eq!(original.finish(), RunnerEnd::Stopped, "{what}");
            let all = results(&original.seen);
            assert_eq!(original.calls().len(), all.len(), "{what}");
            let (b2, b3, b4, b5) = (first[1] as usize, next[0] as usize, next[1] as usize, next[2] as usize);
            let after = &all[b2..b5];
            let state = saved.state.clone().unwrap();

            // The state restores into an optimizer whose next batch is the one the runner went on with.
            let mut restored = optimizer(&recipe(optimizer_type, evaluator, false, None));
            restored.restore(&state).unwrap();
            let asked = restored.ask().unwrap();
            assert_eq!(
                canonical(in_order, &bare(&asked)),
                canonical(
                    in_order,
                    &bare(&after[..b3 - b2].iter().map(|(x, _)| x.clone()).collect::<Vec<_>>())
                ),
                "{what}"
            );

            // Logged before an interruption: the third batch and half the fourth.
            let k = (b3 - b2) + (b4 - b3) / 2;
            let pending: Vec<PendingEval> = after[..k]
                .iter()
                .map(|(x, record)| PendingEval { x: x.clone(), record: record.clone() })
                .collect();
            let expected = with_values(&after[k..]);
            let resume = ResumeFrom { state: Some(state), pending };
            let mut resumed =
                Link::start(level1, &model, "resumed", recipe(optimizer_type, evaluator, true, Some(resume)));
            // In step mode, so that it cannot run on (and converge) before it is asked to save: the
            // third batch replayed, the fourth half replayed, the fifth evaluated.
            resumed.control.step(3);
            resumed.batches(3);
            resumed.control.request_save();
            let held = resumed.saved();
            assert_eq!(held.replayed, k as u64, "{what}");
            let sent = results(&resumed.seen);
            assert_eq!(held.evaluations, sent.len() as u64, "{what}");
            assert_eq!(sent.len(), expected.len(), "{what}");
            assert_eq!(canonical(in_order, &with_values(&sent)), canonical(in_order, &expected), "{what}");
            // Every call was sent, and the first ones were exactly the points not logged before.
            let calls = resumed.calls();
            assert_eq!(calls.len(), sent.len(), "{what}");
            let expected_points: Vec<Vec<f64>> = expected.iter().map(|(x, _)| x.clone()).collect();
            assert_eq!(
                canonical(false, &bare(&calls[..expected.len()])),
                canonical(false, &bare(&expected_points)),
                "{what}"
            );
            let replayed: Vec<&Message> =
                resumed.seen.iter().filter(|m| matches!(m, Message::Replayed { .. })).collect();
            assert_eq!(
                replayed,
                [&Message::Replayed { opt_id: OPT_ID, used: k as u64, unused: 0 }],
                "{what}"
            );
            assert_eq!(resumed.finish(), RunnerEnd::Stopped, "{what}");
        }
    }
}

#[test]
fn cma_es_states_restore_and_resume_on_every_backend() {
    saved_states_restore_and_resume("cma-es");
}

#[test]
fn nelder_mead_states_restore_and_resume_on_every_backend() {
    saved_states_restore_and_resume("nelder-mead");
}

#[test]
fn differential_evolution_states_restore_and_resume_on_every_backend() {
    saved_states_restore_and_resume("differential-evolution");
}

#[test]
fn random_search_states_restore_and_resume_on_every_backend() {
    saved_states_restore_and_resume("random-search");
}
