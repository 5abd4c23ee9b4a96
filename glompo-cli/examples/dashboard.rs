//! `cargo xtask bench dashboard`: the dashboard on a run of 10⁷ evaluations, and what it costs a run.
//!
//! 1. Writes a synthetic finished run directory (`common/long_run.rs`, as the plot benchmark's: 4-D
//!    points, one failure in a thousand, four optimizers interleaved at a time, half killed and half
//!    converged) of EVALS evaluations from optimizers of `--per-optimizer` evaluations each.
//! 2. Serves it (`Dashboard::start`, as `glompo dashboard`) and times the catch-up: from the start
//!    until `/api/state` answers with every evaluation read; it reports the size of that state.
//! 3. Loads the page in headless Chromium three times (`tests/browser/dashboard.mjs --load`, which
//!    needs `/usr/bin/chromium` and playwright-core in `target/browser`, as the browser test does):
//!    from navigation until the page has drawn the whole run.
//! 4. The run's overhead: a logged run of `--run-evals` evaluations of the 10-D sphere (`glompo
//!    run`, CMA-ES, two jobs), and one of a 500th of them that each take a millisecond (`delay_s`),
//!    `--repeats` times with `--dashboard` and a page's stream of updates read all along, and as
//!    many times without, alternating; it prints each run's wall time (its summary's) and the ratio
//!    of the medians.
//!
//! `cargo xtask bench dashboard [EVALS] [--per-optimizer N] [--run-evals M] [--repeats R]
//! [--no-browser]` (defaults 10 000 000, 50 000, 2 000 000, 3).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use glompo_cli::dashboard::Dashboard;
use serde_json::{Value, json};

#[path = "common/binary.rs"]
mod binary;
#[path = "common/long_run.rs"]
mod long_run;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| {
        v.parse().unwrap_or_else(|_| {
            eprintln!("{name} takes a whole number");
            std::process::exit(2)
        })
    })
}

