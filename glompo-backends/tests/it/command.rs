//! External worker processes: the protocol, failures of every kind, replacement and cleanup.
//!
//! Processes that a worker starts itself record their pids in `left/`, and a [`Leftovers`] guard kills
//! those still running when a test ends, even by a panic; the workers themselves end with their
//! objective, which a panic drops too.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use glompo_backends::{CommandObjective, CommandSpec};
use glompo_core::Objective;
use glompo_core::evaluator::Batch;

use crate::reaper::eventually;

/// A worker in Python that misbehaves on purpose, chosen by x[0], and records its pid in `pids/`.
/// With `MODE=trap` it writes `termed/PID` and exits on SIGTERM; with `MODE=ignore` it ignores SIGTERM.
/// In both modes it does not end when its input closes.
const WORKER: &str = r#"
import json, os, signal, subprocess, sys, time
here = os.path.dirname(sys.argv[1])
mode = os.environ.get("MODE")
def termed(*_):
    open(os.path.join(here, "termed", str(os.getpid())), "w").close()
    os._exit(0)
if mode == "trap":
    signal.signal(signal.SIGTERM, termed)
elif mode == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
def leftover(**streams):
    # A process of the worker's own, in its process group, that records its pid and sleeps.
    script = 'echo $$ > "$0/left/$$"; exec sleep 60'
    subprocess.Popen(["sh", "-c", script, here], **streams)
    time.sleep(0.2)
open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
for line in sys.stdin:
    x = json.loads(line)["x"]
    if x[0] == 1:
        print(json.dumps({"error": "bad point"}), flush=True)
    elif x[0] == 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    elif x[0] == 3:
        sys.exit(3)
    elif x[0] == 4:
        time.sleep(60)
    elif x[0] == 5:
        print("not json", flush=True)
    elif x[0] == 6:
        print(json.dumps({"fx": None}), flush=True)
    elif x[0] == 9:
        time.sleep(0.05)
        print(json.dumps({"fx": 9.0}), flush=True)
    elif x[0] == 8:
        print(json.dumps({"fx": 8.0}), flush=True)
        time.sleep(60)
    elif x[0] == 20:
        for i in range(12):
            sys.stderr.write(f"  line {i}\n")
        sys.stderr.write("FileNotFoundError: model.dat\n")
        sys.stderr.flush()
        sys.exit(1)
    elif x[0] == 21:
        # Exits without answering while a process it started still holds its output.
        leftover()
        os._exit(0)
    elif x[0] == 22:
        # Answers, then exits while a process it started holds its output.
        print(json.dumps({"fx": 22.0}), flush=True)
        leftover()
        os._exit(5)
    elif x[0] == 23:
        # Dies while a process it started holds its stderr.
        leftover(stdout=subprocess.DEVNULL)
        sys.stderr.write("dying\n")
        sys.stderr.flush()
        os._exit(1)
    elif x[0] == 24:
        sys.stderr.write(f"model: evaluating {x[1]}\n")
        sys.stderr.flush()
        print(json.dumps({"fx": x[1]}), flush=True)
    elif x[0] == 25:
        # What Python's json.dumps writes for the non-finite values: bare NaN, Infinity, -Infinity.
        values = [float("inf"), float("-inf"), float("nan"), 0.1 + 0.2, "-Infinity", "NaN"]
        extras = {"note": "NaN, Infinity and -Infinity", "all": values}
        print(json.dumps({"fx": values[int(x[1])], "extras": extras}), flush=True)
    elif x[0] == 26:
        time.sleep(60)
    else:
        print(json.dumps({"fx": sum(v * v for v in x), "extras": {"n": len(x)}}), flush=True)
while mode:
    time.sleep(1)
"#;

