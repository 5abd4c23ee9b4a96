//! Unit tests of the config: what it resolves to.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use glompo_core::manager::DEFAULT_MAX_INITIAL_FAILURES;
use glompo_core::rng::RunSeeds;

use super::*;

/// Writes `config` as `config.json` in `dir` and loads it.
fn load_in(dir: &Path, config: &Value) -> Result<RunConfig, String> {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).map_err(|e| e.to_string())?;
    RunConfig::from_file(&path, &Overrides::default()).map_err(|e| e.to_string())
}

fn error_in(dir: &Path, config: &Value) -> String {
    match load_in(dir, config) {
        Ok(_) => panic!("{config} was accepted"),
        Err(message) => message,
    }
}

fn sphere(optimizers: Value) -> Value {
    json!({"objective": {"function": "sphere", "dim": 2}, "optimizers": optimizers, "max_jobs": 4})
}

#[test]
fn the_default_evaluator_is_threads_for_several_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let optimizers = json!([{"type": "cma-es", "workers": 2}, {"type": "nelder-mead"}]);
    let config = load_in(tmp.path(), &sphere(optimizers.clone())).unwrap();
    let evaluators = |c: &RunConfig| c.optimizers.iter().map(|o| o.evaluator).collect::<Vec<_>>();
    assert_eq!(evaluators(&config), [EvaluatorKind::Threads, EvaluatorKind::Serial]);
    let mut forced = sphere(optimizers);
    forced["backend"] = json!("processes-forced");
    let config = load_in(tmp.path(), &forced).unwrap();
    assert_eq!(config.backend, BackendKind::ProcessesForced);
    assert_eq!(evaluators(&config), [EvaluatorKind::Processes, EvaluatorKind::Processes]);
    // The resolved config writes the backend normalised, as it always did.
    assert_eq!(serde_json::to_value(&config).unwrap()["backend"], "processes_forced");
    // A given evaluator stays.
    let config =
        load_in(tmp.path(), &sphere(json!([{"type": "cma-es", "workers": 3, "evaluator": "serial"}])))
            .unwrap();
    assert_eq!(evaluators(&config), [EvaluatorKind::Serial]);
}

#[test]
fn max_initial_failures_defaults_and_resolves() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = sphere(json!([{"type": "cma-es"}]));
    let resolved = load_in(tmp.path(), &config).unwrap();
    assert_eq!(resolved.max_initial_failures, DEFAULT_MAX_INITIAL_FAILURES);
    assert_eq!(
        serde_json::to_value(&resolved).unwrap()["max_initial_failures"],
        DEFAULT_MAX_INITIAL_FAILURES
    );
    config["max_initial_failures"] = json!(0);
    assert_eq!(load_in(tmp.path(), &config).unwrap().max_initial_failures, 0);
    config["max_initial_failures"] = json!(-3);
    assert!(
        error_in(tmp.path(), &config)
            .ends_with("max_initial_failures: expected a whole number ≥ 0, found -3")
    );
}

/// A program that answers every request with 1.
const MODEL: &str = "#!/bin/sh\nwhile read line; do echo '{\"fx\": 1}'; done\n";

#[test]
fn command_paths_are_relative_to_the_config_folder_and_absolute_in_the_runner_config() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("project");
    std::fs::create_dir_all(folder.join("data")).unwrap();
    let model = folder.join("model.sh");
    std::fs::write(&model, MODEL).unwrap();
    std::fs::set_permissions(&model, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = json!({
        "objective": {"command": ["./model.sh", "input.txt"], "dim": 2},
        "bounds": [[0, 1]],
        "optimizers": [{"type": "random-search"}],
        "backend": "processes",
    });
    let resolved = load_in(&folder, &config).unwrap();
    let written = serde_json::to_value(&resolved).unwrap();
    assert_eq!(written["objective"]["command"], json!([folder.join("model.sh"), "input.txt"]));
    assert_eq!(written["objective"]["cwd"], json!(folder));
    assert_eq!(runner::config(&resolved)["objective"], written["objective"]);
    config["objective"]["cwd"] = json!("data");
    let resolved = load_in(&folder, &config).unwrap();
    assert_eq!(serde_json::to_value(&resolved).unwrap()["objective"]["cwd"], json!(folder.join("data")));
    config["objective"]["cwd"] = json!("missing");
    assert_eq!(
        error_in(&folder, &config),
        format!(
            "{}: objective.cwd: {} is not a folder",
            folder.join("config.json").display(),
            folder.join("missing").display()
        )
    );
}

#[test]
fn the_command_line_seed_wins_but_the_file_seed_is_still_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = sphere(json!([{"type": "cma-es"}]));
    config["seed"] = json!(5);
    let path = tmp.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let overrides = Overrides { seed: Some(9), ..Overrides::default() };
    assert_eq!(RunConfig::from_file(&path, &overrides).unwrap().seed, 9);
    config["seed"] = json!("five");
    std::fs::write(&path, config.to_string()).unwrap();
    let err = RunConfig::from_file(&path, &overrides).unwrap_err();
    assert_eq!(err.origin(), &Origin::File(path));
    assert_eq!(err.field(), Some("seed"));
    assert_eq!(err.message(), "expected a whole number ≥ 0, found \"five\"");
}

