//! `glompo dashboard` and `glompo run --dashboard` end to end: the page, its assets and the run's
//! state served over real sockets, nothing else (no path outside its routes, no method but GET and
//! HEAD), the live stream of updates as a run goes on, and the errors of bad input.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::run::{Reap, glompo, lines, small_config, stderr, write_config};

/// A `glompo` process serving a dashboard, and the address it printed.
pub(crate) struct Served {
    pub(crate) child: Reap,
    pub(crate) addr: SocketAddr,
    /// Its stderr, after the address line.
    pub(crate) rest: BufReader<std::process::ChildStderr>,
}

/// Starts `glompo ARGS` in `cwd` and waits for the dashboard address it prints on stderr.
pub(crate) fn serve(cwd: &Path, args: &[&str]) -> Served {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_glompo"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let child = Reap(child);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "no dashboard address in: {seen}");
        seen += &line;
        if let Some(at) = line.find("http://") {
            let addr = line[at + 7..].split('/').next().unwrap().parse().unwrap();
            return Served { child, addr, rest: err };
        }
    }
}

/// Sends `request` as is and returns the status and the body.
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    // Nothing more comes: a request cut short ends here.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    raw(addr, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

/// The `update` events of `/events`, one JSON value at a time.
pub(crate) struct Stream(BufReader<TcpStream>);

impl Stream {
    pub(crate) fn open(addr: SocketAddr) -> Stream {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        while line != "\r\n" {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.to_ascii_lowercase().starts_with("content-type") {
                assert!(line.contains("text/event-stream"), "{line}");
            }
        }
        Stream(reader)
    }

    /// The next update, or `None` when the stream ends.
    pub(crate) fn next(&mut self) -> Option<Value> {
        let (mut event, mut data) = (String::new(), String::new());
        loop {
            let mut line = String::new();
            if self.0.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() && !data.is_empty() {
                assert_eq!(event, "update");
                return Some(serde_json::from_str(&data).unwrap());
            }
            if let Some(v) = line.strip_prefix("event: ") {
                event = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data += v;
            }
        }
    }
}

/// A finished run of the small config in `tmp/out`.
fn finished_run(tmp: &Path) {
    let config = write_config(tmp, &small_config());
    let out = glompo(&["run", &config, "--dir", "out", "-q", "--no-plot"], tmp);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_dashboard_serves_its_page_and_the_run_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    finished_run(tmp.path());
    let served = serve(tmp.path(), &["dashboard", "out", "--addr", "127.0.0.1:0"]);
    let addr = served.addr;
    assert!(addr.ip().is_loopback());
    let (status, page) = get(addr, "/");
    assert_eq!(status, 200);
    assert!(page.contains("dashboard.js") && page.contains("dashboard.css"), "{page}");
    assert!(!page.contains("http://") && !page.contains("https://"), "the page loads nothing from elsewhere");
    assert_eq!(get(addr, "/dashboard.js").0, 200);
    assert_eq!(get(addr, "/dashboard.css").0, 200);
    // The state is the run's: every evaluation counted, every optimizer listed, the best point.
    let (status, state) = get(addr, "/api/state");
    assert_eq!(status, 200);
    let state: Value = serde_json::from_str(&state).unwrap();
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(state["run"]["state"], "finished");
    assert_eq!(state["run"]["end_reason"], summary["end_reason"]);
    assert_eq!(state["counters"]["evaluations"], summary["counters"]["evaluations"]);
    assert_eq!(state["counters"]["started"], summary["counters"]["optimizers_started"]);
    assert_eq!(state["best"]["fx"], summary["result"]["fx"]);
    assert_eq!(state["best"]["x"], summary["result"]["x"]);
    let events = lines(&tmp.path().join("out/optimizers.jsonl"));
    let started = events.iter().filter(|e| e["event"] == "start").count();
    let rows = state["optimizers"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|r| r["opt"] != 0).count(), started);
    // Nothing but its routes: no file of the run, no listing, no way out of them.
    for path in [
        "/summary.json",
        "/evaluations.jsonl",
        "/out/summary.json",
        "/../summary.json",
        "/%2e%2e/summary.json",
        "/dashboard.js/../summary.json",
        "/page/",
        "//etc/passwd",
        "/api/",
        "/api/state/../../summary.json",
        "/index.html%00",
    ] {
        let (status, body) = get(addr, path);
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(!body.contains("call_id") && !body.contains("end_reason"), "{path}: {body}");
    }
    let (status, _) =
        raw(addr, b"POST /api/state HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}");
    assert_eq!(status, 405);
    let (status, _) = raw(addr, b"\x16\x03\x01 garbage\r\n\r\n");
    assert_eq!(status, 400);
    let (status, _) = raw(addr, b"GET /api/sta");
    assert_eq!(status, 0, "a cut request is dropped");
    // A second dashboard on the same run works beside the first.
    let second = serve(tmp.path(), &["dashboard", "out", "--addr", "0"]);
    assert_ne!(second.addr, addr);
    let (status, again) = get(second.addr, "/api/state");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap(), state);
    assert_eq!(get(addr, "/api/state").0, 200, "the first one still serves");
    // SIGINT ends it, cleanly.
    for mut served in [served, second] {
        let pid = nix::unistd::Pid::from_raw(served.child.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        assert!(served.child.0.wait().unwrap().success());
    }
}

