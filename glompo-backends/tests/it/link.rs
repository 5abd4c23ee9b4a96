//! The link between the manager and a runner — saves, pauses, steps and resumes with replay — on
//! both level-1 backends (a thread, and a runner process: this test binary re-executed as
//! [`runner_process`]) with the serial and the thread evaluators, for the same scripted optimizer and
//! an objective that counts its calls (on a thread in a list, in a process as lines on its stderr).
//!
//! Nothing here measures time: "no results while paused" is a count that stays equal across a save
//! request answered while paused.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use glompo_backends::{ProcessBackend, Threads};
use glompo_core::backend::{Backend, ThreadBackend};
use glompo_core::evaluator::{Evaluator, EvaluatorFactory, Serial};
use glompo_core::objective::from_fn;
use glompo_core::runner::{
    Control, EvalRecord, Message, PendingEval, ResumeFrom, Runner, RunnerEnd, RunnerRecipe, SavedState,
};
use glompo_core::testing::{LinkProbe, ScriptedFactory, results};
use glompo_core::{Bounds, Objective, Optimizer, OptimizerFactory, StartContext};
use serde_json::json;

const OPT_ID: u64 = 7;

/// Where the runner runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Level1 {
    Thread,
    Process,
}

const LEVEL1: [Level1; 2] = [Level1::Thread, Level1::Process];
const EVALUATORS: [&str; 2] = ["serial", "threads"];

/// Three different points a batch, walking a quarter of the way to the centre per batch.
fn scripted() -> ScriptedFactory {
    ScriptedFactory::descending().step(0.25).batch(3).spread(0.5)
}

fn recipe(
    factory: &ScriptedFactory,
    evaluator: &str,
    stepped: bool,
    resume: Option<ResumeFrom>,
) -> RunnerRecipe {
    RunnerRecipe {
        opt_id: OPT_ID,
        optimizer: factory.name().into(),
        options: factory.settings(),
        evaluator: evaluator.into(),
        workers: 2,
        x0: vec![1.5, -1.0],
        bounds: Bounds::uniform(2, -2.0, 2.0).unwrap(),
        seed: 5,
        detailed: false,
        limited: false,
        stepped,
        resume,
        evaluations: 0,
    }
}

/// Builds the optimizer of `recipe` as a fresh start.
fn optimizer(recipe: &RunnerRecipe) -> Result<Box<dyn Optimizer>, String> {
    let factory =
        ScriptedFactory::from_settings(&recipe.optimizer, &recipe.options).map_err(|e| e.to_string())?;
    let ctx = StartContext {
        opt_id: recipe.opt_id,
        x0: &recipe.x0,
        bounds: &recipe.bounds,
        seed: recipe.seed,
        workers: recipe.workers,
    };
    factory.build(&ctx).map_err(|e| e.to_string())
}

fn evaluator(recipe: &RunnerRecipe) -> Result<Box<dyn Evaluator>, String> {
    let factory: &dyn EvaluatorFactory = match recipe.evaluator.as_str() {
        "serial" => &Serial,
        "threads" => &Threads,
        other => return Err(format!("unknown evaluator {other}")),
    };
    factory.build(recipe.workers).map_err(|e| e.to_string())
}

fn f(x: &[f64]) -> f64 {
    x.iter().map(|v| (v - 0.1) * (v - 0.1)).sum()
}

/// The marker of an objective call on a runner process's stderr.
const CALL: &str = "objective call ";

/// A runner process of these tests: this binary, re-executed by [`ProcessBackend`] with this test as
/// its only one. Its objective writes each call on stderr.
#[test]
#[ignore = "a runner process that the link tests start"]
fn runner_process() {
    glompo_backends::process::serve_runner(|recipe| {
        let objective: Arc<dyn Objective> = Arc::new(from_fn(|x: &[f64]| {
            eprintln!("{CALL}{}", serde_json::to_string(x).unwrap());
            f(x)
        }));
        Ok((optimizer(recipe)?, evaluator(recipe)?, objective))
    })
    .unwrap();
}

/// Where the objective calls of a runner are counted.
enum Calls {
    List(Arc<Mutex<Vec<Vec<f64>>>>),
    Stderr(PathBuf),
}

