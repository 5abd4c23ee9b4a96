//! Checkpoints: a run as one versioned, self-describing document, and the checks that make a resume
//! safe.
//!
//! A checkpoint file is `{"format": "glompo-checkpoint", "version": 1, "checksum": "fnv1a64:…",
//! "body": {…}}`. The checksum covers the body's bytes as written, so a file that was edited or cut
//! short is refused rather than half-trusted; the format and version are read before anything else,
//! so a checkpoint of another version says so. Loading one is reading JSON: it never executes code.
//!
//! The body holds the run book, the settings and configuration, the state of every stateful
//! component, and for every optimizer alive at the checkpoint its recipe, its last saved state and
//! how many of its evaluations that state includes. The evaluations it had logged after that state
//! are not copied: they are in `evaluations.jsonl`, whose length and last line at the checkpoint are
//! recorded, and a resume reads them back from there and replays them to the restored optimizer.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Settings;
use super::book::RunBook;
use super::event::EndHow;
use super::rundir::{Lines, LoggedEvaluation};
use crate::error::{CoreError, Result};
use crate::optimizer::OptimizerId;
use crate::runner::{EvalRecord, RunnerRecipe};

/// The `format` of every checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "glompo-checkpoint";

/// The version of the checkpoint format this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// The folder of a run directory that holds its checkpoints.
pub const CHECKPOINTS: &str = "checkpoints";

/// The largest checkpoint file read (a run of a thousand 1000-D CMA-ES states is far below it).
const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// When a run writes checkpoints (into `DIR/checkpoints/`). Whatever the policy, a run with a directory
/// also takes one when asked (a `CHKPT` file, `glompo checkpoint`) and when a signal interrupts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointPolicy {
    /// Every this many seconds of the run.
    pub every_seconds: Option<f64>,
    /// Every this many evaluations.
    pub every_evals: Option<u64>,
    /// Once the first optimizers have started.
    pub at_start: bool,
    /// At the end of the run, after the last evaluation and before the summary.
    pub at_end: bool,
    /// Keep only the newest this many (older ones are removed once a newer one is complete).
    pub keep: Option<usize>,
    /// The file name pattern: `{count}`, `{date}`, `{time}`; `.json` is added.
    pub name: String,
    /// How long the manager waits for the optimizers to answer a save request before it writes what
    /// it has (an optimizer deep in a long evaluation is checkpointed with its last state and the
    /// evaluations it logged since).
    pub answer_within: std::time::Duration,
    /// In a batch job with an end time (`SLURM_JOB_END_TIME`, read by the CLI): how long before that
    /// end the run takes a checkpoint and stops ([`ManagerBuilder::deadline`](crate::manager::ManagerBuilder::deadline)).
    #[serde(default = "default_before_job_end")]
    pub before_job_end: std::time::Duration,
}

fn default_before_job_end() -> std::time::Duration {
    CheckpointPolicy::default().before_job_end
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_seconds: None,
            every_evals: None,
            at_start: false,
            at_end: false,
            keep: None,
            name: DEFAULT_NAME.to_owned(),
            answer_within: std::time::Duration::from_secs(1),
            before_job_end: std::time::Duration::from_secs(300),
        }
    }
}

impl CheckpointPolicy {
    /// Checks the policy; errors name the field.
    pub fn check(&self) -> Result<()> {
        if let Some(s) = self.every_seconds
            && !(s.is_finite() && s > 0.0)
        {
            return Err(CoreError::config(
                "checkpoint.every_seconds",
                format!("{s} is not a positive number of seconds"),
            ));
        }
        if self.every_evals == Some(0) {
            return Err(CoreError::config("checkpoint.every_evals", "must be at least 1"));
        }
        if self.keep == Some(0) {
            return Err(CoreError::config(
                "checkpoint.keep",
                "must be at least 1 (leave it out to keep all)",
            ));
        }
        check_pattern(&self.name)
    }
}

