//! Checkpoints and resume end to end: a resumed run is the run that was never interrupted, a killed
//! run loses nothing that was checkpointed, signals leave a checkpoint, and damaged checkpoints are
//! refused with nothing changed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::run::{Reap, glompo, lines, small_config, stderr, write_config};

pub(crate) fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir.join("checkpoints"))
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "json"));
    found.sort();
    found
}

/// The evaluations of a log without their arrival times: what must be equal between two runs.
pub(crate) fn evaluations(dir: &Path) -> Vec<Value> {
    lines(&dir.join("evaluations.jsonl"))
        .into_iter()
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("t");
            e
        })
        .collect()
}

/// The complete lines of a log a killed run may have left with half a line at its end.
fn complete_lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

pub(crate) fn summary(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// A run on one worker slot (reproducible from its seed) with a checkpoint every 150 evaluations.
fn one_slot_config() -> Value {
    let mut config = small_config();
    config["max_jobs"] = json!(1);
    config["convergence"] = json!("max_evals(1500)");
    config["checkpoint"] = json!({"every_evals": 150});
    config
}

#[test]
fn a_run_resumed_from_a_checkpoint_goes_on_as_the_run_that_was_not_interrupted() {
    resumed_one_slot_run("threads");
}

#[test]
fn a_run_of_runner_processes_resumed_from_a_checkpoint_goes_on_as_the_run_that_was_not_interrupted() {
    resumed_one_slot_run("processes");
}

/// The async run on one slot, and the same run resumed from a checkpoint in its middle, on `backend`.
fn resumed_one_slot_run(backend: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = one_slot_config();
    config["backend"] = json!(backend);
    let config = write_config(tmp.path(), &config);
    let full = glompo(&["run", &config, "--dir", "full", "-q"], tmp.path());
    assert!(full.status.success(), "{}", stderr(&full));
    let full_dir = tmp.path().join("full");
    let expected = evaluations(&full_dir);
    assert_eq!(expected.len(), 1500);
    let taken = checkpoints(&full_dir);
    assert!(taken.len() >= 3, "{taken:?}");
    // From a checkpoint in the middle, into another directory: the logs up to it are copied there.
    let middle = &taken[taken.len() / 2];
    let at = glompo_core::manager::inspect(middle).unwrap().evaluations;
    assert!(at > 0 && at < 1500, "{at}");
    let resumed = glompo(&["resume", middle.to_str().unwrap(), "--dir", "resumed", "-q"], tmp.path());
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let resumed_dir = tmp.path().join("resumed");
    assert_eq!(evaluations(&resumed_dir), expected, "{backend}: resumed at evaluation {at}");
    let s = summary(&resumed_dir);
    assert_eq!(s["counters"], summary(&full_dir)["counters"]);
    assert_eq!(s["periods"].as_array().unwrap().len(), 2);
    // The run resumed from is untouched.
    assert_eq!(evaluations(&full_dir), expected);
}

/// A run that goes on for a while: random search on a slow sphere, checkpoints every 50 evaluations.
fn slow_config(backend: &str) -> Value {
    json!({
        "objective": {"function": "sphere", "dim": 3, "delay_s": 0.001},
        "optimizers": [{"type": "cma-es", "sigma0": 1.0, "workers": 2}, {"type": "random-search", "iters": 100000000}],
        "max_jobs": 3,
        "backend": backend,
        "convergence": "max_evals(100000000)",
        "checkpoint": {"every_evals": 50, "keep": 2},
        "seed": 2
    })
}

pub(crate) fn start(tmp: &Path, args: &[&str]) -> Reap {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_glompo"))
        .args(args)
        .arg("--no-reap")
        .current_dir(tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Reap(child)
}

#[test]
fn runs_killed_at_random_moments_resume_with_every_checkpointed_evaluation_kept() {
    killed_at_random_moments("threads");
}

#[test]
fn runs_of_runner_processes_killed_at_random_moments_resume_with_every_checkpointed_evaluation_kept() {
    killed_at_random_moments("processes");
}

/// Ten sessions of one run on `backend`, each killed with SIGKILL a while after its first checkpoint
/// and resumed: the log keeps every checkpointed evaluation, and its call_ids have no gap or duplicate.
fn killed_at_random_moments(backend: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &slow_config(backend));
    let out = tmp.path().join("out");
    // A fixed sequence of moments, so that the test is the same every time.
    let mut moment = 7u64;
    for trial in 0..10 {
        let first = trial == 0;
        let args: Vec<&str> =
            if first { vec!["run", &config, "--dir", "out", "-q"] } else { vec!["resume", "out", "-q"] };
        let mut run = start(tmp.path(), &args);
        let before = if first { 0 } else { complete_lines(&out.join("evaluations.jsonl")).len() };
        // Wait for a checkpoint of this session, then a little more.
        wait_for("a checkpoint", || {
            checkpoints(&out)
                .iter()
                .any(|p| glompo_core::manager::inspect(p).is_ok_and(|i| i.evaluations as usize > before))
        });
        moment = moment.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(moment >> 58));
        kill(Pid::from_raw(run.0.id() as i32), Signal::SIGKILL).unwrap();
        run.0.wait().unwrap();
        drop(run);
        let newest = glompo_core::manager::latest(&out).unwrap();
        let kept = glompo_core::manager::inspect(&newest).unwrap().evaluations as usize;
        let logged = complete_lines(&out.join("evaluations.jsonl"));
        assert!(
            logged.len() >= kept,
            "{backend} trial {trial}: {} logged, {kept} checkpointed",
            logged.len()
        );
        // The next resume cuts the log back to the checkpoint; what it keeps must be what was there.
        let prefix: Vec<Value> = logged[..kept].to_vec();
        let mut check = start(tmp.path(), &["resume", "out", "-q"]);
        wait_for("the resumed run to log past the checkpoint", || {
            fs::read_to_string(out.join("evaluations.jsonl")).is_ok_and(|t| t.lines().count() > kept + 5)
        });
        kill(Pid::from_raw(check.0.id() as i32), Signal::SIGKILL).unwrap();
        check.0.wait().unwrap();
        drop(check);
        let after = complete_lines(&out.join("evaluations.jsonl"));
        assert_eq!(&after[..kept], &prefix[..], "{backend} trial {trial}");
        for (i, e) in after.iter().enumerate() {
            let line = i + 1;
            assert_eq!(
                e["call_id"], line as u64,
                "{backend} trial {trial}: a gap or a duplicate at line {line}"
            );
        }
    }
}

