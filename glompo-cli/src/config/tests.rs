//! Unit tests of the config: what it resolves to.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use super::*;

/// Writes `config` as `config.json` in `dir` and loads it.
fn load_in(dir: &Path, config: &Value) -> Result<Plan, String> {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).map_err(|e| e.to_string())?;
    load(&path, Overrides::default()).map_err(|ConfigError(message)| message)
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
    let plan = load_in(tmp.path(), &sphere(optimizers.clone())).unwrap();
    assert_eq!(plan.resolved["optimizers"][0]["evaluator"], "threads");
    assert_eq!(plan.resolved["optimizers"][1]["evaluator"], "serial");
    let mut forced = sphere(optimizers);
    forced["backend"] = json!("processes-forced");
    let plan = load_in(tmp.path(), &forced).unwrap();
    assert_eq!(plan.resolved["optimizers"][0]["evaluator"], "processes");
    assert_eq!(plan.resolved["optimizers"][1]["evaluator"], "processes");
    // A given evaluator stays.
    let plan = load_in(tmp.path(), &sphere(json!([{"type": "cma-es", "workers": 3, "evaluator": "serial"}])))
        .unwrap();
    assert_eq!(plan.resolved["optimizers"][0]["evaluator"], "serial");
}

#[test]
fn max_initial_failures_defaults_and_resolves() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = sphere(json!([{"type": "cma-es"}]));
    let plan = load_in(tmp.path(), &config).unwrap();
    assert_eq!(plan.max_initial_failures, DEFAULT_MAX_INITIAL_FAILURES);
    assert_eq!(plan.resolved["max_initial_failures"], DEFAULT_MAX_INITIAL_FAILURES);
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
    let plan = load_in(&folder, &config).unwrap();
    let resolved = &plan.resolved["objective"];
    assert_eq!(resolved["command"], json!([folder.join("model.sh"), "input.txt"]));
    assert_eq!(resolved["cwd"], json!(folder));
    let runner = plan.runner_config.expect("the processes backend has a runner config");
    assert_eq!(&runner["objective"], resolved);
    config["objective"]["cwd"] = json!("data");
    let plan = load_in(&folder, &config).unwrap();
    assert_eq!(plan.resolved["objective"]["cwd"], json!(folder.join("data")));
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
    let plan = load(&path, Overrides { seed: Some(9), ..Overrides::default() }).map_err(|e| e.0).unwrap();
    assert_eq!(plan.seed, 9);
    config["seed"] = json!("five");
    std::fs::write(&path, config.to_string()).unwrap();
    let err = load(&path, Overrides { seed: Some(9), ..Overrides::default() }).err().map(|e| e.0);
    assert!(err.is_some_and(|e| e.ends_with("seed: expected a whole number ≥ 0, found \"five\"")));
}

#[test]
fn every_listed_evaluator_builds_and_an_unknown_one_is_refused_with_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    for name in EVALUATORS {
        let plan = load_in(tmp.path(), &sphere(json!([{"type": "cma-es", "evaluator": name}]))).unwrap();
        assert_eq!(plan.resolved["optimizers"][0]["evaluator"], *name);
    }
    assert!(error_in(tmp.path(), &sphere(json!([{"type": "cma-es", "evaluator": "serail"}]))).ends_with(
        "optimizers[0].evaluator: unknown value `serail`; did you mean `serial`? expected one of serial, \
             threads, processes"
    ));
}

#[test]
fn component_seeds_come_from_the_run_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = sphere(json!([{"type": "cma-es"}, {"type": "nelder-mead"}]));
    config["seed"] = json!(42);
    config["selector"] = json!("random");
    config["hunters"] = json!("min_evals(2) & time_annealing(1)");
    let plan = load_in(tmp.path(), &config).unwrap();
    let seeds = RunSeeds::new(42);
    assert_eq!(plan.selector.save()["rng"]["seed"], seeds.selector());
    assert_eq!(plan.generator.save()["rng"]["seed"], seeds.generator());
    let hunter = plan.hunter.expect("the config has hunters");
    assert_eq!(hunter.save()[1]["rng"]["seed"], seeds.hunter_leaf(1));
}