/// The default checkpoint name pattern.
pub const DEFAULT_NAME: &str = "checkpoint_{count}";

/// One position in a log file: its length then, and its last line (without the newline), so that a
/// resume can tell the file is the one the checkpoint was taken of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileMark {
    pub(crate) bytes: u64,
    pub(crate) tail: String,
}

/// Where the run's logs stood when the checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogMarks {
    pub(crate) evaluations: FileMark,
    pub(crate) optimizers: FileMark,
}

/// The states of the run's components (`null` for a stateless one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ComponentStates {
    pub(crate) selector: serde_json::Value,
    pub(crate) generator: serde_json::Value,
    /// The checker expression the state is of: a resume with another one starts it fresh.
    pub(crate) checker_expression: String,
    pub(crate) checker: serde_json::Value,
    pub(crate) hunter: serde_json::Value,
}

/// An optimizer alive at the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LiveOptimizer {
    /// How it was built.
    pub(crate) recipe: RunnerRecipe,
    /// Its last saved state; `None` when it never answered a save (it then restarts from its recipe
    /// and replays all its evaluations).
    pub(crate) state: Option<std::sync::Arc<serde_json::Value>>,
    /// How many of its evaluations `state` includes.
    pub(crate) evaluations_at_state: u64,
    /// Why it had been told to stop, if it had.
    pub(crate) stop_cause: Option<EndHow>,
    /// Why its state is older than the checkpoint, or missing (it did not answer in time, or its
    /// optimizer cannot save).
    pub(crate) note: Option<String>,
}

/// What a checkpoint holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Body {
    pub(crate) glompo_version: String,
    pub(crate) created_unix: f64,
    /// Its number among the run's checkpoints, from 1.
    pub(crate) count: u64,
    /// What took it (`every_seconds`, `CHKPT file`, `SIGUSR1`, ...).
    pub(crate) reason: String,
    pub(crate) settings: Settings,
    pub(crate) config: Option<serde_json::Value>,
    pub(crate) bounds: crate::point::Bounds,
    pub(crate) book: RunBook,
    pub(crate) components: ComponentStates,
    pub(crate) optimizers: Vec<LiveOptimizer>,
    pub(crate) logs: LogMarks,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'a str,
    version: u32,
    checksum: String,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    version: u32,
    checksum: String,
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
}

/// 64-bit FNV-1a: a checksum against edits and truncation, not against an adversary.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn checksum(body: &str) -> String {
    format!("fnv1a64:{:016x}", fnv1a64(body.as_bytes()))
}

fn bad(path: &Path, message: impl Into<String>) -> CoreError {
    CoreError::Checkpoint { path: path.to_path_buf(), message: message.into() }
}

/// Writes `body` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the folder.
/// The previous checkpoint is untouched until the new one is complete.
pub(crate) fn write(path: &Path, body: &Body) -> Result<()> {
    let text = serde_json::to_string(body).map_err(|e| bad(path, format!("cannot encode: {e}")))?;
    // The envelope around the body's text as it is: the body is not parsed again to be embedded.
    let envelope =
        EnvelopeOut { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, checksum: checksum(&text) };
    let head = serde_json::to_string(&envelope).map_err(|e| bad(path, format!("cannot encode: {e}")))?;
    let write = |tmp: &Path| -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(File::create(tmp)?);
        // `{"format":…,"checksum":"…"` + `,"body":` + the body + `}`.
        file.write_all(head.trim_end_matches('}').as_bytes())?;
        file.write_all(b",\"body\":")?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"}\n")?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    super::rundir::replace_atomically(path, &path.with_extension("json.tmp"), write, |e| e)
        .and_then(|()| match path.parent() {
            Some(dir) => File::open(dir)?.sync_all(),
            None => Ok(()),
        })
        .map_err(|e| CoreError::io(path, e))
}

