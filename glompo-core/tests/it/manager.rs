//! The manager loop: slots, hunts, crashes, logs and the run directory.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use glompo_core::checker::EndCause;
use glompo_core::generator::{GenerateContext, Generator};
use glompo_core::manager::{EndReason, Event, Manager, ManagerBuilder, Observe, RunResult};
use glompo_core::objective::from_fn;
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use glompo_core::testing::ScriptedFactory;
use glompo_core::{Bounds, EvalError, Objective, checker, hunter};
use serde_json::Value;

fn sphere() -> Arc<dyn Objective> {
    Arc::new(from_fn(|x: &[f64]| x.iter().map(|v| v * v).sum()))
}

fn builder(objective: Arc<dyn Objective>, specs: Vec<OptimizerSpec>) -> ManagerBuilder {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    Manager::builder(objective, bounds).selector(Box::new(CycleSelector::new(specs).unwrap())).seed(11)
}

fn spec(f: ScriptedFactory) -> OptimizerSpec {
    OptimizerSpec::new(Arc::new(f))
}

fn lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn events(dir: &Path, opt_id: u64, kind: &str) -> Vec<Value> {
    lines(&dir.join("optimizers.jsonl"))
        .into_iter()
        .filter(|e| e["opt_id"] == opt_id && e["event"] == kind)
        .collect()
}

/// The evaluation log has one line per counted evaluation, numbered 1..N, and its minimum is the result.
fn check_evaluation_log(dir: &Path, result: &RunResult) {
    let evals = lines(&dir.join("evaluations.jsonl"));
    assert_eq!(evals.len() as u64, result.counters.evaluations);
    for (i, e) in evals.iter().enumerate() {
        assert_eq!(e["call_id"], i as u64 + 1);
        assert!(e["opt_id"].as_u64().unwrap() >= 1);
        assert_eq!(e["x"].as_array().unwrap().len(), 2);
    }
    let min = evals.iter().filter_map(|e| e["fx"].as_f64()).fold(f64::INFINITY, f64::min);
    let best = result.best.as_ref().unwrap();
    assert_eq!(min, best.fx);
    assert_eq!(evals[best.call_id as usize - 1]["fx"].as_f64(), Some(best.fx));
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["counters"]["evaluations"], result.counters.evaluations);
    assert_eq!(summary["result"]["fx"].as_f64(), Some(best.fx));
    assert_eq!(summary["result"]["opt_id"], best.opt_id);
    assert_eq!(summary["end_reason"], result.end_reason.to_string());
    // One session: its length is the run's wall time, its end after its start.
    let periods = summary["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 1);
    assert_eq!(periods[0]["seconds"].as_f64(), Some(result.wall_time_s));
    assert!(periods[0]["end_unix"].as_f64().unwrap() >= periods[0]["start_unix"].as_f64().unwrap());
}

#[test]
fn slots_fill_exactly_as_far_as_workers_fit() {
    for (workers, started, busy) in [(1, 10, 10), (3, 3, 9), (6, 1, 6)] {
        let result = builder(sphere(), vec![spec(ScriptedFactory::descending()).workers(workers)])
            .max_jobs(10)
            .checker(checker::max_evals(500))
            .build()
            .unwrap()
            .run()
            .unwrap();
        assert_eq!(result.counters.optimizers_started, started, "workers {workers}");
        assert_eq!(result.counters.peak_busy_slots, busy, "workers {workers}");
        assert_eq!(
            result.end_reason,
            EndReason::Checker {
                causes: vec![EndCause::BudgetSpent],
                expression: "max_evals(500) = true".into()
            }
        );
    }
}

/// Starts odd-numbered optimizers at (4, 4) and even-numbered ones at (1, 1).
#[derive(Debug)]
struct Alternate(u64);

impl Generator for Alternate {
    fn name(&self) -> &str {
        "alternate"
    }

    fn generate(&mut self, _ctx: &GenerateContext<'_>) -> Vec<f64> {
        self.0 += 1;
        if self.0 % 2 == 1 { vec![4.0, 4.0] } else { vec![1.0, 1.0] }
    }
}

