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

use std::time::Instant;

use glompo_cli::plot::{self, PlotOptions};
use glompo_core::manager::rundir;

#[path = "common/long_run.rs"]
mod long_run;

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
    long_run::write_run(dir, evals, dim, long_run::PER_OPTIMIZER)?;
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