/// A started runner (a [`LinkProbe`]) and where its objective calls are counted.
struct Link {
    probe: LinkProbe,
    calls: Calls,
    _tmp: tempfile::TempDir,
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
    fn start(level1: Level1, recipe: RunnerRecipe) -> Link {
        let tmp = tempfile::tempdir().unwrap();
        let what = format!("{level1:?} × {}", recipe.evaluator);
        let (tx, rx) = crossbeam_channel::unbounded();
        let control = Arc::new(Control::for_recipe(&recipe));
        let list = Arc::new(Mutex::new(Vec::new()));
        let counted = Arc::clone(&list);
        let objective: Arc<dyn Objective> = Arc::new(from_fn(move |x: &[f64]| {
            counted.lock().unwrap().push(x.to_vec());
            f(x)
        }));
        let (optimizer, evaluator) = (optimizer(&recipe).unwrap(), evaluator(&recipe).unwrap());
        let runner = Runner::new(recipe, optimizer, evaluator, objective, control, tx);
        let (backend, calls): (Box<dyn Backend>, _) = match level1 {
            Level1::Thread => (Box::new(ThreadBackend::default()), Calls::List(list)),
            Level1::Process => {
                let exe = std::env::current_exe().unwrap().to_string_lossy().into_owned();
                let argv = ["--exact", "link::runner_process", "--ignored", "--nocapture"];
                let argv = std::iter::once(exe).chain(argv.map(String::from)).collect();
                let dir = tmp.path().join("printstreams");
                let err = dir.join(format!("{OPT_ID:04}.err"));
                (Box::new(ProcessBackend::new(argv).unwrap().printstreams(dir)), Calls::Stderr(err))
            }
        };
        let probe = LinkProbe::start(what, backend, runner, rx).unwrap();
        Link { probe, calls, _tmp: tmp }
    }

    /// Receives until `n` results arrived in all.
    fn results_until(&mut self, n: usize) {
        while self.results().len() < n {
            self.receive();
        }
    }

    /// The points of the objective calls so far.
    fn calls(&self) -> Vec<Vec<f64>> {
        match &self.calls {
            Calls::List(list) => list.lock().unwrap().clone(),
            Calls::Stderr(path) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.strip_prefix(CALL))
                .map(|x| serde_json::from_str(x).unwrap())
                .collect(),
        }
    }
}

/// The bits of points and values, sorted unless the evaluator is serial (whose results come in the
/// order of the batch): the thread evaluator reports a batch in the order its points finish.
fn canonical(evaluator: &str, evals: &[(Vec<f64>, f64)]) -> Vec<(Vec<u64>, u64)> {
    let mut bits: Vec<(Vec<u64>, u64)> =
        evals.iter().map(|(x, fx)| (x.iter().map(|v| v.to_bits()).collect(), fx.to_bits())).collect();
    if evaluator != "serial" {
        bits.sort();
    }
    bits
}

fn points(evals: &[(Vec<f64>, EvalRecord)]) -> Vec<(Vec<f64>, f64)> {
    evals.iter().map(|(x, r)| (x.clone(), r.fx)).collect()
}

/// Runs `check` on every level-1 backend with every evaluator.
fn each(mut check: impl FnMut(Level1, &str)) {
    let _processes = crate::processes();
    for level1 in LEVEL1 {
        for evaluator in EVALUATORS {
            check(level1, evaluator);
        }
    }
}

#[test]
fn a_save_mid_run_gets_one_answer_whose_state_continues_the_run() {
    each(|level1, evaluator| {
        let factory = scripted();
        let mut link = Link::start(level1, recipe(&factory, evaluator, false, None));
        let what = link.what.clone();
        link.results_until(5);
        link.control.request_save();
        let saved = link.saved();
        let before = results(&link.seen).len();
        assert_eq!(saved.evaluations, before as u64, "{what}");
        assert_eq!(saved.replayed, 0, "{what}");
        link.results_until(before + 3);
        assert_eq!(link.finish(), RunnerEnd::Stopped, "{what}");
        let answers = link.seen.iter().filter(|m| matches!(m, Message::Saved { .. })).count();
        assert_eq!(answers, 1, "{what}");
        // Free-running: no message but results, the answer and the end.
        assert!(!link.seen.iter().any(|m| matches!(m, Message::BatchDone { .. } | Message::Replayed { .. })));
        // The state restores into an optimizer whose next batch is the one the runner went on with.
        let mut restored = optimizer(&recipe(&factory, evaluator, false, None)).unwrap();
        restored.restore(saved.state.as_ref().unwrap()).unwrap();
        let next: Vec<(Vec<f64>, f64)> =
            restored.ask().unwrap().into_iter().map(|x| (x.clone(), f(&x))).collect();
        let went_on = points(&results(&link.seen)[before..before + 3]);
        assert_eq!(canonical(evaluator, &went_on), canonical(evaluator, &next), "{what}");
    });
}

