//! Unit tests of the dashboard's state: the tail of a growing log, and the protocol's updates
//! applied by a model of the page, which must end up holding what a fresh page would get.

use std::collections::BTreeMap;
use std::io::Write;

use glompo_core::SeededRng;
use serde_json::{Value, json};

use super::*;

/// The page as the protocol describes it: what it holds after applying updates.
#[derive(Debug, Default, PartialEq)]
struct Page {
    width: u64,
    tracks: BTreeMap<u64, Vec<Vec<f64>>>,
    best_curve: Vec<Vec<f64>>,
    failures: Vec<u64>,
    rows: BTreeMap<u64, Value>,
    warnings: Vec<String>,
    whole: BTreeMap<String, Value>,
    /// Buckets received, over all updates.
    received: usize,
}

/// Merges `buckets` after the width grew by `factor`, as the protocol says.
fn merge(buckets: &mut Vec<Vec<f64>>, factor: u64) {
    let mut merged: Vec<Vec<f64>> = Vec::new();
    for mut b in buckets.drain(..) {
        b[0] = ((b[0] as u64) / factor) as f64;
        match merged.last_mut() {
            Some(m) if m[0] == b[0] => {
                if b[4] < m[4] {
                    (m[3], m[4]) = (b[3], b[4]);
                }
                if b[6] > m[6] {
                    (m[5], m[6]) = (b[5], b[6]);
                }
                (m[7], m[8]) = (b[7], b[8]);
            }
            _ => merged.push(b),
        }
    }
    *buckets = merged;
}

