//! `cargo xtask bench budget`: how far `max_evals(N)` is overshot, and what killed optimizers still
//! report, on every backend × evaluator combination.
//!
//! Each case runs the glompo binary (built next to this example) on the cheap 10-D sphere with two
//! CMA-ES configurations of large populations (100 and 40 points, two workers each), hunters that
//! kill often, and `max_evals(N)`. It reports the evaluations logged beyond N (the target:
//! at most the evaluations running when the N-th was logged, at most `max_jobs`) and, over the killed
//! optimizers, the most evaluations one of them logged after the hunt that killed it (they were
//! started before the kill reached it; a killed optimizer starts none).
//!
//! `cargo xtask bench budget [N]` (default N = 20 000).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

#[path = "common/binary.rs"]
mod binary;
use binary::glompo_binary;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("a log of the run")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn main() {
    let budget: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let cases = [
        ("threads", "serial"),
        ("threads", "threads"),
        ("threads", "processes"),
        ("processes", "serial"),
        ("processes", "threads"),
        ("processes", "processes"),
    ];
    println!("max_evals({budget}), max_jobs 4, CMA-ES with populations of 100 and 40 on two workers each");
    println!(
        "{:<24} {:>8} {:>10} {:>8} {:>22}",
        "level 1 × level 2", "logged", "overshoot", "kills", "most after a kill"
    );
    for (backend, evaluator) in cases {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let optimizer = |popsize: u64| json!({"type": "cma-es", "popsize": popsize, "sigma0": 1.0, "workers": 2, "evaluator": evaluator});
        let config = json!({
            "objective": {"function": "sphere", "dim": 10},
            "optimizers": [optimizer(100), optimizer(40)],
            "max_jobs": 4,
            "backend": backend,
            "convergence": format!("max_evals({budget})"),
            "hunters": "min_evals(300) & best_unmoving(200, 0.5)",
            "hunt_frequency": 50,
            "seed": 7
        });
        let path = dir.path().join("config.json");
        std::fs::write(&path, config.to_string()).expect("the config is written");
        let status = Command::new(glompo_binary())
            .arg("run")
            .arg(&path)
            .args(["--dir", "out", "-q", "--no-reap"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("glompo runs");
        assert!(status.success(), "{backend} × {evaluator}: glompo failed with {status}");
        let out = dir.path().join("out");
        let evals = lines(&out.join("evaluations.jsonl"));
        let kills: Vec<Value> =
            lines(&out.join("optimizers.jsonl")).into_iter().filter(|e| e["reason"] == "killed").collect();
        let most_after = kills
            .iter()
            .map(|k| {
                let at = k["at_call_id"].as_u64().unwrap_or(0);
                evals
                    .iter()
                    .filter(|e| e["opt_id"] == k["opt_id"] && e["call_id"].as_u64() > Some(at))
                    .count()
            })
            .max()
            .unwrap_or(0);
        let logged = evals.len() as u64;
        println!(
            "{:<24} {logged:>8} {:>10} {:>8} {most_after:>22}",
            format!("{backend} × {evaluator}"),
            logged as i64 - budget as i64,
            kills.len()
        );
    }
}
