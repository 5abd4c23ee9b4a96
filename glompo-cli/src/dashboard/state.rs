//! The dashboard's view of a run directory: its logs followed as they grow ([`Tail`]), reduced as
//! the plot reduces them ([`RunState`]), and the updates of the page's protocol (the
//! [module](super) says what they hold) computed for each connection from its [`Cursor`].

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use glompo_core::manager::rundir::{self, LoggedEvaluation, LoggedValue};
use glompo_core::manager::{EndHow, OptimizerEnd, OptimizerEvent};
use glompo_core::optimizer::OptimizerId;
use serde_json::{Value, json};

use crate::plot::decimate::{Bucket, Scale, Trajectories};
use crate::plot::{Ending, scale_of};
use crate::report::{end_text, one_line};

/// Buckets of call ids across the run, as the plot's default: each optimizer's curve keeps at most
/// four points per bucket, so a run of any length sends the page a bounded number of points.
pub(crate) const COLUMNS: usize = 2000;

/// The warnings kept for the page; later unreadable lines are counted (`counters.skipped`).
pub(crate) const MAX_WARNINGS: usize = 200;

/// Reads the lines a growing file gains, from where the last read stopped. A last line without its
/// newline is a line still being written: it is read again, whole, once it has one.
#[derive(Debug)]
pub(crate) struct Tail {
    path: PathBuf,
    offset: u64,
    line: u64,
    /// The inode of the file read, to tell when it is replaced.
    inode: Option<u64>,
}

impl Tail {
    /// Follows `path`, from its start; a file that does not exist yet reads as empty.
    pub(crate) fn new(path: PathBuf) -> Self {
        Tail { path, offset: 0, line: 0, inode: None }
    }

    /// Whether the file is no longer the one read so far: another file took its place (a new run in
    /// the directory) or it is shorter than what was read.
    pub(crate) fn replaced(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(&self.path) {
            Ok(m) => self.inode.is_some_and(|i| i != m.ino()) || m.len() < self.offset,
            Err(_) => self.inode.is_some(),
        }
    }

    /// The file's name, for warnings.
    fn name(&self) -> String {
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into())
    }

    /// Hands the next complete lines, at most `max`, to `each` with their line numbers (1 for the
    /// first) and without their newline; says whether it stopped at `max` (more may be waiting).
    pub(crate) fn read(&mut self, max: usize, mut each: impl FnMut(u64, &[u8])) -> io::Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        use std::os::unix::fs::MetadataExt;
        self.inode = Some(file.metadata()?.ino());
        file.seek(SeekFrom::Start(self.offset))?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut text = Vec::new();
        for _ in 0..max {
            text.clear();
            let n = reader.read_until(b'\n', &mut text)?;
            if n == 0 || text.last() != Some(&b'\n') {
                return Ok(false);
            }
            self.offset += n as u64;
            self.line += 1;
            each(self.line, &text[..n - 1]);
        }
        Ok(true)
    }
}

/// One optimizer as the table shows it.
#[derive(Debug, Clone, Default)]
struct Row {
    /// Its type (`generator` for optimizer 0), once its start is read.
    type_name: Option<String>,
    workers: Option<usize>,
    start_t: Option<f64>,
    end: Option<OptimizerEnd>,
    /// Its evaluations in the log, failed ones included.
    evaluations: u64,
    best: Option<f64>,
    /// The state's version when it last changed.
    changed: u64,
}

/// Whether a run is going on, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// No summary yet: the run has not started writing its directory.
    Waiting,
    Live,
    Finished,
    /// Its summary says it runs, but no process holds the directory.
    Killed,
}

impl Liveness {
    fn text(self) -> &'static str {
        match self {
            Liveness::Waiting => "waiting",
            Liveness::Live => "live",
            Liveness::Finished => "finished",
            Liveness::Killed => "killed",
        }
    }
}

