//! `glompo init`, `glompo validate` and the help: what a new user starts from.

use std::fs;

use crate::run::{glompo, stderr};

#[test]
fn init_then_run_works_in_an_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["init", "command"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("glompo.json").is_file() && tmp.path().join("model.py").is_file());
    let out = glompo(&["run", "glompo.json", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // model.py's data were made with a = 2, k = 0.5, c = 0.3; the result names them.
    for (name, truth) in [("a", 2.0), ("k", 0.5), ("c", 0.3)] {
        let line = stdout.lines().find_map(|l| l.trim().strip_prefix(&format!("{name} = "))).unwrap();
        let found: f64 = line.parse().unwrap();
        assert!((found - truth).abs() < 1e-3, "{stdout}");
    }
    let out = glompo(&["validate", "glompo.json"], tmp.path());
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("parameters     a  [0, 5]\n               k  [0, 2]\n"), "{plan}");
    assert!(tmp.path().join("glompo_run/summary.json").is_file());
    // A second init refuses to replace the user's files.
    fs::write(tmp.path().join("model.py"), "# my model\n").unwrap();
    let out = glompo(&["init", "command"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("glompo.json: exists already; pass --overwrite"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(tmp.path().join("model.py")).unwrap(), "# my model\n");
    let out = glompo(&["init", "simulation"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown template `simulation`; expected one of function, command"));
}

#[test]
fn validate_prints_the_resolved_plan_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["init"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = glompo(&["validate", "glompo.json"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.starts_with("glompo.json: valid\n"), "{plan}");
    assert!(plan.contains("rastrigin (built-in function, 10-D)"), "{plan}");
    assert!(plan.contains("[-5.12, 5.12] in all 10 dimensions"), "{plan}");
    // CMA-ES's default population for n = 10, resolved: 4 + ⌊3 ln 10⌋ = 10.
    assert!(plan.contains("1. cma-es on 1 serial slot: ") && plan.contains("popsize=10,"), "{plan}");
    // The template leaves `optimizers` out: the default strategy, its sweep started once.
    assert!(plan.contains("2. coordinate-search on 1 serial slot, started once: candidates=5,"), "{plan}");
    assert!(plan.contains(r#"{"restarts":"ipop","type":"cycle"}"#), "{plan}");
    assert!(plan.contains("(a budget of 50000 evaluations)"), "{plan}");
    assert!(!tmp.path().join("glompo_run").exists(), "validate writes nothing");
    // A bad config: the same message as `glompo run`, exit 2.
    let text = fs::read_to_string(tmp.path().join("glompo.json")).unwrap();
    fs::write(tmp.path().join("bad.json"), text.replace("\"max_jobs\": 2", "\"max_jobs\": 0")).unwrap();
    let out = glompo(&["validate", "bad.json"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("max_jobs"), "{}", stderr(&out));
}

#[test]
fn the_help_points_at_init_not_at_a_file_of_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["help", "run"], tmp.path());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("glompo init"), "{help}");
    assert!(!help.contains("examples/"), "{help}");
}
