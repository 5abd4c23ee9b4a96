//! A synthetic long run directory, as a run writes it, for the benchmarks of what reads one
//! (`plot`, `dashboard`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use glompo_core::rng::SeededRng;
use serde_json::json;

/// Evaluations per optimizer, by default.
pub(crate) const PER_OPTIMIZER: u64 = 50_000;
/// Optimizers running at once.
pub(crate) const AT_ONCE: u64 = 4;

/// Writes the synthetic run into `dir`: `evals` evaluations of `dim`-D points from optimizers of
/// `per_optimizer` evaluations each, [`AT_ONCE`] interleaved at a time; half killed, half converged.
pub(crate) fn write_run(dir: &Path, evals: u64, dim: usize, per_optimizer: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join("evaluations.jsonl"))?);
    let mut rng = SeededRng::new(7);
    let groups = evals.div_ceil(per_optimizer * AT_ONCE);
    let mut line = String::with_capacity(64 + 24 * dim);
    for c in 1..=evals {
        let group = (c - 1) / (per_optimizer * AT_ONCE);
        let opt = group * AT_ONCE + c % AT_ONCE + 1;
        // Each optimizer descends from about 100 towards its own floor, with noise.
        let progress = ((c - 1) % (per_optimizer * AT_ONCE)) as f64 / (per_optimizer * AT_ONCE) as f64;
        let floor = 1e-3 * (1.0 + (opt % 7) as f64);
        line.clear();
        line += &format!("{{\"call_id\":{c},\"opt_id\":{opt},\"x\":[");
        for i in 0..dim {
            if i > 0 {
                line.push(',');
            }
            line += &format!("{:?}", rng.uniform() * 10.0 - 5.0);
        }
        if rng.uniform() < 1e-3 {
            line += &format!("],\"fx\":null,\"t\":{:?},\"error\":\"boom\"}}\n", c as f64 * 1e-4);
        } else {
            let fx = floor + 100.0 * (-12.0 * progress).exp() * (0.5 + rng.uniform());
            line += &format!("],\"fx\":{fx:?},\"t\":{:?}}}\n", c as f64 * 1e-4);
        }
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    let mut events = BufWriter::new(File::create(dir.join("optimizers.jsonl"))?);
    for opt in 1..=groups * AT_ONCE {
        let start = json!({"event": "start", "opt_id": opt, "t": 0, "type": "cma-es", "settings": {},
            "popsize": 8, "workers": 1, "evaluator": "serial", "seed": opt, "x0": vec![0.0; dim]});
        let end = if opt % 2 == 0 {
            json!({"event": "end", "opt_id": opt, "t": 1, "evaluations": per_optimizer, "best_fx": null,
                "reason": "converged", "criterion": "tolfun"})
        } else {
            json!({"event": "end", "opt_id": opt, "t": 1, "evaluations": per_optimizer, "best_fx": null,
                "reason": "killed", "by": "hunt", "hunter": 2, "expression": "x", "t_kill": 1, "at_call_id": 1})
        };
        writeln!(events, "{start}\n{end}")?;
    }
    events.flush()
}