#[test]
fn a_resumed_runner_replays_what_was_logged_and_goes_on_like_the_uninterrupted_one() {
    each(|level1, evaluator| {
        let factory = scripted();
        // The uninterrupted runner: two batches, a save, three batches more.
        let mut original = Link::start(level1, recipe(&factory, evaluator, true, None));
        let what = original.what.clone();
        original.control.step(2);
        assert_eq!(original.batches(2), [3, 6], "{what}");
        original.control.request_save();
        let saved = original.saved();
        assert_eq!(saved.evaluations, 6, "{what}");
        original.control.step(3);
        assert_eq!(original.batches(3), [9, 12, 15], "{what}");
        assert_eq!(original.finish(), RunnerEnd::Stopped, "{what}");
        let after = results(&original.seen)[6..].to_vec();
        // Logged after the save before an interruption: the third batch and one point of the fourth.
        let logged: Vec<PendingEval> = after[..4]
            .iter()
            .map(|(x, record)| PendingEval { x: x.clone(), record: record.clone() })
            .collect();
        let expected = points(&after[4..]);
        for never_asked in [false, true] {
            let mut pending = logged.clone();
            if never_asked {
                let record = EvalRecord { fx: 0.5, extras: None, error: None };
                pending.push(PendingEval { x: vec![-1.75, 1.75], record });
            }
            let resume = ResumeFrom { state: Some(saved.state.clone().unwrap()), pending };
            let mut resumed = Link::start(level1, recipe(&factory, evaluator, true, Some(resume)));
            resumed.control.step(3);
            // The third batch is all replayed, the fourth but one point evaluated, the fifth all.
            assert_eq!(resumed.batches(3), [0, 2, 5], "{what}");
            resumed.control.request_save();
            let again = resumed.saved();
            assert_eq!((again.evaluations, again.replayed), (5, 4), "{what}");
            let sent = points(&results(&resumed.seen));
            assert_eq!(canonical(evaluator, &sent), canonical(evaluator, &expected), "{what}");
            // The objective was called for exactly those points: none of the logged ones again.
            let calls: Vec<(Vec<f64>, f64)> =
                resumed.calls().into_iter().map(|x| (x.clone(), f(&x))).collect();
            assert_eq!(canonical("threads", &calls), canonical("threads", &expected), "{what}");
            let replayed: Vec<&Message> =
                resumed.seen.iter().filter(|m| matches!(m, Message::Replayed { .. })).collect();
            let unused = u64::from(never_asked);
            assert_eq!(replayed, [&Message::Replayed { opt_id: OPT_ID, used: 4, unused }], "{what}");
            assert_eq!(resumed.finish(), RunnerEnd::Stopped, "{what}");
            // The state the resumed runner saved is the uninterrupted runner's after the same batches:
            // restored, both ask the same sixth batch.
            let mut a = optimizer(&recipe(&factory, evaluator, true, None)).unwrap();
            a.restore(again.state.as_ref().unwrap()).unwrap();
            let sixth: Vec<(Vec<f64>, f64)> =
                a.ask().unwrap().into_iter().map(|x| (x.clone(), 0.0)).collect();
            let mut b = optimizer(&recipe(&factory, evaluator, true, None)).unwrap();
            b.restore(saved.state.as_ref().unwrap()).unwrap();
            for _ in 0..3 {
                let batch = b.ask().unwrap();
                let evals =
                    batch.into_iter().map(|x| glompo_core::Evaluation { fx: f(&x), x }).collect::<Vec<_>>();
                b.tell(&evals).unwrap();
            }
            let expected_sixth: Vec<(Vec<f64>, f64)> =
                b.ask().unwrap().into_iter().map(|x| (x, 0.0)).collect();
            assert_eq!(canonical("serial", &sixth), canonical("serial", &expected_sixth), "{what}");
        }
    });
}

