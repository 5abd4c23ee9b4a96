//! The run config as a library type, without the binary: a config file read into a `RunConfig`, its
//! resolved values, its serde round trip, and a run built from it.

use std::fs;
use std::path::Path;

use glompo_cli::config::{BackendKind, EvaluatorKind, ObjectiveConfig, Schedule};
use glompo_cli::{Origin, Overrides, RunConfig};
use glompo_core::manager::{CheckpointPolicy, DEFAULT_MAX_INITIAL_FAILURES, EndReason};
use serde_json::{Value, json};

/// Writes `config` as `config.json` in `dir` and reads it through the library.
fn from_file(dir: &Path, config: &Value) -> RunConfig {
    let path = dir.join("config.json");
    fs::write(&path, config.to_string()).unwrap();
    let overrides = Overrides { dir: Some(dir.join("run")), ..Overrides::default() };
    RunConfig::from_file(&path, &overrides).unwrap()
}

#[test]
fn a_config_file_resolves_round_trips_and_runs_through_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let config = from_file(
        tmp.path(),
        &json!({
            "objective": {"function": "Sphere", "dim": 3},
            "optimizers": [{"type": "cma-es", "workers": 2}, {"type": "nelder-mead"}],
            "max_jobs": 2,
            "convergence": "max_evals(300)",
            "seed": 4,
        }),
    );
    // What was given, normalised, and every default filled in.
    let ObjectiveConfig::Function { function, dim, params } = &config.objective else {
        panic!("a built-in objective was read as {:?}", config.objective)
    };
    assert_eq!((function.as_str(), *dim, params.len()), ("sphere", 3, 0));
    assert_eq!(config.bounds.dim(), 3);
    assert!(config.bounds.lower().iter().zip(config.bounds.upper()).all(|(lo, hi)| lo < hi));
    assert_eq!(config.optimizers.len(), 2);
    assert_eq!(config.optimizers[0].kind, "cma-es");
    assert_eq!((config.optimizers[0].workers, config.optimizers[0].evaluator), (2, EvaluatorKind::Threads));
    assert_eq!((config.optimizers[1].workers, config.optimizers[1].evaluator), (1, EvaluatorKind::Serial));
    // The factory's settings, defaults included, so that a resume builds the same optimizer.
    assert!(config.optimizers[0].options.contains_key("sigma0"), "{:?}", config.optimizers[0].options);
    assert_eq!((config.selector.clone(), config.generator.clone()), (json!("cycle"), json!("random")));
    assert_eq!(
        (config.max_jobs, config.backend, config.schedule),
        (2, BackendKind::Threads, Schedule::Async)
    );
    assert_eq!(config.convergence, "max_evals(300)");
    assert_eq!(config.hunters, None);
    assert_eq!(config.hunt_frequency, 100);
    assert!(!config.share_best_solutions && !config.detailed_log && config.split_printstreams);
    assert_eq!((config.force_terminations_after, config.evaluation_timeout), (None, None));
    assert_eq!(config.max_initial_failures, DEFAULT_MAX_INITIAL_FAILURES);
    assert_eq!(config.seed, 4);
    assert_eq!((config.output.dir.clone(), config.output.overwrite), (tmp.path().join("run"), false));
    assert_eq!(config.checkpoint, CheckpointPolicy::default());

    // The resolved form reads back into the same config, as text and as a value.
    let text = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<RunConfig>(&text).unwrap(), config);
    let value = serde_json::to_value(&config).unwrap();
    assert_eq!(RunConfig::from_resolved(value.clone(), &Overrides::default()).unwrap(), config);
    // Overrides apply to a resolved config as to a file.
    let resumed =
        RunConfig::from_resolved(value.clone(), &Overrides { max_jobs: Some(1), ..Overrides::default() });
    let err = resumed.unwrap_err();
    assert_eq!(err.field(), Some("optimizers[0].workers"));
    assert_eq!(err.origin(), &Origin::Value);

    // A run built from it, in this process.
    let result = config.builder().unwrap().build().unwrap().run().unwrap();
    let best = result.best.expect("the run found a finite value");
    assert!(best.fx.is_finite() && best.fx >= 0.0, "{best:?}");
    assert!(matches!(result.end_reason, EndReason::Checker { .. }), "{:?}", result.end_reason);
    assert_eq!(result.counters.evaluations, 300);
    // Its summary holds the config it ran, which reads back into the same config.
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("run/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"], value);
    assert_eq!(serde_json::from_value::<RunConfig>(summary["config"].clone()).unwrap(), config);
    assert_eq!(summary["counters"]["evaluations"], 300);
}

#[test]
fn every_field_of_a_full_config_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("data")).unwrap();
    let config = from_file(
        tmp.path(),
        &json!({
            "objective": {"command": ["./model.sh", "x"], "dim": 3, "cwd": "data", "timeout_s": 5},
            "bounds": [[-5, 5], [-4, 4], [-3, 3.5]],
            "optimizers": [
                {"type": "cma-es", "sigma0": 2.5, "popsize": 6, "workers": 2},
                {"type": "nelder-mead", "evaluator": "threads"},
                {"type": "random-search"}
            ],
            "selector": "random", "generator": {"type": "random"}, "max_jobs": 3,
            "backend": "processes-forced", "schedule": "deterministic",
            "convergence": "max_evals(60) | target_cost(0, 1e-6)",
            "hunters": "min_evals(5) & (best_unmoving(20, 0.01) | parameter_distance(0.05))",
            "hunt_frequency": 7, "share_best_solutions": true, "detailed_log": true,
            "force_terminations_after_s": 30, "evaluation_timeout_s": 0.25, "split_printstreams": false,
            "max_initial_failures": 3, "seed": 11, "output": {"dir": "elsewhere", "overwrite": true},
            "checkpoint": {"every_evals": 25, "every_seconds": 600, "at_end": true, "keep": 2,
                           "name": "cp_{count}", "answer_within_s": 2}
        }),
    );
    let ObjectiveConfig::Command { command, cwd, timeout, .. } = &config.objective else {
        panic!("a command objective was read as {:?}", config.objective)
    };
    assert_eq!(command[0], tmp.path().join("model.sh").to_string_lossy());
    assert_eq!((cwd.clone(), timeout.map(|t| t.as_secs_f64())), (tmp.path().join("data"), Some(5.0)));
    assert_eq!((config.backend, config.schedule), (BackendKind::ProcessesForced, Schedule::Deterministic));
    assert_eq!(config.evaluation_timeout.map(|t| t.as_secs_f64()), Some(0.25));
    assert_eq!((config.checkpoint.every_evals, config.checkpoint.keep), (Some(25), Some(2)));
    // --dir wins over `output.dir`; `output.overwrite` stays.
    assert_eq!((config.output.dir.clone(), config.output.overwrite), (tmp.path().join("run"), true));
    let written = serde_json::to_value(&config).unwrap();
    assert_eq!(written["evaluation_timeout_s"], 0.25);
    assert_eq!(written["schedule"], "deterministic");
    assert_eq!(written["checkpoint"]["answer_within_s"], 2.0);
    assert_eq!(serde_json::from_value::<RunConfig>(written).unwrap(), config);
}