/// A run of a stagnant optimizer (starting at (4, 4)) cycled with an improving one (at (1, 1)) on two
/// slots, for `evals` evaluations.
fn stagnant_and_improver(generator: Box<dyn Generator>, evals: u64) -> ManagerBuilder {
    let stagnant = spec(ScriptedFactory::constant().with_name("stagnant"));
    let improver = spec(ScriptedFactory::descending().with_name("improver").step(0.01));
    // Each evaluation takes 20 µs, so that neither optimizer can finish the budget alone before the
    // other's thread has even started.
    let slow_sphere = Arc::new(from_fn(|x: &[f64]| {
        std::thread::sleep(std::time::Duration::from_micros(20));
        x.iter().map(|v| v * v).sum()
    }));
    builder(slow_sphere, vec![stagnant, improver])
        .max_jobs(2)
        .generator(generator)
        .checker(checker::max_evals(evals))
}

/// The same, hunting stagnant optimizers every 10 evaluations, with its logs in `dir`.
fn hunted_run(generator: Box<dyn Generator>, dir: &Path) -> RunResult {
    stagnant_and_improver(generator, 20_000)
        .hunter(hunter::min_evals(30) & hunter::best_unmoving(20, 0.0))
        .hunt_frequency(10)
        .dir(dir)
        .build()
        .unwrap()
        .run()
        .unwrap()
}

#[test]
fn a_stagnating_optimizer_is_hunted_and_the_best_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let result = hunted_run(Box::new(Alternate(0)), dir.path());
    assert!(result.counters.optimizers_killed >= 1);
    assert!(result.counters.hunts >= 1);
    let first_end = &events(dir.path(), 1, "end")[0];
    assert_eq!(first_end["reason"], "killed");
    assert_eq!(first_end["by"], "hunt");
    let hunter = first_end["hunter"].as_u64().unwrap();
    assert_eq!(events(dir.path(), hunter, "start")[0]["type"], "improver");
    assert_eq!(first_end["expression"], "[min_evals(30) = true & best_unmoving(20, 0) = true]");
    let improver_end = &events(dir.path(), 2, "end")[0];
    assert_eq!(improver_end["reason"], "stopped");
    assert_eq!(improver_end["by"], "end of run");
    // Every killed optimizer was a stagnant one, and the best is an improver's.
    for e in lines(&dir.path().join("optimizers.jsonl")).iter().filter(|e| e["reason"] == "killed") {
        let id = e["opt_id"].as_u64().unwrap();
        assert_eq!(events(dir.path(), id, "start")[0]["type"], "stagnant");
    }
    assert_eq!(events(dir.path(), result.best.as_ref().unwrap().opt_id, "start")[0]["type"], "improver");
    // Backpressure keeps the overshoot past the budget small: runners stop soon after the end.
    assert!(result.counters.evaluations < 21_000, "{}", result.counters.evaluations);
    check_evaluation_log(dir.path(), &result);
}

/// Counts its calls: every 7th fails, every 11th is NaN, every 13th panics.
#[derive(Default)]
struct Flaky(std::sync::atomic::AtomicU64);

impl Objective for Flaky {
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n.is_multiple_of(13) {
            panic!("objective blew up");
        }
        if n.is_multiple_of(7) {
            return Err(EvalError::new("simulation diverged"));
        }
        Ok(if n.is_multiple_of(11) { f64::NAN } else { x[0] * x[0] + x[1] * x[1] })
    }
}

