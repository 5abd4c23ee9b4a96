//! The deterministic schedule end to end: the same config and seed give the same evaluations on every
//! backend and worker count, and a deterministic run checkpointed anywhere (by its policy or by a
//! signal) and resumed is the run that was never interrupted.

use std::fs;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::checkpoint::{checkpoints, evaluations, start, summary, wait_for};
use crate::run::{glompo, stderr, write_config};

/// Three optimizers of different batch sizes, hunts and shared incumbents: everything whose order
/// depends on timing in the async schedule. The batches do not depend on the worker count (CMA-ES's
/// population and random search's batch are given), so the runs of every layout must be equal.
fn config(backend: &str, evaluator: &str, workers: usize) -> Value {
    json!({
        "objective": {"function": "rastrigin", "dim": 4},
        "optimizers": [
            {"type": "cma-es", "sigma0": 1.0, "popsize": 8, "workers": workers, "evaluator": evaluator},
            {"type": "nelder-mead", "initial-step": 0.1, "workers": workers, "evaluator": evaluator},
            {"type": "random-search", "iters": 30, "batch": 4, "workers": workers, "evaluator": evaluator}
        ],
        "max_jobs": 2 * workers,
        "backend": backend,
        "schedule": "deterministic",
        "share_best_solutions": true,
        "convergence": "max_evals(2000)",
        "hunters": "min_evals(100) & best_unmoving(100, 0.01)",
        "hunt_frequency": 50,
        "seed": 5
    })
}

fn run(tmp: &std::path::Path, config: &Value, dir: &str) -> Vec<Value> {
    let file = write_config(tmp, config);
    let out = glompo(&["run", &file, "--dir", dir, "-q"], tmp);
    assert!(out.status.success(), "{dir}: {}", stderr(&out));
    evaluations(&tmp.join(dir))
}

#[test]
fn a_deterministic_run_is_the_same_on_every_backend_and_worker_count() {
    let tmp = tempfile::tempdir().unwrap();
    let expected = run(tmp.path(), &config("threads", "serial", 1), "reference");
    assert_eq!(expected.len(), 2000);
    // The run has what makes async runs differ: several optimizers, kills and injected incumbents.
    let s = summary(&tmp.path().join("reference"));
    assert!(s["counters"]["optimizers_started"].as_u64().unwrap() >= 4, "{s}");
    assert!(s["counters"]["hunts"].as_u64().unwrap() > 10, "{s}");
    for (backend, evaluator, workers) in [
        ("processes", "serial", 1),
        ("threads", "threads", 4),
        ("processes", "threads", 4),
        ("threads", "processes", 4),
        ("processes-forced", "processes", 2),
    ] {
        let dir = format!("{backend}-{evaluator}-{workers}");
        let got = run(tmp.path(), &config(backend, evaluator, workers), &dir);
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert!(got.len() == expected.len() && first.is_none(), "{dir}: first difference at {first:?}");
    }
}

#[test]
fn a_deterministic_run_resumed_from_any_of_its_checkpoints_is_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    for backend in ["threads", "processes"] {
        let mut with = config(backend, "serial", 1);
        with["checkpoint"] = json!({"every_evals": 400});
        let full = format!("full-{backend}");
        let expected = run(tmp.path(), &with, &full);
        // Taking checkpoints changes nothing.
        assert_eq!(run(tmp.path(), &config(backend, "serial", 1), &format!("plain-{backend}")), expected);
        resumes_from_every_checkpoint(tmp.path(), &full, &expected);
    }
}

/// Resumes the run in `dir` from each of its checkpoints (at least 4) into a directory of its own and
/// checks that every resumed run logs `expected`.
fn resumes_from_every_checkpoint(tmp: &std::path::Path, dir: &str, expected: &[Value]) {
    let taken = checkpoints(&tmp.join(dir));
    assert!(taken.len() >= 4, "{taken:?}");
    for (i, checkpoint) in taken.iter().enumerate() {
        let resumed = format!("{dir}-resumed-{i}");
        let out = glompo(&["resume", checkpoint.to_str().unwrap(), "--dir", &resumed, "-q"], tmp);
        assert!(out.status.success(), "{resumed}: {}", stderr(&out));
        assert_eq!(evaluations(&tmp.join(&resumed)), expected, "{resumed}");
    }
}

