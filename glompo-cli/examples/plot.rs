//! `cargo xtask bench plot`: the time to plot a run of 10⁷ evaluations.
//!
//! Writes a synthetic run directory in a temporary folder: `evaluations.jsonl` with EVALS lines as a
//! run writes them (D-dimensional points, values of 17 significant digits, one failure in a
//! thousand) from optimizers of 50 000 evaluations each, four of them interleaved at a time, and
//! their starts and ends (killed, converged) in `optimizers.jsonl`. Then it times reading the log
//! alone (the floor: `rundir::Evaluations::<LoggedValue>`) and `glompo_cli::plot::trajectories`,
//! three times each.
//!
//! `cargo xtask bench plot [EVALS] [--dim D] [--keep FILE]` (default EVALS = 10 000 000, D = 4;
//! `--keep` copies the picture to FILE).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use glompo_cli::plot::{self, PlotOptions};
use glompo_core::manager::rundir;
use glompo_core::rng::SeededRng;
use serde_json::json;

/// Evaluations per optimizer.
const PER_OPTIMIZER: u64 = 50_000;
/// Optimizers running at once.
const AT_ONCE: u64 = 4;

/// Writes the synthetic run into `dir`.
fn write_run(dir: &Path, evals: u64, dim: usize) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join("evaluations.jsonl"))?);
    let mut rng = SeededRng::new(7);
    let groups = evals.div_ceil(PER_OPTIMIZER * AT_ONCE);
    let mut line = String::with_capacity(64 + 24 * dim);
    for c in 1..=evals {
        let group = (c - 1) / (PER_OPTIMIZER * AT_ONCE);
        let opt = group * AT_ONCE + c % AT_ONCE + 1;
        // Each optimizer descends from about 100 towards its own floor, with noise.
        let progress = ((c - 1) % (PER_OPTIMIZER * AT_ONCE)) as f64 / (PER_OPTIMIZER * AT_ONCE) as f64;
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
            json!({"event": "end", "opt_id": opt, "t": 1, "evaluations": PER_OPTIMIZER, "best_fx": null,
                "reason": "converged", "criterion": "tolfun"})
        } else {
            json!({"event": "end", "opt_id": opt, "t": 1, "evaluations": PER_OPTIMIZER, "best_fx": null,
                "reason": "killed", "by": "hunt", "hunter": 2, "expression": "x", "t_kill": 1, "at_call_id": 1})
        };
        writeln!(events, "{start}\n{end}")?;
    }
    events.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter().position(|a| a == flag).map(|i| args.get(i + 1).ok_or(format!("{flag} needs a value")))
    };
    let first = args.first().filter(|a| !a.starts_with("--"));
    let evals: u64 = first.map_or(Ok(10_000_000), |a| a.parse())?;
    let dim: usize = value("--dim").transpose()?.map_or(Ok(4), |d| d.parse())?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let start = Instant::now();
    write_run(dir, evals, dim)?;
    let size = std::fs::metadata(dir.join("evaluations.jsonl"))?.len();
    println!(
        "wrote {evals} evaluations ({dim}-D, {:.0} MB) in {:.1} s",
        size as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    let out = dir.join(plot::TRAJECTORIES);
    for repeat in 1..=3 {
        let start = Instant::now();
        let mut read = 0u64;
        for value in rundir::Evaluations::<rundir::LoggedValue>::open(dir)? {
            read += u64::from(value?.call_id > 0);
        }
        let reading = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let info = plot::trajectories(dir, &out, &PlotOptions::default())?;
        let plotting = start.elapsed().as_secs_f64();
        assert_eq!((read, info.evaluations), (evals, evals));
        println!(
            "repeat {repeat}: reading alone {reading:.2} s; trajectories {plotting:.2} s ({} optimizers, {} points drawn, {} KB PNG)",
            info.optimizers,
            info.points,
            std::fs::metadata(&out)?.len() / 1000
        );
    }
    if let Some(keep) = value("--keep").transpose()? {
        std::fs::copy(&out, keep)?;
    }
    Ok(())
}
