//! `glompo run` and `glompo functions` end to end: exit codes, messages, files.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Runs the binary. Runs skip the start-up sweep of dead runs' leftovers, which could otherwise kill
/// the processes that reaper tests running at the same time plant on purpose.
pub(crate) fn glompo(args: &[&str], cwd: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glompo"));
    cmd.args(args).current_dir(cwd);
    if args.first() == Some(&"run") {
        cmd.arg("--no-reap");
    }
    cmd.output().unwrap()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn write_config(dir: &Path, config: &Value) -> String {
    let path = dir.join("config.json");
    fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

pub(crate) fn small_config() -> Value {
    json!({
        "objective": {"function": "rastrigin", "dim": 4},
        "optimizers": [{"type": "cma-es", "sigma0": 1.0}, {"type": "Nelder_Mead", "initial-step": 0.1}],
        "max_jobs": 2,
        "convergence": "max_evals(3000)",
        "hunters": "min_evals(200) & best_unmoving(200, 0.01)",
        "hunt_frequency": 50,
        "seed": 5
    })
}

pub(crate) fn lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_run_writes_consistent_outputs_and_prints_the_result() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &small_config());
    let out = glompo(&["run", &config, "--dir", "out"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("best f = "), "{stdout}");
    assert!(stdout.contains("end: budget spent: max_evals(3000) = true"), "{stdout}");
    let dir = tmp.path().join("out");
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let evals = lines(&dir.join("evaluations.jsonl"));
    assert_eq!(evals.len() as u64, summary["counters"]["evaluations"].as_u64().unwrap());
    assert!(evals.len() >= 3000);
    for (i, e) in evals.iter().enumerate() {
        assert_eq!(e["call_id"], i as u64 + 1);
        assert_eq!(e["x"].as_array().unwrap().len(), 4);
    }
    let min = evals.iter().filter_map(|e| e["fx"].as_f64()).fold(f64::INFINITY, f64::min);
    assert_eq!(summary["result"]["fx"].as_f64(), Some(min));
    assert!(stdout.contains(&format!("best f = {min:.10e}")), "{stdout}");
    // What the manager used: CPU time and peak memory of its process.
    assert!(summary["resources"]["cpu_user_s"].as_f64().unwrap() >= 0.0, "{}", summary["resources"]);
    assert!(summary["resources"]["peak_rss_mb"].as_f64().unwrap() > 1.0, "{}", summary["resources"]);
    // The summary holds the resolved config, defaults included.
    assert_eq!(summary["config"]["objective"]["function"], "rastrigin");
    assert_eq!(summary["config"]["bounds"].as_array().unwrap().len(), 4);
    assert_eq!(summary["config"]["optimizers"][1]["type"], "nelder-mead");
    assert_eq!(summary["config"]["seed"], 5);
    assert_eq!(summary["config"]["hunters"], "min_evals(200) & best_unmoving(200, 0.01)");
    let starts = lines(&dir.join("optimizers.jsonl")).into_iter().filter(|e| e["event"] == "start").count();
    assert_eq!(starts as u64, summary["counters"]["optimizers_started"].as_u64().unwrap());
}

#[test]
fn an_existing_run_directory_is_refused_without_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["convergence"] = json!("max_evals(200)");
    let config = write_config(tmp.path(), &config);
    assert!(glompo(&["run", &config, "--dir", "out", "-q"], tmp.path()).status.success());
    let before = fs::read(tmp.path().join("out/evaluations.jsonl")).unwrap();
    let out = glompo(&["run", &config, "--dir", "out", "--seed", "9"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already holds a run; pass --overwrite"), "{}", stderr(&out));
    assert_eq!(fs::read(tmp.path().join("out/evaluations.jsonl")).unwrap(), before);
    let out = glompo(&["run", &config, "--dir", "out", "--seed", "9", "--overwrite"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(fs::read(tmp.path().join("out/evaluations.jsonl")).unwrap(), before);
}

/// Runs `config` and expects exit 2, one message containing `expected`, and nothing written.
fn rejected(config: &str, expected: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.json");
    fs::write(&path, config).unwrap();
    let out = glompo(&["run", "config.json", "--dir", "out"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{config}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.lines().next().map(|l| l.starts_with("glompo: error: config.json: ")),
        Some(true),
        "{err}"
    );
    assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    assert!(!tmp.path().join("out").exists(), "{config} wrote a run directory");
    assert!(out.stdout.is_empty());
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut c = small_config();
    change(&mut c);
    c.to_string()
}

#[test]
fn config_errors_exit_2_name_the_field_and_write_nothing() {
    rejected(
        "{\"objective\": {\"function\": \"sphere\", \"dim\": 2},",
        "EOF while parsing a value at line 1 column 47",
    );
    rejected(
        &with(|c| c["optimizers"][0]["type"] = json!("cma")),
        "optimizers[0].type: unknown optimizer `cma`",
    );
    rejected(&with(|c| c["optimizers"][1]["tolerance"] = json!(1)), "optimizers[1].tolerance");
    rejected(
        &with(|c| c["bounds"] = json!([[1.0, -1.0]])),
        "bounds[0]: lower bound 1 is not below upper bound -1",
    );
    rejected(
        &with(|c| c["bounds"] = json!([[0, 1], [0, 1], [0, 1]])),
        "bounds: 3 pairs for a 4-dimensional objective",
    );
    rejected(&with(|c| c["colour"] = json!("blue")), "colour: unknown field; expected one of objective,");
    rejected(&with(|c| c["objective"]["function"] = json!("rastrign")), "objective.function");
    rejected(
        &with(|c| c["hunters"] = json!("min_evals(200) & best_unmovin(5)")),
        "hunters: column 18: unknown hunter `best_unmovin`",
    );
    rejected(&with(|c| c["convergence"] = json!("max_evals(")), "convergence: column 11");
    rejected(
        &with(|c| c["optimizers"][0]["workers"] = json!(3)),
        "optimizers[0].workers: 3 workers do not fit in max_jobs = 2",
    );
    rejected(
        &with(|c| c["optimizers"][0]["evaluator"] = json!("gpu")),
        "optimizers[0].evaluator: unknown value `gpu`",
    );
    rejected(&with(|c| c["max_jobs"] = json!(0)), "max_jobs: must be at least 1");
    rejected(
        &with(|c| c["split_printstreams"] = json!("yes")),
        "split_printstreams: expected true or false, found \"yes\"",
    );
    rejected(
        &with(|c| c["evaluation_timeout_s"] = json!(-1)),
        "evaluation_timeout_s: expected seconds > 0, found -1",
    );
    rejected(
        &with(|c| c["force_terminations_after_s"] = json!(0)),
        "force_terminations_after_s: expected seconds > 0, found 0",
    );
    rejected(&with(|c| c["selector"] = json!({"type": "chain"})), "selector.thresholds: missing");
    rejected(
        &with(|c| c["selector"] = json!("roulette")),
        "selector: unknown selector `roulette`; expected one of cycle, chain, random",
    );
    rejected(
        &with(|c| c["generator"] = json!({"type": "basin-hopping", "factor": 2})),
        "generator.factor: must be in (0, 1)",
    );
    rejected(
        &with(|c| c["generator"] = json!({"type": "annealing", "heat": 2})),
        "generator.heat: unknown option; expected one of qa, qv",
    );
    rejected(
        &with(|c| c["hunters"] = json!("value_annealing(2)")),
        "hunters: column 17: `med_kill_chance` of value_annealing must be in (0, 1)",
    );
}

#[test]
fn a_missing_config_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["run", "nowhere.json"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("glompo: error: nowhere.json: cannot read:"), "{}", stderr(&out));
}

#[test]
fn functions_lists_every_builtin() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["functions"], tmp.path());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in ["ackley", "rastrigin", "schwefel", "sphere", "ellipsoid", "lennard_jones", "zero_sum"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{text}");
    }
    // The columns are aligned: each starts at the same character on every line of the table.
    let table: Vec<Vec<char>> =
        text.lines().take_while(|l| !l.is_empty()).map(|l| l.chars().collect()).collect();
    let header: String = table[0].iter().collect();
    for column in ["dims", "parameters", "description"] {
        let at = header[..header.find(column).unwrap()].chars().count();
        for row in &table {
            assert!(row[at - 2..at].iter().all(|c| *c == ' ') && row[at] != ' ', "{column}: {row:?}");
        }
    }
}

#[test]
fn the_example_configs_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for name in ["quickstart.json", "customized.json"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut config: Value =
            serde_json::from_str(&fs::read_to_string(root.join("examples").join(name)).unwrap()).unwrap();
        // The same config on a smaller budget, so that the test stays fast in a debug build.
        config["convergence"] = json!("max_evals(3000)");
        let path = write_config(tmp.path(), &config);
        let out = glompo(&["run", &path, "--dir", "out", "-q"], tmp.path());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let summary: Value =
            serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
        assert!(summary["counters"]["evaluations"].as_u64().unwrap() >= 3000, "{name}");
    }
}

/// Kills the child if the test fails before it ends, so no process outlives the test.
pub(crate) struct Reap(pub(crate) std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // A killed manager's keeper cleans up after it and exits; wait for it too.
        let keeper = format!("GLOMPO_KEEPER={}.", self.0.id());
        let start = std::time::Instant::now();
        while start.elapsed().as_secs() < 10
            && fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|e| {
                fs::read(e.path().join("environ")).is_ok_and(|env| {
                    String::from_utf8_lossy(&env).split('\0').any(|v| v.starts_with(&keeper))
                })
            })
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Starts `glompo run CONFIG --dir out` in `dir` and returns once its evaluation log has lines.
pub(crate) fn start_run(dir: &Path, config: &str) -> Reap {
    let child = Command::new(env!("CARGO_BIN_EXE_glompo"))
        .args(["run", config, "--dir", "out", "-q", "--no-reap"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child = Reap(child);
    let log = dir.join("out/evaluations.jsonl");
    let start = std::time::Instant::now();
    while fs::metadata(&log).map_or(0, |m| m.len()) == 0 {
        assert!(start.elapsed().as_secs() < 30, "the run did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn sigint_stops_the_run_cleanly_with_exit_130() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["objective"]["delay_s"] = json!(0.001);
    config["convergence"] = json!("max_evals(100000000)");
    let config = write_config(tmp.path(), &config);
    let mut child = start_run(tmp.path(), &config);
    let log = tmp.path().join("out/evaluations.jsonl");
    kill(Pid::from_raw(child.0.id() as i32), Signal::SIGINT).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["end_reason"], "interrupted by SIGINT");
    let evals = lines(&log);
    assert_eq!(evals.len() as u64, summary["counters"]["evaluations"].as_u64().unwrap());
    let ends =
        lines(&tmp.path().join("out/optimizers.jsonl")).into_iter().filter(|e| e["event"] == "end").count();
    assert_eq!(ends as u64, summary["counters"]["optimizers_started"].as_u64().unwrap());
}

#[test]
fn every_component_kind_runs_from_a_config() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["selector"] = json!({"type": "chain", "thresholds": [1500], "stop_after_optimizers": 12, "increasing_population": true});
    config["generator"] = json!({"type": "annealing"});
    config["hunters"] = json!(
        "min_evals(50) & (evaluations_unmoving(40, 0.01) | step_size(40, 1e-4) | last_points_invalid(3) | value_annealing() | time_annealing(0.5) | type_hunter(nelder-mead))"
    );
    config["convergence"] = json!("max_evals(4000) | max_kills(30) | max_optimizers_started(40)");
    config["share_best_solutions"] = json!(true);
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("out");
    let evals = lines(&dir.join("evaluations.jsonl"));
    // The annealing generator's own evaluations are logged under id 0 and counted.
    let generator = evals.iter().filter(|e| e["opt_id"] == 0).count();
    assert!(generator >= 9, "{generator}");
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(evals.len() as u64, summary["counters"]["evaluations"].as_u64().unwrap());
    assert!(summary["counters"]["optimizers_started"].as_u64().unwrap() <= 12);
    // The chain started CMA-ES first and Nelder-Mead after 1500 evaluations; IPOP doubled CMA-ES.
    let starts: Vec<Value> =
        lines(&dir.join("optimizers.jsonl")).into_iter().filter(|e| e["event"] == "start").collect();
    assert_eq!(starts[0]["type"], "cma-es");
    assert_eq!(summary["config"]["selector"]["type"], "chain");
}

#[test]
fn detailed_logs_carry_the_objective_extras() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["objective"] = json!({"function": "exp_least_squares_cost", "dim": 2, "n_train": 5});
    config["convergence"] = json!("max_evals(300)");
    config["hunters"] = Value::Null;
    let plain = write_config(tmp.path(), &config);
    assert!(glompo(&["run", &plain, "--dir", "plain", "-q"], tmp.path()).status.success());
    assert!(lines(&tmp.path().join("plain/evaluations.jsonl")).iter().all(|e| e.get("extras").is_none()));
    config["detailed_log"] = json!(true);
    let detailed = write_config(tmp.path(), &config);
    let out = glompo(&["run", &detailed, "--dir", "detailed", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    for e in lines(&tmp.path().join("detailed/evaluations.jsonl")) {
        let residuals = e["extras"]["residuals"].as_array().unwrap();
        assert_eq!(residuals.len(), 5);
        // The value is the sum of the squared residuals.
        let sum: f64 = residuals.iter().map(|r| r.as_f64().unwrap().powi(2)).sum();
        let fx = e["fx"].as_f64().unwrap();
        assert!((sum - fx).abs() <= 1e-9 * fx.abs().max(1.0), "{sum} vs {fx}");
    }
}

/// A model in Python: the sphere, failing for x[0] > 4 and crashing for x[0] < -4.5.
const MODEL: &str = r#"
import json, os, signal, sys
for line in sys.stdin:
    x = json.loads(line)["x"]
    if x[0] < -4.5:
        os.kill(os.getpid(), signal.SIGSEGV)
    if x[0] > 4:
        print(json.dumps({"error": "diverged"}), flush=True)
    else:
        print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

#[test]
fn an_external_program_is_the_objective_and_its_failures_are_logged() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("model.py"), MODEL).unwrap();
    let mut config = small_config();
    config["objective"] = json!({"command": ["python3", "model.py"], "dim": 3, "timeout_s": 10});
    config["bounds"] = json!([[-5, 5]]);
    config["convergence"] = json!("max_evals(600)");
    config["optimizers"] =
        json!([{"type": "random-search", "iters": 150}, {"type": "cma-es", "sigma0": 2.0}]);
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let evals = lines(&tmp.path().join("out/evaluations.jsonl"));
    assert!(evals.len() >= 600);
    let errors: Vec<&str> = evals.iter().filter_map(|e| e["error"].as_str()).collect();
    assert!(errors.contains(&"diverged"), "{errors:?}");
    assert!(errors.iter().any(|e| e.ends_with("the worker was killed by SIGSEGV")), "{errors:?}");
    for e in evals.iter().filter(|e| e["error"].is_null()) {
        let x: Vec<f64> = e["x"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(e["fx"].as_f64().unwrap(), x.iter().map(|v| v * v).sum::<f64>());
    }
}

#[test]
fn external_objectives_need_bounds_and_a_program_that_starts() {
    let mut config = small_config();
    config["objective"] = json!({"command": ["python3", "model.py"], "dim": 3});
    rejected(&config.to_string(), "bounds: required for an external objective");
    config["bounds"] = json!([[-1, 1]]);
    config["objective"]["command"] = json!(["/nonexistent/model"]);
    rejected(&config.to_string(), "objective.command: /nonexistent/model: cannot start:");
    config["objective"]["command"] = json!("python3 model.py");
    rejected(&config.to_string(), "objective.command: expected a list of strings");
    config["objective"] = json!({"command": ["true"], "dim": 3, "timeout": 5});
    rejected(
        &config.to_string(),
        "objective.timeout: unknown option; did you mean `timeout_s`? expected one of command, dim, timeout_s, cwd",
    );
}

#[test]
fn the_processes_evaluator_runs_builtins_in_workers_that_end_with_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    // An unusual delay marks this test's workers on their command lines.
    config["objective"]["delay_s"] = json!(0.000_123_457);
    config["optimizers"] = json!([{"type": "cma-es", "sigma0": 1.0, "workers": 2, "evaluator": "processes"}]);
    config["convergence"] = json!("max_evals(400)");
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["optimizers"][0]["evaluator"], "processes");
    assert_eq!(summary["counters"]["failed_evaluations"], 0);
    let evals = lines(&tmp.path().join("out/evaluations.jsonl"));
    // The workers evaluate the same Rastrigin function as the manager would.
    for e in &evals {
        let x: Vec<f64> = e["x"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let f = 10.0 * x.len() as f64
            + x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>();
        assert!((e["fx"].as_f64().unwrap() - f).abs() < 1e-9);
    }
    let leftovers: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| fs::read(e.unwrap().path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("__worker") && c.contains("0.000123457"))
        .collect();
    assert!(leftovers.is_empty(), "workers outlived the run: {leftovers:?}");
}

/// A model that segfaults on a tenth of its calls and hangs on a hundredth, chosen by a hash of x.
const BAD_MODEL: &str = r#"
import json, os, signal, sys, time
for line in sys.stdin:
    x = json.loads(line)["x"]
    h = hash(tuple(round(v, 9) for v in x)) % 1000
    if h < 100:
        os.kill(os.getpid(), signal.SIGSEGV)
    if h < 110:
        time.sleep(600)
    print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

#[test]
fn segfaults_and_hangs_are_logged_and_the_run_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("model.py"), BAD_MODEL).unwrap();
    let mut config = small_config();
    config["objective"] = json!({"command": ["python3", "model.py"], "dim": 2, "timeout_s": 0.5});
    config["bounds"] = json!([[-5, 5]]);
    config["optimizers"] =
        json!([{"type": "random-search", "iters": 1000, "workers": 2, "evaluator": "threads"}]);
    config["convergence"] = json!("max_evals(300)");
    config["hunters"] = Value::Null;
    let config = write_config(tmp.path(), &config);
    let out = Command::new(env!("CARGO_BIN_EXE_glompo"))
        .args(["run", &config, "--dir", "out", "-q", "--no-reap"])
        .current_dir(tmp.path())
        .env("PYTHONHASHSEED", "7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let evals = lines(&tmp.path().join("out/evaluations.jsonl"));
    let errors: Vec<&str> = evals.iter().filter_map(|e| e["error"].as_str()).collect();
    let crashes = errors.iter().filter(|e| e.ends_with("the worker was killed by SIGSEGV")).count();
    let hangs = errors.iter().filter(|e| **e == "timed out after 0.5 s; the worker was killed").count();
    assert_eq!(crashes + hangs, errors.len(), "{errors:?}");
    // About 10 % and 1 % of at least 300 evaluations.
    assert!((15..=60).contains(&crashes), "{crashes} crashes");
    assert!(hangs >= 1, "no hang among {} evaluations", evals.len());
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["counters"]["failed_evaluations"].as_u64().unwrap(), errors.len() as u64);
}