/// Reads and checks a checkpoint file: its format, version and checksum, then its body.
pub(crate) fn read(path: &Path) -> Result<Body> {
    let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    let mut text = String::new();
    file.take(MAX_CHECKPOINT_BYTES + 1).read_to_string(&mut text).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => bad(path, "is not a checkpoint: not UTF-8 text"),
        _ => CoreError::io(path, e),
    })?;
    if text.len() as u64 > MAX_CHECKPOINT_BYTES {
        return Err(bad(
            path,
            format!("is larger than {} GiB: not a checkpoint", MAX_CHECKPOINT_BYTES >> 30),
        ));
    }
    if text.trim().is_empty() {
        return Err(bad(path, "is empty"));
    }
    // The format and version first, so that another version is named as such.
    let head: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) if e.is_eof() => return Err(bad(path, format!("is cut short ({e}): truncated"))),
        Err(e) => return Err(bad(path, format!("is not valid JSON: {e}"))),
    };
    match head.get("format").and_then(|f| f.as_str()) {
        Some(CHECKPOINT_FORMAT) => {}
        Some(other) => return Err(bad(path, format!("has format `{other}`, not `{CHECKPOINT_FORMAT}`"))),
        None => return Err(bad(path, format!("is not a checkpoint: no `format: \"{CHECKPOINT_FORMAT}\"`"))),
    }
    match head.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(CHECKPOINT_VERSION) => {}
        Some(v) => {
            return Err(bad(
                path,
                format!(
                    "is of checkpoint format version {v}; this glompo reads version {CHECKPOINT_VERSION} only"
                ),
            ));
        }
        None => return Err(bad(path, "has no format version")),
    }
    drop(head);
    let envelope: EnvelopeIn<'_> =
        serde_json::from_str(&text).map_err(|e| bad(path, format!("is not a checkpoint: {e}")))?;
    debug_assert!(envelope.format == CHECKPOINT_FORMAT && envelope.version == CHECKPOINT_VERSION);
    if checksum(envelope.body.get()) != envelope.checksum {
        return Err(bad(path, "its checksum does not match its content: it was edited or damaged"));
    }
    serde_json::from_str(envelope.body.get()).map_err(|e| bad(path, format!("body: {e}")))
}

/// The mark of a log file as it is now (its length and last line).
pub(crate) fn mark(path: &Path) -> Result<FileMark> {
    let bytes = fs::metadata(path).map_err(|e| CoreError::io(path, e))?.len();
    Ok(FileMark { bytes, tail: tail_before(path, bytes)? })
}

/// The last line of the first `end` bytes of `path`, without its newline ("" when there is none).
fn tail_before(path: &Path, end: u64) -> Result<String> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    if end == 0 {
        return Ok(String::new());
    }
    // A log line is at most a few MB (a 100 000-D point); read back until a newline before the last.
    let mut len = 4096u64.min(end);
    loop {
        let start = end - len;
        let mut buf = vec![0; len as usize];
        file.read_exact_at(&mut buf, start).map_err(|e| CoreError::io(path, e))?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(String::from_utf8_lossy(&body[i + 1..]).into_owned());
        }
        if start == 0 {
            return Ok(String::from_utf8_lossy(body).into_owned());
        }
        len = (len * 2).min(end);
    }
}

