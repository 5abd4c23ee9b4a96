//! Bad input: every malformed config gets one message that names the file and the JSON path of the
//! field, exit code 2, no panic and nothing written; and the config fields that used to be ignored or
//! refused do what the README says.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::run::{glompo, lines, stderr, write_config};

/// A small valid config that the cases below break one field at a time.
fn base() -> Value {
    json!({
        "objective": {"function": "sphere", "dim": 2},
        "optimizers": [{"type": "cma-es"}, {"type": "nelder-mead"}],
        "max_jobs": 2,
        "convergence": "max_evals(50)"
    })
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut c = base();
    change(&mut c);
    c.to_string()
}

/// A config with an external program as the objective (which never starts: the cases are refused
/// before).
fn command(change: impl FnOnce(&mut Value)) -> String {
    with(|c| {
        c["objective"] = json!({"command": ["true"], "dim": 2});
        c["bounds"] = json!([[0, 1]]);
        change(c);
    })
}

/// What must never be in a message: panics, and Rust's words for types.
const NOT_FOR_SCIENTISTS: &[&str] =
    &["panicked", "RUST_BACKTRACE", "usize", "u64", "f64", "tuple", "a map", "a sequence", "invalid type"];

/// Runs `glompo run config.json` on `text` and checks the refusal: exit 2, exactly one message, which
/// names `config.json` and then `path` (none for a file-level error), no panic or Rust type, no line
/// and column unless `syntax`, and no file or folder besides the config.
fn refused(text: &str, path: Option<&str>, also: &str, syntax: bool) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    fs::write(tmp.path().join("config.json"), text).map_err(|e| e.to_string())?;
    let out = glompo(&["run", "config.json", "--dir", "out"], tmp.path());
    let err = stderr(&out);
    let prefix = match path {
        Some(path) => format!("glompo: error: config.json: {path}: "),
        None => "glompo: error: config.json: ".to_owned(),
    };
    let mut problems = Vec::new();
    if out.status.code() != Some(2) {
        problems.push(format!("exit {:?}", out.status.code()));
    }
    if !err.starts_with(&prefix) {
        problems.push(format!("no {prefix:?}"));
    }
    if err.matches("glompo: error:").count() != 1 {
        problems.push("not exactly one message".to_owned());
    }
    if !err.contains(also) {
        problems.push(format!("no {also:?}"));
    }
    if let Some(word) = NOT_FOR_SCIENTISTS.iter().find(|w| err.contains(*w)) {
        problems.push(format!("says {word:?}"));
    }
    if err.contains(" at line ") != syntax {
        problems.push("line and column where they do not belong, or none where they do".to_owned());
    }
    let written: Vec<String> = fs::read_dir(tmp.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "config.json")
        .collect();
    if !written.is_empty() || !out.stdout.is_empty() {
        problems.push(format!("wrote {written:?} and printed {:?}", String::from_utf8_lossy(&out.stdout)));
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{}\n    {err:?}", problems.join("; "))) }
}