#[test]
fn reap_dry_run_lists_an_orphan_of_a_dead_run_and_kills_nothing() {
    // A process marked as belonging to a run of this test process with a start time that is not its
    // own: a manager that no longer exists.
    let me = std::process::id();
    let ns = fs::read_link("/proc/self/ns/pid").unwrap().to_string_lossy().into_owned();
    let ns: String = ns.chars().filter(char::is_ascii_digit).collect();
    let marker = format!("{me}.1.{me}.{ns}");
    let orphan = {
        use std::os::unix::process::CommandExt;
        Command::new("sleep").arg("60").env("GLOMPO_RUN", &marker).process_group(0).spawn().unwrap()
    };
    let orphan = Reap(orphan);
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["reap", "--dry-run"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let pid = orphan.0.id().to_string();
    assert!(
        text.lines().any(|l| l.split_whitespace().next() == Some(pid.as_str()) && l.contains(&marker)),
        "{text}"
    );
    assert!(text.contains("would kill"), "{text}");
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(!stat.contains(") Z "), "the dry run killed it");
}

/// The processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let cmdline = String::from_utf8_lossy(&fs::read(path.join("cmdline")).ok()?).replace('\0', " ");
            let stat = fs::read_to_string(path.join("stat")).ok()?;
            (cmdline.contains(needle) && !stat.contains(") Z ")).then_some(cmdline)
        })
        .collect()
}

