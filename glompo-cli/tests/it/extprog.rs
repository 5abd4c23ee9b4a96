//! External programs beyond the persistent protocol: the per-call mode (arguments or stdin, the value
//! from the last line of stdout), `env`, scratch directories, the ids each evaluation is given, the
//! examples in `examples/`, and the config errors of these fields.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::run::{glompo, lines, stderr, write_config};

/// A per-call program whose behaviour is fixed by its evaluation number: 5, 13, 21 … exit 3 after a
/// traceback, 7, 15, … print garbage last, 11 hangs (with a child in its group) past the timeout (4 s: a loaded machine may take a second to start Python);
/// the others print the sphere after some chatter. Every call appends its ids, its folder and its
/// point to `calls` and writes a file into its scratch directory.
const PER_CALL: &str = r#"
import fcntl, json, os, subprocess, sys, time
calls = sys.argv[1]
if len(sys.argv) > 2:
    x = [float(v) for v in sys.argv[2:]]
else:
    x = json.load(sys.stdin)["x"]
n = int(os.environ["GLOMPO_EVAL_ID"])
scratch = os.environ["GLOMPO_SCRATCH"]
record = {"opt_id": os.environ["GLOMPO_OPT_ID"], "eval_id": n, "call_id": os.environ.get("GLOMPO_CALL_ID"),
          "cwd": os.getcwd(), "scratch": scratch, "x": x, "tag": os.environ.get("TAG")}
