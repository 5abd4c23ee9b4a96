//! The faulty-objective matrix: the same faulty program on every backend × evaluator combination
//! gives the same counts. Every call it answers, or dies in, is logged with its cause; `call_id` runs
//! 1..N; the counters equal the log; the budget is spent exactly.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::run::{glompo, lines, stderr, write_config};

/// A model whose behaviour is fixed by the number of the call (counted across all its workers under a
/// file lock): odd calls fail in turn by SIGSEGV, abort, exit 3, NaN, garbage, an `{"error"}` answer
/// and infinity; call 7 hangs past the timeout; even calls answer the sphere. Each call is counted
/// before it acts, so the count includes the calls that kill their worker.
const FAULTY_MODEL: &str = r#"
import fcntl, json, math, os, signal, sys, time
counter = sys.argv[1]
for line in sys.stdin:
    x = json.loads(line)["x"]
    with open(counter, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = len(f.read().splitlines()) + 1
        f.write("%d\n" % n)
        f.flush()
        os.fsync(f.fileno())
    kind = n % 16
    if n == 7:
        time.sleep(60)
    elif kind == 1:
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == 3:
        os.abort()
    elif kind == 5:
        sys.exit(3)
    elif kind == 9:
        print(json.dumps({"fx": float("nan")}), flush=True)
    elif kind == 11:
        print("this is not json", flush=True)
    elif kind == 13:
        print(json.dumps({"error": "model failed"}), flush=True)
    elif kind == 15:
        print(json.dumps({"fx": float("inf")}), flush=True)
    else:
        print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

/// Evaluations of each run: three rounds of the sixteen behaviours.
const BUDGET: u64 = 48;

/// How each failure is logged, and how many of the calls 1..48 fail that way.
const CAUSES: &[(&str, usize)] = &[
    ("the worker was killed by SIGSEGV", 3),
    ("the worker was killed by SIGABRT", 3),
    ("the worker exited with code 3", 3),
    ("timed out after 0.5 s; the worker was killed", 1),
    ("non-finite value NaN", 3),
    ("which is not JSON", 3),
    ("model failed", 3),
    ("non-finite value inf", 3),
];

fn faulty_run(backend: &str, evaluator: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("faulty.py"), FAULTY_MODEL).unwrap();
    let calls = tmp.path().join("calls");
    let mut optimizer = json!({"type": "random-search", "batch": 4, "workers": 2});
    if let Some(evaluator) = evaluator {
        optimizer["evaluator"] = json!(evaluator);
    }
    let config = json!({
        "objective": {
            "command": ["python3", tmp.path().join("faulty.py"), calls],
            "dim": 2,
            "timeout_s": 0.5
        },
        "bounds": [[-5, 5]],
        "optimizers": [optimizer],
        "max_jobs": 4,
        "backend": backend,
        "convergence": format!("max_evals({BUDGET})"),
        "seed": 3
    });
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    let combination = format!("{backend} × {}", evaluator.unwrap_or("default"));
    assert!(out.status.success(), "{combination}: {}", stderr(&out));
    let dir = tmp.path().join("out");
    check(&dir, &calls, &combination);
}

fn check(dir: &Path, calls: &Path, combination: &str) {
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let evals = lines(&dir.join("evaluations.jsonl"));
    let made = fs::read_to_string(calls).unwrap().lines().count();
    // Every call the program received is logged, and the budget is spent exactly.
    assert_eq!(made as u64, BUDGET, "{combination}: the program was called {made} times");
    assert_eq!(evals.len() as u64, BUDGET, "{combination}: {} evaluations logged", evals.len());
    assert!(evals.iter().enumerate().all(|(i, e)| e["call_id"] == i as u64 + 1), "{combination}");
    let counters = &summary["counters"];
    assert_eq!(counters["evaluations"], BUDGET, "{combination}");
    let failed: Vec<&Value> = evals.iter().filter(|e| !e["error"].is_null()).collect();
    let errors: Vec<&str> = failed.iter().map(|e| e["error"].as_str().unwrap()).collect();
    assert_eq!(counters["failed_evaluations"], failed.len() as u64, "{combination}");
    assert!(failed.iter().all(|e| e["fx"].is_null()), "{combination}");
    for (cause, expected) in CAUSES {
        let n = errors.iter().filter(|e| e.contains(cause)).count();
        assert_eq!(n, *expected, "{combination}: {n} evaluations failed with {cause:?}: {errors:#?}");
    }
    assert_eq!(failed.len(), CAUSES.iter().map(|(_, n)| n).sum::<usize>(), "{combination}: {errors:#?}");
    let good = evals.iter().filter(|e| e["error"].is_null()).count();
    assert!(evals.iter().filter(|e| e["error"].is_null()).all(|e| e["fx"].is_number()), "{combination}");
    assert_eq!(good as u64 + failed.len() as u64, BUDGET);
    let per_optimizer: u64 =
        summary["optimizers"].as_array().unwrap().iter().map(|o| o["evaluations"].as_u64().unwrap()).sum();
    assert_eq!(per_optimizer, BUDGET, "{combination}");
    assert_eq!(summary["end"]["kind"], "checker", "{combination}: {}", summary["end_reason"]);
}

macro_rules! matrix {
    ($($name:ident: $backend:literal, $evaluator:expr;)*) => {
        $(
            #[test]
            fn $name() {
                faulty_run($backend, $evaluator);
            }
        )*
    };
}

matrix! {
    faulty_objective_on_threads_serial: "threads", Some("serial");
    faulty_objective_on_threads_threads: "threads", Some("threads");
    faulty_objective_on_threads_processes: "threads", Some("processes");
    faulty_objective_on_processes_serial: "processes", Some("serial");
    faulty_objective_on_processes_threads: "processes", Some("threads");
    faulty_objective_on_processes_processes: "processes", Some("processes");
    faulty_objective_on_processes_forced: "processes-forced", None;
}