#[test]
fn no_worker_survives_a_sigkill_of_the_manager() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    for (backend, evaluator, objective) in [
        ("threads", "processes", json!({"function": "sphere", "dim": 3, "delay_s": 0.002_718_28})),
        ("threads", "threads", json!({"command": ["python3", "model.py", "0.00271828"], "dim": 3})),
        ("processes", "processes", json!({"function": "sphere", "dim": 3, "delay_s": 0.002_718_28})),
        ("processes", "serial", json!({"function": "sphere", "dim": 3, "delay_s": 0.002_718_28})),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("model.py"), MODEL).unwrap();
        let mut config = small_config();
        config["objective"] = objective;
        config["bounds"] = json!([[-1, 1]]);
        config["optimizers"] = json!([{"type": "cma-es", "workers": 2, "evaluator": evaluator}]);
        config["convergence"] = json!("max_evals(100000000)");
        config["backend"] = json!(backend);
        let config = write_config(tmp.path(), &config);
        let mut child = start_run(tmp.path(), &config);
        let evaluator = format!("{backend} x {evaluator}");
        assert!(!processes_with("0.00271828").is_empty(), "{evaluator}: no worker seen");
        kill(Pid::from_raw(child.0.id() as i32), Signal::SIGKILL).unwrap();
        child.0.wait().unwrap();
        let start = std::time::Instant::now();
        while !processes_with("0.00271828").is_empty() && start.elapsed().as_secs_f64() < 2.0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            processes_with("0.00271828").is_empty(),
            "{evaluator}: survivors {:?}",
            processes_with("0.00271828")
        );
    }
}