#[test]
fn panicking_optimizers_and_failing_objectives_do_not_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let crasher = spec(ScriptedFactory::constant().with_name("crasher").panic_after(3));
    let walker = spec(ScriptedFactory::constant().with_name("walker"));
    let result = builder(Arc::new(Flaky::default()), vec![crasher, walker])
        .max_jobs(2)
        .checker(checker::max_evals(3000))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(
        result.end_reason
            == EndReason::Checker {
                causes: vec![EndCause::BudgetSpent],
                expression: "max_evals(3000) = true".into()
            },
        "{}",
        result.end_reason
    );
    assert!(result.counters.optimizers_crashed >= 1);
    let crashed = events(dir.path(), 1, "end");
    assert_eq!(crashed[0]["reason"], "crashed");
    assert_eq!(crashed[0]["error"], "panicked: scripted panic after 3 batches");
    assert_eq!(crashed[0]["evaluations"], 3);
    let evals = lines(&dir.path().join("evaluations.jsonl"));
    let errors: Vec<&str> = evals.iter().filter_map(|e| e["error"].as_str()).collect();
    assert!(errors.contains(&"simulation diverged"));
    assert!(errors.contains(&"panicked: objective blew up"));
    assert!(errors.contains(&"non-finite value NaN"));
    assert!(evals.iter().filter(|e| e["error"].is_string()).all(|e| e["fx"].is_null()));
    assert_eq!(errors.len() as u64, result.counters.failed_evaluations);
    check_evaluation_log(dir.path(), &result);
}

#[test]
fn optimizers_that_always_crash_end_the_run_as_a_failure() {
    let result = builder(sphere(), vec![spec(ScriptedFactory::descending().panic_after(0))])
        .max_jobs(2)
        .checker(checker::max_evals(100))
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(
        matches!(&result.end_reason, EndReason::CrashLoop { error: e } if e == "panicked: scripted panic after 0 batches")
    );
    assert!(result.end_reason.is_failure());
    assert!(result.counters.optimizers_crashed >= 5);
    assert_eq!(result.counters.evaluations, 0);
}

#[test]
fn a_run_whose_first_evaluations_all_fail_ends_as_a_failure() {
    let failing = || Arc::new(from_fn(|_: &[f64]| f64::NAN)) as Arc<dyn Objective>;
    let walker = || vec![spec(ScriptedFactory::constant())];
    let result = builder(failing(), walker())
        .max_jobs(1)
        .checker(checker::max_evals(200))
        .max_initial_failures(7)
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(
        matches!(&result.end_reason, EndReason::InitialFailures { count: 7, error } if error == "non-finite value NaN"),
        "{}",
        result.end_reason
    );
    assert!(result.end_reason.is_failure());
    assert!(result.counters.evaluations < 200, "{}", result.counters.evaluations);
    // 0 never stops: the budget is spent.
    let result = builder(failing(), walker())
        .max_jobs(1)
        .checker(checker::max_evals(200))
        .max_initial_failures(0)
        .build();
    let result = result.unwrap().run().unwrap();
    assert!(!result.end_reason.is_failure(), "{}", result.end_reason);
    assert!(result.counters.evaluations >= 200);
}

/// A level-2 evaluator that cannot be built.
#[derive(Debug)]
struct Unbuildable;

impl glompo_core::evaluator::EvaluatorFactory for Unbuildable {
    fn name(&self) -> &str {
        "unbuildable"
    }

    fn build(
        &self,
        workers: usize,
    ) -> Result<Box<dyn glompo_core::evaluator::Evaluator>, glompo_core::CoreError> {
        Err(glompo_core::CoreError::Backend(format!("no room for {workers} workers")))
    }
}

#[test]
fn an_evaluator_that_cannot_be_built_crashes_its_optimizer_in_its_runner() {
    let dir = tempfile::tempdir().unwrap();
    let broken = spec(ScriptedFactory::descending()).workers(3).evaluator(Arc::new(Unbuildable));
    let result = builder(sphere(), vec![broken])
        .max_jobs(3)
        .checker(checker::max_evals(100))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(
        matches!(&result.end_reason, EndReason::CrashLoop { error: e } if e == "cannot build the evaluator: backend: no room for 3 workers"),
        "{:?}",
        result.end_reason
    );
    let crashed = events(dir.path(), 1, "end");
    assert_eq!(crashed[0]["reason"], "crashed");
    assert_eq!(crashed[0]["evaluations"], 0);
}

