//! The `mpi` backend and evaluator under a real `mpirun` (OpenMPI; the `mpi` feature): optimizers
//! on the ranks, or an optimizer's points evaluated there,
//! ranks reused after hunts and convergence, the same log as threads in deterministic mode (and
//! after a resume under mpirun), bad jobs refused, and a rank that stops answering taken down with a
//! checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::checkpoint::summary;
use crate::run::{glompo, lines, stderr, write_config};

/// `mpirun --oversubscribe -np N glompo ARGS` in `cwd` (as root where the tests run as root).
fn mpirun(np: usize, args: &[&str], cwd: &Path) -> Output {
    // mpirun ends its job on SIGTERM: a run that hangs cannot outlive the test.
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=5", "120", "mpirun", "--oversubscribe", "-np", &np.to_string()])
        .arg(env!("CARGO_BIN_EXE_glompo"))
        .args(args)
        .args(["--no-reap", "-q"])
        .current_dir(cwd)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        // Shared memory only: no network interface is probed.
        .env("OMPI_MCA_btl", "self,vader")
        .env("OMPI_MCA_pml", "ob1");
    cmd.output().expect("the MPI tests need mpirun (OpenMPI's openmpi-bin)")
}

/// A persistent objective that answers the sphere and, as its extras, the pid of the process that
/// started it: the runner's, so the rank's.
fn host_reporting_objective(dir: &Path) -> Value {
    let script = dir.join("host.py");
    fs::write(
        &script,
        "import json, os, sys\n\
         for line in sys.stdin:\n\
         \x20   x = json.loads(line)['x']\n\
         \x20   print(json.dumps({'fx': sum(v * v for v in x), 'extras': {'host': os.getppid()}}), flush=True)\n",
    )
    .unwrap();
    json!({"command": ["python3", script.to_str().unwrap()], "dim": 2})
}

