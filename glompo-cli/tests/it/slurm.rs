//! Workers as Slurm job steps (`"launcher": ["srun", …]`) on a real one-node Slurm: a run inside an
//! allocation evaluates in steps and leaves none, also after a `kill -9` of glompo. They need a
//! running controller (`bash .ci/slurm` starts one; `cargo xtask test` runs them when `sinfo`
//! answers), so they are ignored otherwise.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::run::{lines, stderr, write_config};

/// `salloc -n2 bash SCRIPT` in `cwd` with the glompo binary as `$GLOMPO`, at most two minutes.
fn in_allocation(script: &str, cwd: &Path) -> Output {
    let path = cwd.join("job.sh");
    fs::write(&path, script).unwrap();
    Command::new("timeout")
        .args(["--kill-after=5", "120", "salloc", "--quiet", "-n2", "-J", "glompo-test", "bash"])
        .arg(&path)
        .env("GLOMPO", env!("CARGO_BIN_EXE_glompo"))
        .current_dir(cwd)
        .output()
        .expect("the Slurm tests need salloc (Debian's slurm-client)")
}

/// A persistent objective that reports the job step it runs in.
fn config(dir: &Path, evals: u64) -> Value {
    let script = dir.join("step.py");
    fs::write(
        &script,
        "import json, os, sys, time\n\
         for line in sys.stdin:\n\
         \x20   x = json.loads(line)['x']\n\
         \x20   time.sleep(0.005)\n\
         \x20   step = os.environ.get('SLURM_STEP_ID')\n\
         \x20   print(json.dumps({'fx': sum(v * v for v in x), 'extras': {'step': step}}), flush=True)\n",
    )
    .unwrap();
    json!({
        "objective": {
            "command": ["python3", script.to_str().unwrap()],
            "launcher": ["srun", "--quiet", "-N1", "-n1", "--exact"],
            "dim": 2
        },
        "bounds": [[-2, 2], [-2, 2]],
        "optimizers": [{"type": "random-search", "iters": 1000000}],
        "max_jobs": 2,
        "detailed_log": true,
        "convergence": format!("max_evals({evals})"),
        "seed": 3
    })
}

/// The number after `label=` in the job's output.
fn count(out: &str, label: &str) -> usize {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}=")))
        .unwrap_or_else(|| panic!("no {label} in {out}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs a running Slurm: bash .ci/slurm, then cargo xtask test"]
fn slurm_a_run_in_an_allocation_evaluates_in_job_steps_and_leaves_none() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), &config(tmp.path(), 200));
    let out = in_allocation(
        &format!(
            "\"$GLOMPO\" run {path} --dir out -q --no-reap || exit 3\n\
             echo steps_after=$(squeue -h -s -j \"$SLURM_JOB_ID\" | wc -l)\n"
        ),
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(count(&text, "steps_after"), 0, "job steps outlived the run: {text}");
    // Every evaluation ran in a job step; the two workers were two steps.
    let evaluations = lines(&tmp.path().join("out/evaluations.jsonl"));
    assert_eq!(evaluations.len(), 200);
    let steps: BTreeSet<String> = evaluations
        .iter()
        .map(|e| e["extras"]["step"].as_str().unwrap_or_else(|| panic!("not in a step: {e}")).to_owned())
        .collect();
    assert!(steps.len() >= 2, "{steps:?}");
}

#[test]
#[ignore = "needs a running Slurm: bash .ci/slurm, then cargo xtask test"]
fn slurm_the_job_steps_of_a_killed_glompo_are_released() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), &config(tmp.path(), 100_000_000));
    let out = in_allocation(
        &format!(
            "\"$GLOMPO\" run {path} --dir out -q --no-reap &\n\
             glompo=$!\n\
             for _ in $(seq 1 100); do\n\
             \x20   [ \"$(wc -l < out/evaluations.jsonl 2>/dev/null || echo 0)\" -ge 20 ] && break\n\
             \x20   sleep 0.1\n\
             done\n\
             echo steps_during=$(squeue -h -s -j \"$SLURM_JOB_ID\" | wc -l)\n\
             kill -9 \"$glompo\"\n\
             start=$(date +%s%N)\n\
             for _ in $(seq 1 100); do\n\
             \x20   [ \"$(squeue -h -s -j \"$SLURM_JOB_ID\" | wc -l)\" -eq 0 ] && break\n\
             \x20   sleep 0.05\n\
             done\n\
             echo steps_after=$(squeue -h -s -j \"$SLURM_JOB_ID\" | wc -l)\n\
             echo released_ms=$(( ($(date +%s%N) - start) / 1000000 ))\n\
             echo workers_left=$(pgrep -f {script} | wc -l)\n",
            script = tmp.path().join("step.py").display()
        ),
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(count(&text, "steps_during"), 2, "{text}");
    assert_eq!(count(&text, "steps_after"), 0, "job steps outlived a killed glompo: {text}");
    assert_eq!(count(&text, "workers_left"), 0, "{text}");
    // How long the release took (SIGTERM to srun: a fraction of a second; after SIGKILL, seconds).
    eprintln!("released in {} ms", count(&text, "released_ms"));
}