#[test]
fn converged_optimizers_are_replaced_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let result = builder(sphere(), vec![spec(ScriptedFactory::descending().batch(4).converge_after(5))])
        .max_jobs(2)
        .checker(checker::n_converged(6))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(result.counters.optimizers_converged >= 6);
    assert!(result.counters.optimizers_started >= 7);
    let ends: Vec<Value> = lines(&dir.path().join("optimizers.jsonl"))
        .into_iter()
        .filter(|e| e["reason"] == "converged")
        .collect();
    assert_eq!(ends.len() as u64, result.counters.optimizers_converged);
    assert!(ends.iter().all(|e| e["criterion"] == "script" && e["evaluations"] == 20));
    check_evaluation_log(dir.path(), &result);
}

#[test]
fn an_existing_run_directory_is_refused_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let run = |overwrite: bool| {
        builder(sphere(), vec![spec(ScriptedFactory::descending())])
            .max_jobs(1)
            .checker(checker::max_evals(50))
            .dir(dir.path())
            .overwrite(overwrite)
            .build()
            .unwrap()
            .run()
    };
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    run(false).unwrap();
    let before = fs::read(dir.path().join("evaluations.jsonl")).unwrap();
    let err = run(false).unwrap_err().to_string();
    assert!(err.ends_with("the run directory already holds a run; pass --overwrite to replace it"), "{err}");
    assert_eq!(fs::read(dir.path().join("evaluations.jsonl")).unwrap(), before);
    let result = run(true).unwrap();
    check_evaluation_log(dir.path(), &result);
    assert_eq!(fs::read_to_string(dir.path().join("notes.txt")).unwrap(), "mine");
}

#[test]
fn stop_files_stop_running_optimizers_and_every_one_is_consumed() {
    let dir = tempfile::tempdir().unwrap();
    // Left over from an earlier run: it must not kill optimizer 1 of this one.
    fs::write(dir.path().join("STOP_1"), "").unwrap();
    let slow = Arc::new(from_fn(|x: &[f64]| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        x[0] * x[0]
    }));
    let path = dir.path().to_path_buf();
    // Once optimizer 2 runs: STOP it, STOP optimizer 1 (ended by then) and an id that never started.
    let writer = std::thread::spawn(move || {
        let log = path.join("optimizers.jsonl");
        for _ in 0..500 {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if text.contains(r#""event":"start","opt_id":2"#) || text.contains(r#""opt_id":2,"#) {
                for id in [2, 1, 99] {
                    fs::write(path.join(format!("STOP_{id}")), "").unwrap();
                }
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    });
    let quick = spec(ScriptedFactory::descending().step(0.001).converge_after(20));
    let result = builder(slow, vec![quick, spec(ScriptedFactory::descending().step(0.001))])
        .max_jobs(1)
        .checker(checker::max_seconds(1.5))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(writer.join().unwrap(), "optimizer 2 never started");
    assert_eq!(events(dir.path(), 1, "end")[0]["reason"], "converged");
    let end = &events(dir.path(), 2, "end")[0];
    assert_eq!(end["reason"], "killed", "{end}");
    assert_eq!(end["by"], "STOP file");
    let ignored: Vec<(u64, String)> = lines(&dir.path().join("optimizers.jsonl"))
        .into_iter()
        .filter(|e| e["event"] == "stop_ignored")
        .map(|e| (e["opt_id"].as_u64().unwrap(), e["why"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        ignored,
        [
            (1, "the optimizer has already ended or is stopping".to_owned()),
            (99, "no optimizer with this id has started".to_owned())
        ]
    );
    for id in [1, 2, 99] {
        assert!(!dir.path().join(format!("STOP_{id}")).exists(), "STOP_{id} is left");
    }
    assert_eq!(result.counters.optimizers_killed, 1);
    assert!(result.counters.optimizers_started >= 3);
}

#[test]
fn the_same_seed_gives_the_same_start_points() {
    let starts = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        builder(sphere(), vec![spec(ScriptedFactory::descending().converge_after(3))])
            .max_jobs(2)
            .seed(seed)
            .checker(checker::n_converged(5))
            .dir(dir.path())
            .build()
            .unwrap()
            .run()
            .unwrap();
        let mut x0: Vec<(u64, String)> = lines(&dir.path().join("optimizers.jsonl"))
            .into_iter()
            .filter(|e| e["event"] == "start")
            .map(|e| (e["opt_id"].as_u64().unwrap(), e["x0"].to_string()))
            .collect();
        x0.sort();
        x0.truncate(5);
        x0
    };
    assert_eq!(starts(3), starts(3));
    assert_ne!(starts(3), starts(4));
}

#[test]
fn invalid_settings_name_the_field() {
    let err = builder(sphere(), vec![spec(ScriptedFactory::descending()).workers(4)])
        .max_jobs(3)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "optimizers[0].workers: 4 workers do not fit in max_jobs = 3");
    let err = builder(sphere(), vec![spec(ScriptedFactory::descending())]).max_jobs(0).build().unwrap_err();
    assert_eq!(err.to_string(), "max_jobs: must be at least 1");
}

#[test]
fn shared_incumbents_reach_the_other_optimizers() {
    // A stagnant optimizer at (4, 4) never improves on its own; with sharing it adopts the improver's
    // points, so its values drop far below its start value of 32.
    let best_of_stagnant = |share: bool| {
        let dir = tempfile::tempdir().unwrap();
        stagnant_and_improver(Box::new(Alternate(0)), 5000)
            .share_best_solutions(share)
            .dir(dir.path())
            .build()
            .unwrap()
            .run()
            .unwrap();
        lines(&dir.path().join("evaluations.jsonl"))
            .iter()
            .filter(|e| e["opt_id"] == 1)
            .filter_map(|e| e["fx"].as_f64())
            .fold(f64::INFINITY, f64::min)
    };
    assert_eq!(best_of_stagnant(false), 32.0);
    assert!(best_of_stagnant(true) < 2.0);
}

#[test]
fn progress_is_reported_while_the_run_goes() {
    let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let slow = Arc::new(from_fn(|x: &[f64]| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        x[0] * x[0]
    }));
    let result = builder(slow, vec![spec(ScriptedFactory::descending().step(0.01))])
        .max_jobs(2)
        .checker(checker::max_seconds(0.45))
        .status(
            std::time::Duration::from_millis(100),
            Box::new(move |p| sink.lock().unwrap().push(p.clone())),
        )
        .build()
        .unwrap()
        .run()
        .unwrap();
    let reports = reports.lock().unwrap();
    assert!(reports.len() >= 2, "{} reports", reports.len());
    assert!(reports.windows(2).all(|w| w[0].counters.evaluations <= w[1].counters.evaluations));
    assert!(reports.iter().all(|p| p.alive == 2 && p.busy_slots == 2 && p.max_jobs == 2));
    assert!(reports.last().unwrap().counters.evaluations <= result.counters.evaluations);
    let line = reports[0].to_string();
    assert!(line.contains(" evaluations, best ") && line.contains("2 alive on 2/2 slots"), "{line}");
}