/// A model whose every evaluation is a process of its own, as a wrapper around a simulation would be;
/// the evaluation's command line carries the tag given as the model's argument.
const NESTED_MODEL: &str = r#"
import json, subprocess, sys
for line in sys.stdin:
    x = json.loads(line)["x"]
    subprocess.run([sys.executable, "-c", "import time; time.sleep(5)", sys.argv[1]])
    print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

#[test]
fn processes_the_objective_starts_die_with_a_killed_manager() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    for (backend, tag) in [("threads", "nested-1.41421356"), ("processes", "nested-1.73205080")] {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("model.py"), NESTED_MODEL).unwrap();
        let mut config = small_config();
        config["objective"] = json!({"command": ["python3", "model.py", tag], "dim": 3});
        config["bounds"] = json!([[-1, 1]]);
        config["optimizers"] = json!([{"type": "random-search", "workers": 2, "evaluator": "threads"}]);
        config["backend"] = json!(backend);
        config["max_jobs"] = json!(4);
        let config = write_config(tmp.path(), &config);
        let mut child = Command::new(env!("CARGO_BIN_EXE_glompo"))
            .args(["run", &config, "--dir", "out", "-q", "--no-reap"])
            .current_dir(tmp.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map(Reap)
            .unwrap();
        // Two optimizers with two evaluations in flight each: four evaluation processes.
        let start = std::time::Instant::now();
        while processes_with(&format!("time.sleep(5) {tag}")).len() < 4 {
            assert!(start.elapsed().as_secs() < 30, "{backend}: the evaluations did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        kill(Pid::from_raw(child.0.id() as i32), Signal::SIGKILL).unwrap();
        child.0.wait().unwrap();
        let start = std::time::Instant::now();
        while !processes_with(tag).is_empty() && start.elapsed().as_secs_f64() < 2.0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let survivors = processes_with(tag);
        assert!(survivors.is_empty(), "{backend}: survivors {survivors:?}");
    }
}

#[test]
fn evaluation_timeouts_apply_to_builtins_in_worker_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    // Every call sleeps 0.3 s, longer than the timeout, so every evaluation times out.
    config["objective"]["delay_s"] = json!(0.3);
    config["evaluation_timeout_s"] = json!(0.1);
    config["optimizers"] = json!([{"type": "random-search", "iters": 4, "evaluator": "processes"}]);
    config["convergence"] = json!("max_evals(4)");
    config["hunters"] = Value::Null;
    config["max_jobs"] = json!(1);
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let evals = lines(&tmp.path().join("out/evaluations.jsonl"));
    assert!(evals.len() >= 4);
    // A fresh worker's first request also gets the start-up grace (5 s), so it answers; a worker that
    // has answered once gets 0.1 s and is killed, so answers and timeouts alternate.
    let timed_out: Vec<bool> =
        evals.iter().map(|e| e["error"] == "timed out after 0.1 s; the worker was killed").collect();
    assert!(
        evals
            .iter()
            .all(|e| e["error"].is_null() || e["error"] == "timed out after 0.1 s; the worker was killed")
    );
    assert_eq!(timed_out[..4], [false, true, false, true], "{evals:?}");
}