/// The spec of the misbehaving worker, written to `dir`.
fn spec(dir: &Path, timeout: Option<Duration>) -> CommandSpec {
    let script = dir.join("worker.py");
    std::fs::write(&script, WORKER).unwrap();
    for sub in ["pids", "left", "termed"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let pids = dir.join("pids");
    let argv =
        vec!["python3".into(), script.to_string_lossy().into_owned(), pids.to_string_lossy().into_owned()];
    CommandSpec { argv, timeout, ..CommandSpec::default() }
}

/// The spec of the worker in `mode` (`trap` or `ignore`, see [`WORKER`]).
fn spec_in(dir: &Path, timeout: Option<Duration>, mode: &str) -> CommandSpec {
    CommandSpec { env: vec![("MODE".into(), mode.into())], ..spec(dir, timeout) }
}

/// Kills, when dropped, every process the workers in `dir` started (`left/PID`) that still runs.
struct Leftovers(PathBuf);

impl Leftovers {
    fn pids(&self) -> Vec<i32> {
        std::fs::read_dir(self.0.join("left"))
            .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in self.pids() {
            let is_sleep =
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"));
            if is_sleep && alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// The pids of the workers that got SIGTERM and recorded it.
fn termed(dir: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir(dir.join("termed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    pids.sort_unstable();
    pids
}

fn objective(dir: &Path, timeout: Option<Duration>) -> CommandObjective {
    CommandObjective::new(spec(dir, timeout)).unwrap()
}

/// The pids of every worker started so far.
fn pids(dir: &Path) -> Vec<i32> {
    std::fs::read_dir(dir.join("pids"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect()
}

fn alive(pid: i32) -> bool {
    // A reaped process has no /proc entry; a zombie would still have one, with state Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn answers_errors_crashes_exits_hangs_and_garbage_are_values() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = objective(tmp.path(), Some(Duration::from_millis(500)));
    let out = f.evaluate_detailed(&[7.0, 1.0]).unwrap();
    assert_eq!(out.fx, 50.0);
    assert_eq!(out.extras, Some(serde_json::json!({"n": 2})));
    let err = |x: f64| f.evaluate(&[x, 0.0]).unwrap_err().message().to_owned();
    assert_eq!(err(1.0), "bad point");
    assert_eq!(pids(tmp.path()).len(), 1, "an answered error keeps the worker");
    assert!(err(2.0).ends_with("the worker was killed by SIGSEGV"), "{}", err(2.0));
    assert!(err(3.0).ends_with("the worker exited with code 3"), "{}", err(3.0));
    // A fresh worker's first request may also wait for it to start; a started one gets the timeout.
    assert_eq!(f.evaluate(&[0.0, 3.0]).unwrap(), 9.0);
    assert_eq!(err(4.0), "timed out after 0.5 s; the worker was killed");
    assert!(err(5.0).contains("which is not JSON"), "{}", err(5.0));
    assert!(f.evaluate(&[6.0, 0.0]).unwrap().is_nan());
    // Every failure cost a worker, and a fresh one took over each time.
    assert_eq!(f.evaluate(&[0.0, 2.0]).unwrap(), 4.0);
    let started = pids(tmp.path());
    assert_eq!(started.len(), 5, "{started:?}");
    // The broken workers are ended in the background; one is left, idle.
    assert!(eventually(|| started.iter().filter(|&&p| alive(p)).count() == 1));
    // Workers carry the run's marker and lead their own process groups.
    for &pid in started.iter().filter(|&&p| alive(p)) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(String::from_utf8_lossy(&environ).contains("GLOMPO_RUN="));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
        assert_eq!(fields[2], pid.to_string(), "process group");
    }
    drop(f);
    assert!(started.iter().all(|&p| !alive(p)), "workers outlived the objective");
}

#[test]
fn the_pool_grows_with_concurrent_evaluations() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = objective(tmp.path(), None);
    std::thread::scope(|s| {
        for k in 0..3 {
            let f = &f;
            s.spawn(move || {
                for i in 0..20 {
                    let x = [10.0 + k as f64, i as f64];
                    assert_eq!(f.evaluate(&x).unwrap(), x[0] * x[0] + x[1] * x[1]);
                }
            });
        }
    });
    let started = pids(tmp.path()).len();
    assert!((1..=3).contains(&started), "{started}");
    assert_eq!(f.idle_workers(), started);
}

#[test]
fn a_missing_program_is_an_error_at_construction() {
    let _processes = crate::processes();
    let spec = CommandSpec { argv: vec!["/nonexistent/simulation".into()], ..CommandSpec::default() };
    let err = CommandObjective::new(spec).unwrap_err().to_string();
    assert!(err.starts_with("/nonexistent/simulation: cannot start: "), "{err}");
    let empty = CommandSpec { argv: vec![], ..CommandSpec::default() };
    assert_eq!(CommandObjective::new(empty).unwrap_err().to_string(), "command: is empty");
}

#[test]
fn the_processes_evaluator_runs_a_batch_on_several_workers_and_settles_every_failure() {
    use glompo_backends::Processes;
    use glompo_core::evaluator::EvaluatorFactory;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let factory = Processes::new(spec(tmp.path(), Some(Duration::from_millis(500))));
    let mut evaluator = factory.build(3).unwrap();
    let seen = Mutex::new(Vec::new());
    let unused = glompo_core::objective::from_fn(|_: &[f64]| unreachable!("the workers evaluate"));
    // A first batch starts the three workers, so that the hang below gets the plain timeout.
    let warm: Vec<Vec<f64>> = (0..3).map(|i| vec![0.0, f64::from(i)]).collect();
    assert!(
        evaluator.evaluate(&unused, &warm, &Batch::default(), &AtomicBool::new(false), &|_, _| {}).is_some()
    );
    // A hang, an error, a segfault, an exit and garbage between good points.
    let batch: Vec<Vec<f64>> =
        [0.0, 4.0, 1.0, 2.0, 0.5, 3.0, 5.0, 6.0, 0.0].iter().map(|&a| vec![a, 2.0]).collect();
    let outcomes = evaluator
        .evaluate(&unused, &batch, &Batch::detailed(true), &AtomicBool::new(false), &|i, o| {
            seen.lock().unwrap().push((i, o.is_ok()))
        })
        .unwrap();
    let mut seen = seen.into_inner().unwrap();
    seen.sort_unstable();
    let expected_ok = [true, false, false, false, true, false, false, true, true];
    assert_eq!(seen, expected_ok.iter().copied().enumerate().collect::<Vec<_>>());
    assert_eq!(outcomes[0].as_ref().unwrap().fx, 4.0);
    assert_eq!(outcomes[0].as_ref().unwrap().extras, Some(serde_json::json!({"n": 2})));
    assert_eq!(outcomes[4].as_ref().unwrap().fx, 4.25);
    assert!(outcomes[7].as_ref().unwrap().fx.is_nan());
    let message = |i: usize| outcomes[i].as_ref().unwrap_err().message().to_owned();
    assert_eq!(message(1), "timed out after 0.5 s; the worker was killed");
    assert_eq!(message(2), "bad point");
    assert!(message(3).ends_with("the worker was killed by SIGSEGV"), "{}", message(3));
    assert!(message(5).ends_with("the worker exited with code 3"), "{}", message(5));
    assert!(message(6).contains("which is not JSON"), "{}", message(6));
    // Four workers were lost; the batch never had more than three requests in flight.
    let started = pids(tmp.path());
    assert!((5..=7).contains(&started.len()), "{started:?}");
    assert!(started.iter().filter(|&&p| alive(p)).count() <= 3);
    // A cancelled batch evaluates nothing more and reports no values.
    let cancelled =
        evaluator.evaluate(&unused, &batch, &Batch::default(), &AtomicBool::new(true), &|_, _| {});
    assert!(cancelled.is_none());
    drop(evaluator);
    drop(factory);
    assert!(started.iter().all(|&p| !alive(p)), "workers outlived the factory");
}

#[test]
fn a_long_request_to_a_worker_that_stopped_reading_times_out() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = objective(tmp.path(), Some(Duration::from_millis(500)));
    // The worker answers, then stops reading its input.
    assert_eq!(f.evaluate(&[8.0]).unwrap(), 8.0);
    // A request far longer than a pipe holds cannot be written to it; the timeout still applies.
    let mut long = vec![0.123_456_789_012_345_6; 20_000];
    long[0] = 0.5;
    let err = f.evaluate(&long).unwrap_err();
    assert_eq!(err.message(), "timed out after 0.5 s; the worker was killed");
}

#[test]
fn an_answer_that_came_in_time_is_not_a_timeout_when_it_is_read_late() {
    use glompo_backends::Processes;
    use glompo_core::evaluator::EvaluatorFactory;
    use std::sync::atomic::AtomicBool;

    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let factory = Processes::new(spec(tmp.path(), Some(Duration::from_millis(300))));
    let mut evaluator = factory.build(2).unwrap();
    let unused = glompo_core::objective::from_fn(|_: &[f64]| unreachable!("the workers evaluate"));
    let batch = vec![vec![0.0, 1.0], vec![0.0, 2.0]];
    let go = AtomicBool::new(false);
    // Warm both workers up, so that the plain timeout applies.
    assert!(evaluator.evaluate(&unused, &batch, &Batch::default(), &go, &|_, _| {}).is_some());
    // The second answers 50 ms after the first, well within its timeout, but handling the first
    // answer takes longer than the timeout (a manager that fell behind), so the second is read after
    // its deadline.
    let slow =
        |_: usize, _: &glompo_core::evaluator::EvalOutcome| std::thread::sleep(Duration::from_millis(600));
    let batch = vec![vec![0.0, 1.0], vec![9.0, 0.0]];
    let outcomes = evaluator.evaluate(&unused, &batch, &Batch::default(), &go, &slow).unwrap();
    let values: Vec<f64> = outcomes.into_iter().map(|o| o.unwrap().fx).collect();
    assert_eq!(values, [1.0, 9.0]);
    assert_eq!(pids(tmp.path()).len(), 2, "a worker was replaced");
}

#[test]
fn a_crashed_workers_error_ends_with_the_last_lines_of_its_stderr() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let _leftovers = Leftovers(tmp.path().to_path_buf());
    let f = objective(tmp.path(), None);
    let err = f.evaluate(&[20.0]).unwrap_err();
    let lines: Vec<String> = (3..12).map(|i| format!("  line {i}")).collect();
    let tail = format!("…{}\nFileNotFoundError: model.dat", lines.join("\n"));
    let expected = format!("the worker exited with code 1; its stderr ended with: {tail:?}");
    assert!(err.message().ends_with(&expected), "{err}");
    // A process the worker started may hold its stderr open: the error does not wait for it.
    let start = Instant::now();
    let err = f.evaluate(&[23.0]).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5), "waited {:?} for the stderr", start.elapsed());
    assert!(
        err.message().contains("the worker exited with code 1; its stderr ended with: \"dying\""),
        "{err}"
    );
    // ...and it goes with the worker's process group.
    let left = Leftovers(tmp.path().to_path_buf()).pids();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(eventually(|| !alive(left[0])), "the worker's leftover outlived it");
    // A worker that wrote nothing on its stderr gets no tail.
    assert!(f.evaluate(&[3.0]).unwrap_err().message().ends_with("the worker exited with code 3"));
}

/// The helper of the next test: evaluates three points on workers that print on their stderr.
#[test]
#[ignore = "a helper process of a_workers_stderr_is_passed_through_as_it_comes"]
fn helper_stderr() {
    let Ok(dir) = std::env::var("GLOMPO_COMMAND_HELPER") else { return };
    let f = objective(Path::new(&dir), None);
    for i in 0..3 {
        assert_eq!(f.evaluate(&[24.0, f64::from(i)]).unwrap(), f64::from(i));
    }
    // The reader thread gets a moment to pass the last line on.
    std::thread::sleep(Duration::from_secs(1));
    eprintln!("HELPER evaluated");
    drop(f);
    eprintln!("HELPER dropped");
}

#[test]
fn a_workers_stderr_is_passed_through_as_it_comes() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut helper = Command::new(exe)
        .args(["command::helper_stderr", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("GLOMPO_COMMAND_HELPER", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(helper.stderr.take().unwrap());
    // Each line reaches the helper's own stderr as it comes, not when the worker ends.
    let lines: Vec<String> = stderr.lines().map_while(Result::ok).filter(|l| l.contains("evaluat")).collect();
    assert!(helper.wait().unwrap().success());
    // The worker's lines start with what it served: outside a run, the worker itself.
    let unlabelled: Vec<&str> = lines
        .iter()
        .map(|l| l.strip_prefix("[worker ").map_or(l.as_str(), |l| &l[l.find("] ").unwrap() + 2..]))
        .collect();
    let expected =
        ["model: evaluating 0.0", "model: evaluating 1.0", "model: evaluating 2.0", "HELPER evaluated"];
    assert_eq!(unlabelled, expected);
    assert!(lines[..3].iter().all(|l| l.starts_with("[worker ")), "{lines:?}");
}

/// Evaluates `x` on `f` in a thread, and gives up after `patience`, so that a hang fails the test.
fn evaluate_within(
    f: &std::sync::Arc<CommandObjective>,
    x: Vec<f64>,
    patience: Duration,
) -> Result<f64, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let f = std::sync::Arc::clone(f);
    std::thread::spawn(move || {
        let _ = tx.send(f.evaluate(&x).map_err(|e| e.message().to_owned()));
    });
    rx.recv_timeout(patience).unwrap_or_else(|_| panic!("the evaluation did not end within {patience:?}"))
}

#[test]
fn a_worker_that_exits_while_its_child_holds_its_output_is_seen_as_ended() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let leftovers = Leftovers(tmp.path().to_path_buf());
    let f = std::sync::Arc::new(objective(tmp.path(), None));
    let err = evaluate_within(&f, vec![21.0], Duration::from_secs(20)).unwrap_err();
    assert_eq!(err, "the worker ended without a complete answer: the worker exited with code 0");
    // Its process group goes with it, the process that held the pipe included.
    let left = leftovers.pids();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(eventually(|| !alive(left[0])), "the worker's leftover outlived it");

    // An answer that came before the exit counts.
    assert_eq!(evaluate_within(&f, vec![22.0], Duration::from_secs(20)), Ok(22.0));
    let answered = *pids(tmp.path()).iter().max().unwrap();
    assert!(eventually(|| !alive(answered)), "the worker did not exit");
    // The dead worker is not taken for an idle one; it is ended, its group too, when it is found.
    assert_eq!(evaluate_within(&f, vec![0.0, 2.0], Duration::from_secs(20)), Ok(4.0));
    assert!(eventually(|| leftovers.pids().iter().all(|&p| !alive(p))));
}

#[test]
fn dropping_the_objective_gives_every_worker_a_sigterm_at_once() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = CommandObjective::new(spec_in(tmp.path(), None, "trap")).unwrap();
    // Three workers, each busy at the same time once.
    std::thread::scope(|s| {
        for i in 0..3 {
            let f = &f;
            s.spawn(move || assert_eq!(f.evaluate(&[24.0, f64::from(i)]).unwrap(), f64::from(i)));
        }
    });
    let started = pids(tmp.path());
    assert!((1..=3).contains(&started.len()), "{started:?}");
    // They do not end when their input closes, but on SIGTERM they clean up (here: write a file).
    drop(f);
    let mut started = started;
    started.sort_unstable();
    assert_eq!(termed(tmp.path()), started);
    assert!(started.iter().all(|&p| !alive(p)), "workers outlived the objective");
}

#[test]
fn workers_that_ignore_sigterm_are_killed_after_the_grace_all_at_once() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = CommandObjective::new(spec_in(tmp.path(), None, "ignore")).unwrap();
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..3 {
            let (f, barrier) = (&f, &barrier);
            // A slow first answer, so that the three evaluations overlap and need three workers.
            s.spawn(move || {
                barrier.wait();
                assert_eq!(f.evaluate(&[9.0]).unwrap(), 9.0);
            });
        }
    });
    let started = pids(tmp.path());
    let start = Instant::now();
    drop(f);
    let took = start.elapsed();
    assert!(started.iter().all(|&p| !alive(p)), "workers outlived the objective");
    assert!(termed(tmp.path()).is_empty());
    // Each was given the grace (0.5 s for its input, 2 s after SIGTERM), all at the same time.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let limit =
        Duration::from_secs(2) + Duration::from_millis(2500) * u32::try_from(started.len() - 1).unwrap();
    assert!(started.len() == 1 || took < limit, "{} workers took {took:?}", started.len());
}