#[test]
fn a_silent_optimizer_is_stopped_then_abandoned_and_its_slot_reused() {
    let dir = tempfile::tempdir().unwrap();
    // The very first evaluation hangs for 3 s; every other one is instant.
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let hang = Arc::new(from_fn(move |x: &[f64]| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        x[0] * x[0]
    }));
    let result = builder(hang, vec![spec(ScriptedFactory::descending().step(0.001))])
        .max_jobs(1)
        .checker(checker::max_evals(50))
        .force_terminations_after(std::time::Duration::from_millis(200))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(
        result.end_reason,
        EndReason::Checker { causes: vec![EndCause::BudgetSpent], expression: "max_evals(50) = true".into() }
    );
    let end = &events(dir.path(), 1, "end")[0];
    assert_eq!(end["reason"], "abandoned", "{end}");
    assert_eq!(end["error"], "did not stop within 0.2 s");
    assert_eq!(end["after"]["by"], "no feedback for 0.2 s");
    assert_eq!(end["evaluations"], 0);
    assert_eq!(events(dir.path(), 1, "end").len(), 1);
    assert!(result.counters.optimizers_started >= 2);
    assert_eq!(result.best.unwrap().opt_id, 2);
}

/// Evaluates the origin (the sphere's minimum) once before the first start, then alternates like
/// [`Alternate`].
#[derive(Debug)]
struct OriginFirst(Alternate, bool);