#[test]
fn signals_leave_a_checkpoint_a_summary_naming_them_and_no_process_on_every_backend() {
    for (backend, signal) in [
        ("threads", Signal::SIGTERM),
        ("processes", Signal::SIGUSR1),
        ("processes-forced", Signal::SIGTERM),
        ("threads", Signal::SIGINT),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = slow_config(backend);
        config["checkpoint"] = Value::Null;
        let config = write_config(tmp.path(), &config);
        let out = tmp.path().join("out");
        let mut run = start(tmp.path(), &["run", &config, "--dir", "out", "-q"]);
        wait_for("evaluations", || {
            fs::read_to_string(out.join("evaluations.jsonl")).is_ok_and(|t| t.lines().count() > 20)
        });
        kill(Pid::from_raw(run.0.id() as i32), signal).unwrap();
        let code = run.0.wait().unwrap().code();
        assert_eq!(code, Some(128 + signal as i32), "{backend} {signal}");
        let s = summary(&out);
        assert_eq!(s["end_reason"], format!("interrupted by {signal}"), "{backend}: {s}");
        let taken = checkpoints(&out);
        assert_eq!(taken.len(), 1, "{backend}: {taken:?}");
        let info = glompo_core::manager::inspect(&taken[0]).unwrap();
        assert_eq!(info.reason, signal.to_string());
        assert!(info.evaluations > 20 && info.alive >= 2, "{backend}: {info:?}");
        // No process of the run is left.
        let marker = format!("GLOMPO_RUN={}.", run.0.id());
        let left = || {
            fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|e| {
                fs::read(e.path().join("environ")).is_ok_and(|env| {
                    String::from_utf8_lossy(&env).split('\0').any(|v| v.starts_with(&marker))
                })
            })
        };
        wait_for("the run's processes to be gone", || !left());
        drop(run);
        // And the checkpoint resumes.
        let mut config_limit = start(
            tmp.path(),
            &["resume", "out", "-q", "--convergence", &format!("max_evals({})", info.evaluations + 30)],
        );
        assert!(config_limit.0.wait().unwrap().success(), "{backend}");
        let logged = lines(&out.join("evaluations.jsonl"));
        assert_eq!(logged.len() as u64, info.evaluations + 30, "{backend}");
    }
}