/// What the dashboard knows of a run directory: everything the page's updates are made of.
#[derive(Debug)]
pub(crate) struct RunState {
    dir: PathBuf,
    /// Counts the restarts (the logs replaced by a new run's).
    epoch: u64,
    /// Counts the batches applied; what changed in one is marked with the version after it.
    version: u64,
    reduced: Trajectories,
    tracks_changed: BTreeMap<OptimizerId, u64>,
    best_changed: u64,
    rows: BTreeMap<OptimizerId, Row>,
    best: Option<LoggedEvaluation>,
    warnings: Vec<String>,
    /// Lines of the logs that could not be read.
    skipped: u64,
    liveness: Liveness,
    summary: Option<Value>,
    /// The arrival time of the last evaluation read.
    last_t: Option<f64>,
    /// Whether the logs were read to their end once (what was there when the dashboard started).
    caught_up: bool,
    /// The parts of an update that are whole values, as they are now.
    run: Value,
    counters: Value,
    best_json: Value,
    scale: Value,
}

/// What a [`Follower`] read, applied to a [`RunState`] at once.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    events: Vec<OptimizerEvent>,
    /// Evaluations, with the point of each that improved on the best the follower had seen.
    evaluations: Vec<(LoggedValue, Option<LoggedEvaluation>)>,
    warnings: Vec<String>,
    /// A new reading of the summary and liveness, if they changed.
    summary: Option<(Option<Value>, Liveness)>,
    /// Whether the follower read to the end of the logs.
    caught_up: bool,
}

impl Batch {
    /// Whether it holds nothing to apply.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.evaluations.is_empty()
            && self.warnings.is_empty()
            && self.summary.is_none()
            && !self.caught_up
    }
}

impl RunState {
    /// The state of `dir` before anything is read.
    pub(crate) fn new(dir: &Path) -> Self {
        let mut state = RunState {
            dir: dir.to_path_buf(),
            epoch: 0,
            version: 0,
            reduced: Trajectories::new(COLUMNS),
            tracks_changed: BTreeMap::new(),
            best_changed: 0,
            rows: BTreeMap::new(),
            best: None,
            warnings: Vec::new(),
            skipped: 0,
            liveness: Liveness::Waiting,
            summary: None,
            last_t: None,
            caught_up: false,
            run: Value::Null,
            counters: Value::Null,
            best_json: Value::Null,
            scale: Value::Null,
        };
        state.refresh();
        state
    }

    /// Forgets everything read: the logs were replaced by a new run's. Every page gets a reset.
    pub(crate) fn restart(&mut self) {
        let (epoch, version) = (self.epoch + 1, self.version + 1);
        *self = RunState::new(&self.dir);
        self.epoch = epoch;
        self.version = version;
    }