#[test]
fn a_timed_out_worker_gets_a_sigterm_without_holding_up_the_evaluation() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = CommandObjective::new(spec_in(tmp.path(), Some(Duration::from_millis(300)), "trap")).unwrap();
    // Warm up, so that the plain timeout applies.
    assert_eq!(f.evaluate(&[0.0, 1.0]).unwrap(), 1.0);
    let start = Instant::now();
    let err = f.evaluate(&[26.0]).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.message(), "timed out after 0.3 s; the worker was killed");
    // The evaluation does not wait for the worker's grace period (0.5 s, then up to 2 s more).
    assert!(took < Duration::from_millis(1300), "{took:?}");
    let worker = pids(tmp.path())[0];
    assert!(eventually(|| termed(tmp.path()) == [worker]), "{:?}", termed(tmp.path()));
    assert!(eventually(|| !alive(worker)));
}

#[test]
fn a_command_that_ends_at_once_is_reported_before_the_run() {
    let _processes = crate::processes();
    let check = |argv: &[&str]| {
        let spec =
            CommandSpec { argv: argv.iter().map(|a| (*a).to_owned()).collect(), ..CommandSpec::default() };
        let f = CommandObjective::new(spec).unwrap();
        f.check_started(Duration::from_millis(500)).map_err(|e| e.to_string())
    };
    assert_eq!(check(&["false"]), Err("false: ended at once: it exited with code 1".to_owned()));
    assert_eq!(
        check(&["sh", "-c", "echo 'cannot read model.dat' >&2; exit 3"]),
        Err("sh: ended at once: it exited with code 3; its stderr ended with: \"cannot read model.dat\""
            .to_owned())
    );
    assert_eq!(
        check(&["sh", "-c", "kill -9 $$"]),
        Err("sh: ended at once: it was killed by SIGKILL".to_owned())
    );
    let typo = check(&["python3", "/nonexistent/modle.py"]).unwrap_err();
    assert!(
        typo.starts_with("python3: ended at once: it exited with code 2; its stderr ended with: "),
        "{typo}"
    );
    assert!(typo.contains("modle.py"), "{typo}");

    // A program that serves passes, and the checked worker serves the first evaluation.
    let tmp = tempfile::tempdir().unwrap();
    let f = objective(tmp.path(), None);
    assert!(f.check_started(Duration::from_millis(500)).is_ok());
    assert_eq!(f.evaluate(&[0.0, 3.0]).unwrap(), 9.0);
    assert_eq!(pids(tmp.path()).len(), 1);
}

#[test]
fn non_finite_values_of_python_and_exact_finite_ones_are_read() {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let f = objective(tmp.path(), None);
    let fx = |i: f64| f.evaluate_detailed(&[25.0, i]).unwrap();
    assert_eq!(fx(0.0).fx, f64::INFINITY);
    assert_eq!(fx(1.0).fx, f64::NEG_INFINITY);
    assert!(fx(2.0).fx.is_nan());
    assert_eq!(fx(3.0).fx.to_bits(), (0.1_f64 + 0.2).to_bits());
    assert_eq!(fx(4.0).fx, f64::NEG_INFINITY);
    let out = fx(5.0);
    assert!(out.fx.is_nan());
    // Strings that hold those words are left as they are; bare tokens become names.
    let extras = serde_json::json!({
        "note": "NaN, Infinity and -Infinity",
        "all": ["inf", "-inf", "nan", 0.1 + 0.2, "-Infinity", "NaN"],
    });
    assert_eq!(out.extras, Some(extras));
    // Every answer was read: one worker served them all.
    assert_eq!(pids(tmp.path()).len(), 1);
}