#[test]
fn malformed_configs_get_one_message_naming_the_field_and_exit_2() {
    let deep = |inner: &str| format!("{}{inner}{}", "(".repeat(10_000), ")".repeat(10_000));
    let cases: Vec<(String, &str, &str)> = vec![
        // Durations past the largest `Duration` (a panic in `Duration::from_secs_f64`).
        (
            with(|c| c["evaluation_timeout_s"] = json!(1e300)),
            "evaluation_timeout_s",
            "is too long; the limit is",
        ),
        (with(|c| c["force_terminations_after_s"] = json!(1e300)), "force_terminations_after_s", "too long"),
        (command(|c| c["objective"]["timeout_s"] = json!(1e300)), "objective.timeout_s", "too long"),
        (with(|c| c["evaluation_timeout_s"] = json!("5")), "evaluation_timeout_s", "expected seconds > 0"),
        (with(|c| c["force_terminations_after_s"] = json!(-1)), "force_terminations_after_s", "found -1"),
        // Expressions nested or chained beyond the stack (a SIGABRT).
        (
            with(|c| c["hunters"] = json!(deep("min_evals(1)"))),
            "hunters",
            "column 33: parentheses nest deeper",
        ),
        (with(|c| c["convergence"] = json!(deep("max_evals(1)"))), "convergence", "nest deeper than 32"),
        (
            with(|c| c["hunters"] = json!(vec!["min_evals(1)"; 10_000].join(" | "))),
            "hunters",
            "more than 256",
        ),
        (with(|c| c["hunters"] = json!(5)), "hunters", "expected a string, found 5"),
        (with(|c| c["convergence"] = json!("")), "convergence", "expected a name, found the end"),
        // Memory bombs.
        (with(|c| c["objective"]["dim"] = json!(1_000_000_000)), "objective.dim", "at most 100000"),
        (with(|c| c["objective"]["dim"] = json!(1_000_000_000_000_u64)), "objective.dim", "at most 100000"),
        (command(|c| c["objective"]["dim"] = json!(1e9)), "objective.dim", "at most 100000"),
        (with(|c| c["max_jobs"] = json!(1e12)), "max_jobs", "at most 4096"),
        (
            with(|c| {
                c["objective"] =
                    json!({"function": "exp_least_squares_cost", "dim": 2, "n_train": 1_000_000_000_000_u64})
            }),
            "objective.n_train",
            "at most 1000000",
        ),
        (with(|c| c["objective"]["delay_s"] = json!(1e300)), "objective.delay_s", "too long"),
        // Optimizers whose state would not fit in memory.
        (
            with(|c| c["optimizers"][0]["popsize"] = json!(1_000_000_000)),
            "optimizers[0].popsize",
            "GiB of memory",
        ),
        (
            with(|c| c["optimizers"][0]["popsize_factor"] = json!(1e12)),
            "optimizers[0].popsize_factor",
            "GiB of memory",
        ),
        (
            with(|c| {
                c["optimizers"][1] = json!({"type": "differential-evolution", "popsize": 1_000_000_000})
            }),
            "optimizers[1].popsize",
            "GiB of memory",
        ),
        (
            with(|c| {
                c["optimizers"][1] =
                    json!({"type": "random-search", "batch": 1_000_000_000, "iters": 1_000_000_000_000_u64})
            }),
            "optimizers[1].batch",
            "GiB",
        ),
        (
            with(|c| c["objective"] = json!({"function": "sphere", "dim": 50_000})),
            "optimizers[0].type",
            "cma-es holds 3 n² + 4 λ n numbers for n = 50000",
        ),
        // Accepted before, but invalid.
        (with(|c| c["bounds"] = json!([[-1e308, 1e308]])), "bounds[0]", "too wide"),
        (with(|c| c["bounds"] = json!([[0, 1], [-1e308, 1e308]])), "bounds[1]", "too wide"),
        (
            with(|c| c["hunters"] = json!("type_hunter(bfgs)")),
            "hunters",
            "expected one of cma-es, nelder-mead",
        ),
        (
            with(|c| c["hunters"] = json!("type_hunter(random-search)")),
            "hunters",
            "not an optimizer type of this run",
        ),
        // Typos get the closest name.
        (with(|c| c["max_job"] = json!(2)), "max_job", "unknown field; did you mean `max_jobs`?"),
        (with(|c| c["optimizer"] = json!([])), "optimizer", "did you mean `optimizers`?"),
        (with(|c| c["optimizers"][0]["type"] = json!("cma")), "optimizers[0].type", "did you mean `cma-es`?"),
        (
            with(|c| c["optimizers"][1]["type"] = json!("nelder_maed")),
            "optimizers[1].type",
            "did you mean `nelder-mead`?",
        ),
        (with(|c| c["optimizers"][1]["xatl"] = json!(1)), "optimizers[1].xatl", "did you mean `xatol`?"),
        (
            with(|c| c["optimizers"][0]["popsiz"] = json!(4)),
            "optimizers[0].popsiz",
            "did you mean `popsize`?",
        ),
        (
            with(|c| c["optimizers"][0]["evaluator"] = json!("thread")),
            "optimizers[0].evaluator",
            "did you mean `threads`?",
        ),
        (with(|c| c["hunters"] = json!("best_unmovin(5)")), "hunters", "did you mean `best_unmoving`?"),
        (
            with(|c| c["hunters"] = json!("parameter_distance(0.1, tset_all=true)")),
            "hunters",
            "did you mean `test_all`?",
        ),
        (with(|c| c["convergence"] = json!("max_evalz(5)")), "convergence", "did you mean `max_evals`?"),
        (with(|c| c["generator"] = json!("randon")), "generator", "did you mean `random`?"),
        (
            with(|c| c["generator"] = json!({"type": "basin_hoping"})),
            "generator.type",
            "did you mean `basin_hopping`?",
        ),
        (
            with(|c| c["generator"] = json!({"type": "annealing", "qaa": 1})),
            "generator.qaa",
            "did you mean `qa`?",
        ),
        (with(|c| c["selector"] = json!("cycel")), "selector", "did you mean `cycle`?"),
        (
            with(|c| c["selector"] = json!({"type": "chain", "threshold": [5]})),
            "selector.threshold",
            "did you mean `thresholds`?",
        ),
        (
            with(|c| c["objective"]["function"] = json!("sphear")),
            "objective.function",
            "did you mean `sphere`?",
        ),
        (with(|c| c["objective"]["delay"] = json!(1)), "objective.delay", "did you mean `delay_s`?"),
        (
            command(|c| c["objective"]["timout_s"] = json!(1)),
            "objective.timout_s",
            "did you mean `timeout_s`?",
        ),
        (with(|c| c["backend"] = json!("thread")), "backend", "did you mean `threads`?"),
        (with(|c| c["output"] = json!({"overwrit": true})), "output.overwrit", "did you mean `overwrite`?"),
        // Wrong kinds of values, in words.
        (
            with(|c| c["optimizers"][0]["popsize"] = json!(-1)),
            "optimizers[0].popsize",
            "expected a whole number ≥ 0, found -1",
        ),
        (
            with(|c| c["optimizers"][1]["adaptive"] = json!("yes")),
            "optimizers[1].adaptive",
            "expected true or false",
        ),
        (
            with(|c| c["optimizers"][0]["sigma0"] = json!([1])),
            "optimizers[0].sigma0",
            "expected a number, found [1]",
        ),
        (
            with(|c| c["optimizers"][0]["workers"] = json!(1e9)),
            "optimizers[0].workers",
            "do not fit in max_jobs = 2",
        ),
        (with(|c| c["optimizers"][1]["workers"] = json!(0)), "optimizers[1].workers", "must be at least 1"),
        (
            with(|c| c["optimizers"] = json!({"type": "cma-es"})),
            "optimizers",
            "expected a list of optimizers",
        ),
        (with(|c| c["optimizers"] = json!([])), "optimizers", "at least one optimizer"),
        (with(|c| c["optimizers"] = json!([3])), "optimizers[0]", "expected an object"),
        (with(|c| c["optimizers"] = json!([{}])), "optimizers[0].type", "missing; expected one of cma-es"),
        (with(|c| c["max_jobs"] = json!(-1)), "max_jobs", "expected a whole number ≥ 0, found -1"),
        (with(|c| c["max_jobs"] = json!("2")), "max_jobs", "found \"2\""),
        (with(|c| c["seed"] = json!("x")), "seed", "expected a whole number ≥ 0"),
        (with(|c| c["seed"] = json!(1.5)), "seed", "found 1.5"),
        (with(|c| c["hunt_frequency"] = json!(0)), "hunt_frequency", "must be at least 1"),
        (with(|c| c["share_best_solutions"] = json!(1)), "share_best_solutions", "expected true or false"),
        (with(|c| c["split_printstreams"] = json!("yes")), "split_printstreams", "expected true or false"),
        (with(|c| c["max_initial_failures"] = json!("x")), "max_initial_failures", "expected a whole number"),
        (with(|c| c["schedule"] = json!("sync")), "schedule", "unknown value `sync`"),
        (with(|c| c["output"] = json!("out")), "output", "expected an object"),
        (with(|c| c["output"] = json!({"dir": 3})), "output.dir", "expected a string, found 3"),
        (with(|c| c["bounds"] = json!([[0, 1, 2]])), "bounds[0]", "expected a [lo, hi] pair of numbers"),
        (with(|c| c["bounds"] = json!([[0, "1"]])), "bounds[0]", "expected a [lo, hi] pair of numbers"),
        (with(|c| c["bounds"] = json!("wide")), "bounds", "expected a list of [lo, hi] pairs"),
        (with(|c| c["bounds"] = json!([])), "bounds", "empty"),
        (
            with(|c| c["bounds"] = json!([[0, 1], [1, 0]])),
            "bounds[1]",
            "lower bound 1 is not below upper bound 0",
        ),
        (with(|c| c["bounds"] = json!([[-8e307, 8e307]])), "bounds", "its diagonal exceeds"),
        (with(|c| c["objective"] = json!(3)), "objective", "expected an object"),
        (with(|c| c["objective"] = json!({})), "objective.dim", "missing"),
        (with(|c| c["objective"] = json!({"dim": 2})), "objective", "give a built-in `function`"),
        (
            with(|c| c["objective"] = json!({"dim": 2, "functon": "sphere"})),
            "objective.functon",
            "did you mean `function`?",
        ),
        (
            command(|c| c["objective"]["dimm"] = c["objective"]["dim"].take()),
            "objective.dimm",
            "did you mean `dim`?",
        ),
        (
            with(|c| c["generator"] = json!({"type": "perturbation", "x": [0, 0], "scale": [1]})),
            "generator.x",
            "did you mean `x0`?",
        ),
        (with(|c| c["objective"]["dim"] = json!(0)), "objective.dim", "must be at least 1"),
        (with(|c| c["objective"]["dim"] = json!(2.5)), "objective.dim", "expected a whole number"),
        (
            with(|c| {
                c.as_object_mut().unwrap().remove("objective");
            }),
            "objective",
            "missing",
        ),
        (
            command(|c| c["objective"]["command"] = json!([])),
            "objective.command",
            "expected a list of strings",
        ),
        (command(|c| c["objective"]["command"] = json!([""])), "objective.command", "the program first"),
        (command(|c| c["objective"]["cwd"] = json!(3)), "objective.cwd", "expected a string"),
        (command(|c| c["objective"]["cwd"] = json!("nowhere")), "objective.cwd", "is not a folder"),
        (
            with(|c| {
                c["generator"] = json!({"type": "exploit_explore"});
                c["convergence"] = json!("target_cost(0)");
            }),
            "generator.max_evals",
            "the run has no evaluation budget",
        ),
        (
            with(|c| c["generator"] = json!({"type": "single_point", "x": [9, 9]})),
            "generator.x",
            "not inside",
        ),
        (
            with(|c| c["optimizers"][0] = json!({"type": "differential-evolution", "mutation": "x"})),
            "optimizers[0].mutation",
            "expected a number or a [lo, hi] pair",
        ),
        ("{\"max_jobs\": 2, \"Max-Jobs\": 3}".to_owned(), "max_jobs", "given twice"),
    ];
    let mut failures = Vec::new();
    for (text, path, also) in &cases {
        if let Err(problem) = refused(text, Some(path), also, false) {
            failures.push(format!("{path}: {problem}"));
        }
    }
    // File-level errors: JSON syntax (where line and column are right), and no object at the top.
    let file_level: [(&str, &str, bool); 4] = [
        ("{\"objective\": ", "invalid JSON: EOF while parsing a value at line 1 column 14", true),
        ("{\"seed\": 1, \"seed\": 2}", "invalid JSON: the field `seed` is given twice at line 1", true),
        ("[1, 2]", "expected a JSON object of the run's fields", false),
        ("", "invalid JSON: EOF while parsing a value at line 1 column 0", true),
    ];
    for (text, also, syntax) in file_level {
        if let Err(problem) = refused(text, None, also, syntax) {
            failures.push(format!("{text:?}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len() + 4,
        failures.join("\n")
    );
}

#[test]
fn a_config_that_is_no_small_file_is_refused_without_reading_it_all() {
    let tmp = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = glompo(&["run", "/dev/zero", "--dir", "out"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "glompo: error: /dev/zero: the file is larger than 16 MiB; a config is a small JSON file (is this the right file?)\n"
    );
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    assert!(!tmp.path().join("out").exists());
}

/// A program that answers every request with the number in `input.txt`, which it reads from its
/// working folder.
const READS_INPUT: &str =
    "#!/bin/sh\nread value < input.txt || exit 3\nwhile read line; do echo \"{\\\"fx\\\": $value}\"; done\n";

#[test]
fn a_config_run_from_another_folder_finds_its_program_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    fs::create_dir(&project).unwrap();
    let model = project.join("model.sh");
    fs::write(&model, READS_INPUT).unwrap();
    fs::set_permissions(&model, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(project.join("input.txt"), "3\n").unwrap();
    for (name, argv, backend) in [
        ("direct", json!(["./model.sh"]), "threads"),
        ("interpreted", json!(["sh", "model.sh"]), "processes"),
    ] {
        let config = json!({
            "objective": {"command": argv, "dim": 2},
            "bounds": [[0, 1]],
            "optimizers": [{"type": "random-search"}],
            "max_jobs": 1,
            "convergence": "max_evals(20)",
            "backend": backend,
        });
        fs::write(project.join("config.json"), config.to_string()).unwrap();
        // Run from the parent folder: the program and its input are found next to the config.
        let out = glompo(&["run", "project/config.json", "--dir", name, "-q"], tmp.path());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let evals = lines(&tmp.path().join(name).join("evaluations.jsonl"));
        assert!(evals.len() >= 20 && evals.iter().all(|e| e["fx"] == 3.0), "{name}: {evals:?}");
        let summary: Value =
            serde_json::from_str(&fs::read_to_string(tmp.path().join(name).join("summary.json")).unwrap())
                .unwrap();
        let cwd = summary["config"]["objective"]["cwd"].as_str().unwrap().to_owned();
        assert!(Path::new(&cwd).is_absolute() && cwd.ends_with("project"), "{cwd}");
    }
}

/// A program that answers its first request and hangs on the next one.
const HANGS_SECOND: &str = "#!/bin/sh\nread line\necho '{\"fx\": 1}'\nread line\nsleep 20\n";

#[test]
fn evaluation_timeout_s_applies_to_a_command_on_the_threads_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model.sh");
    fs::write(&model, HANGS_SECOND).unwrap();
    fs::set_permissions(&model, fs::Permissions::from_mode(0o755)).unwrap();
    for evaluator in ["serial", "threads"] {
        let config = json!({
            "objective": {"command": ["./model.sh"], "dim": 2},
            "bounds": [[0, 1]],
            "optimizers": [{"type": "random-search", "evaluator": evaluator}],
            "max_jobs": 1,
            "convergence": "max_evals(4)",
            "evaluation_timeout_s": 0.3,
        });
        let config = write_config(tmp.path(), &config);
        let start = std::time::Instant::now();
        let out = glompo(&["run", &config, "--dir", evaluator, "-q"], tmp.path());
        assert!(out.status.success(), "{evaluator}: {}", stderr(&out));
        let evals = lines(&tmp.path().join(evaluator).join("evaluations.jsonl"));
        let errors: Vec<&Value> = evals.iter().map(|e| &e["error"]).collect();
        assert_eq!(errors[1], "timed out after 0.3 s; the worker was killed", "{evaluator}: {evals:?}");
        assert!(start.elapsed().as_secs() < 15, "{evaluator}: {:?}", start.elapsed());
    }
}

#[test]
fn max_initial_failures_ends_a_run_whose_first_evaluations_all_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = json!({
        "objective": {"command": ["sh", "-c", "while read l; do echo '{\"error\": \"no input file\"}'; done"], "dim": 2},
        "bounds": [[0, 1]],
        "optimizers": [{"type": "random-search"}],
        "max_jobs": 1,
        "convergence": "max_evals(200)",
        "max_initial_failures": 5,
    });
    let path = write_config(tmp.path(), &config);
    let out = glompo(&["run", &path, "--dir", "five"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("end: the first 5 evaluations all failed; the last one: no input file"),
        "{stdout}"
    );
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("five/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["max_initial_failures"], 5);
    assert!(summary["counters"]["evaluations"].as_u64().unwrap() < 200);
    // 0: never; the run spends its budget.
    config["max_initial_failures"] = json!(0);
    let path = write_config(tmp.path(), &config);
    let out = glompo(&["run", &path, "--dir", "never", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(lines(&tmp.path().join("never/evaluations.jsonl")).len() >= 200);
}

#[test]
fn exploit_explore_takes_the_budget_of_the_convergence_expression() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = base();
    config["generator"] = json!({"type": "exploit_explore", "focus": 2});
    config["convergence"] = json!("max_evals(300) | target_cost(0, 1e-12)");
    let path = write_config(tmp.path(), &config);
    let out = glompo(&["run", &path, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(lines(&tmp.path().join("out/evaluations.jsonl")).len() >= 300);
}