    /// Whether the logs were read to their end once: what they held when the dashboard started is
    /// all in.
    pub(crate) fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Whether the run is going on (or has not started), as far as what was read says.
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.liveness, Liveness::Live | Liveness::Waiting)
    }

    /// The version of what it holds: it grows with every batch applied.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Applies what a follower read.
    pub(crate) fn apply(&mut self, batch: Batch) {
        self.version += 1;
        let v = self.version;
        for event in batch.events {
            match event {
                OptimizerEvent::Start(start) => {
                    let row = self.rows.entry(start.opt_id).or_default();
                    row.type_name = Some(start.type_name);
                    row.workers = Some(start.workers);
                    row.start_t = Some(start.t);
                    row.changed = v;
                }
                OptimizerEvent::End(end) => {
                    let row = self.rows.entry(end.opt_id).or_default();
                    row.end = Some(end);
                    row.changed = v;
                }
                OptimizerEvent::StopIgnored(_) | OptimizerEvent::Replayed(_) => {}
            }
        }
        for (value, point) in batch.evaluations {
            if value.call_id <= self.reduced.last_call && self.reduced.evaluations > 0 {
                self.warn(format!(
                    "{} call id {} comes after {} (skipped)",
                    rundir::EVALUATIONS,
                    value.call_id,
                    self.reduced.last_call
                ));
                continue;
            }
            self.reduced.add(value.call_id, value.opt_id, value.fx);
            self.tracks_changed.insert(value.opt_id, v);
            self.last_t = value.t.or(self.last_t);
            let row = self.rows.entry(value.opt_id).or_default();
            row.evaluations += 1;
            row.changed = v;
            if value.fx.is_finite() {
                row.best = Some(row.best.map_or(value.fx, |b| b.min(value.fx)));
            }
            if let Some(point) = point
                && self.best.as_ref().is_none_or(|b| point.fx < b.fx)
            {
                self.best = Some(point);
            }
            if self.reduced.best_point.is_some_and(|(c, _)| c == value.call_id) {
                self.best_changed = v;
            }
        }
        for warning in batch.warnings {
            self.warn(warning);
        }
        self.caught_up |= batch.caught_up;
        if let Some((summary, liveness)) = batch.summary {
            self.summary = summary;
            self.liveness = liveness;
        }
        self.refresh();
    }

    /// Keeps `warning` for the page, or only counts it once [`MAX_WARNINGS`] are kept.
    fn warn(&mut self, warning: String) {
        self.skipped += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else if self.warnings.len() == MAX_WARNINGS {
            self.warnings.push(format!(
                "more than {MAX_WARNINGS} lines could not be read: the others are counted (counters.skipped), not listed"
            ));
        }
    }

    /// Recomputes the whole-value parts of an update.
    fn refresh(&mut self) {
        let summary = self.summary.as_ref();
        let field = |key: &str| summary.map_or(&Value::Null, |s| &s[key]);
        let end_reason = field("end_reason").as_str().filter(|r| *r != "running");
        let budget = field("settings")["convergence"]
            .as_str()
            .and_then(|c| glompo_core::checker::parse(c).ok())
            .and_then(|c| c.budget());
        self.run = json!({
            "dir": self.dir.display().to_string(),
            "state": self.liveness.text(),
            "end_reason": end_reason,
            "parameter_names": field("parameter_names"),
            "budget": budget,
            "loading": !self.caught_up,
        });
        let mut statuses: BTreeMap<&str, u64> = BTreeMap::new();
        for (&opt, row) in &self.rows {
            if opt != 0 && row.start_t.is_some() {
                *statuses.entry(self.status(row)).or_default() += 1;
            }
        }
        let count = |s: &str| statuses.get(s).copied().unwrap_or(0);
        let elapsed = match self.liveness {
            Liveness::Finished => field("wall_time_s").as_f64().or(self.last_t),
            _ => self.last_t,
        };
        self.counters = json!({
            "evaluations": self.reduced.evaluations,
            "failed": self.reduced.failed,
            "infinite": self.reduced.infinite,
            "last_call": self.reduced.last_call,
            "skipped": self.skipped,
            "started": statuses.values().sum::<u64>(),
            "running": count("running"),
            "converged": count("converged"),
            "killed": count("killed"),
            "crashed": count("crashed"),
            "stopped": count("stopped"),
            "elapsed_s": elapsed,
        });
        self.best_json = match &self.best {
            None => Value::Null,
            Some(b) => json!({"fx": b.fx, "x": b.x, "opt_id": b.opt_id, "call_id": b.call_id}),
        };
        let curves: Vec<Vec<(u64, f64)>> = self.reduced.tracks.values().map(|t| t.curve.points()).collect();
        self.scale = scale_json(scale_of(&self.reduced, curves.iter().map(Vec::as_slice)));
    }

    /// The status word of an optimizer's row.
    fn status(&self, row: &Row) -> &'static str {
        match row.end.as_ref().map(|e| &e.how) {
            Some(EndHow::Converged { .. }) => "converged",
            Some(EndHow::Killed { .. }) => "killed",
            Some(EndHow::Crashed { .. } | EndHow::Abandoned { .. }) => "crashed",
            Some(EndHow::Stopped { .. }) => "stopped",
            None if matches!(self.liveness, Liveness::Live | Liveness::Waiting) => "running",
            None => "no end logged",
        }
    }

    /// The row of optimizer `opt` as the page gets it.
    fn row_json(&self, opt: OptimizerId, row: &Row) -> Value {
        let marker = row.end.as_ref().and_then(|e| Ending::of(&e.how)).and_then(|_| {
            let last = self.reduced.tracks.get(&opt)?.curve.buckets().last()?.last;
            Some(json!([last.0, last.1]))
        });
        let how = match &row.end {
            Some(end) => Some(one_line(&end_text(&end.how))),
            None if self.status(row) == "no end logged" => {
                Some("no end logged (the manager was killed)".into())
            }
            None => None,
        };
        let type_name = match (&row.type_name, opt) {
            (Some(t), _) => t.clone(),
            (None, 0) => "generator".into(),
            (None, _) => "?".into(),
        };
        json!({
            "opt": opt,
            "type": type_name,
            "workers": row.workers,
            "status": if opt == 0 { "" } else { self.status(row) },
            "evaluations": row.evaluations,
            "best": row.best,
            "start_t": row.start_t,
            "end_t": row.end.as_ref().map(|e| e.t),
            "how": how,
            "marker": marker,
        })
    }

    /// What changed since `cursor` last looked, as the next update of its connection (the first
    /// one is a reset with everything); `None` when nothing did.
    pub(crate) fn update(&self, cursor: &mut Cursor) -> Option<Value> {
        debug_assert!(cursor.version <= self.version);
        let mut u = serde_json::Map::new();
        let reset = !cursor.started || cursor.epoch != self.epoch;
        let width = self.reduced.width();
        if reset {
            *cursor = Cursor { started: true, epoch: self.epoch, width, ..Cursor::default() };
            u.insert("reset".into(), json!(true));
        }
        let mut failures_reset = reset;
        if width != cursor.width {
            // The page merges its buckets first; so does the cursor's memory of them.
            let factor = width / cursor.width.max(1);
            cursor.tracks.values_mut().for_each(|last| *last /= factor);
            cursor.best_curve = cursor.best_curve.map(|last| last / factor);
            cursor.width = width;
            failures_reset = true;
            u.insert("width".into(), json!(width));
        } else if reset {
            u.insert("width".into(), json!(width));
        }
        for (key, now, seen) in [
            ("run", &self.run, &mut cursor.run),
            ("counters", &self.counters, &mut cursor.counters),
            ("best", &self.best_json, &mut cursor.best),
            ("scale", &self.scale, &mut cursor.scale),
        ] {
            if reset || now != seen {
                u.insert(key.into(), now.clone());
                seen.clone_from(now);
            }
        }
        let mut tracks = Vec::new();
        for (&opt, &changed) in &self.tracks_changed {
            if changed <= cursor.version && !reset {
                continue;
            }
            let Some(track) = self.reduced.tracks.get(&opt) else { continue };
            if let Some(buckets) = since(track.curve.buckets(), cursor.tracks.get(&opt).copied()) {
                cursor.tracks.insert(opt, buckets[buckets.len() - 1].index);
                tracks.push(
                    json!({"opt": opt, "buckets": buckets.iter().map(bucket_json).collect::<Vec<_>>()}),
                );
            }
        }
        if !tracks.is_empty() {
            u.insert("tracks".into(), Value::Array(tracks));
        }
        if (reset || self.best_changed > cursor.version || u.contains_key("width"))
            && let Some(buckets) = since(self.reduced.best.buckets(), cursor.best_curve)
        {
            cursor.best_curve = Some(buckets[buckets.len() - 1].index);
            u.insert("best_curve".into(), buckets.iter().map(bucket_json).collect());
        }
        let failures = self.reduced.failure_buckets();
        if failures_reset && (reset || cursor.failures > 0 || !failures.is_empty()) {
            u.insert("failures".into(), json!({"reset": true, "add": failures}));
        } else if failures.len() > cursor.failures {
            u.insert("failures".into(), json!({"reset": false, "add": &failures[cursor.failures..]}));
        }
        cursor.failures = failures.len();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .filter(|(_, row)| reset || row.changed > cursor.version)
            .map(|(&opt, row)| self.row_json(opt, row))
            .collect();
        if !rows.is_empty() {
            u.insert("optimizers".into(), Value::Array(rows));
        }
        if self.warnings.len() > cursor.warnings {
            u.insert("warnings".into(), json!(&self.warnings[cursor.warnings..]));
            cursor.warnings = self.warnings.len();
        }
        cursor.version = self.version;
        (!u.is_empty()).then_some(Value::Object(u))
    }
}