#[test]
fn a_paused_runner_holds_at_a_boundary_until_resumed_and_a_stop_ends_it() {
    each(|level1, evaluator| {
        let mut link = Link::start(level1, recipe(&scripted(), evaluator, false, None));
        let what = link.what.clone();
        link.results_until(4);
        link.control.pause();
        link.control.request_save();
        let held = link.saved().evaluations;
        assert_eq!(held, results(&link.seen).len() as u64, "{what}");
        assert_eq!(link.calls().len() as u64, held, "{what}");
        // A second request is answered at the same boundary: nothing was evaluated or sent in between.
        link.control.request_save();
        let seen = link.seen.len();
        assert_eq!(link.saved().evaluations, held, "{what}");
        assert_eq!(link.seen.len(), seen + 1, "{what}: {:?}", &link.seen[seen..]);
        assert_eq!(link.calls().len() as u64, held, "{what}");
        link.control.resume();
        link.results_until(held as usize + 6);
        link.control.pause();
        link.control.request_save();
        let last = link.saved().evaluations;
        assert!(last >= held + 6, "{what}: {last}");
        let seen = link.seen.len();
        assert_eq!(link.finish(), RunnerEnd::Stopped, "{what}");
        // Stopped while paused: after the last answer, only the end.
        assert_eq!(link.seen.len(), seen + 1, "{what}: {:?}", &link.seen[seen..]);
        assert_eq!(link.calls().len() as u64, last, "{what}");
    });
}

#[test]
fn a_stepped_runner_runs_exactly_the_batches_it_is_given() {
    each(|level1, evaluator| {
        let mut link = Link::start(level1, recipe(&scripted(), evaluator, true, None));
        let what = link.what.clone();
        link.control.step(3);
        assert_eq!(link.batches(3), [3, 6, 9], "{what}");
        // Out of steps: the runner waits at the boundary, where it answers a save request.
        link.control.request_save();
        let seen = link.seen.len();
        assert_eq!(link.saved().evaluations, 9, "{what}");
        assert_eq!(link.seen.len(), seen + 1, "{what}: {:?}", &link.seen[seen..]);
        assert_eq!(link.calls().len(), 9, "{what}");
        link.control.step(1);
        assert_eq!(link.batches(1), [12], "{what}");
        assert_eq!(results(&link.seen).len(), 12, "{what}");
        assert_eq!(link.finish(), RunnerEnd::Stopped, "{what}");
        assert_eq!(link.calls().len(), 12, "{what}");
    });
}

#[test]
fn an_optimizer_that_cannot_save_answers_with_its_error_and_goes_on() {
    each(|level1, evaluator| {
        let mut link = Link::start(level1, recipe(&scripted().save_fails(), evaluator, true, None));
        let what = link.what.clone();
        link.control.step(1);
        assert_eq!(link.batches(1), [3], "{what}");
        link.control.request_save();
        let expected = SavedState { state: Err("scripted save failure".into()), evaluations: 3, replayed: 0 };
        assert_eq!(link.saved(), expected, "{what}");
        link.control.step(1);
        assert_eq!(link.batches(1), [6], "{what}");
        assert_eq!(link.finish(), RunnerEnd::Stopped, "{what}");
    });
}

#[test]
fn a_state_that_does_not_restore_is_a_crash_with_the_error() {
    each(|level1, evaluator| {
        let resume = ResumeFrom { state: Some(json!({"not": "a state"})), pending: Vec::new() };
        let mut link = Link::start(level1, recipe(&scripted(), evaluator, false, Some(resume)));
        let what = link.what.clone();
        let Message::Ended { end: RunnerEnd::Crashed(error), .. } = link.receive().clone() else {
            panic!("{what}: {:?}", link.seen)
        };
        assert!(
            error.starts_with("cannot restore the saved state: cannot restore scripted state:"),
            "{what}: {error}"
        );
        assert_eq!(link.seen.len(), 1, "{what}");
        assert_eq!(link.finish(), RunnerEnd::Crashed(error), "{what}");
    });
}