#[test]
fn optimizers_run_in_processes_and_a_killed_runner_process_is_a_crash() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["backend"] = json!("processes");
    config["objective"]["delay_s"] = json!(0.000_314_159);
    config["optimizers"] = json!([{"type": "random-search", "iters": 100000000}]);
    config["convergence"] = json!("max_evals(10000)");
    config["hunters"] = Value::Null;
    let config = write_config(tmp.path(), &config);
    let mut run = start_run(tmp.path(), &config);
    // Both optimizers run in runner processes of their own; kill one of them.
    let runners: Vec<i32> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let cmdline = String::from_utf8_lossy(&fs::read(path.join("cmdline")).ok()?).replace('\0', " ");
            (cmdline.contains("__runner") && cmdline.contains("0.000314159"))
                .then(|| path.file_name()?.to_str()?.parse().ok())?
        })
        .collect();
    assert_eq!(runners.len(), 2, "{runners:?}");
    kill(Pid::from_raw(runners[0]), Signal::SIGKILL).unwrap();
    assert!(run.0.wait().unwrap().success());
    let dir = tmp.path().join("out");
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["end_reason"].as_str().unwrap().starts_with("budget spent: max_evals(10000) = true"),
        "{summary}"
    );
    let crashed: Vec<Value> =
        lines(&dir.join("optimizers.jsonl")).into_iter().filter(|e| e["reason"] == "crashed").collect();
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert_eq!(crashed[0]["error"], "the runner process was killed by SIGKILL");
    let evals = lines(&dir.join("evaluations.jsonl"));
    assert_eq!(evals.len() as u64, summary["counters"]["evaluations"].as_u64().unwrap());
    assert!(evals.iter().enumerate().all(|(i, e)| e["call_id"] == i as u64 + 1));
    assert!(processes_with("0.000314159").is_empty(), "runner processes outlived the run");
}

