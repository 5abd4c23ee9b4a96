//! `glompo report` and `glompo export --csv` on a finished run with named parameters, on a live
//! run, on a killed one and on bad directories; named parameters in the printed result and the
//! summary.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::checkpoint::{summary, wait_for};
use crate::run::{Reap, glompo, start_run, stderr, write_config};

/// A model with three named parameters whose evaluations fail where `k_bond + r0 > 2`, with an error
/// that a CSV must quote.
const MODEL: &str = r#"
import json, sys
for line in sys.stdin:
    x = json.loads(line)["x"]
    if x[0] + x[1] > 2:
        print(json.dumps({"error": 'too far, said "the model"'}), flush=True)
    else:
        print(json.dumps({"fx": sum((v - 1) ** 2 for v in x)}), flush=True)
"#;

const NAMES: [&str; 3] = ["k_bond", "r0", "theta"];

fn named_parameters() -> Value {
    json!([
        {"name": "k_bond", "bounds": [0.0, 5.0]},
        {"name": "r0", "bounds": [-1.0, 1.5]},
        {"name": "theta", "bounds": [-3.0, 3.0]}
    ])
}

fn report(dir: &Path, run: &str) -> (String, std::process::Output) {
    let out = glompo(&["report", run], dir);
    (String::from_utf8_lossy(&out.stdout).into_owned(), out)
}

/// The CSV's rows, split at commas outside quotes, quotes undone.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap();
    let mut rows = vec![vec![String::new()]];
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let row = rows.last_mut().unwrap();
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                row.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(String::new()),
            ('\n', false) => rows.push(vec![String::new()]),
            (c, _) => row.last_mut().unwrap().push(c),
        }
    }
    assert_eq!(rows.pop(), Some(vec![String::new()]), "the file ends with a line end");
    rows
}

/// The cell of a number as the export writes it: empty for `null` (a failure).
fn cell(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Checks that the CSV at `csv` holds the first evaluations of `log`, every number exactly, with the
/// coordinates under `names`; returns its number of rows.
fn check_csv(csv: &Path, log: &Path, names: &[&str]) -> usize {
    let rows = csv_rows(csv);
    let mut header = vec!["call_id", "opt_id", "t", "fx"];
    header.extend(names);
    header.push("error");
    assert_eq!(rows[0], header);
    let text = fs::read_to_string(log).unwrap();
    let evals: Vec<Value> = text.lines().map_while(|l| serde_json::from_str(l).ok()).collect();
    let body = &rows[1..];
    assert!(
        !body.is_empty() && body.len() <= evals.len(),
        "{} rows, {} evaluations",
        body.len(),
        evals.len()
    );
    let number = |s: &str| if s.is_empty() { None } else { Some(s.parse::<f64>().unwrap()) };
    for (row, e) in body.iter().zip(&evals) {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert_eq!(row[0], e["call_id"].to_string());
        assert_eq!(row[1], e["opt_id"].to_string());
        assert_eq!(number(&row[2]).map(f64::to_bits), cell(&e["t"]).map(f64::to_bits), "{row:?} {e}");
        assert_eq!(number(&row[3]).map(f64::to_bits), cell(&e["fx"]).map(f64::to_bits), "{row:?} {e}");
        for (i, x) in e["x"].as_array().unwrap().iter().enumerate() {
            assert_eq!(number(&row[4 + i]).map(f64::to_bits), cell(x).map(f64::to_bits), "{row:?} {e}");
        }
        assert_eq!(row[header.len() - 1], e["error"].as_str().unwrap_or(""), "{row:?} {e}");
    }
    body.len()
}

/// Checks that each optimizer of `optimizers.jsonl` has its line in the report: id, type, workers,
/// its evaluations and best value as its end event logs them, and how it ended.
/// The complete lines of a log, each parsed: the last line of a live run's log, or of one killed by
/// SIGKILL, may be cut (the report and the export leave it out too).
fn complete_lines(path: &Path) -> Vec<Value> {
    let log = fs::read_to_string(path).unwrap();
    let complete = &log[..log.rfind('\n').map_or(0, |end| end + 1)];
    complete.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn check_optimizer_lines(report: &str, dir: &Path, live: bool) {
    let events = complete_lines(&dir.join("optimizers.jsonl"));
    for start in events.iter().filter(|e| e["event"] == "start") {
        let id = start["opt_id"].as_u64().unwrap();
        let line = report
            .lines()
            .find(|l| {
                l.split_whitespace().next() == Some(&id.to_string())
                    && l.contains(start["type"].as_str().unwrap())
            })
            .unwrap_or_else(|| panic!("no line for optimizer {id} in\n{report}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[2], start["workers"].to_string(), "{line}");
        match events.iter().find(|e| e["event"] == "end" && e["opt_id"] == id) {
            Some(end) => {
                assert!(words.contains(&end["evaluations"].to_string().as_str()), "{line}\n{end}");
                let how = match end["reason"].as_str().unwrap() {
                    "killed" => format!("killed by optimizer {}'s hunt", end["hunter"]),
                    "converged" => format!("converged: {}", end["criterion"].as_str().unwrap()),
                    "stopped" => format!("stopped: {}", end["by"].as_str().unwrap()),
                    other => other.to_owned(),
                };
                assert!(line.contains(&how), "{line}\n{end}");
                if let Some(best) = end["best_fx"].as_f64() {
                    let shown: f64 = words[6].parse().unwrap();
                    assert!((shown - best).abs() <= 1e-6 * best.abs().max(1e-300), "{line}\n{end}");
                }
            }
            None if live => assert!(line.ends_with("running"), "{line}"),
            None => assert!(line.contains("no end logged (the manager was killed)"), "{line}"),
        }
    }
}

/// The first python3 here that has pandas: the one on PATH, else Debian's, which `.ci/run` installs.
fn python_with_pandas() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python).args(["-c", "import pandas"]).output().is_ok_and(|o| o.status.success())
    })
}