#[test]
fn a_deterministic_run_stopped_by_a_signal_resumes_into_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut slow = config("processes", "threads", 2);
    slow["objective"]["delay_s"] = json!(0.002);
    let expected = run(tmp.path(), &slow, "full");
    let file = write_config(tmp.path(), &slow);
    for (i, (signal, after)) in
        [(Signal::SIGTERM, 100), (Signal::SIGUSR1, 400), (Signal::SIGINT, 700)].into_iter().enumerate()
    {
        let dir = format!("stopped-{i}");
        let out = tmp.path().join(&dir);
        let mut running = start(tmp.path(), &["run", &file, "--dir", &dir, "-q"]);
        wait_for("evaluations", || {
            fs::read_to_string(out.join("evaluations.jsonl")).is_ok_and(|t| t.lines().count() > after)
        });
        kill(Pid::from_raw(running.0.id() as i32), signal).unwrap();
        assert_eq!(running.0.wait().unwrap().code(), Some(128 + signal as i32), "{signal}");
        drop(running);
        assert_eq!(summary(&out)["end_reason"], format!("interrupted by {signal}"));
        let at = glompo_core::manager::inspect(&checkpoints(&out)[0]).unwrap().evaluations;
        assert!(at > after as u64 && at < 2000, "{signal}: {at}");
        let resumed = glompo(&["resume", &dir, "-q"], tmp.path());
        assert!(resumed.status.success(), "{signal}: {}", stderr(&resumed));
        assert_eq!(evaluations(&out), expected, "{signal} after {at} evaluations");
    }
}

#[test]
fn a_deterministic_budget_is_spent_in_whole_batches_and_never_overshot() {
    let tmp = tempfile::tempdir().unwrap();
    for backend in ["threads", "processes"] {
        let mut with = config(backend, "serial", 1);
        // Every batch has 8 points: 1003 is 125 batches and 3 evaluations.
        with["optimizers"] = json!([{"type": "random-search", "iters": 1000000, "batch": 8}]);
        with["convergence"] = json!("max_evals(1003)");
        let got = run(tmp.path(), &with, backend);
        assert_eq!(got.len(), 1000, "{backend}");
        let s = summary(&tmp.path().join(backend));
        let reason = s["end_reason"].as_str().unwrap();
        assert!(reason.contains("(8 evaluations) does not fit in the 3 left"), "{backend}: {reason}");
    }
}

#[test]
fn a_checkpoint_asked_for_during_a_round_is_taken_at_its_end_and_resumes_into_the_same_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut slow = config("threads", "serial", 1);
    slow["objective"]["delay_s"] = json!(0.001);
    let expected = run(tmp.path(), &slow, "full");
    let file = write_config(tmp.path(), &slow);
    let out = tmp.path().join("asked");
    let mut running = start(tmp.path(), &["run", &file, "--dir", "asked", "-q"]);
    wait_for("evaluations", || {
        fs::read_to_string(out.join("evaluations.jsonl")).is_ok_and(|t| t.lines().count() > 300)
    });
    let asked = glompo(&["checkpoint", "asked"], tmp.path());
    assert!(asked.status.success(), "{}", stderr(&asked));
    assert!(running.0.wait().unwrap().success());
    drop(running);
    let taken = checkpoints(&out);
    assert_eq!(taken.len(), 1, "{taken:?}");
    let info = glompo_core::manager::inspect(&taken[0]).unwrap();
    assert_eq!(info.reason, "CHKPT file");
    assert!(info.evaluations > 300 && info.evaluations < 2000, "{info:?}");
    // The checkpoint's run and the asked-for run are the uninterrupted one.
    assert_eq!(evaluations(&out), expected);
    let resumed = glompo(&["resume", taken[0].to_str().unwrap(), "--dir", "resumed", "-q"], tmp.path());
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(evaluations(&tmp.path().join("resumed")), expected);
}

/// The default strategy's optimizers (CMA-ES and one sweep of coordinate search) under BIPOP restarts,
/// whose regimes scale populations and step sizes by drawn factors.
fn restarts_config(backend: &str, evaluator: &str, workers: usize) -> Value {
    json!({
        "objective": {"function": "rastrigin", "dim": 2, "shift": 0.3, "shift_seed": 2},
        "optimizers": [
            {"type": "cma-es", "workers": workers, "evaluator": evaluator},
            {"type": "coordinate-search", "max_sweeps": 1, "max_starts": 1, "workers": workers,
             "evaluator": evaluator}
        ],
        "selector": {"type": "cycle", "restarts": "bipop"},
        "max_jobs": 2 * workers,
        "backend": backend,
        "schedule": "deterministic",
        "convergence": "max_evals(3000)",
        "seed": 3
    })
}