/// The buckets from the one at index `last` on (the last one sent may have changed since), or all
/// of them; `None` when there are none to send.
fn since(buckets: &[Bucket], last: Option<u64>) -> Option<&[Bucket]> {
    let from = last.map_or(0, |last| buckets.partition_point(|b| b.index < last));
    (from < buckets.len()).then(|| &buckets[from..])
}

/// `[index, c_first, f_first, c_min, f_min, c_max, f_max, c_last, f_last]`.
fn bucket_json(b: &Bucket) -> Value {
    json!([b.index, b.first.0, b.first.1, b.min.0, b.min.1, b.max.0, b.max.1, b.last.0, b.last.1])
}

/// The scale as the page gets it.
fn scale_json(scale: Scale) -> Value {
    let (lo, hi) = scale.bounds();
    let (kind, min, offset) = match scale {
        Scale::Linear { .. } => ("linear", None, None),
        Scale::Log { .. } => ("log", None, None),
        Scale::ShiftedLog { min, offset, .. } => ("shifted-log", Some(min), Some(offset)),
    };
    json!({"kind": kind, "lo": lo, "hi": hi, "min": min, "offset": offset, "label": scale.label()})
}

/// What one connection's page holds, as far as the server knows: what its next update leaves out.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    started: bool,
    epoch: u64,
    version: u64,
    width: u64,
    /// The index of the last bucket sent of each track.
    tracks: HashMap<OptimizerId, u64>,
    best_curve: Option<u64>,
    failures: usize,
    warnings: usize,
    run: Value,
    counters: Value,
    best: Value,
    scale: Value,
}