#[test]
fn processes_forced_puts_both_levels_in_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["backend"] = json!("processes-forced");
    config["objective"]["delay_s"] = json!(0.000_161_803);
    config["optimizers"] =
        json!([{"type": "cma-es", "workers": 2}, {"type": "nelder-mead", "evaluator": "serial"}]);
    config["convergence"] = json!("max_evals(8000)");
    let config = write_config(tmp.path(), &config);
    let mut run = start_run(tmp.path(), &config);
    // Every worker belongs to a runner process: the manager starts none of its own.
    let parents: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let cmdline = String::from_utf8_lossy(&fs::read(path.join("cmdline")).ok()?).replace('\0', " ");
            (cmdline.contains("__worker") && cmdline.contains("0.000161803")).then_some(())?;
            let stat = fs::read_to_string(path.join("stat")).ok()?;
            let ppid: u32 = stat.rsplit(") ").next()?.split(' ').nth(1)?.parse().ok()?;
            assert_ne!(ppid, run.0.id(), "a worker of the manager's own");
            Some(String::from_utf8_lossy(&fs::read(format!("/proc/{ppid}/cmdline")).ok()?).replace('\0', " "))
        })
        .collect();
    assert!(!parents.is_empty(), "no worker seen");
    assert!(parents.iter().all(|p| p.contains("__runner")), "{parents:?}");
    assert!(run.0.wait().unwrap().success());
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["backend"], "processes_forced");
    assert_eq!(summary["config"]["optimizers"][0]["evaluator"], "processes");
    assert_eq!(summary["config"]["optimizers"][1]["evaluator"], "serial");
    assert_eq!(summary["counters"]["failed_evaluations"], 0);
}

#[test]
fn a_silent_runner_process_is_killed_with_its_workers() {
    let tmp = tempfile::tempdir().unwrap();
    // Every evaluation hangs; the argument marks this test's processes.
    fs::write(tmp.path().join("hang.py"), "import sys, time\nfor line in sys.stdin:\n    time.sleep(600)\n")
        .unwrap();
    let mut config = small_config();
    config["backend"] = json!("processes");
    config["objective"] = json!({"command": ["python3", "hang.py", "0.0016180339"], "dim": 2});
    config["bounds"] = json!([[-1, 1]]);
    config["optimizers"] = json!([{"type": "random-search"}]);
    config["max_jobs"] = json!(1);
    config["force_terminations_after_s"] = json!(0.3);
    config["convergence"] = json!("max_optimizers_started(3)");
    config["hunters"] = Value::Null;
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let ends: Vec<Value> =
        lines(&tmp.path().join("out/optimizers.jsonl")).into_iter().filter(|e| e["event"] == "end").collect();
    assert!(ends.iter().filter(|e| e["reason"] == "abandoned").count() >= 2, "{ends:?}");
    assert!(ends.iter().all(|e| e["evaluations"] == 0));
    assert!(processes_with("0.0016180339").is_empty(), "survivors: {:?}", processes_with("0.0016180339"));
}

/// A model in Python that reports every call on stderr (and says so if it was handed the runner's
/// message pipe, which must stay with the runner).
const CHATTY_MODEL: &str = r#"
import json, os, sys
fd3 = "/proc/self/fd/3"
if os.path.exists(fd3) and os.readlink(fd3).startswith("pipe:"):
    sys.stderr.write("a worker holds the message pipe\n")
