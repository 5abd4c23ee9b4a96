//! External worker processes: the protocol, failures of every kind, replacement and cleanup.

use std::path::Path;
use std::time::Duration;

use glompo_backends::{CommandObjective, CommandSpec};
use glompo_core::Objective;

/// A worker in Python that misbehaves on purpose, chosen by x[0], and records its pid in `pids/`.
const WORKER: &str = r#"
import json, os, signal, sys, time
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
    else:
        print(json.dumps({"fx": sum(v * v for v in x), "extras": {"n": len(x)}}), flush=True)
"#;

/// The spec of the misbehaving worker, written to `dir`.
fn spec(dir: &Path, timeout: Option<Duration>) -> CommandSpec {
    let script = dir.join("worker.py");
    std::fs::write(&script, WORKER).unwrap();
    let pids = dir.join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let argv =
        vec!["python3".into(), script.to_string_lossy().into_owned(), pids.to_string_lossy().into_owned()];
    CommandSpec { argv, timeout, env: vec![], cwd: None }
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
    // Workers carry the run's marker and lead their own process groups.
    for &pid in started.iter().filter(|&&p| alive(p)) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(String::from_utf8_lossy(&environ).contains("GLOMPO_RUN="));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
        assert_eq!(fields[2], pid.to_string(), "process group");
    }
    assert_eq!(started.iter().filter(|&&p| alive(p)).count(), 1);
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
    let spec =
        CommandSpec { argv: vec!["/nonexistent/simulation".into()], timeout: None, env: vec![], cwd: None };
    let err = CommandObjective::new(spec).unwrap_err().to_string();
    assert!(err.starts_with("/nonexistent/simulation: cannot start: "), "{err}");
    let empty = CommandSpec { argv: vec![], timeout: None, env: vec![], cwd: None };
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
    assert!(evaluator.evaluate(&unused, &warm, false, &AtomicBool::new(false), &|_, _| {}).is_some());
    // A hang, an error, a segfault, an exit and garbage between good points.
    let batch: Vec<Vec<f64>> =
        [0.0, 4.0, 1.0, 2.0, 0.5, 3.0, 5.0, 6.0, 0.0].iter().map(|&a| vec![a, 2.0]).collect();
    let outcomes = evaluator
        .evaluate(&unused, &batch, true, &AtomicBool::new(false), &|i, o| {
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
    let cancelled = evaluator.evaluate(&unused, &batch, false, &AtomicBool::new(true), &|_, _| {});
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
    assert!(evaluator.evaluate(&unused, &batch, false, &go, &|_, _| {}).is_some());
    // The second answers 50 ms after the first, well within its timeout, but handling the first
    // answer takes longer than the timeout (a manager that fell behind), so the second is read after
    // its deadline.
    let slow =
        |_: usize, _: &glompo_core::evaluator::EvalOutcome| std::thread::sleep(Duration::from_millis(600));
    let batch = vec![vec![0.0, 1.0], vec![9.0, 0.0]];
    let outcomes = evaluator.evaluate(&unused, &batch, false, &go, &slow).unwrap();
    let values: Vec<f64> = outcomes.into_iter().map(|o| o.unwrap().fx).collect();
    assert_eq!(values, [1.0, 9.0]);
    assert_eq!(pids(tmp.path()).len(), 2, "a worker was replaced");
}