impl Cursor {
    /// The state's version it has seen.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }
}

/// The evaluations a follower reads at most into one batch, so that a long log is applied (and the
/// state's lock released) in steps.
pub(crate) const BATCH_LINES: usize = 200_000;

/// Follows a run directory's logs and summary into batches for a [`RunState`].
#[derive(Debug)]
pub(crate) struct Follower {
    dir: PathBuf,
    evaluations: Tail,
    optimizers: Tail,
    /// The best finite value read so far: a better one is read with its point.
    best: f64,
    /// The summary and liveness read last.
    seen: Option<(Option<Value>, Liveness)>,
    /// Whether it has read to the end of the logs once.
    caught_up: bool,
}

impl Follower {
    /// Follows `dir` from the start of its logs.
    pub(crate) fn new(dir: &Path) -> Self {
        Follower {
            dir: dir.to_path_buf(),
            evaluations: Tail::new(dir.join(rundir::EVALUATIONS)),
            optimizers: Tail::new(dir.join(rundir::OPTIMIZERS)),
            best: f64::INFINITY,
            seen: None,
            caught_up: false,
        }
    }

    /// Whether the logs read so far were replaced (a new run in the directory): the state must
    /// start again, with a new follower.
    pub(crate) fn replaced(&self) -> bool {
        self.evaluations.replaced() || self.optimizers.replaced()
    }