for line in sys.stdin:
    x = json.loads(line)["x"]
    sys.stderr.write("model: evaluating\n")
    sys.stderr.flush()
    print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

/// A run of the chatty model in `dir/model.py` with `backend`, 200 evaluations.
fn chatty_config(dir: &Path, backend: &str) -> Value {
    fs::write(dir.join("model.py"), CHATTY_MODEL).unwrap();
    let mut config = small_config();
    config["backend"] = json!(backend);
    config["objective"] = json!({"command": ["python3", "model.py"], "dim": 2, "timeout_s": 10});
    config["bounds"] = json!([[-5, 5]]);
    config["convergence"] = json!("max_evals(200)");
    config["hunters"] = Value::Null;
    config
}

#[test]
fn each_runner_process_prints_into_its_own_printstreams_files() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &chatty_config(tmp.path(), "processes"));
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("model: evaluating"), "{}", stderr(&out));
    let dir = tmp.path().join("out");
    let evals = lines(&dir.join("evaluations.jsonl"));
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(evals.len() as u64, summary["counters"]["evaluations"].as_u64().unwrap());
    assert!(evals.len() >= 200);
    assert!(evals.iter().all(|e| e["error"].is_null() && e["fx"].is_number()), "{evals:?}");
    assert_eq!(summary["config"]["split_printstreams"], true);
    // One pair of files per optimizer; its model printed one line per evaluation it made.
    let ids: Vec<u64> = lines(&dir.join("optimizers.jsonl"))
        .into_iter()
        .filter(|e| e["event"] == "start")
        .map(|e| e["opt_id"].as_u64().unwrap())
        .collect();
    assert!(ids.len() >= 2, "{ids:?}");
    let mut files: Vec<String> = fs::read_dir(dir.join("printstreams"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let expected: Vec<String> =
        ids.iter().flat_map(|id| [format!("{id:04}.err"), format!("{id:04}.out")]).collect();
    assert_eq!(files, expected);
    for id in &ids {
        let err = fs::read_to_string(dir.join(format!("printstreams/{id:04}.err"))).unwrap();
        // Each line names the evaluation it came from: this optimizer's 1st, 2nd, ...
        let made = evals.iter().filter(|e| e["opt_id"] == *id).count();
        let expected: Vec<String> =
            (1..=made).map(|n| format!("[opt {id} eval {n}] model: evaluating")).collect();
        assert_eq!(err.lines().collect::<Vec<_>>(), expected, "optimizer {id}");
        assert_eq!(fs::read_to_string(dir.join(format!("printstreams/{id:04}.out"))).unwrap(), "");
    }
    // A second run into the same directory is refused; with --overwrite it replaces the printstreams
    // and leaves the user's own files alone.
    fs::write(dir.join("printstreams/0099.err"), "stale").unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(dir.join("printstreams/0099.err").exists());
    let out = glompo(&["run", &config, "--dir", "out", "-q", "--overwrite"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.join("printstreams/0099.err").exists());
    let err = fs::read_to_string(dir.join("printstreams/0001.err")).unwrap();
    assert!(err.lines().count() >= 1 && err.lines().all(|l| l.ends_with("] model: evaluating")), "{err}");
    assert_eq!(fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn printstreams_are_not_split_when_switched_off_or_with_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let mut off = chatty_config(tmp.path(), "processes");
    off["split_printstreams"] = json!(false);
    for (name, config) in [("off", off), ("threads", chatty_config(tmp.path(), "threads"))] {
        let path = tmp.path().join(format!("{name}.json"));
        fs::write(&path, config.to_string()).unwrap();
        let out = glompo(&["run", &format!("{name}.json"), "--dir", name, "-q"], tmp.path());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let dir = tmp.path().join(name);
        assert!(!dir.join("printstreams").exists(), "{name}");
        // The model's prints reach glompo's own stderr, and every evaluation is logged.
        let evals = lines(&dir.join("evaluations.jsonl"));
        let mut printed: Vec<String> =
            stderr(&out).lines().filter(|l| l.ends_with("] model: evaluating")).map(str::to_owned).collect();
        // Each names the optimizer and its evaluation: the labels are those of the logged evaluations.
        let mut expected = Vec::new();
        for id in
            evals.iter().map(|e| e["opt_id"].as_u64().unwrap()).collect::<std::collections::BTreeSet<_>>()
        {
            let made = evals.iter().filter(|e| e["opt_id"] == id).count();
            expected.extend((1..=made).map(|n| format!("[opt {id} eval {n}] model: evaluating")));
        }
        printed.sort();
        expected.sort();
        assert_eq!(printed, expected, "{name}");
        assert!(!stderr(&out).contains("message pipe"), "{name}: {}", stderr(&out));
    }
}

#[test]
fn the_start_events_and_the_summary_record_the_settings_actually_used() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": {"function": "rastrigin", "dim": 6},
        "optimizers": [{"type": "cma-es"}, {"type": "random-search", "workers": 3, "evaluator": "threads"}],
        "max_jobs": 4,
        "convergence": "max_evals(400)",
        "seed": 3
    });
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("out");
    let starts: Vec<Value> =
        lines(&dir.join("optimizers.jsonl")).into_iter().filter(|e| e["event"] == "start").collect();
    let cma = starts.iter().find(|e| e["type"] == "cma-es").unwrap();
    // pycma's defaults for n = 6 in [-5.12, 5.12]^6: λ = 4 + ⌊3 ln 6⌋, σ0 = a quarter of the width.
    assert_eq!(cma["settings"]["popsize"], 9, "{cma}");
    assert_eq!(cma["popsize"], 9);
    assert_eq!(cma["settings"]["sigma0"], 2.56);
    assert_eq!(cma["settings"]["tolstagnation"], 100 + (100.0 * 6f64.powf(1.5) / 9.0) as u64);
    let random = starts.iter().find(|e| e["type"] == "random-search").unwrap();
    assert_eq!(random["settings"]["batch"], 3, "{random}");
    // Seeds stay below 2^53, so that readers that parse numbers as doubles keep them exact.
    assert!(starts.iter().all(|e| e["seed"].as_u64().unwrap() < 1 << 53));
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let specs = summary["settings"]["optimizers"].as_array().unwrap();
    assert_eq!(specs[0]["settings"]["popsize"], 9);
    assert_eq!(specs[0]["settings"]["sigma0"], 2.56);
    assert_eq!(specs[1]["settings"]["batch"], 3);
}