impl Generator for OriginFirst {
    fn name(&self) -> &str {
        "origin_first"
    }

    fn wants(&mut self, _ctx: &GenerateContext<'_>) -> Vec<Vec<f64>> {
        if std::mem::replace(&mut self.1, true) { Vec::new() } else { vec![vec![0.0, 0.0]] }
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        self.0.generate(ctx)
    }
}

#[test]
fn hunts_go_on_while_the_best_point_is_the_generators() {
    let dir = tempfile::tempdir().unwrap();
    let result = hunted_run(Box::new(OriginFirst(Alternate(0), false)), dir.path());
    // The generator's evaluation of the origin (f = 0) stays the best of the run, logged under id 0.
    let best = result.best.unwrap();
    assert_eq!((best.opt_id, best.fx, best.call_id), (0, 0.0, 1));
    assert!(result.counters.optimizers_killed >= 1);
    let first_end = &events(dir.path(), 1, "end")[0];
    assert_eq!(first_end["reason"], "killed");
    let hunter = first_end["hunter"].as_u64().unwrap();
    assert_eq!(events(dir.path(), hunter, "start")[0]["type"], "improver");
}

#[test]
fn the_budget_is_never_overshot_and_killed_optimizers_stop_at_once() {
    for (workers, batch, budget) in [(1, 1, 500), (1, 50, 2000), (3, 7, 1000), (2, 64, 777)] {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(ScriptedFactory::descending().step(0.0001).batch(batch)).workers(workers);
        let result = builder(sphere(), vec![spec])
            .max_jobs(2 * workers)
            .checker(checker::max_evals(budget))
            .hunter(hunter::min_evals(20))
            .hunt_frequency(10)
            .dir(dir.path())
            .build()
            .unwrap()
            .run()
            .unwrap();
        let case = format!("{workers} workers, batch {batch}, budget {budget}");
        assert_eq!(result.counters.evaluations, budget, "{case}");
        let evals = lines(&dir.path().join("evaluations.jsonl"));
        assert_eq!(evals.len() as u64, budget, "{case}");
        // Each killed optimizer reports after its kill only what it had started before it: at most
        // the credit it held, a slot's 256 per worker.
        let kills: Vec<Value> = lines(&dir.path().join("optimizers.jsonl"))
            .into_iter()
            .filter(|e| e["reason"] == "killed")
            .collect();
        assert!(!kills.is_empty(), "{case}: nothing was killed");
        for kill in kills {
            let at = kill["at_call_id"].as_u64().unwrap();
            let after = evals
                .iter()
                .filter(|e| e["opt_id"] == kill["opt_id"] && e["call_id"].as_u64() > Some(at))
                .count();
            assert!(after <= 256 * workers, "{case}: {after} evaluations after {kill}");
        }
    }
}

#[test]
fn a_population_the_remaining_budget_cannot_pay_for_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let result = builder(sphere(), vec![spec(ScriptedFactory::descending().batch(100).converge_after(1))])
        .max_jobs(1)
        .checker(checker::max_evals(250))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!((result.counters.evaluations, result.counters.optimizers_started), (200, 2));
    let detail = match &result.end_reason {
        EndReason::Exhausted { detail } => detail.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        detail,
        "the remaining budget (50 evaluations) cannot pay for the first generation of the next optimizer \
         (scripted with a population of 100)"
    );
    let starts: Vec<Value> =
        lines(&dir.path().join("optimizers.jsonl")).into_iter().filter(|e| e["event"] == "start").collect();
    assert!(starts.iter().all(|e| e["popsize"] == 100), "{starts:?}");
}