/// Checks that the log at `path` is the one `mark` was taken of: at least that long, and the line
/// ending there is the same.
fn check_mark(path: &Path, mark: &FileMark, checkpoint: &Path) -> Result<()> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(
                checkpoint,
                format!("{} is missing: not this checkpoint's run directory", path.display()),
            ));
        }
        Err(e) => return Err(CoreError::io(path, e)),
    };
    if len < mark.bytes {
        return Err(bad(
            checkpoint,
            format!(
                "{} is shorter ({len} bytes) than at the checkpoint ({} bytes)",
                path.display(),
                mark.bytes
            ),
        ));
    }
    if tail_before(path, mark.bytes)? != mark.tail {
        return Err(bad(
            checkpoint,
            format!(
                "{} does not hold the lines the checkpoint was taken after: another run's log",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// An evaluation read back from `evaluations.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoggedEval {
    pub(crate) x: Vec<f64>,
    pub(crate) record: EvalRecord,
}

/// Reads `evaluations.jsonl` up to the checkpoint's mark, checks that its lines are numbered 1..N
/// with N the book's count, and returns, for each optimizer alive at the checkpoint, the evaluations
/// it logged after its saved state (in log order).
pub(crate) fn pending(dir: &Path, body: &Body, checkpoint: &Path) -> Result<Vec<Vec<LoggedEval>>> {
    let path = dir.join("evaluations.jsonl");
    check_mark(&path, &body.logs.evaluations, checkpoint)?;
    check_mark(&dir.join("optimizers.jsonl"), &body.logs.optimizers, checkpoint)?;
    let file = File::open(&path).map_err(|e| CoreError::io(&path, e))?;
    let lines = Lines::<LoggedEvaluation, _>::new(file.take(body.logs.evaluations.bytes), &path);
    let index: std::collections::HashMap<OptimizerId, usize> =
        body.optimizers.iter().enumerate().map(|(i, o)| (o.recipe.opt_id, i)).collect();
    let mut seen = vec![0u64; body.optimizers.len()];
    let mut out = vec![Vec::new(); body.optimizers.len()];
    let mut n = 0u64;
    for line in lines {
        n += 1;
        let line = line.map_err(|e| bad(checkpoint, format!("{e}: it cannot be read")))?;
        if line.call_id != n {
            return Err(bad(
                checkpoint,
                format!("{} line {n} has call_id {}: the log was edited", path.display(), line.call_id),
            ));
        }
        let Some(&i) = index.get(&line.opt_id) else { continue };
        seen[i] += 1;
        if seen[i] <= body.optimizers[i].evaluations_at_state {
            continue;
        }
        let record = EvalRecord { fx: line.fx, extras: line.extras, error: line.error };
        out[i].push(LoggedEval { x: line.x, record });
    }
    if n != body.book.counters.evaluations {
        return Err(bad(
            checkpoint,
            format!(
                "counts {} evaluations but {} holds {n} up to it: the checkpoint or the log was edited",
                body.book.counters.evaluations,
                path.display()
            ),
        ));
    }
    for (o, seen) in body.optimizers.iter().zip(&seen) {
        if *seen < o.evaluations_at_state {
            return Err(bad(
                checkpoint,
                format!(
                    "optimizer {}'s state includes {} evaluations but the log holds {seen} of it",
                    o.recipe.opt_id, o.evaluations_at_state
                ),
            ));
        }
    }
    Ok(out)
}

/// Cuts the run's logs back to the checkpoint's marks (after [`pending`] checked them).
pub(crate) fn truncate_logs(dir: &Path, logs: &LogMarks) -> Result<()> {
    for (name, mark) in [("evaluations.jsonl", &logs.evaluations), ("optimizers.jsonl", &logs.optimizers)] {
        let path = dir.join(name);
        let file = fs::OpenOptions::new().write(true).open(&path).map_err(|e| CoreError::io(&path, e))?;
        file.set_len(mark.bytes).and_then(|()| file.sync_all()).map_err(|e| CoreError::io(&path, e))?;
    }
    Ok(())
}

/// What a checkpoint says of itself: enough for a resume to build the run's manager again.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// Its number among the run's checkpoints, from 1.
    pub count: u64,
    /// When it was written (seconds since the Unix epoch).
    pub created_unix: f64,
    /// What took it.
    pub reason: String,
    /// The evaluations logged up to it.
    pub evaluations: u64,
    /// The run seed.
    pub seed: u64,
    /// The optimizers alive at it.
    pub alive: usize,
    /// The configuration the run was given ([`ManagerBuilder::config`](super::ManagerBuilder::config)).
    pub config: Option<serde_json::Value>,
}

/// Reads and checks a checkpoint file and tells what it holds.
pub fn inspect(path: &Path) -> Result<CheckpointInfo> {
    let body = read(path)?;
    Ok(CheckpointInfo {
        count: body.count,
        created_unix: body.created_unix,
        reason: body.reason,
        evaluations: body.book.counters.evaluations,
        seed: body.settings.seed,
        alive: body.optimizers.len(),
        config: body.config,
    })
}

/// The newest checkpoint of a run directory: the file in `DIR/checkpoints/` with the highest count
/// (its name does not matter), or an error saying there is none.
pub fn latest(dir: &Path) -> Result<PathBuf> {
    let folder = dir.join(CHECKPOINTS);
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CoreError::RunDir {
                path: dir.to_path_buf(),
                message: "holds no checkpoints".into(),
            });
        }
        Err(e) => return Err(CoreError::io(&folder, e)),
    };
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in entries {
        let path = entry.map_err(|e| CoreError::io(&folder, e))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let count = read_count(&path)?;
        if best.as_ref().is_none_or(|(c, _)| count > *c) {
            best = Some((count, path));
        }
    }
    best.map(|(_, p)| p)
        .ok_or_else(|| CoreError::RunDir { path: dir.to_path_buf(), message: "holds no checkpoints".into() })
}