#[test]
fn the_summary_does_not_count_what_the_process_did_before_the_run_as_its_children() {
    // `cargo run` replaces cargo with glompo (exec): the compilers cargo waited for were its children.
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &small_config());
    let burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass";
    let script = format!("python3 -c '{burn}' && exec \"$0\" run \"$1\" --dir out -q --no-reap");
    let out = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_glompo"), &config])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    let r = &summary["resources"];
    let children = r["children_cpu_user_s"].as_f64().unwrap() + r["children_cpu_system_s"].as_f64().unwrap();
    assert!(children < 0.5, "the second of CPU burnt before the run counted: {r}");
}

#[test]
fn without_optimizers_the_default_strategy_restarts_cma_es_with_one_sweep_of_coordinate_search() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": {"function": "rosenbrock", "dim": 5},
        "convergence": "max_evals(15000)",
        "max_jobs": 1,
        "seed": 1
    });
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q", "--no-plot"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let events = lines(&tmp.path().join("out/optimizers.jsonl"));
    let starts: Vec<&Value> = events.iter().filter(|e| e["event"] == "start").collect();
    assert!(starts.len() >= 4, "{starts:?}");
    // CMA-ES first; once it has ended, one sweep of coordinate search, which converges after it and
    // never starts again; CMA-ES from then on.
    let types: Vec<&str> = starts.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types[..2], ["cma-es", "coordinate-search"], "{types:?}");
    assert!(types[2..].iter().all(|t| *t == "cma-es"), "{types:?}");
    let sweep = events.iter().find(|e| e["event"] == "end" && e["opt_id"] == 2).unwrap();
    assert_eq!((&sweep["reason"], &sweep["criterion"]), (&json!("converged"), &json!("max_sweeps")));
    let log = lines(&tmp.path().join("out/evaluations.jsonl"));
    let swept = log.iter().filter(|e| e["opt_id"] == 2).count();
    assert!((5 * 70..=5 * 105).contains(&swept), "one sweep of 5 lines took {swept} evaluations");
    // IPOP as pycma: after k convergences of CMA-ES a start has ⌊2^k (4 + 3 ln 5)⌋ (8, 17, 35, ...).
    let converged_before = |i: usize| {
        let id = starts[i]["opt_id"].as_u64().unwrap();
        events
            .iter()
            .filter(|e| {
                let opt = e["opt_id"].as_u64().unwrap();
                e["event"] == "end" && e["reason"] == "converged" && opt != 2 && opt < id
            })
            .count() as u32
    };
    for (i, start) in starts.iter().enumerate().filter(|(_, s)| s["type"] == "cma-es") {
        let expected = (f64::from(1u32 << converged_before(i)) * (4.0 + 3.0 * 5f64.ln())).floor();
        assert_eq!(start["popsize"].as_f64(), Some(expected), "start {i}: {start}");
    }
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["selector"], json!({"type": "cycle", "restarts": "ipop"}));
    let optimizers = &summary["config"]["optimizers"];
    assert_eq!(optimizers[0]["type"], "cma-es");
    assert!(optimizers[0].get("max_starts").is_none());
    assert_eq!(optimizers[1]["type"], "coordinate-search");
    assert_eq!((&optimizers[1]["max_sweeps"], &optimizers[1]["max_starts"]), (&json!(1), &json!(1)));
    assert!(summary["config"]["hunters"].is_null());
    // The strategy restarts until the budget is spent, so it needs one.
    let bare = write_config(tmp.path(), &json!({"objective": {"function": "rastrigin", "dim": 5}}));
    let out = glompo(&["run", &bare, "--dir", "bare", "-q"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("convergence: missing: without `optimizers` the default strategy"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("bare").exists());
}