/// Replaces the bucket of the same index or appends.
fn put(buckets: &mut Vec<Vec<f64>>, b: Vec<f64>) {
    match buckets.last_mut() {
        Some(last) if last[0] == b[0] => *last = b,
        Some(last) => {
            assert!(last[0] < b[0], "buckets arrive in index order: {last:?} then {b:?}");
            buckets.push(b);
        }
        None => buckets.push(b),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

impl Page {
    fn apply(&mut self, u: &Value) {
        if u["reset"] == true {
            *self = Page { received: self.received, ..Page::default() };
        }
        if let Some(w) = u["width"].as_u64() {
            if self.width != 0 && w != self.width {
                let factor = w / self.width;
                self.tracks.values_mut().for_each(|b| merge(b, factor));
                merge(&mut self.best_curve, factor);
            }
            self.width = w;
        }
        for key in ["run", "counters", "best", "scale"] {
            if let Some(v) = u.get(key) {
                self.whole.insert(key.into(), v.clone());
            }
        }
        for t in u["tracks"].as_array().into_iter().flatten() {
            let buckets = self.tracks.entry(t["opt"].as_u64().unwrap()).or_default();
            for b in t["buckets"].as_array().unwrap() {
                put(buckets, floats(b));
                self.received += 1;
            }
        }
        for b in u["best_curve"].as_array().into_iter().flatten() {
            put(&mut self.best_curve, floats(b));
        }
        if let Some(f) = u.get("failures") {
            if f["reset"] == true {
                self.failures.clear();
            }
            self.failures.extend(f["add"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap()));
        }
        for row in u["optimizers"].as_array().into_iter().flatten() {
            self.rows.insert(row["opt"].as_u64().unwrap(), row.clone());
        }
        for w in u["warnings"].as_array().into_iter().flatten() {
            self.warnings.push(w.as_str().unwrap().to_owned());
        }
    }

    /// What a page that just connected would hold.
    fn fresh(state: &RunState) -> Page {
        let mut page = Page::default();
        page.apply(&state.update(&mut Cursor::default()).unwrap());
        page.received = 0;
        page
    }
}

fn value(call_id: u64, opt_id: u64, fx: f64) -> (LoggedValue, Option<LoggedEvaluation>) {
    let v = LoggedValue { call_id, opt_id, fx, t: Some(call_id as f64 / 100.0), failed: fx.is_nan() };
    let point = LoggedEvaluation { call_id, opt_id, x: vec![fx, 1.0], fx, t: v.t, extras: None, error: None };
    (v, Some(point))
}

fn event(value: Value) -> OptimizerEvent {
    serde_json::from_value(value).unwrap()
}

#[test]
fn updates_keep_a_page_equal_to_a_fresh_one_through_merges_without_resending() {
    let dir = std::path::Path::new("runs/test");
    let mut state = RunState::new(dir);
    let mut page = Page::default();
    let mut cursor = Cursor::default();
    let mut rng = SeededRng::new(11);
    let mut call = 0u64;
    let mut live: Vec<u64> = vec![1, 2, 3];
    let mut next_opt = 4;
    let mut updates = 0;
    let mut batch = Batch::default();
    for opt in &live {
        batch.events.push(event(json!({"event": "start", "opt_id": opt, "t": 0.0, "type": "cma-es",
            "settings": {}, "popsize": 6, "workers": 1, "evaluator": "serial", "seed": 1, "x0": [0.0]})));
    }
    // 30 000 evaluations in batches of 1 to 400 (the width doubles several times over 2 000
    // columns), from three optimizers at a time, with failures; every so often one ends and
    // another starts.
    for step in 0..400 {
        for _ in 0..rng.below(400) + 1 {
            call += 1;
            let opt = live[rng.below(live.len())];
            let fx =
                if rng.uniform() < 0.01 { f64::NAN } else { (rng.uniform() * 100.0).exp() / call as f64 };
            batch.evaluations.push(value(call, opt, fx));
        }
        if step % 20 == 19 {
            let ended = live.remove(0);
            batch.events.push(event(json!({"event": "end", "opt_id": ended, "t": 1.0, "evaluations": 5,
                "best_fx": 1.0, "reason": "killed", "by": "hunt", "hunter": live[0], "expression": "x = true",
                "t_kill": 1.0, "at_call_id": call})));
            batch.events.push(event(json!({"event": "start", "opt_id": next_opt, "t": 1.0, "type": "nelder-mead",
                "settings": {}, "popsize": null, "workers": 1, "evaluator": "serial", "seed": 1, "x0": [0.0]})));
            live.push(next_opt);
            next_opt += 1;
        }
        if step == 7 {
            batch.warnings.push("evaluations.jsonl line 9 is not an evaluation (skipped): test".into());
        }
        state.apply(std::mem::take(&mut batch));
        if let Some(u) = state.update(&mut cursor) {
            page.apply(&u);
            updates += 1;
        }
        if step % 50 == 0 {
            let fresh = Page::fresh(&state);
            assert_eq!(Page { received: 0, ..std::mem::take(&mut page) }, fresh, "after step {step}");
            page = fresh;
        }
    }
    assert!(state.reduced.width() >= 16, "the run coarsened: width {}", state.reduced.width());
    let fresh = Page::fresh(&state);
    let received = page.received;
    assert_eq!(Page { received: 0, ..page }, fresh);
    // Nothing new: no update.
    assert_eq!(state.update(&mut cursor), None);
    // What was sent is what the page holds plus, per update, the re-sent last bucket of the tracks
    // that changed (at most the three running) and the merges: never the whole history again.
    let held: usize = fresh.tracks.values().map(Vec::len).sum();
    assert!(
        received <= held + 4 * updates,
        "received {received} buckets for {held} held in {updates} updates"
    );
    assert!(held <= 3 * 2 * COLUMNS, "{held}");
    assert_eq!(fresh.rows.len(), next_opt as usize - 1);
    let killed: Vec<&Value> = fresh.rows.values().filter(|r| r["status"] == "killed").collect();
    assert_eq!(killed.len(), 20);
    assert!(killed[0]["how"].as_str().unwrap().starts_with("killed by optimizer 2's hunt at evaluation"));
    let marker = floats(&killed[0]["marker"]);
    assert_eq!(marker[0] as u64, fresh.tracks[&1].last().unwrap()[7] as u64, "at its last finite point");
    assert_eq!(fresh.warnings.len(), 1);
    assert_eq!(fresh.whole["counters"]["evaluations"], call);
    assert_eq!(fresh.whole["counters"]["killed"], 20);
    assert_eq!(fresh.whole["counters"]["running"], 3);
    assert!(fresh.whole["counters"]["failed"].as_u64().unwrap() > 10);
    assert!(!fresh.failures.is_empty());
    // The best point is the lowest value logged, with its coordinates.
    let best = &fresh.whole["best"];
    assert_eq!(best["x"][0], best["fx"]);
    assert_eq!(best["fx"].as_f64(), state.reduced.best_point.map(|p| p.1));
}

#[test]
fn a_tail_reads_whole_lines_only_and_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("log.jsonl");
    let mut tail = Tail::new(path.clone());
    let read = |tail: &mut Tail, max| {
        let mut lines = Vec::new();
        let more =
            tail.read(max, |n, text| lines.push((n, String::from_utf8_lossy(text).into_owned()))).unwrap();
        (lines, more)
    };
    assert_eq!(read(&mut tail, 10), (vec![], false), "a missing file is empty");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"one\ntwo\nthr").unwrap();
    assert_eq!(read(&mut tail, 10), (vec![(1, "one".into()), (2, "two".into())], false));
    assert_eq!(read(&mut tail, 10), (vec![], false), "the line being written waits");
    file.write_all(b"ee\nfour\nfive\n").unwrap();
    assert_eq!(read(&mut tail, 2), (vec![(3, "three".into()), (4, "four".into())], true));
    assert_eq!(read(&mut tail, 2), (vec![(5, "five".into())], false));
}