with open(calls, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.write(json.dumps(record) + "\n")
with open(os.path.join(scratch, "input.txt"), "w") as f:
    f.write(repr(x))
print("starting the model")
if n % 8 == 5:
    print("Traceback: the model diverged", file=sys.stderr)
    sys.exit(3)
if n % 8 == 7:
    print("0.5\nnot a number at the end")
    sys.exit(0)
if n == 11:
    subprocess.Popen(["sleep", "300", calls])
    time.sleep(300)
print(sum(v * v for v in x))
"#;

/// Evaluations of each run.
const BUDGET: u64 = 24;

fn setup(tmp: &Path) -> (PathBuf, PathBuf) {
    let script = tmp.join("per_call.py");
    fs::write(&script, PER_CALL).unwrap();
    (script, tmp.join("calls"))
}

/// The processes still running whose command line holds `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

fn per_call_run(backend: &str, evaluator: &str, by_arguments: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let (script, calls) = setup(tmp.path());
    let mut command = vec![json!("python3"), json!(script), json!(calls)];
    if by_arguments {
        command.extend([json!("{x0}"), json!("{x1}")]);
    }
    let config = json!({
        "objective": {
            "command": command, "mode": "per-call", "dim": 2, "timeout_s": 4,
            "env": {"TAG": "from the config"}, "scratch": {"cwd": true}
        },
        "bounds": [[-5, 5]],
        "optimizers": [{"type": "random-search", "batch": 4, "workers": 2, "evaluator": evaluator}],
        "max_jobs": 4,
        "backend": backend,
        "convergence": format!("max_evals({BUDGET})"),
        "max_initial_failures": 0,
        "seed": 3
    });
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    let combination = format!("{backend} × {evaluator}, arguments: {by_arguments}");
    assert!(out.status.success(), "{combination}: {}", stderr(&out));
    let dir = tmp.path().join("out");
    let evals = lines(&dir.join("evaluations.jsonl"));
    assert_eq!(evals.len() as u64, BUDGET, "{combination}");
    let records = lines(&calls);
    assert_eq!(records.len() as u64, BUDGET, "{combination}: every evaluation ran the program once");
    // Each evaluation got its own ids: per optimizer, evaluation numbers 1..n, each once.
    let mut per_optimizer: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for r in &records {
        assert!(
            per_optimizer
                .entry(r["opt_id"].as_str().unwrap().into())
                .or_default()
                .insert(r["eval_id"].as_u64().unwrap())
        );
        assert_eq!(r["tag"], "from the config", "{combination}");
        assert_eq!(r["cwd"], r["scratch"], "{combination}: the program runs in its scratch directory");
        assert!(r["call_id"].is_null(), "{combination}: an async run knows no call_id beforehand");
    }
    for (opt, evals) in &per_optimizer {
        assert_eq!(*evals, (1..=evals.len() as u64).collect(), "{combination}: optimizer {opt}");
    }
    // Failures are logged with their causes; the run completed.
    let errors: Vec<&str> = evals.iter().filter_map(|e| e["error"].as_str()).collect();
    let count = |cause: &str| errors.iter().filter(|e| e.contains(cause)).count();
    let failing: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(r["eval_id"].as_u64().unwrap() % 8, 5 | 7) || r["eval_id"] == 11)
        .collect();
    assert_eq!(
        count("the program exited with code 3; its stderr ended with: \"Traceback: the model diverged\""),
        failing.iter().filter(|r| r["eval_id"].as_u64().unwrap() % 8 == 5).count(),
        "{combination}: {errors:#?}"
    );
    assert_eq!(
        count("\"not a number at the end\", which is neither a number"),
        failing.iter().filter(|r| r["eval_id"].as_u64().unwrap() % 8 == 7).count(),
        "{combination}: {errors:#?}"
    );
    assert_eq!(
        count("timed out after 4 s"),
        failing.iter().filter(|r| r["eval_id"] == 11).count(),
        "{combination}: {errors:#?}"
    );
    assert_eq!(errors.len(), failing.len(), "{combination}: {errors:#?}");
    assert!(failing.iter().any(|r| r["eval_id"] == 11), "{combination}: the timeout was not exercised");
    // Values are the sphere at the point the program was given, exactly.
    for e in evals.iter().filter(|e| e["error"].is_null()) {
        let x: Vec<f64> = serde_json::from_value(e["x"].clone()).unwrap();
        assert_eq!(e["fx"].as_f64().unwrap(), x.iter().map(|v| v * v).sum::<f64>(), "{combination}");
    }
    // Scratch directories: kept, with the program's file, for the failed evaluations only.
    let mut kept: Vec<String> = fs::read_dir(dir.join("scratch"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    let mut expected: Vec<String> = failing
        .iter()
        .map(|r| {
            Path::new(r["scratch"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    expected.sort();
    assert_eq!(kept, expected, "{combination}");
    for name in &kept {
        assert!(dir.join("scratch").join(name).join("input.txt").is_file(), "{combination}: {name}");
        assert!(
            errors.iter().any(|e| e.ends_with(&format!(
                "its scratch directory is kept: {}",
                dir.join("scratch").join(name).display()
            ))),
            "{combination}: {errors:#?}"
        );
    }
    // The hung program and the child it started are gone.
    assert_eq!(processes_with(&calls.to_string_lossy()), Vec::<String>::new(), "{combination}");
}

macro_rules! per_call_matrix {
    ($($name:ident: $backend:literal, $evaluator:literal, $args:literal;)*) => {
        $(
            #[test]
            fn $name() {
                per_call_run($backend, $evaluator, $args);
            }
        )*
    };
}

per_call_matrix! {
    per_call_on_threads_serial: "threads", "serial", true;
    per_call_on_threads_threads: "threads", "threads", false;
    per_call_on_threads_processes: "threads", "processes", true;
    per_call_on_processes_serial: "processes", "serial", false;
    per_call_on_processes_threads: "processes", "threads", true;
    per_call_on_processes_processes: "processes", "processes", false;
}

/// In the deterministic schedule every evaluation knows its `call_id`, on every backend: the program
/// is told the call id the manager then logs its point under.
fn call_ids_are_exact(backend: &str, evaluator: &str, budget: Option<u64>) {
    let tmp = tempfile::tempdir().unwrap();
    let (script, calls) = setup(tmp.path());
    let convergence = match budget {
        Some(n) => format!("max_evals({n})"),
        None => "max_optimizers_started(3)".into(),
    };
    let config = json!({
        "objective": {"command": ["python3", script, calls, "{x0}", "{x1}"], "mode": "per-call", "dim": 2, "scratch": true, "timeout_s": 5},
        "bounds": [[-5, 5]],
        "optimizers": [
            {"type": "random-search", "batch": 3, "iters": 6, "workers": 3, "evaluator": evaluator},
            {"type": "random-search", "batch": 2, "iters": 6, "workers": 1, "evaluator": evaluator}
        ],
        "max_jobs": 4,
        "backend": backend,
        "schedule": "deterministic",
        "convergence": convergence,
        "max_initial_failures": 0,
        "seed": 5
    });
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    let combination = format!("{backend} × {evaluator}, budget {budget:?}");
    assert!(out.status.success(), "{combination}: {}", stderr(&out));
    let evals = lines(&tmp.path().join("out/evaluations.jsonl"));
    let records = lines(&calls);
    assert_eq!(records.len(), evals.len(), "{combination}");
    assert!(evals.len() >= 10, "{combination}");
    for r in &records {
        let call_id: usize = r["call_id"].as_str().unwrap().parse().unwrap();
        let logged = &evals[call_id - 1];
        assert_eq!(logged["call_id"], call_id as u64);
        assert_eq!(logged["opt_id"].to_string(), r["opt_id"].as_str().unwrap(), "{combination}");
        assert_eq!(logged["x"], r["x"], "{combination}: call {call_id}");
        assert!(r["scratch"].as_str().unwrap().ends_with(&format!("-call{call_id:08}")), "{combination}");
    }
}

#[test]
fn call_ids_are_exact_in_deterministic_rounds_on_threads() {
    call_ids_are_exact("threads", "threads", None);
}

#[test]
fn call_ids_are_exact_in_deterministic_rounds_on_processes_with_a_budget() {
    call_ids_are_exact("processes", "processes", Some(20));
}

#[test]
fn call_ids_are_exact_in_deterministic_rounds_on_processes_serial() {
    call_ids_are_exact("processes", "serial", None);
}

/// The persistent protocol gives the ids in the request line, and glompo's own examples run.
#[test]
fn the_example_objectives_run() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for (config, best) in [("persistent.json", 1e-6), ("per_call.json", 1e-2)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = glompo(
            &[
                "run",
                &examples.join(config).to_string_lossy(),
                "--dir",
                &tmp.path().join("out").to_string_lossy(),
                "-q",
            ],
            tmp.path(),
        );
        assert!(out.status.success(), "{config}: {}", stderr(&out));
        let summary: Value =
            serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
        let fx = summary["result"]["fx"].as_f64().unwrap();
        assert!(fx < best, "{config}: best {fx}");
        let evals = lines(&tmp.path().join("out/evaluations.jsonl"));
        assert!(evals.iter().all(|e| e["error"].is_null()), "{config}");
        if config == "persistent.json" {
            // The model echoes the ids of each request in its extras.
            let mut seen: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
            for e in &evals {
                assert_eq!(e["extras"]["opt_id"], e["opt_id"]);
                assert!(
                    seen.entry(e["opt_id"].as_u64().unwrap())
                        .or_default()
                        .insert(e["extras"]["eval_id"].as_u64().unwrap())
                );
            }
        } else {
            // Every scratch directory was removed: every evaluation succeeded.
            assert_eq!(fs::read_dir(tmp.path().join("out/scratch")).unwrap().count(), 0);
        }
    }
}

#[test]
fn bad_external_program_fields_are_config_errors_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let (script, _) = setup(tmp.path());
    let cases = [
        (json!({"mode": "per_cal"}), "objective.mode: unknown value `per_cal`"),
        (json!({"cwd": "nowhere"}), "objective.cwd: "),
        (json!({"env": ["A=1"]}), "objective.env: "),
        (json!({"env": {"A": 1}}), "objective.env.A: expected a string, found 1"),
        (
            json!({"env": {"GLOMPO_OPT_ID": "1"}}),
            "objective.env.GLOMPO_OPT_ID: `GLOMPO_` names are glompo's own",
        ),
        (
            json!({"mode": "per-call", "command": ["python3", script, "{y}"]}),
            "objective.command[2]: unknown token `{y}`",
        ),
        (
            json!({"mode": "per-call", "command": ["python3", script, "{x2}"]}),
            "objective.command[2]: `{x2}` in \"{x2}\", but the point has 2 coordinates",
        ),
        (
            json!({"command": ["python3", script, "{x0}"]}),
            "objective.command: takes the point in its arguments",
        ),
        (json!({"scratch": {"cwd": true}}), "objective.scratch.cwd: a persistent worker"),
        (json!({"scratch": "yes"}), "objective.scratch: expected true, false or"),
        (
            json!({"scratch": {"folder": "s"}}),
            "objective.scratch.folder: unknown option; expected one of dir, cwd",
        ),
        (json!({"mode": "per-call", "command": ["./missing.sh"]}), "missing.sh: cannot start"),
    ];
    for (fields, message) in cases {
        let mut objective = json!({"command": ["python3", script], "dim": 2});
        for (k, v) in fields.as_object().unwrap() {
            objective[k] = v.clone();
        }
        let config =
            json!({"objective": objective, "bounds": [[-1, 1]], "optimizers": [{"type": "nelder-mead"}]});
        let config = write_config(tmp.path(), &config);
        let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
        assert_eq!(out.status.code(), Some(2), "{fields}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{fields}: {}", stderr(&out));
        assert!(!tmp.path().join("out").exists(), "{fields}: nothing is written");
    }
}