#[test]
fn bipop_restarts_and_coordinate_search_are_the_same_on_every_backend_and_after_any_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reference = restarts_config("threads", "serial", 1);
    reference["checkpoint"] = json!({"every_evals": 500});
    let expected = run(tmp.path(), &reference, "reference");
    // The budget is spent in whole batches (the last one that fits), never overshot.
    assert!((2900..=3000).contains(&expected.len()), "{}", expected.len());
    let events: Vec<Value> = fs::read_to_string(tmp.path().join("reference/optimizers.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let starts: Vec<&Value> = events.iter().filter(|e| e["event"] == "start").collect();
    // Both regimes ran: populations above the default 6, and step sizes below the default 2.56.
    let sigmas: Vec<f64> = starts
        .iter()
        .filter(|e| e["type"] == "cma-es")
        .map(|e| e["settings"]["sigma0"].as_f64().unwrap())
        .collect();
    assert!(sigmas.iter().any(|s| *s < 2.0), "no small-regime restart: {sigmas:?}");
    assert!(starts.iter().any(|e| e["type"] == "cma-es" && e["popsize"].as_u64() > Some(6)), "{starts:?}");
    assert_eq!(starts.iter().filter(|e| e["type"] == "coordinate-search").count(), 1);
    for (backend, evaluator, workers) in
        [("processes", "serial", 1), ("threads", "threads", 4), ("processes-forced", "processes", 2)]
    {
        let dir = format!("{backend}-{evaluator}-{workers}");
        let got = run(tmp.path(), &restarts_config(backend, evaluator, workers), &dir);
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert!(got.len() == expected.len() && first.is_none(), "{dir}: first difference at {first:?}");
    }
    resumes_from_every_checkpoint(tmp.path(), "reference", &expected);
}

/// CMA-ES and a short random search sharing a run through the learning `portfolio` selector.
fn portfolio_config(backend: &str, evaluator: &str, workers: usize) -> Value {
    json!({
        "objective": {"function": "rastrigin", "dim": 2, "shift": 0.3, "shift_seed": 4},
        "optimizers": [
            {"type": "cma-es", "workers": workers, "evaluator": evaluator},
            {"type": "random-search", "iters": 10, "batch": 4, "workers": workers, "evaluator": evaluator}
        ],
        "selector": {"type": "portfolio", "restarts": "ipop"},
        "max_jobs": 2 * workers,
        "backend": backend,
        "schedule": "deterministic",
        "convergence": "max_evals(3000)",
        "seed": 7
    })
}

#[test]
fn a_portfolio_gives_the_winner_more_of_the_run_the_same_on_every_backend_and_after_any_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reference = portfolio_config("threads", "serial", 1);
    reference["checkpoint"] = json!({"every_evals": 500});
    let expected = run(tmp.path(), &reference, "reference");
    let events: Vec<Value> = fs::read_to_string(tmp.path().join("reference/optimizers.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let type_of = |id: &Value| {
        let start = events.iter().find(|e| e["event"] == "start" && e["opt_id"] == *id).unwrap();
        start["type"].as_str().unwrap().to_owned()
    };
    // The evaluations of each type's ended runs, from the log.
    let mut evaluations = [0u64; 2];
    for end in events.iter().filter(|e| e["event"] == "end") {
        evaluations[usize::from(type_of(&end["opt_id"]) == "random-search")] +=
            end["evaluations"].as_u64().unwrap();
    }
    // What the selector learnt, in the last checkpoint: CMA-ES's runs ended holding the run's best,
    // random search's never did.
    let saved = checkpoints(&tmp.path().join("reference"));
    let last: Value = serde_json::from_str(&fs::read_to_string(saved.last().unwrap()).unwrap()).unwrap();
    let arms = &last["body"]["components"]["selector"]["inner"]["arms"];
    let (cma, random) = (&arms[0], &arms[1]);
    assert!(cma["wins"].as_u64() >= Some(1) && random["wins"] == 0, "{arms}");
    // Random search keeps a share, about 2^-wins of CMA-ES's evaluations, in many short runs.
    let starts = |t: &str| events.iter().filter(|e| e["event"] == "start" && e["type"] == t).count();
    assert!(starts("random-search") > 10 * starts("cma-es"), "{events:?}");
    assert!(evaluations[0] > 2 * evaluations[1], "evaluations {evaluations:?}, arms {arms}");
    for (backend, evaluator, workers) in
        [("processes", "serial", 1), ("threads", "threads", 4), ("processes-forced", "processes", 2)]
    {
        let dir = format!("{backend}-{evaluator}-{workers}");
        let got = run(tmp.path(), &portfolio_config(backend, evaluator, workers), &dir);
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert!(got.len() == expected.len() && first.is_none(), "{dir}: first difference at {first:?}");
    }
    resumes_from_every_checkpoint(tmp.path(), "reference", &expected);
}