/// `GET path` on `addr`: the body.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One logged run of `evals` evaluations in `dir`, with a dashboard whose stream is read all along
/// when `dashboard`; its wall time in seconds.
fn timed_run(
    dir: &Path,
    evals: u64,
    delay_s: f64,
    dashboard: bool,
) -> Result<f64, Box<dyn std::error::Error>> {
    let config = json!({
        "objective": {"function": "sphere", "dim": 10, "delay_s": delay_s},
        "optimizers": [{"type": "cma-es", "popsize": 10, "sigma0": 1.0}],
        "max_jobs": 2,
        "convergence": format!("max_evals({evals})"),
        "seed": 1
    });
    let file = dir.join("config.json");
    std::fs::write(&file, config.to_string())?;
    let mut args = vec!["run".to_owned(), file.display().to_string(), "--dir".into()];
    args.extend([
        dir.join("run").display().to_string(),
        "--overwrite".into(),
        "-q".into(),
        "--no-plot".into(),
    ]);
    if dashboard {
        args.push("--dashboard=0".into());
    }
    let start = Instant::now();
    let mut child = Command::new(binary::glompo_binary())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut reader = None;
    if dashboard {
        let mut err = BufReader::new(child.stderr.take().ok_or("no stderr")?);
        let mut line = String::new();
        while err.read_line(&mut line)? > 0 && !line.contains("http://") {
            line.clear();
        }
        let at = line.find("http://").ok_or("no dashboard address")?;
        let addr: SocketAddr = line[at + 7..].trim().trim_end_matches('/').parse()?;
        // A page's stream: read to its end, as a browser would.
        reader = Some(std::thread::spawn(move || -> std::io::Result<u64> {
            let mut stream = TcpStream::connect(addr)?;
            write!(stream, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
            let mut bytes = 0u64;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return Ok(bytes),
                    Ok(n) => bytes += n as u64,
                }
            }
        }));
        std::io::copy(&mut err, &mut std::io::sink())?;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("the run failed: {status}").into());
    }
    // The run's own time, from its summary (not the process's, which includes the start and the end).
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run/summary.json"))?)?;
    let seconds = summary["wall_time_s"].as_f64().ok_or("no wall time")?;
    let process = start.elapsed().as_secs_f64();
    print!(" (process {process:.2} s)");
    if let Some(reader) = reader {
        let bytes = reader.join().map_err(|_| "the stream reader panicked")??;
        print!(" (stream {} KB)", bytes / 1000);
    }
    Ok(seconds)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first = args.first().filter(|a| !a.starts_with("--"));
    let evals: u64 = first.map_or(Ok(10_000_000), |a| a.parse())?;
    let per_optimizer = arg(&args, "--per-optimizer", long_run::PER_OPTIMIZER);
    let run_evals = arg(&args, "--run-evals", 2_000_000);
    let repeats = arg(&args, "--repeats", 3).max(1);
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("long");
    std::fs::create_dir(&dir)?;
    let start = Instant::now();
    long_run::write_run(&dir, evals, 4, per_optimizer)?;
    let summary = json!({"end_reason": "budget spent: max_evals(10000000) = true", "wall_time_s": 1000.0,
        "settings": {"convergence": format!("max_evals({evals})")}});
    std::fs::write(dir.join("summary.json"), summary.to_string())?;
    let size = std::fs::metadata(dir.join("evaluations.jsonl"))?.len();
    println!(
        "wrote {evals} evaluations ({:.0} MB, optimizers of {per_optimizer}) in {:.1} s",
        size as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let dashboard = Dashboard::start(&dir, "127.0.0.1:0".parse()?)?;
    let addr = dashboard.local_addr().ok_or("not serving")?;
    let state: Value = serde_json::from_str(&get(addr, "/api/state")?)?;
    let caught_up = start.elapsed().as_secs_f64();
    assert_eq!(state["counters"]["evaluations"], evals);
    let buckets: usize = state["tracks"]
        .as_array()
        .map_or(0, |t| t.iter().map(|t| t["buckets"].as_array().map_or(0, Vec::len)).sum());
    let bytes = state.to_string().len();
    println!(
        "catch-up: {caught_up:.2} s to read the log and answer /api/state ({} optimizers, {buckets} buckets, {} KB of JSON)",
        state["optimizers"].as_array().map_or(0, Vec::len),
        bytes / 1000
    );

    if !args.iter().any(|a| a == "--no-browser") {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let modules = binary::glompo_binary()
            .parent()
            .and_then(Path::parent)
            .ok_or("no target")?
            .join("browser/node_modules");
        let out = Command::new("node")
            .arg(root.join("tests/browser/dashboard.mjs"))
            .arg(format!("http://{addr}/"))
            .arg(tmp.path().join("load.png"))
            .arg("--load")
            .env("NODE_PATH", modules)
            .output()?;
        let seen: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stderr)))?;
        if !seen["error"].is_null() {
            return Err(format!("the browser: {}", seen["error"]).into());
        }
        println!(
            "page load in Chromium (navigation to the whole run drawn), 3 loads: {} ms; {} points of {} optimizers drawn, last render {} ms",
            seen["loads_ms"], seen["points"], seen["optimizers"], seen["render_ms"]
        );
    }
    dashboard.shutdown();

    // The cheapest objective (the manager's own pace, about 10⁶ evaluations a second) and one of a
    // millisecond, which is still faster than most that users bring.
    for (evals, delay) in [(run_evals, 0.0), (run_evals / 500, 0.001)] {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        println!("runs of {evals} evaluations of {} ms:", delay * 1e3);
        for repeat in 1..=repeats {
            // Alternating order, so that neither side always runs on a warmer machine.
            for &on in if repeat % 2 == 1 { &[true, false] } else { &[false, true] } {
                print!("  repeat {repeat}, {}: ", if on { "with a dashboard" } else { "without" });
                std::io::stdout().flush()?;
                let seconds = timed_run(tmp.path(), evals, delay, on)?;
                println!(" {seconds:.3} s ({:.0} evaluations/s)", evals as f64 / seconds);
                if on { with.push(seconds) } else { without.push(seconds) }
            }
        }
        let (w, wo) = (median(with), median(without));
        println!("  median: {w:.3} s with a dashboard, {wo:.3} s without: ratio {:.3}", w / wo);
    }
    Ok(())
}
