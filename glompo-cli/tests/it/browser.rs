//! The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/dashboard.mjs`), on the page of a live run. `.ci/run` installs Chromium and
//! `cargo xtask test` installs playwright-core into `target/browser`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::dashboard::serve;
use crate::run::write_config;

/// Where `cargo xtask test` installs playwright-core: `target/browser/node_modules`.
fn node_modules() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_glompo"));
    // target/<profile>/glompo -> target/browser/node_modules
    bin.parent().and_then(|p| p.parent()).map(|t| t.join("browser/node_modules")).unwrap()
}

/// Runs the browser script on `url`; panics, saying what to install, when something is missing.
pub(crate) fn browse(url: &str, screenshot: &std::path::Path, extra: &[&str]) -> Value {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "the browser test needs Chromium at {chromium} (apt-get install chromium; .ci/run installs it)"
    );
    let modules = node_modules();
    assert!(
        modules.join("playwright-core").is_dir(),
        "the browser test needs playwright-core in {} (cargo xtask test installs it)",
        modules.display()
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.mjs");
    let out = Command::new("node")
        .arg(script)
        .arg(url)
        .arg(screenshot)
        .args(extra)
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("the browser test needs node (Node.js 18 or newer)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(seen["error"].is_null(), "{seen}");
    assert_eq!(seen["problems"], json!([]), "console errors or CSP violations");
    seen
}

#[test]
fn the_page_of_a_live_run_shows_it_grow_fill_its_table_and_end() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": {"function": "rastrigin", "dim": 3, "delay_s": 0.004},
        "optimizers": [{"type": "nelder-mead"}, {"type": "random-search", "iters": 100000000}],
        "max_jobs": 2,
        "convergence": "max_evals(2500)",
        "seed": 3
    });
    let config = write_config(tmp.path(), &config);
    let mut run = serve(tmp.path(), &["run", &config, "--dir", "out", "-q", "--no-reap", "--dashboard=0"]);
    let shot = tmp.path().join("page.png");
    let seen = browse(&format!("http://{}/", run.addr), &shot, &[]);
    // The trajectories grew while the page watched.
    assert!(seen["grown"]["evaluations"].as_u64() > seen["first"]["evaluations"].as_u64(), "{seen}");
    assert!(seen["grown"]["points"].as_u64() > seen["first"]["points"].as_u64(), "{seen}");
    assert!(seen["first"]["evaluations"].as_u64() < Some(2500), "{seen}");
    // The run ended on the page with every evaluation, optimizer and end marker of its logs.
    let last = &seen["last"];
    assert_eq!(last["state"], "finished");
    assert_eq!(last["evaluations"], 2500);
    let events = crate::run::lines(&tmp.path().join("out/optimizers.jsonl"));
    let started = events.iter().filter(|e| e["event"] == "start").count();
    let converged = events.iter().filter(|e| e["event"] == "end" && e["reason"] == "converged").count();
    assert!(converged >= 1, "Nelder-Mead converges: {events:?}");
    // One row per optimizer, and the generator's if it evaluated points of its own.
    let generator =
        crate::run::lines(&tmp.path().join("out/evaluations.jsonl")).iter().any(|e| e["opt_id"] == 0);
    let rows = started as u64 + u64::from(generator);
    assert_eq!(last["optimizers"].as_u64(), Some(rows), "{seen}");
    assert_eq!(seen["rows"].as_u64(), Some(rows));
    assert!(seen["converged_rows"].as_u64() >= Some(converged as u64), "{seen}");
    assert!(last["markers"].as_u64() >= Some(converged as u64), "{seen}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    let best = summary["result"]["fx"].as_f64().unwrap();
    assert!(seen["best"].as_str().unwrap().contains(&format!("{:.4}", best)[..5]), "{seen} vs {best}");
    assert_eq!(seen["png"]["magic"], "PNG");
    assert!(seen["png"]["bytes"].as_u64() > Some(5000));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    assert!(run.child.0.wait().unwrap().success());
}