#[test]
fn optimizers_run_on_the_other_ranks_which_take_the_next_one_when_theirs_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": host_reporting_objective(tmp.path()),
        "bounds": [[-2, 2], [-2, 2]],
        "optimizers": [{"type": "nelder-mead", "xatol": 0.01, "fatol": 0.01}, {"type": "random-search"}],
        // Random searches are killed after 40 evaluations, Nelder-Mead converges: both free their rank.
        "hunters": "type_hunter(random-search) & min_evals(40)",
        "hunt_frequency": 10,
        "backend": "mpi",
        "detailed_log": true,
        "convergence": "max_evals(600)",
        "seed": 4
    });
    let config = write_config(tmp.path(), &config);
    let out = mpirun(3, &["run", &config, "--dir", "out"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("out");
    let s = summary(&dir);
    assert_eq!(s["counters"]["evaluations"], 600, "{s}");
    // Three ranks: the manager and two hosts, so two optimizers at once by default.
    assert_eq!(s["config"]["max_jobs"], 2, "{s}");
    let started = s["counters"]["optimizers_started"].as_u64().unwrap();
    assert!(started >= 4, "the two ranks took more optimizers than they are: {s}");
    assert!(s["counters"]["optimizers_killed"].as_u64() >= Some(1), "{s}");
    // Every evaluation is logged once, in order, and each optimizer ran on one rank, never the
    // manager's: two hosts in all.
    let evaluations = lines(&dir.join("evaluations.jsonl"));
    let ids: Vec<u64> = evaluations.iter().map(|e| e["call_id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=600).collect::<Vec<_>>());
    let manager: u64 = fs::read_to_string(dir.join(".glompo.lock")).unwrap().trim().parse().unwrap();
    let mut hosts: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for e in evaluations.iter().filter(|e| e["opt_id"] != 0) {
        hosts.entry(e["opt_id"].as_u64().unwrap()).or_default().insert(e["extras"]["host"].as_u64().unwrap());
    }
    assert_eq!(hosts.len() as u64, started, "{hosts:?}");
    let all: BTreeSet<u64> = hosts.values().flatten().copied().collect();
    assert!(hosts.values().all(|h| h.len() == 1), "{hosts:?}");
    assert_eq!(all.len(), 2, "{hosts:?}");
    assert!(!all.contains(&manager), "an optimizer ran in the manager's process {manager}: {hosts:?}");
}

#[test]
fn the_points_of_an_mpi_evaluator_are_evaluated_on_the_ranks_as_threads_would() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = json!({
        "objective": host_reporting_objective(tmp.path()),
        "bounds": [[-2, 2], [-2, 2]],
        // Level 2: the optimizer on rank 0, its batches of 6 points on two workers.
        "optimizers": [{"type": "cma-es", "popsize": 6, "workers": 2, "evaluator": "threads"}],
        "max_jobs": 2,
        "schedule": "deterministic",
        "detailed_log": true,
        "convergence": "max_evals(300)",
        "seed": 9
    });
    let threads = write_config(tmp.path(), &config);
    let out = glompo(&["run", &threads, "--dir", "threads", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    config["optimizers"][0]["evaluator"] = json!("mpi");
    fs::create_dir(tmp.path().join("m")).unwrap();
    let mpi = write_config(&tmp.path().join("m"), &config);
    let out = mpirun(3, &["run", &mpi, "--dir", "../mpi"], &tmp.path().join("m"));
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("mpi");
    let manager: u64 = fs::read_to_string(dir.join(".glompo.lock")).unwrap().trim().parse().unwrap();
    let evaluations = lines(&dir.join("evaluations.jsonl"));
    assert_eq!(evaluations.len(), 300);
    // Every point of the optimizer was evaluated by a worker of one of the two other ranks, both used.
    let hosts: BTreeSet<u64> = evaluations
        .iter()
        .filter(|e| e["opt_id"] != 0)
        .map(|e| e["extras"]["host"].as_u64().unwrap())
        .collect();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    assert!(!hosts.contains(&manager), "a point was evaluated in the manager's process: {hosts:?}");
    // The same values, in the same order, as the threads evaluator gives (the hosts aside).
    let values = |dir: &str| {
        let mut evaluations = lines(&tmp.path().join(dir).join("evaluations.jsonl"));
        for e in &mut evaluations {
            let fields = e.as_object_mut().unwrap();
            fields.remove("t");
            fields.remove("extras");
        }
        evaluations
    };
    assert!(
        values("threads") == values("mpi"),
        "the mpi evaluator's log differs from the threads evaluator's"
    );
}

#[test]
fn a_deterministic_mpi_run_logs_what_the_same_run_on_threads_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = json!({
        "objective": {"function": "rastrigin", "dim": 4},
        "optimizers": [{"type": "cma-es"}, {"type": "nelder-mead"}],
        "hunters": "min_evals(300) & best_unmoving(200, 0.01)",
        "schedule": "deterministic",
        "max_jobs": 2,
        "convergence": "max_evals(3000)",
        "checkpoint": {"every_evals": 1000},
        "seed": 7
    });
    let threads = write_config(tmp.path(), &config);
    let out = glompo(&["run", &threads, "--dir", "threads", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    config["backend"] = json!("mpi");
    fs::create_dir(tmp.path().join("m")).unwrap();
    let mpi = write_config(&tmp.path().join("m"), &config);
    let out = mpirun(3, &["run", &mpi, "--dir", "../mpi"], &tmp.path().join("m"));
    assert!(out.status.success(), "{}", stderr(&out));
    let without_time = |dir: &str| {
        let mut evaluations = lines(&tmp.path().join(dir).join("evaluations.jsonl"));
        for e in &mut evaluations {
            e.as_object_mut().unwrap().remove("t");
        }
        evaluations
    };
    // Resumed under mpirun from its first checkpoint, it is the same run again.
    let checkpoint = tmp.path().join("mpi/checkpoints/checkpoint_0001.json");
    let out =
        mpirun(3, &["resume", checkpoint.to_str().unwrap(), "--dir", "../resumed"], &tmp.path().join("m"));
    assert!(out.status.success(), "{}", stderr(&out));
    let (on_threads, on_ranks) = (without_time("threads"), without_time("mpi"));
    assert_eq!(on_threads.len(), 3000);
    assert!(on_threads == on_ranks, "the MPI run's log differs from the threads run's");
    assert!(without_time("resumed") == on_ranks, "the resumed MPI run's log differs from the run's");
    // How each optimizer ended; those stopped at the end of the run are logged as they answer.
    let ends = |dir: &str| {
        lines(&tmp.path().join(dir).join("optimizers.jsonl"))
            .into_iter()
            .filter(|e| e["event"] == "end")
            .map(|mut e| {
                let fields = e.as_object_mut().unwrap();
                fields.remove("t");
                fields.remove("t_stop");
                (e["opt_id"].as_u64().unwrap(), e)
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(ends("threads"), ends("mpi"));
}

#[test]
fn a_job_that_cannot_hold_the_run_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = json!({
        "objective": {"function": "sphere", "dim": 2},
        "optimizers": [{"type": "nelder-mead"}],
        "backend": "mpi",
        "max_jobs": 3,
        "convergence": "max_evals(100)"
    });
    let path = write_config(tmp.path(), &config);
    // Two ranks: one host for three optimizers at once.
    let out = mpirun(2, &["run", &path, "--dir", "out"], tmp.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("max_jobs: 3 worker slots run up to 3 optimizers at once"), "{err}");
    assert!(err.contains("mpirun -np 4"), "{err}");
    assert!(!tmp.path().join("out").exists());
    // Without mpirun the job is one rank: nowhere to run an optimizer.
    config["max_jobs"] = json!(1);
    let path = write_config(tmp.path(), &config);
    let out = glompo(&["run", &path, "--dir", "out", "-q"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the job has 0 besides rank 0"), "{}", stderr(&out));
    assert!(!tmp.path().join("out").exists());
    // Level 2 on the ranks: a point at once per slot, each on a rank.
    config["max_jobs"] = json!(2);
    config["backend"] = json!("threads");
    config["optimizers"][0]["evaluator"] = json!("mpi");
    let path = write_config(tmp.path(), &config);
    let out = mpirun(2, &["run", &path, "--dir", "out"], tmp.path());
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("max_jobs: 2 worker slots evaluate up to 2 points at once"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("out").exists());
    // The optimizers of an mpi evaluator must run on rank 0.
    config["backend"] = json!("processes");
    let path = write_config(tmp.path(), &config);
    let out = glompo(&["validate", &path], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("optimizers[0].evaluator: `mpi` evaluates on the ranks"),
        "{}",
        stderr(&out)
    );
    config["optimizers"][0]["evaluator"] = json!("serial");
    // A run that is not an MPI run, started by mpirun: the other ranks refuse to run it too.
    config["backend"] = json!("threads");
    let path = write_config(tmp.path(), &config);
    let out = mpirun(2, &["run", &path, "--dir", "out"], tmp.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("this is rank 1 of an MPI job"), "{}", stderr(&out));
}

#[test]
fn a_rank_that_stops_answering_ends_the_run_with_a_checkpoint_and_aborts_the_job() {
    // An optimizer on the rank, and one evaluating its points there.
    for (backend, evaluator) in [("mpi", "serial"), ("threads", "mpi")] {
        a_rank_stops_answering(backend, evaluator);
    }
}

fn a_rank_stops_answering(backend: &str, evaluator: &str) {
    let tmp = tempfile::tempdir().unwrap();
    // The evaluation of a point whose first coordinate is above 1.5 never returns (and ignores
    // SIGTERM), as an objective stuck in a blocking call would.
    let script = tmp.path().join("stuck.py");
    fs::write(
        &script,
        "import json, signal, sys, time\n\
         signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
         for line in sys.stdin:\n\
         \x20   x = json.loads(line)['x']\n\
         \x20   while x[0] > 1.5:\n\
         \x20       time.sleep(1)\n\
         \x20   print(json.dumps({'fx': sum(v * v for v in x)}), flush=True)\n",
    )
    .unwrap();
    let config = json!({
        "objective": {"command": ["python3", script.to_str().unwrap()], "dim": 2},
        "bounds": [[-2, 2], [-2, 2]],
        "optimizers": [{"type": "random-search", "evaluator": evaluator}],
        "backend": backend,
        "force_terminations_after_s": 1,
        "convergence": "max_evals(100000)",
        "seed": 2
    });
    let path = write_config(tmp.path(), &config);
    let out = mpirun(3, &["run", &path, "--dir", "out"], tmp.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("aborting the MPI job"), "{backend} × {evaluator}: {err}");
    let dir = tmp.path().join("out");
    let s = summary(&dir);
    let end = s["end_reason"].as_str().unwrap_or_default();
    assert!(end.contains("stopped answering"), "{s}");
    assert!(end.contains("resume the run from its checkpoint"), "{s}");
    let checkpoints: Vec<_> = fs::read_dir(dir.join("checkpoints")).unwrap().collect();
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
    let abandoned =
        lines(&dir.join("optimizers.jsonl")).into_iter().filter(|e| e["reason"] == "abandoned").count();
    assert!(abandoned >= 1, "{s}");
}
