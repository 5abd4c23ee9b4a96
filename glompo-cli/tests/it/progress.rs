//! What a run shows while it goes: the live display on a terminal (checked in tmux), the plain
//! status line in a pipe, `-v`'s event lines and what an interrupt says.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::run::{glompo, stderr, write_config};

/// A run long enough to watch: about 2 ms per evaluation on 2 slots.
fn slow_config(budget: u64) -> serde_json::Value {
    json!({
        "objective": {"function": "rastrigin", "dim": 4, "delay_s": 0.002},
        "optimizers": [{"type": "cma-es"}, {"type": "nelder-mead"}],
        "max_jobs": 2,
        "convergence": format!("max_evals({budget})"),
        "hunters": "min_evals(200) & best_unmoving(200, 0.01)",
        "seed": 2
    })
}

/// A tmux session, killed when dropped (the run in it with it).
struct Tmux(String);

impl Tmux {
    fn start(name: &str, cwd: &std::path::Path, command: &str) -> Tmux {
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", name, "-x", "160", "-y", "30", "-c"])
            .arg(cwd)
            .arg(format!("{command}; sleep 60"))
            .env_remove("TMUX")
            .status()
            .expect("tmux is needed for this test (.ci/run installs it)");
        assert!(status.success());
        Tmux(name.to_owned())
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.0]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits up to 30 s for the screen to satisfy `done`.
    fn until(&self, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) || start.elapsed() > Duration::from_secs(30) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_glompo")
}

#[test]
fn a_terminal_gets_a_live_display_with_the_budget_and_an_eta_and_ctrl_c_says_it_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &slow_config(100_000));
    let name = format!("glompo-live-{}", std::process::id());
    let tmux = Tmux::start(&name, tmp.path(), &format!("{} run {config} --dir out --no-reap", bin()));
    let screen = tmux.until(|s| s.contains("/100,000 evals, ETA") && s.contains("started"));
    assert!(screen.contains("/100,000 evals, ETA"), "{screen}");
    let status = screen.lines().find(|l| l.contains("optimizers")).unwrap_or_default();
    assert!(
        status.contains("best ") && status.contains(" alive, ") && status.contains("evals/s"),
        "{screen}"
    );
    assert!(!screen.contains("glompo: 1"), "a terminal gets no plain status line: {screen}");
    let sent = Command::new("tmux").args(["send-keys", "-t", &name, "C-c"]).status().unwrap();
    assert!(sent.success());
    let screen = tmux.until(|s| s.contains("end: interrupted by SIGINT"));
    assert!(screen.contains("glompo: SIGINT received: stopping"), "{screen}");
    assert!(screen.contains("press Ctrl-C again"), "{screen}");
    assert!(screen.contains("end: interrupted by SIGINT"), "{screen}");
    // The live display is gone once the run has ended: no bar is left above the result.
    let result = screen.find("best f = ").unwrap();
    assert!(!screen[result..].contains("ETA"), "{screen}");
}

#[test]
fn a_pipe_gets_plain_status_lines_and_v_adds_the_events() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &slow_config(600));
    let out = glompo(&["run", &config, "--dir", "out", "--status-every", "0.2", "-v"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    let status = text.lines().filter(|l| l.starts_with("glompo: ") && l.contains(" s: ")).count();
    assert!(status >= 2, "{text}");
    assert!(!text.contains("ETA") && !text.contains('\r') && !text.contains('\u{1b}'), "{text}");
    // -v: every start and end of optimizers.jsonl is said.
    let events = fs::read_to_string(tmp.path().join("out/optimizers.jsonl")).unwrap();
    let starts = events.lines().filter(|l| l.contains(r#""event":"start""#)).count();
    assert_eq!(text.matches(") started").count(), starts, "{text}");
    assert!(text.contains("optimizer 1 (cma-es) started"), "{text}");
    // Without -v, none of that.
    let out = glompo(&["run", &config, "--dir", "out2", "--status-every", "0"], tmp.path());
    assert!(out.status.success());
    assert!(!stderr(&out).contains("started"), "{}", stderr(&out));
}

#[test]
fn rust_log_takes_precedence_and_a_bad_filter_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &slow_config(300));
    let run = |dir: &str, filter: &str| {
        Command::new(bin())
            .args(["run", &config, "--dir", dir, "--status-every", "0", "--no-reap"])
            .env("RUST_LOG", filter)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let out = run("a", "glompo_cli=info");
    assert!(out.status.success());
    assert!(stderr(&out).contains("optimizer 1 (cma-es) started"), "{}", stderr(&out));
    let out = run("b", "glompo_cli=[");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("RUST_LOG=\"glompo_cli=[\""), "{}", stderr(&out));
    assert!(!tmp.path().join("b").exists(), "nothing is written for bad input");
    let out = glompo(&["run", &config, "-q", "-v"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}