#[test]
fn damaged_checkpoints_and_another_runs_directory_are_refused_with_nothing_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = one_slot_config();
    config["convergence"] = json!("max_evals(400)");
    config["checkpoint"] = json!({"every_evals": 100, "at_end": true});
    let config_path = write_config(tmp.path(), &config);
    for dir in ["a", "b"] {
        let done = glompo(
            &["run", &config_path, "--dir", dir, "--seed", if dir == "a" { "1" } else { "2" }, "-q"],
            tmp.path(),
        );
        assert!(done.status.success(), "{}", stderr(&done));
    }
    let a = tmp.path().join("a");
    let good = checkpoints(&a).pop().unwrap();
    let text = fs::read_to_string(&good).unwrap();
    let edited_counters = {
        let count = glompo_core::manager::inspect(&good).unwrap().evaluations;
        text.replacen(&format!("\"evaluations\":{count}"), &format!("\"evaluations\":{}", count + 1), 1)
    };
    assert_ne!(edited_counters, text);
    let cases = [
        ("empty", String::new(), "is empty"),
        ("truncated", text[..text.len() * 2 / 3].to_owned(), "truncated"),
        ("version", text.replacen("\"version\":1", "\"version\":7", 1), "version 7"),
        ("counters", edited_counters, "checksum does not match"),
    ];
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = snapshot(&a);
    for (name, content, expected) in cases {
        let damaged = a.join("checkpoints").join(format!("damaged_{name}.json"));
        fs::write(&damaged, content).unwrap();
        let refused = glompo(&["resume", damaged.to_str().unwrap(), "-q"], tmp.path());
        assert_eq!(refused.status.code(), Some(2), "{name}: {}", stderr(&refused));
        assert!(stderr(&refused).contains(expected), "{name}: {}", stderr(&refused));
        assert_eq!(stderr(&refused).lines().count(), 1, "{name}: {}", stderr(&refused));
        fs::remove_file(&damaged).unwrap();
        assert!(snapshot(&a) == before, "{name} changed the run directory");
    }
    // A's checkpoint in B's directory: B's logs are not the ones it was taken of.
    let b = tmp.path().join("b");
    let foreign = b.join("checkpoints").join("from_a.json");
    fs::copy(&good, &foreign).unwrap();
    let before_b = snapshot(&b);
    let refused = glompo(&["resume", foreign.to_str().unwrap(), "-q"], tmp.path());
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    // Whichever check catches it first (its length or its last line), the message names B's log.
    let log = b.join("evaluations.jsonl");
    assert!(stderr(&refused).contains(&log.display().to_string()), "{}", stderr(&refused));
    assert!(snapshot(&b) == before_b);
}

#[test]
fn a_chkpt_file_and_glompo_checkpoint_ask_a_live_run_for_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = slow_config("threads");
    config["checkpoint"] = Value::Null;
    let config = write_config(tmp.path(), &config);
    let out = tmp.path().join("out");
    let refused = glompo(&["checkpoint", "out"], tmp.path());
    assert_eq!(refused.status.code(), Some(2));
    let run = start(tmp.path(), &["run", &config, "--dir", "out", "-q"]);
    wait_for("evaluations", || out.join("evaluations.jsonl").exists());
    let asked = glompo(&["checkpoint", "out"], tmp.path());
    assert!(asked.status.success(), "{}", stderr(&asked));
    wait_for("the checkpoint", || checkpoints(&out).len() == 1);
    assert!(!out.join("CHKPT").exists());
    // `at_start` takes one once the first optimizers run.
    let at_start = tmp.path().join("at_start");
    let mut with = slow_config("threads");
    with["checkpoint"] = json!({"at_start": true});
    with["convergence"] = json!("max_evals(200)");
    let with = write_config(tmp.path(), &with);
    let done = glompo(&["run", &with, "--dir", "at_start", "-q"], tmp.path());
    assert!(done.status.success(), "{}", stderr(&done));
    let taken = checkpoints(&at_start);
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(glompo_core::manager::inspect(&taken[0]).unwrap().reason, "at_start");
    let info = glompo_core::manager::inspect(&checkpoints(&out)[0]).unwrap();
    assert_eq!((info.reason.as_str(), info.count), ("CHKPT file", 1));
    drop(run);
}

#[test]
fn a_run_in_a_batch_job_checkpoints_and_stops_a_margin_before_the_jobs_end() {
    let tmp = tempfile::tempdir().unwrap();
    for backend in ["threads", "processes"] {
        let mut config = slow_config(backend);
        config["checkpoint"] = json!({"before_job_end_s": 60});
        let file = write_config(tmp.path(), &config);
        let dir = format!("job-{backend}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // The job ends in 61 s: the run has about one second.
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_glompo"))
            .args(["run", &file, "--dir", &dir, "-q", "--no-reap"])
            .env("SLURM_JOB_END_TIME", (now + 61).to_string())
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(75), "{backend}: {}", stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(30), "{backend}: it did not stop at its deadline");
        let run_dir = tmp.path().join(&dir);
        let reason = summary(&run_dir)["end_reason"].as_str().unwrap().to_owned();
        assert_eq!(reason, "stopped at its deadline (SLURM_JOB_END_TIME − 60 s); resume it to go on");
        let taken = checkpoints(&run_dir);
        assert_eq!(taken.len(), 1, "{backend}: {taken:?}");
        let info = glompo_core::manager::inspect(&taken[0]).unwrap();
        assert_eq!(info.reason, "SLURM_JOB_END_TIME − 60 s");
        // The next job resumes it (without a deadline here) and it goes on from the checkpoint.
        let limit = format!("max_evals({})", info.evaluations + 40);
        let resumed = glompo(&["resume", &dir, "-q", "--convergence", &limit], tmp.path());
        assert!(resumed.status.success(), "{backend}: {}", stderr(&resumed));
        assert_eq!(lines(&run_dir.join("evaluations.jsonl")).len() as u64, info.evaluations + 40);
    }
    // A value that is not a time is refused before anything is written.
    let file = write_config(tmp.path(), &slow_config("threads"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glompo"))
        .args(["run", &file, "--dir", "bad", "-q", "--no-reap"])
        .env("SLURM_JOB_END_TIME", "tomorrow")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("SLURM_JOB_END_TIME=\"tomorrow\": expected the job's end"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("bad").exists());
}