#[test]
fn a_live_run_streams_its_updates_until_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({
        "objective": {"function": "rosenbrock", "dim": 3, "delay_s": 0.002},
        "optimizers": [{"type": "nelder-mead"}, {"type": "random-search", "iters": 100000000}],
        "max_jobs": 2,
        "convergence": "max_evals(1500)",
        "seed": 4
    });
    let config = write_config(tmp.path(), &config);
    let mut run =
        serve(tmp.path(), &["run", &config, "--dir", "out", "-q", "--no-reap", "--dashboard=127.0.0.1:0"]);
    let mut stream = Stream::open(run.addr);
    let first = stream.next().unwrap();
    assert_eq!(first["reset"], true, "{first}");
    let mut evaluations = vec![first["counters"]["evaluations"].as_u64().unwrap()];
    let mut updates = vec![first];
    let mut end = None;
    while let Some(update) = stream.next() {
        if let Some(n) = update["counters"]["evaluations"].as_u64() {
            evaluations.push(n);
        }
        let finished = update["run"]["state"] == "finished";
        updates.push(update);
        if finished {
            end = Some(Instant::now());
            break;
        }
    }
    assert!(end.is_some(), "the stream ended before the run did: {:?}", updates.last());
    // The page saw the run grow, in several updates, to its end.
    assert!(evaluations.windows(2).all(|w| w[0] <= w[1]), "{evaluations:?}");
    evaluations.dedup();
    assert!(evaluations.len() >= 4, "{evaluations:?}");
    assert_eq!(*evaluations.last().unwrap(), 1500);
    assert!(evaluations[0] < 1500);
    let rows: Vec<&Value> =
        updates.iter().flat_map(|u| u["optimizers"].as_array().into_iter().flatten()).collect();
    assert!(
        rows.iter().any(|r| r["status"] == "converged" && r["marker"].is_array()),
        "Nelder-Mead converges in the run and gets its end marker"
    );
    // Buckets only arrive for what changed: the whole history is never sent again.
    let sent: usize = updates
        .iter()
        .flat_map(|u| u["tracks"].as_array().into_iter().flatten())
        .map(|t| t["buckets"].as_array().unwrap().len())
        .sum();
    // The run's dashboard went with it once the page had its end; another one shows the whole run.
    assert!(run.child.0.wait().unwrap().success());
    let after = serve(tmp.path(), &["dashboard", "out", "--addr", "0"]);
    let state: Value = serde_json::from_str(&get(after.addr, "/api/state").1).unwrap();
    assert_eq!(state["counters"]["evaluations"], 1500);
    let held: usize =
        state["tracks"].as_array().unwrap().iter().map(|t| t["buckets"].as_array().unwrap().len()).sum();
    assert!(sent <= held + 3 * updates.len(), "sent {sent} buckets for {held} in {} updates", updates.len());
    // The run ended as it would have without the dashboard.
    let mut rest = String::new();
    run.rest.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("error"), "{rest}");
    assert_eq!(lines(&tmp.path().join("out/evaluations.jsonl")).len(), 1500);
}

#[test]
fn unreadable_log_lines_are_warnings_on_the_page_and_the_rest_is_shown() {
    let tmp = tempfile::tempdir().unwrap();
    finished_run(tmp.path());
    let log = tmp.path().join("out/evaluations.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    let n = text.lines().count();
    // A line cut short in the middle of the log, and garbage at its end.
    let third = text.match_indices('\n').nth(2).unwrap().0;
    text.insert_str(third + 1, "{\"call_id\": 3.5, \"opt_\n");
    text += "\u{0}\u{1}not json\n";
    std::fs::write(&log, text).unwrap();
    let served = serve(tmp.path(), &["dashboard", "out", "--addr", "0"]);
    let state: Value = serde_json::from_str(&get(served.addr, "/api/state").1).unwrap();
    let warnings = state["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].as_str().unwrap().starts_with("evaluations.jsonl line 4 is not an evaluation (skipped)")
    );
    assert!(warnings[1].as_str().unwrap().starts_with(&format!("evaluations.jsonl line {} is not", n + 2)));
    assert_eq!(state["counters"]["evaluations"], n as u64);
    assert_eq!(state["counters"]["skipped"], 2);
}

#[test]
fn bad_dashboard_input_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["dashboard", "nowhere"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nowhere: no such directory"), "{}", stderr(&out));
    std::fs::create_dir(tmp.path().join("other")).unwrap();
    std::fs::write(tmp.path().join("other/notes.txt"), "mine").unwrap();
    let out = glompo(&["dashboard", "other"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("other: not a glompo run directory (it has no evaluations.jsonl)"),
        "{}",
        stderr(&out)
    );
    let out = glompo(&["dashboard", ".", "--addr", "localhost"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`localhost` is not an address"), "{}", stderr(&out));
    // An address in use: the dashboard does not start, and neither does a run that asks for one.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    finished_run(tmp.path());
    let out = glompo(&["dashboard", "out", "--addr", &port], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("cannot serve the dashboard on 127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
    let config = write_config(tmp.path(), &small_config());
    let out = glompo(&["run", &config, "--dir", "fresh", &format!("--dashboard={port}")], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot serve the dashboard"), "{}", stderr(&out));
    assert!(!tmp.path().join("fresh").exists(), "the run wrote nothing");
}