/// Removes the checkpoints of `dir` taken after the one numbered `count`: a run resumed from an older
/// checkpoint discards the part of the logs they were taken of, so they could only fail to resume.
/// Files that are not checkpoints of glompo's are left alone.
pub(crate) fn remove_after(dir: &Path, count: u64) -> Result<()> {
    let folder = dir.join(CHECKPOINTS);
    let Ok(entries) = fs::read_dir(&folder) else { return Ok(()) };
    for entry in entries {
        let path = entry.map_err(|e| CoreError::io(&folder, e))?.path();
        if path.extension().is_some_and(|e| e == "json") && read(&path).is_ok_and(|b| b.count > count) {
            fs::remove_file(&path).map_err(|e| CoreError::io(&path, e))?;
        }
    }
    Ok(())
}

/// The count of a checkpoint (the whole file is read and checked).
fn read_count(path: &Path) -> Result<u64> {
    Ok(read(path)?.count)
}

/// A checkpoint's file name from the run's pattern: `{count}` (four digits at least), `{date}`
/// (`YYYYMMDD`, UTC) and `{time}` (`HHMMSS`, UTC) are replaced; `.json` is added.
pub(crate) fn file_name(pattern: &str, count: u64, unix: f64) -> String {
    let secs = unix.max(0.0) as u64;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let name = pattern
        .replace("{count}", &format!("{count:04}"))
        .replace("{date}", &format!("{y:04}{m:02}{d:02}"))
        .replace("{time}", &format!("{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60));
    format!("{name}.json")
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Checks a naming pattern: it must make a plain file name and hold `{count}` (so that names differ).
pub(crate) fn check_pattern(pattern: &str) -> Result<()> {
    if !pattern.contains("{count}") {
        return Err(CoreError::config(
            "checkpoint.name",
            "must contain {count}, so that every checkpoint has its own name",
        ));
    }
    let sample = file_name(pattern, 1, 0.0);
    if sample.contains('/') || sample.starts_with('.') || sample.contains('\0') {
        return Err(CoreError::config(
            "checkpoint.name",
            format!("`{pattern}` does not make a plain file name"),
        ));
    }
    if let Some(i) = sample.find(['{', '}']) {
        return Err(CoreError::config(
            "checkpoint.name",
            format!(
                "`{pattern}`: unknown field at `{}`; the fields are {{count}}, {{date}}, {{time}}",
                &sample[i..]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(count: u64) -> Body {
        let mut book = RunBook::new(1.0e9);
        book.counters.evaluations = 2;
        Body {
            glompo_version: "test".into(),
            created_unix: 1.0e9,
            count,
            reason: "every_evals".into(),
            settings: Settings::default(),
            config: Some(serde_json::json!({"seed": 3})),
            bounds: crate::point::Bounds::uniform(2, -1.0, 1.0).unwrap(),
            book,
            components: ComponentStates {
                selector: serde_json::Value::Null,
                generator: serde_json::Value::Null,
                checker_expression: "max_evals(10)".into(),
                checker: serde_json::Value::Null,
                hunter: serde_json::Value::Null,
            },
            optimizers: Vec::new(),
            logs: LogMarks {
                evaluations: FileMark { bytes: 10, tail: "x".into() },
                optimizers: FileMark { bytes: 0, tail: String::new() },
            },
        }
    }

    fn message(path: &Path) -> String {
        match read(path) {
            Err(CoreError::Checkpoint { message, .. }) => message,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("{} was read", path.display()),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_and_damaged_ones_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        write(&path, &body(4)).unwrap();
        let back = read(&path).unwrap();
        assert_eq!((back.count, back.book.counters.evaluations, back.reason.as_str()), (4, 2, "every_evals"));
        assert!(!dir.path().join("c.json.tmp").exists());
        let text = fs::read_to_string(&path).unwrap();

        let cases: Vec<(String, &str)> = vec![
            (String::new(), "is empty"),
            (text[..text.len() / 2].to_owned(), "truncated"),
            (text.replace("\"evaluations\":2", "\"evaluations\":3"), "checksum does not match"),
            (text.replace("\"version\":1", "\"version\":2"), "version 2; this glompo reads version 1"),
            (text.replace(CHECKPOINT_FORMAT, "pickle"), "format `pickle`"),
            ("[1, 2]".into(), "not a checkpoint"),
            ("{\"a\": ".into(), "truncated"),
        ];
        for (i, (content, expected)) in cases.iter().enumerate() {
            let damaged = dir.path().join(format!("d{i}.json"));
            fs::write(&damaged, content).unwrap();
            let said = message(&damaged);
            assert!(said.contains(expected), "case {i}: {said}");
        }
        let binary = dir.path().join("bin.json");
        fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert!(message(&binary).contains("not UTF-8"));
    }

    #[test]
    fn the_latest_checkpoint_is_the_highest_count() {
        let dir = tempfile::tempdir().unwrap();
        assert!(latest(dir.path()).is_err());
        let folder = dir.path().join(CHECKPOINTS);
        fs::create_dir(&folder).unwrap();
        for (name, count) in [("b.json", 2), ("a.json", 9), ("c.json", 5)] {
            write(&folder.join(name), &body(count)).unwrap();
        }
        fs::write(folder.join("notes.txt"), "mine").unwrap();
        assert_eq!(latest(dir.path()).unwrap(), folder.join("a.json"));
        assert_eq!(inspect(&folder.join("c.json")).unwrap().count, 5);
    }

    #[test]
    fn names_follow_the_pattern() {
        // 2026-12-03 08:05:43 UTC.
        assert_eq!(file_name("ck_{count}_{date}_{time}", 7, 1_796_285_143.0), "ck_0007_20261203_080543.json");
        assert_eq!(file_name("{count}", 12_345, 0.0), "12345.json");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert!(check_pattern("checkpoint_{count}").is_ok());
        for bad in ["nocount", "a/{count}", "{count}{hour}", ".{count}"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tails_are_the_last_line_before_a_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let long = "y".repeat(10_000);
        fs::write(&path, format!("first\n{long}\nthird\n")).unwrap();
        let m = mark(&path).unwrap();
        assert_eq!(m.tail, "third");
        assert_eq!(tail_before(&path, 6).unwrap(), "first");
        assert_eq!(tail_before(&path, 6 + long.len() as u64 + 1).unwrap(), long);
        assert_eq!(tail_before(&path, 0).unwrap(), "");
    }
}