#[test]
fn a_run_whose_first_evaluations_all_fail_stops_as_a_failure() {
    let failing = || Arc::new(FailingAbove(f64::NEG_INFINITY)) as Arc<dyn Objective>;
    let run = |limit: u64, objective: Arc<dyn Objective>| {
        builder(objective, vec![spec(ScriptedFactory::descending())])
            .max_jobs(2)
            .checker(checker::max_evals(100))
            .max_initial_failures(limit)
            .build()
            .unwrap()
            .run()
            .unwrap()
    };
    let result = run(20, failing());
    assert!(result.end_reason.is_failure());
    assert_eq!(
        result.end_reason,
        EndReason::InitialFailures { count: 20, error: "no good above -inf".into() },
        "{}",
        result.end_reason
    );
    assert!(result.counters.evaluations >= 20 && result.counters.evaluations < 100, "{:?}", result.counters);
    // 0 never stops; one success among the first evaluations is enough to go on.
    assert_eq!(run(0, failing()).counters.evaluations, 100);
    let result = run(20, Arc::new(FailingAbove(1.0)));
    assert!(!result.end_reason.is_failure(), "{}", result.end_reason);
}

/// Fails wherever the first coordinate is above the threshold (everywhere for `-inf`).
struct FailingAbove(f64);

impl Objective for FailingAbove {
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
        if x[0] > self.0 { Err(EvalError::new(format!("no good above {}", self.0))) } else { Ok(x[0] * x[0]) }
    }
}

#[test]
fn a_run_on_one_slot_is_reproducible_from_its_seed() {
    let run = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let specs =
            vec![spec(ScriptedFactory::descending().batch(3)), spec(ScriptedFactory::named("b").batch(5))];
        builder(sphere(), specs)
            .max_jobs(1)
            .seed(seed)
            .checker(checker::max_evals(600))
            .hunter(hunter::min_evals(20) & hunter::best_unmoving(10, 0.0))
            .hunt_frequency(7)
            .dir(dir.path())
            .build()
            .unwrap()
            .run()
            .unwrap();
        // Everything but the arrival times.
        lines(&dir.path().join("evaluations.jsonl"))
            .into_iter()
            .map(|mut e| {
                e.as_object_mut().unwrap().remove("t");
                e
            })
            .collect::<Vec<Value>>()
    };
    let first = run(4);
    assert_eq!(first.len(), 600);
    assert_eq!(first, run(4));
    assert_ne!(first, run(5));
}

/// Collects what an observer is told, as the lines the log writer wrote for the same events.
struct Collector(Arc<std::sync::Mutex<Collected>>);

#[derive(Default)]
struct Collected {
    evaluations: Vec<(u64, u64, f64)>,
    optimizer_events: Vec<Value>,
    hunts: u64,
    progress: u64,
    finished: Option<u64>,
    after_finished: u64,
}

impl Observe for Collector {
    fn observe(&mut self, event: &Event<'_>) -> glompo_core::error::Result<()> {
        let mut c = self.0.lock().unwrap();
        if c.finished.is_some() {
            c.after_finished += 1;
        }
        match event {
            Event::Evaluation(e) => c.evaluations.push((e.call_id, e.opt_id, e.fx)),
            Event::Optimizer(e) => c.optimizer_events.push(serde_json::to_value(e).unwrap()),
            Event::Hunt { .. } => c.hunts += 1,
            Event::Progress(_) => c.progress += 1,
            Event::Finished(result) => c.finished = Some(result.counters.evaluations),
            _ => panic!("an event this test does not know: {event:?}"),
        }
        Ok(())
    }
}

#[test]
fn an_observer_sees_every_logged_event_in_order_and_the_end_last() {
    let dir = tempfile::tempdir().unwrap();
    let collected = Arc::new(std::sync::Mutex::new(Collected::default()));
    let result = builder(sphere(), vec![spec(ScriptedFactory::descending().batch(4).converge_after(30))])
        .max_jobs(2)
        .checker(checker::max_evals(400))
        .hunter(hunter::parse("min_evals(20)", 1).unwrap())
        .hunt_frequency(50)
        .observer(Box::new(Collector(Arc::clone(&collected))))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    let c = collected.lock().unwrap();
    let logged: Vec<(u64, u64, f64)> = lines(&dir.path().join("evaluations.jsonl"))
        .iter()
        .map(|e| (e["call_id"].as_u64().unwrap(), e["opt_id"].as_u64().unwrap(), e["fx"].as_f64().unwrap()))
        .collect();
    assert_eq!(c.evaluations, logged);
    assert_eq!(c.optimizer_events, lines(&dir.path().join("optimizers.jsonl")));
    assert_eq!(c.hunts, result.counters.hunts);
    assert!(c.hunts > 0 && result.counters.optimizers_killed > 0);
    assert_eq!((c.finished, c.after_finished), (Some(result.counters.evaluations), 0));
}