/// pandas loads the CSV with the named columns, and its values are the log's.
const PANDAS_CHECK: &str = r#"
import json, math, sys
import pandas as pd
# pandas' default parser can be one unit in the last place off; round_trip reads numbers exactly.
df = pd.read_csv(sys.argv[1], float_precision="round_trip")
names = sys.argv[3].split(",")
assert list(df.columns) == ["call_id", "opt_id", "t", "fx", *names, "error"], list(df.columns)
assert str(df["fx"].dtype) == "float64" and str(df["call_id"].dtype) == "int64", df.dtypes
with open(sys.argv[2]) as f:
    log = [json.loads(line) for line in f]
assert len(df) == len(log), (len(df), len(log))
for row, e in zip(df.itertuples(index=False), log):
    assert row.call_id == e["call_id"] and row.opt_id == e["opt_id"]
    fx = e["fx"]
    assert (math.isnan(row.fx) and fx is None) or row.fx == fx, (row, e)
    for name, x in zip(names, e["x"]):
        assert getattr(row, name) == x, (row, e)
    error = row.error if isinstance(row.error, str) else None
    assert error == e.get("error"), (row, e)
print("ok", len(df), int(df["fx"].isna().sum()))
"#;

#[test]
fn a_finished_run_with_named_parameters_is_reported_and_exported_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("model.py"), MODEL).unwrap();
    let config = json!({
        "objective": {"command": ["python3", "model.py"], "dim": 3},
        "parameters": named_parameters(),
        "optimizers": [{"type": "cma-es", "sigma0": 1.0}, {"type": "nelder-mead"}],
        "max_jobs": 2,
        "convergence": "max_evals(600)",
        "hunters": "min_evals(100) & best_unmoving(100, 0.01)",
        "hunt_frequency": 50,
        "seed": 3
    });
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    let dir = tmp.path().join("out");
    let s = summary(&dir);
    // The printed result and the summary name the parameters.
    assert_eq!(s["parameter_names"], json!(NAMES));
    for (i, name) in NAMES.iter().enumerate() {
        let x = s["result"]["x"][i].as_f64().unwrap();
        assert_eq!(s["result"]["params"][name].as_f64(), Some(x));
        assert!(
            printed.lines().any(|l| l.trim_start().starts_with(name) && l.ends_with(&format!(" = {x}"))),
            "{printed}"
        );
    }
    assert_eq!(s["config"]["parameters"], named_parameters());
    assert!(s["config"].get("bounds").is_none(), "{}", s["config"]);
    let config = serde_json::from_value::<glompo_cli::RunConfig>(s["config"].clone()).unwrap();
    assert_eq!(config.parameters.as_deref(), Some(&NAMES.map(String::from)[..]));

    let (text, out) = report(tmp.path(), "out");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("state      finished"), "{text}");
    assert!(text.contains(&format!("end        {}", s["end_reason"].as_str().unwrap())), "{text}");
    let fx = s["result"]["fx"].as_f64().unwrap();
    assert!(
        text.contains(&format!(
            "(optimizer {}, evaluation {})",
            s["result"]["opt_id"], s["result"]["call_id"]
        )),
        "{text}"
    );
    for (i, name) in NAMES.iter().enumerate() {
        let row = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{text}"));
        let words: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(words[1].parse::<f64>().ok(), s["result"]["x"][i].as_f64(), "{row}");
        let bounds = &named_parameters()[i]["bounds"];
        assert_eq!(
            words[2..].iter().map(|w| w.parse::<f64>().unwrap()).collect::<Vec<_>>(),
            [bounds[0].as_f64().unwrap(), bounds[1].as_f64().unwrap()]
        );
    }
    assert!(fx >= 0.0);
    let counter = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    };
    assert_eq!(counter("evaluations "), Some(s["counters"]["evaluations"].to_string()), "{text}");
    assert_eq!(counter("failed evaluations"), Some(s["counters"]["failed_evaluations"].to_string()));
    assert_eq!(counter("hunts"), Some(s["counters"]["hunts"].to_string()));
    assert!(s["counters"]["failed_evaluations"].as_u64().unwrap() > 0, "the model fails somewhere");
    check_optimizer_lines(&text, &dir, false);

    // The export: by default into the run directory, never over a file without --overwrite.
    let out = glompo(&["export", "out", "--csv"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = dir.join("evaluations.csv");
    let log = dir.join("evaluations.jsonl");
    assert_eq!(check_csv(&csv, &log, &NAMES), 600);
    fs::write(&csv, "mine").unwrap();
    let out = glompo(&["export", "out", "--csv"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("evaluations.csv: exists already; pass --overwrite"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&csv).unwrap(), "mine");
    assert!(glompo(&["export", "out", "--csv", "--overwrite"], tmp.path()).status.success());
    assert_eq!(check_csv(&csv, &log, &NAMES), 600);
    let out = glompo(&["export", "out", "--csv", "-o", "elsewhere.csv"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::read(tmp.path().join("elsewhere.csv")).unwrap(), fs::read(&csv).unwrap());
    // Nothing but the exports is left beside them.
    let mut names: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");

    match python_with_pandas() {
        Some(python) => {
            let out = Command::new(python)
                .args(["-c", PANDAS_CHECK, csv.to_str().unwrap(), log.to_str().unwrap(), &NAMES.join(",")])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(said.starts_with("ok 600 "), "{said}");
        }
        // Only where pandas cannot be had; CI installs it (`.ci/run`).
        None if std::env::var_os("CI").is_some() => {
            panic!("pandas is missing on CI; .ci/run installs python3-pandas")
        }
        None => eprintln!("skipped the pandas check: no python3 here has pandas"),
    }
}

/// A run of a slow sphere with named parameters that goes on until it is killed.
fn slow_run(tmp: &Path) -> Reap {
    let config = json!({
        "objective": {"function": "sphere", "dim": 3, "delay_s": 0.005},
        "parameters": named_parameters(),
        // Optimizers that never end by themselves, so that what the report said of them still holds
        // when the test reads the logs after it.
        "optimizers": [{"type": "random-search", "iters": 100000000}, {"type": "random-search", "iters": 100000000}],
        "max_jobs": 2,
        "convergence": "max_evals(100000000)",
        "seed": 1
    });
    let config = write_config(tmp, &config);
    let run = start_run(tmp, &config);
    let log = tmp.join("out/evaluations.jsonl");
    wait_for("20 evaluations", || fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 20));
    run
}

#[test]
fn a_live_run_is_reported_and_exported_while_it_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = slow_run(tmp.path());
    let dir = tmp.path().join("out");
    let (text, out) = report(tmp.path(), "out");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains(&format!("state      live (glompo process {}", run.0.id())), "{text}");
    assert!(text.contains("end        still running"), "{text}");
    let evaluations: u64 = text
        .lines()
        .find(|l| l.starts_with("evaluations "))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(evaluations >= 20, "{text}");
    assert!(text.contains("running") && text.contains("so far"), "{text}");
    check_optimizer_lines(&text, &dir, true);
    for name in NAMES {
        assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
    }
    let out = glompo(&["export", "out", "--csv"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = check_csv(&dir.join("evaluations.csv"), &dir.join("evaluations.jsonl"), &NAMES);
    assert!(rows as u64 >= evaluations, "{rows} rows, {evaluations} evaluations reported before");
    assert!(crate::run::stderr(&out).contains(&format!("wrote {rows} evaluations")), "{}", stderr(&out));
    drop(run);
}

#[test]
fn a_killed_run_is_reported_as_killed_with_what_its_logs_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = slow_run(tmp.path());
    run.0.kill().unwrap();
    run.0.wait().unwrap();
    let dir = tmp.path().join("out");
    let (text, out) = report(tmp.path(), "out");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(
            "state      killed: its summary says it is running but no glompo process holds the directory"
        ),
        "{text}"
    );
    assert!(text.contains("the run did not end by itself"), "{text}");
    check_optimizer_lines(&text, &dir, false);
    let logged = complete_lines(&dir.join("evaluations.jsonl")).len();
    assert!(
        text.lines().any(|l| l.starts_with("evaluations ") && l.ends_with(&format!(" {logged}"))),
        "{text}"
    );
    let out = glompo(&["export", "out", "--csv"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(check_csv(&dir.join("evaluations.csv"), &dir.join("evaluations.jsonl"), &NAMES), logged);
    drop(run);
}

#[test]
fn bad_run_directories_are_refused_by_report_and_export_with_the_file_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": {"function": "sphere", "dim": 2},
        "optimizers": [{"type": "nelder-mead"}],
        "max_jobs": 1,
        "convergence": "max_evals(50)"
    });
    let config = write_config(tmp.path(), &config);
    assert!(glompo(&["run", &config, "--dir", "out", "-q"], tmp.path()).status.success());
    // Without names, the coordinates are x0, x1, ...
    assert!(glompo(&["export", "out", "--csv"], tmp.path()).status.success());
    let out = tmp.path().join("out");
    assert_eq!(check_csv(&out.join("evaluations.csv"), &out.join("evaluations.jsonl"), &["x0", "x1"]), 50);
    fs::create_dir(tmp.path().join("empty")).unwrap();
    let text = fs::read_to_string(out.join("evaluations.jsonl")).unwrap();
    let mut broken: Vec<&str> = text.lines().collect();
    broken[4] = "{\"call_id\": 5, \"opt_";
    fs::create_dir(tmp.path().join("broken")).unwrap();
    fs::write(tmp.path().join("broken/evaluations.jsonl"), broken.join("\n") + "\n").unwrap();
    fs::copy(out.join("optimizers.jsonl"), tmp.path().join("broken/optimizers.jsonl")).unwrap();
    fs::copy(out.join("summary.json"), tmp.path().join("broken/summary.json")).unwrap();
    fs::create_dir(tmp.path().join("bad_summary")).unwrap();
    for f in ["evaluations.jsonl", "optimizers.jsonl"] {
        fs::copy(out.join(f), tmp.path().join("bad_summary").join(f)).unwrap();
    }
    fs::write(tmp.path().join("bad_summary/summary.json"), "{\"result\": ").unwrap();
    let cases = [
        ("missing", "missing: no such directory"),
        ("config.json", "config.json: not a directory"),
        ("empty", "empty: not a glompo run directory (it has no evaluations.jsonl)"),
        ("broken", "broken/evaluations.jsonl line 5: "),
        ("bad_summary", "bad_summary/summary.json line 1: "),
    ];
    for (dir, expected) in cases {
        for args in [vec!["report", dir], vec!["export", dir, "--csv"]] {
            let out = glompo(&args, tmp.path());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.starts_with(&format!("glompo: error: {expected}")), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(out.stdout.is_empty());
        }
    }
    assert!(!tmp.path().join("broken/evaluations.csv").exists(), "a failed export leaves nothing");
    let names: Vec<_> =
        fs::read_dir(tmp.path().join("broken")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // An export into a folder that does not exist names the file.
    let out = glompo(&["export", "out", "--csv", "-o", "nowhere/e.csv"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("glompo: error: nowhere/e.csv: "), "{}", stderr(&out));
}

#[test]
fn parameters_and_bounds_together_or_bad_names_are_config_errors_for_report() {
    let tmp = tempfile::tempdir().unwrap();
    let base = json!({
        "objective": {"function": "sphere", "dim": 3},
        "parameters": named_parameters(),
        "optimizers": [{"type": "nelder-mead"}]
    });
    type Change = fn(&mut Value);
    let cases: [(Change, &str); 3] = [
        (|c| c["bounds"] = json!([[0, 1]]), "parameters: `parameters` and `bounds` are both given"),
        (|c| c["parameters"][2]["name"] = json!("call_id"), "parameters[2].name: `call_id` is a column"),
        (
            |c| c["parameters"][1]["name"] = json!("k_bond"),
            "parameters[1].name: `k_bond` is the name of parameters[0] too",
        ),
    ];
    for (change, expected) in cases {
        let mut config = base.clone();
        change(&mut config);
        let path = write_config(tmp.path(), &config);
        let out = glompo(&["run", &path, "--dir", "out"], tmp.path());
        assert_eq!(out.status.code(), Some(2), "{config}");
        assert!(stderr(&out).contains(expected), "{expected}: {}", stderr(&out));
        assert!(!tmp.path().join("out").exists());
    }
}
