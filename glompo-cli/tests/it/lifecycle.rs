//! The run directory and the life of a run: locks, STOP files, what `--overwrite` removes, signals
//! and a full disk.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::run::{glompo, lines, small_config, start_run, stderr, write_config};

/// A run that goes on until it is stopped: random search on a slow sphere.
fn endless_config() -> Value {
    let mut config = small_config();
    config["objective"] = json!({"function": "sphere", "dim": 2, "delay_s": 0.002});
    config["optimizers"] = json!([{"type": "random-search", "iters": 100000000}]);
    config["convergence"] = json!("max_evals(100000000)");
    config["hunters"] = Value::Null;
    config
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_owned))
        .filter(|n| n.starts_with("STOP_"))
        .collect()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_live_run_holds_its_directory_and_stop_asks_only_a_live_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // A finished run is not asked anything, and no STOP file is left for the next one.
    let mut finished = small_config();
    finished["convergence"] = json!("max_evals(100)");
    let config = write_config(tmp.path(), &finished);
    assert!(glompo(&["run", &config, "--dir", "out", "-q"], tmp.path()).status.success());
    let refused = glompo(&["stop", "out", "1"], tmp.path());
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("no run is going on in this directory"), "{}", stderr(&refused));
    assert!(stop_files(&out).is_empty());
    let elsewhere = glompo(&["stop", "elsewhere", "1"], tmp.path());
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(stderr(&elsewhere).contains("not a run directory"), "{}", stderr(&elsewhere));

    // The finished run's directory is taken again by a live one.
    fs::remove_dir_all(&out).unwrap();
    let config = write_config(tmp.path(), &endless_config());
    let mut run = start_run(tmp.path(), &config);
    let pid = run.0.id();
    // A second run may not take the live run's directory, not even with --overwrite.
    let second = glompo(&["run", &config, "--dir", "out", "--overwrite", "-q"], tmp.path());
    assert_eq!(second.status.code(), Some(2));
    let expected = format!("a live run (glompo process {pid}) is using this run directory");
    assert!(stderr(&second).contains(&expected), "{}", stderr(&second));
    assert!(out.join("evaluations.jsonl").exists());

    let asked = glompo(&["stop", "out", "1"], tmp.path());
    assert!(asked.status.success(), "{}", stderr(&asked));
    let ended = |id: u64| {
        lines(&out.join("optimizers.jsonl")).into_iter().find(|e| e["event"] == "end" && e["opt_id"] == id)
    };
    wait_for("optimizer 1 to be killed", || ended(1).is_some());
    assert_eq!(ended(1).unwrap()["by"], "STOP file");
    let again = glompo(&["stop", "out", "1"], tmp.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("optimizer 1 has already ended (killed)"), "{}", stderr(&again));
    let unknown = glompo(&["stop", "out", "99"], tmp.path());
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no optimizer 99 was started"), "{}", stderr(&unknown));
    // A STOP file written by hand for an optimizer that ended is consumed and logged as ignored.
    fs::write(out.join("STOP_1"), "").unwrap();
    wait_for("STOP_1 to be consumed", || !out.join("STOP_1").exists());
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
    assert_eq!(run.0.wait().unwrap().code(), Some(130));
    let ignored: Vec<Value> =
        lines(&out.join("optimizers.jsonl")).into_iter().filter(|e| e["event"] == "stop_ignored").collect();
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert_eq!(ignored[0]["opt_id"], 1);
    assert!(stop_files(&out).is_empty());
    // Once the run is over, its directory is free again.
    let third = glompo(
        &["run", &write_config(tmp.path(), &finished), "--dir", "out", "--overwrite", "-q"],
        tmp.path(),
    );
    assert!(third.status.success(), "{}", stderr(&third));
}

#[test]
fn overwrite_removes_only_what_glompo_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut config = small_config();
    config["convergence"] = json!("max_evals(200)");
    let config = write_config(tmp.path(), &config);
    // A directory with only the user's own folders is not a run: it is used without --overwrite.
    fs::create_dir_all(out.join("checkpoints")).unwrap();
    fs::write(out.join("checkpoints/mine.json"), "{}").unwrap();
    fs::create_dir_all(out.join("printstreams")).unwrap();
    fs::write(out.join("printstreams/notes.txt"), "mine").unwrap();
    // A STOP file left from before must not kill optimizer 1 of the new run.
    fs::write(out.join("STOP_1"), "").unwrap();
    let first = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(first.status.success(), "{}", stderr(&first));
    let end =
        lines(&out.join("optimizers.jsonl")).into_iter().find(|e| e["event"] == "end" && e["opt_id"] == 1);
    assert_ne!(end.unwrap()["by"], "STOP file");
    assert!(!out.join("STOP_1").exists());
    // Files of an earlier process-backend run are glompo's; the user's stay.
    fs::write(out.join("printstreams/0001.out"), "old").unwrap();
    fs::write(out.join("printstreams/0012.err"), "old").unwrap();
    let refused = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert_eq!(refused.status.code(), Some(2));
    let second = glompo(&["run", &config, "--dir", "out", "--overwrite", "-q"], tmp.path());
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(fs::read_to_string(out.join("checkpoints/mine.json")).unwrap(), "{}");
    assert_eq!(fs::read_to_string(out.join("printstreams/notes.txt")).unwrap(), "mine");
    assert!(!out.join("printstreams/0001.out").exists());
    assert!(!out.join("printstreams/0012.err").exists());
}