/// Starts every runner as a resume would: from its optimizer's fresh state, with one pending
/// evaluation of a point that it never asks for.
#[derive(Debug)]
struct Resuming(glompo_core::backend::ThreadBackend);

impl glompo_core::backend::Backend for Resuming {
    fn name(&self) -> &str {
        "resuming"
    }

    fn spawn(
        &mut self,
        runner: glompo_core::runner::Runner,
    ) -> glompo_core::Result<Box<dyn glompo_core::backend::RunnerHandle>> {
        use glompo_core::runner::{EvalRecord, PendingEval, ResumeFrom, Runner};
        use glompo_core::{OptimizerFactory, StartContext};
        let mut recipe = runner.recipe().clone();
        let factory = ScriptedFactory::from_settings(&recipe.optimizer, &recipe.options).unwrap();
        let ctx = StartContext {
            opt_id: recipe.opt_id,
            x0: &recipe.x0,
            bounds: &recipe.bounds,
            seed: recipe.seed,
            workers: recipe.workers,
        };
        let (fresh, optimizer) = (factory.build(&ctx).unwrap(), factory.build(&ctx).unwrap());
        let never =
            PendingEval { x: vec![9.0, 9.0], record: EvalRecord { fx: 1.0, extras: None, error: None } };
        recipe.resume = Some(ResumeFrom { state: Some(fresh.save().unwrap()), pending: vec![never] });
        let evaluator = Box::new(glompo_core::evaluator::Serial);
        let rebuilt = Runner::new(recipe, optimizer, evaluator, sphere(), runner.control(), runner.sender());
        self.0.spawn(rebuilt)
    }
}

#[test]
fn the_outcome_of_a_replay_is_an_optimizer_event() {
    let dir = tempfile::tempdir().unwrap();
    let result = builder(sphere(), vec![spec(ScriptedFactory::descending())])
        .max_jobs(1)
        .checker(checker::max_evals(5))
        .backend(Box::new(Resuming(Default::default())))
        .dir(dir.path())
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(result.counters.evaluations, 5);
    let replayed = events(dir.path(), 1, "replayed");
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!((&replayed[0]["used"], &replayed[0]["unused"]), (&Value::from(0), &Value::from(1)));
    assert!(replayed[0]["t"].as_f64().unwrap() >= 0.0);
}

/// Reads the run directory's summary at the first evaluation it is told of.
struct SummaryReader {
    dir: std::path::PathBuf,
    seen: Arc<std::sync::Mutex<Option<Value>>>,
}

impl Observe for SummaryReader {
    fn observe(&mut self, event: &Event<'_>) -> glompo_core::error::Result<()> {
        let mut seen = self.seen.lock().unwrap();
        if matches!(event, Event::Evaluation(_)) && seen.is_none() {
            *seen = glompo_core::manager::rundir::summary(&self.dir)?;
        }
        Ok(())
    }
}

#[test]
fn a_live_run_has_a_summary_that_says_it_is_running() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let reader = SummaryReader { dir: dir.path().to_path_buf(), seen: Arc::clone(&seen) };
    let sphere = Arc::new(from_fn(|x: &[f64]| x[0] * x[0]));
    builder(sphere, vec![spec(ScriptedFactory::descending())])
        .checker(checker::max_evals(30))
        .dir(dir.path())
        .observer(Box::new(reader))
        .build()
        .unwrap()
        .run()
        .unwrap();
    let live = seen.lock().unwrap().clone().expect("no summary.json while the run went on");
    assert_eq!(live["end_reason"], "running");
    assert_eq!(live["end"], Value::Null);
    assert_eq!(live["counters"]["evaluations"], 0);
    let done = glompo_core::manager::rundir::summary(dir.path()).unwrap().unwrap();
    assert_eq!(done["counters"]["evaluations"], 30);
    assert_ne!(done["end_reason"], "running");
}