#[test]
fn a_seed_that_json_readers_would_round_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = sphere(json!([{"type": "cma-es"}]));
    config["seed"] = json!(1u64 << 53);
    let path = tmp.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let err = RunConfig::from_file(&path, &Overrides::default()).unwrap_err();
    assert_eq!(err.field(), Some("seed"));
    assert!(err.message().contains("above 2^53 - 1 = 9007199254740991"), "{}", err.message());
    config["seed"] = json!((1u64 << 53) - 1);
    std::fs::write(&path, config.to_string()).unwrap();
    assert_eq!(RunConfig::from_file(&path, &Overrides::default()).unwrap().seed, (1 << 53) - 1);
    let overrides = Overrides { seed: Some(u64::MAX), ..Overrides::default() };
    let err = RunConfig::from_file(&path, &overrides).unwrap_err();
    assert_eq!(err.field(), Some("--seed"));
}

#[test]
fn every_listed_evaluator_builds_and_an_unknown_one_is_refused_with_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    for kind in EvaluatorKind::ALL {
        let entry = sphere(json!([{"type": "cma-es", "evaluator": kind.name()}]));
        if kind == EvaluatorKind::Mpi && !cfg!(feature = "mpi") {
            // Listed in every build, so that a config names it the same way; built only with MPI.
            assert!(error_in(tmp.path(), &entry).contains("`mpi` needs a glompo built with the mpi feature"));
            continue;
        }
        let config = load_in(tmp.path(), &entry).unwrap();
        assert_eq!(config.optimizers[0].evaluator, kind);
        assert_eq!(EvaluatorKind::from_name(kind.name()), Some(kind));
    }
    assert!(error_in(tmp.path(), &sphere(json!([{"type": "cma-es", "evaluator": "serail"}]))).ends_with(
        "optimizers[0].evaluator: unknown value `serail`; did you mean `serial`? expected one of serial, \
             threads, processes, mpi"
    ));
}

#[test]
fn component_seeds_come_from_the_run_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = sphere(json!([{"type": "cma-es"}, {"type": "nelder-mead"}]));
    config["seed"] = json!(42);
    config["selector"] = json!("random");
    config["hunters"] = json!("min_evals(2) & time_annealing(1)");
    let map = config.as_object().cloned().unwrap();
    let (_, parts) = resolve::resolve(map, tmp.path(), &Overrides::default()).unwrap();
    let seeds = RunSeeds::new(42);
    assert_eq!(parts.selector.save()["rng"]["seed"], seeds.selector());
    assert_eq!(parts.generator.save()["rng"]["seed"], seeds.generator());
    let hunter = parts.hunter.expect("the config has hunters");
    assert_eq!(hunter.save()[1]["rng"]["seed"], seeds.hunter_leaf(1));
}

#[test]
fn deserializing_checks_the_config_the_same_way() {
    let tmp = tempfile::tempdir().unwrap();
    let config = load_in(tmp.path(), &sphere(json!([{"type": "cma-es", "workers": 2}]))).unwrap();
    let mut written = serde_json::to_value(&config).unwrap();
    assert_eq!(serde_json::from_value::<RunConfig>(written.clone()).unwrap(), config);
    written["optimizers"][0]["workers"] = json!(5);
    let err = serde_json::from_value::<RunConfig>(written.clone()).unwrap_err();
    assert_eq!(err.to_string(), "optimizers[0].workers: 5 workers do not fit in max_jobs = 4");
    let err = RunConfig::from_resolved(written, &Overrides::default())
        .unwrap_err()
        .with_origin(Origin::Checkpoint(PathBuf::from("/runs/a/checkpoints/checkpoint_1.json")));
    assert_eq!(
        err.to_string(),
        "checkpoint /runs/a/checkpoints/checkpoint_1.json: config: optimizers[0].workers: 5 workers do \
         not fit in max_jobs = 4"
    );
    let err = RunConfig::from_value(json!([1, 2]), tmp.path(), &Overrides::default()).unwrap_err();
    assert_eq!((err.origin(), err.field()), (&Origin::Value, None));
    assert!(err.message().starts_with("expected a JSON object of the run's fields"), "{err}");
}

#[test]
fn the_builder_checks_a_changed_config_again() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = load_in(tmp.path(), &sphere(json!([{"type": "cma-es"}]))).unwrap();
    config.output.dir = tmp.path().join("run");
    config.max_jobs = 0;
    let err = config.builder().unwrap_err();
    assert_eq!(err.to_string(), "max_jobs: must be at least 1, found 0");
    config.max_jobs = 2;
    config.hunters = Some("type_hunter(nelder-mead)".into());
    let err = config.builder().unwrap_err().with_origin(Origin::File("config.json".into()));
    assert!(
        err.to_string().starts_with(
            "config.json: hunters: type_hunter names `nelder-mead`, which is not an optimizer type of this run"
        ),
        "{err}"
    );
}

#[test]
fn the_builder_refuses_a_program_that_exits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": {"command": ["false"], "dim": 2},
        "bounds": [[0, 1]],
        "optimizers": [{"type": "random-search"}],
        "output": {"dir": tmp.path().join("run")},
    });
    // Reading the config starts nothing; building the run checks that the program runs.
    let config = load_in(tmp.path(), &config).unwrap();
    let err = config.builder().unwrap_err();
    assert_eq!(err.field(), Some("objective.command"));
    assert!(!tmp.path().join("run").exists());
}