#[test]
fn a_run_directory_that_is_a_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("taken"), "a file of mine").unwrap();
    let config = write_config(tmp.path(), &small_config());
    let out = glompo(&["run", &config, "--dir", "taken", "-q"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("taken: is not a directory"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(tmp.path().join("taken")).unwrap(), "a file of mine");
}

/// An objective program whose evaluations never end, and that records its pid.
const STUCK_MODEL: &str = r#"
import os, sys, time
open("worker.pid", "w").write(str(os.getpid()))
for line in sys.stdin:
    time.sleep(3600)
"#;

fn stuck_run(tmp: &Path) -> crate::run::Reap {
    fs::write(tmp.join("stuck.py"), STUCK_MODEL).unwrap();
    let mut config = small_config();
    config["objective"] = json!({"command": ["python3", tmp.join("stuck.py")], "dim": 2});
    config["bounds"] = json!([[-1, 1]]);
    config["optimizers"] = json!([{"type": "random-search", "iters": 10}]);
    config["max_jobs"] = json!(1);
    config["hunters"] = Value::Null;
    let config = write_config(tmp, &config);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_glompo"))
        .args(["run", &config, "--dir", "out", "-q", "--no-reap"])
        .current_dir(tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = crate::run::Reap(child);
    let log = tmp.join("out/optimizers.jsonl");
    wait_for("the stuck evaluation", || {
        tmp.join("worker.pid").exists() && fs::read_to_string(&log).is_ok_and(|t| t.contains("\"start\""))
    });
    run
}

fn worker_pid(tmp: &Path) -> i32 {
    fs::read_to_string(tmp.join("worker.pid")).unwrap().trim().parse().unwrap()
}

#[test]
fn a_signal_ends_a_run_stuck_in_an_evaluation_and_a_second_one_ends_it_at_once() {
    for (signals, within) in [(&[Signal::SIGTERM][..], 5.0), (&[Signal::SIGINT, Signal::SIGINT][..], 1.0)] {
        let tmp = tempfile::tempdir().unwrap();
        let mut run = stuck_run(tmp.path());
        let worker = worker_pid(tmp.path());
        for (i, &signal) in signals.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            kill(Pid::from_raw(run.0.id() as i32), signal).unwrap();
        }
        // 128 + the signal's number: 143 for SIGTERM, 130 for SIGINT.
        assert_eq!(run.0.wait().unwrap().code(), Some(128 + signals[0] as i32));
        let out = tmp.path().join("out");
        let summary = summary(&out);
        assert_eq!(summary["end_reason"], format!("interrupted by {}", signals[0]), "{summary}");
        // The runner that did not stop was given up after the grace (or at once after a second
        // signal), and said so.
        let end = lines(&out.join("optimizers.jsonl")).into_iter().find(|e| e["event"] == "end").unwrap();
        assert_eq!(end["reason"], "abandoned", "{end}");
        let waited: f64 = end["error"].as_str().unwrap().split(' ').nth(4).unwrap().parse().unwrap();
        assert!(waited <= within + 0.5, "{end}");
        // The stuck worker is gone with the run.
        wait_for("the worker to be reaped", || kill(Pid::from_raw(worker), None).is_err());
    }
}

#[test]
fn a_full_disk_ends_the_run_with_its_best_result_and_a_readable_log() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["convergence"] = json!("max_evals(100000)");
    let config = write_config(tmp.path(), &config);
    // The file-size limit stands for a full disk: writes past 64 KiB fail (EFBIG instead of ENOSPC).
    let exe = env!("CARGO_BIN_EXE_glompo");
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("ulimit -f 64 && exec {exe} run {config} --dir out --no-reap")])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("best f = "), "{stdout}");
    assert!(stdout.contains("end: writing the logs failed"), "{stdout}");
    let dir = tmp.path().join("out");
    let log = fs::read(dir.join("evaluations.jsonl")).unwrap();
    assert!(!log.is_empty() && log.len() <= 64 << 10);
    assert_eq!(log.last(), Some(&b'\n'), "the log ends with a half line");
    let evals = lines(&dir.join("evaluations.jsonl"));
    assert!(evals.iter().enumerate().all(|(i, e)| e["call_id"] == i as u64 + 1));
    let summary = summary(&dir);
    assert_eq!(summary["end"]["kind"], "log_failed", "{summary}");
    assert!(summary["counters"]["evaluations"].as_u64().unwrap() >= evals.len() as u64);
}