#[test]
fn unreadable_lines_are_warnings_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join(rundir::EVALUATIONS),
        concat!(
            "{\"call_id\":1,\"opt_id\":1,\"x\":[0.5],\"fx\":2.0,\"t\":0.1}\n",
            "{\"call_id\":2,\"opt_id\":1,\"x\":[0.5],\"fx\":\n",
            "not json at all\n",
            "{\"call_id\":3,\"opt_id\":1,\"x\":[0.25],\"fx\":1.0,\"t\":0.2}\n",
            "{\"call_id\":4,\"opt_id\":1,\"x\":[0.1],\"fx\":null,\"t\":0.3,\"error\":\"boom\"}\n",
            "{\"call_id\":5,\"opt_id\":1,\"x\":[0.1],\"fx\":0.5",
        ),
    )
    .unwrap();
    std::fs::write(dir.join(rundir::OPTIMIZERS), "{\"event\":\"start\",\"opt_id\":1}\n").unwrap();
    let mut follower = Follower::new(dir);
    let mut state = RunState::new(dir);
    let (batch, more) = follower.read();
    assert!(!more);
    state.apply(batch);
    let u = state.update(&mut Cursor::default()).unwrap();
    let warnings: Vec<&str> = u["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].starts_with("optimizers.jsonl line 1 is not an optimizer event (skipped): missing field")
    );
    assert!(
        warnings[1].starts_with("evaluations.jsonl line 2 is not an evaluation (skipped)"),
        "{warnings:?}"
    );
    assert!(warnings[2].starts_with("evaluations.jsonl line 3 is not an evaluation (skipped)"));
    // The last line is still being written: not read, not a warning.
    assert_eq!(u["counters"]["evaluations"], 3);
    assert_eq!(u["counters"]["failed"], 1);
    assert_eq!(u["counters"]["skipped"], 3);
    assert_eq!(u["best"], json!({"fx": 1.0, "x": [0.25], "opt_id": 1, "call_id": 3}));
    assert_eq!(u["failures"]["add"], json!([4]));
    // No summary: the run has not started (or is not a run of ours).
    assert_eq!(u["run"]["state"], "waiting");
}

#[test]
fn plain_lines_read_without_serde_read_as_serde_reads_them() {
    let lines = [
        r#"{"call_id":1,"opt_id":2,"x":[0.5,-1e-300,3.25],"fx":38.26500956353893,"t":0.001578252}"#,
        r#"{"call_id":18446744073709551615,"opt_id":0,"x":[null,1E+3],"fx":-0.0,"t":12}"#,
        r#"{"call_id":3,"opt_id":1,"x":[],"fx":5e-324,"t":1.5}"#,
    ];
    for line in lines {
        let plain = plain_value(line.as_bytes()).unwrap_or_else(|| panic!("{line}"));
        let serde: LoggedValue = serde_json::from_str(line).unwrap();
        assert_eq!(plain, serde, "{line}");
        assert_eq!(plain.fx.to_bits(), serde.fx.to_bits());
    }
    // What it does not read is left to serde, which reads it or says why not.
    for line in [
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":null,"t":0.3,"error":"boom"}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":1.0,"t":0.3,"extras":{"a":[1]}}"#,
        r#"{"opt_id":1,"call_id":4,"x":[0.1],"fx":1.0,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":1.0,"t":0.3} "#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":NaN,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":+1,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":1.,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":1.0,"t":0.3"#,
        r#"{"call_id":-4,"opt_id":1,"x":[0.1],"fx":1.0,"t":0.3}"#,
        r#"{"call_id":+4,"opt_id":1,"x":[0.1],"fx":1.0,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":+1,"x":[0.1],"fx":1.0,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":"1.0","t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[[0.1]],"fx":1.0,"t":0.3}"#,
        r#"{"call_id":4,"opt_id":1,"x":[0.1],"fx":1.0,"t":0.3,"fx":2.0}"#,
    ] {
        assert_eq!(plain_value(line.as_bytes()), None, "{line}");
    }
}