    /// Reads what the logs gained (at most [`BATCH_LINES`] evaluations) and the summary and
    /// liveness; says whether more evaluations are waiting.
    pub(crate) fn read(&mut self) -> (Batch, bool) {
        let mut batch = Batch::default();
        let name = self.optimizers.name();
        let events = &mut batch.events;
        let warnings = &mut batch.warnings;
        let read = self.optimizers.read(usize::MAX, |line, text| match serde_json::from_slice(text) {
            Ok(event) => events.push(event),
            Err(e) => warnings.push(format!("{name} line {line} is not an optimizer event (skipped): {e}")),
        });
        if let Err(e) = read {
            batch.warnings.push(format!("{}: {e}", self.optimizers.path.display()));
        }
        let name = self.evaluations.name();
        let best = &mut self.best;
        let evaluations = &mut batch.evaluations;
        let warnings = &mut batch.warnings;
        let more = self.evaluations.read(BATCH_LINES, |line, text| {
            match plain_value(text).map_or_else(|| serde_json::from_slice::<LoggedValue>(text), Ok) {
                Ok(value) => {
                    // The point only of an improvement: reading every point would cost several times more.
                    let point = if value.fx < *best {
                        *best = value.fx;
                        match serde_json::from_slice::<LoggedEvaluation>(text) {
                            Ok(point) => Some(point),
                            Err(e) => {
                                warnings.push(format!(
                                    "{name} line {line}: the point of a new best is unreadable: {e}"
                                ));
                                None
                            }
                        }
                    } else {
                        None
                    };
                    evaluations.push((value, point));
                }
                Err(e) => warnings.push(format!("{name} line {line} is not an evaluation (skipped): {e}")),
            }
        });
        let more = more.unwrap_or_else(|e| {
            batch.warnings.push(format!("{}: {e}", self.evaluations.path.display()));
            false
        });
        // Once only: the first time it reads to the end.
        batch.caught_up = !more && !self.caught_up;
        self.caught_up |= !more;
        let now = self.liveness();
        if self.seen.as_ref() != Some(&now) {
            self.seen = Some(now.clone());
            batch.summary = Some(now);
        }
        (batch, more)
    }

    /// The summary (if the run wrote one) and whether the run is going on.
    fn liveness(&self) -> (Option<Value>, Liveness) {
        let summary = rundir::summary(&self.dir).ok().flatten();
        let live = glompo_core::manager::live_run(&self.dir).ok().flatten().is_some();
        let liveness = match &summary {
            _ if live => Liveness::Live,
            None => Liveness::Waiting,
            Some(s) if s["end_reason"] == "running" => Liveness::Killed,
            Some(_) => Liveness::Finished,
        };
        (summary, liveness)
    }
}

#[cfg(test)]
mod tests;

/// A line of `evaluations.jsonl` read without serde when it has the shape the manager writes for a
/// plain successful evaluation, `{"call_id":N,"opt_id":N,"x":[…],"fx":F,"t":T}` and nothing else:
/// several times faster, which is what a dashboard following a run of 10⁶ evaluations a second
/// spends its time on. Any other line (a failure, extras, another order, anything odd) is `None`,
/// and serde reads it.
fn plain_value(text: &[u8]) -> Option<LoggedValue> {
    let text = std::str::from_utf8(text).ok()?;
    let rest = text.strip_prefix("{\"call_id\":")?;
    let (call_id, rest) = rest.split_once(",\"opt_id\":")?;
    let (opt_id, rest) = rest.split_once(",\"x\":[")?;
    // The point holds numbers (or null) only: its first `]` closes it.
    let (x, rest) = rest.split_once(']')?;
    if x.contains(['[', '{', '"']) {
        return None;
    }
    let rest = rest.strip_prefix(",\"fx\":")?;
    let (fx, rest) = rest.split_once(",\"t\":")?;
    let t = rest.strip_suffix('}')?;
    // A JSON number: no leading `+` or `.`, no trailing `.`, digits, sign, point and exponent only.
    let number = |v: &str| {
        let json = v.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
            && v.starts_with(|c: char| c == '-' || c.is_ascii_digit())
            && v.ends_with(|c: char| c.is_ascii_digit());
        v.parse::<f64>().ok().filter(|f| json && f.is_finite())
    };
    // An id: digits only (`u64::from_str` would take a leading `+`, which JSON does not).
    let id = |v: &str| v.bytes().all(|b| b.is_ascii_digit()).then(|| v.parse().ok()).flatten();
    let fx = number(fx)?;
    Some(LoggedValue { call_id: id(call_id)?, opt_id: id(opt_id)?, fx, t: Some(number(t)?), failed: false })
}
