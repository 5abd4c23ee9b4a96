//! Reading a run directory back: `evaluations.jsonl`, `optimizers.jsonl` and `summary.json`, of a
//! finished run or of one that is still going.
//!
//! A live run appends to its logs through a buffer, so the last line of a log may be cut short while
//! it is read: such a line (one without its newline) is left for the next reading, never an error.
//! Every other line that cannot be read is an error naming the file and the line.
//!
//! [`Evaluations`] streams the evaluations one line at a time, so that a run of 10⁷ evaluations is
//! read in constant memory; its line type is a parameter, so a reader that does not need the points
//! ([`LoggedValue`]) skips them instead of building them.
//!
//! ```
//! use std::sync::Arc;
//! use glompo_core::manager::{Manager, OptimizerEvent, rundir};
//! use glompo_core::selector::{CycleSelector, OptimizerSpec};
//! use glompo_core::{checker, functions, testing::ScriptedFactory};
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("run");
//! let sphere = functions::build("sphere", 2, &Default::default())?;
//! let bounds = sphere.bounds();
//! let spec = OptimizerSpec::new(Arc::new(ScriptedFactory::descending()));
//! Manager::builder(Arc::new(sphere), bounds)
//!     .selector(Box::new(CycleSelector::new(vec![spec])?))
//!     .checker(checker::max_evals(20))
//!     .dir(&dir)
//!     .build()?
//!     .run()?;
//! let values: Vec<rundir::LoggedValue> = rundir::Evaluations::open(&dir)?.collect::<Result<_, _>>()?;
//! assert_eq!(values.len(), 20);
//! assert!(values.iter().enumerate().all(|(i, v)| v.call_id == i as u64 + 1));
//! let events = rundir::optimizer_events(&dir)?;
//! assert!(matches!(events[0], OptimizerEvent::Start(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::event::OptimizerEvent;
use crate::error::{CoreError, Result};
use crate::optimizer::OptimizerId;

/// The evaluations' log in a run directory.
pub const EVALUATIONS: &str = "evaluations.jsonl";
/// The optimizers' log in a run directory.
pub const OPTIMIZERS: &str = "optimizers.jsonl";
/// The summary in a run directory.
pub const SUMMARY: &str = "summary.json";

/// A temporary file beside `path` to write it in before it is renamed over `path`: hidden, named
/// after `path` and this process, ending in `suffix` (an encoder that picks the format from the
/// extension needs it: `.png`).
pub fn temporary_beside(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp{suffix}", std::process::id()))
}

/// Replaces `path` atomically: `write` fills `tmp` (a file beside it), which is then renamed to
/// `path`. If either fails, `tmp` is removed and `path` is as it was; `rename_failed` makes the error
/// of a failed rename. The summary, checkpoints, exports and plots are all replaced through here.
pub fn replace_atomically<T, E>(
    path: &Path,
    tmp: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<T, E>,
    rename_failed: impl FnOnce(std::io::Error) -> E,
) -> std::result::Result<T, E> {
    let done = write(tmp).and_then(|value| match std::fs::rename(tmp, path) {
        Ok(()) => Ok(value),
        Err(e) => Err(rename_failed(e)),
    });
    if done.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    done
}

/// One line of `evaluations.jsonl`, whole.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawEvaluation")]
pub struct LoggedEvaluation {
    /// Its global number, 1, 2, 3, ...
    pub call_id: u64,
    /// The optimizer that asked for it (0: the generator).
    pub opt_id: OptimizerId,
    /// The point (`null` coordinates read as NaN).
    pub x: Vec<f64>,
    /// Its value: NaN when it failed, ±∞ when its error says the value was infinite.
    pub fx: f64,
    /// Seconds since the run started, when it reached the manager (absent in older logs).
    pub t: Option<f64>,
    /// Extras of a detailed evaluation.
    pub extras: Option<serde_json::Value>,
    /// Why it failed, or that its value was not finite.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct RawEvaluation {
    call_id: u64,
    opt_id: OptimizerId,
    x: Vec<Option<f64>>,
    fx: Option<f64>,
    #[serde(default)]
    t: Option<f64>,
    #[serde(default)]
    extras: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
}

impl From<RawEvaluation> for LoggedEvaluation {
    fn from(raw: RawEvaluation) -> Self {
        LoggedEvaluation {
            call_id: raw.call_id,
            opt_id: raw.opt_id,
            x: raw.x.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
            fx: logged_value(raw.fx, raw.error.as_deref()),
            t: raw.t,
            extras: raw.extras,
            error: raw.error,
        }
    }
}

/// One line of `evaluations.jsonl` without its point and extras: what a plot or a count needs, read
/// at a fraction of the cost of a [`LoggedEvaluation`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawValue")]
pub struct LoggedValue {
    /// Its global number.
    pub call_id: u64,
    /// The optimizer that asked for it (0: the generator).
    pub opt_id: OptimizerId,
    /// Its value, as in [`LoggedEvaluation::fx`].
    pub fx: f64,
    /// Seconds since the run started.
    pub t: Option<f64>,
    /// Whether it failed (its value is not a number it was given).
    pub failed: bool,
}

#[derive(Deserialize)]
struct RawValue {
    call_id: u64,
    opt_id: OptimizerId,
    #[serde(rename = "x")]
    _x: IgnoredAny,
    fx: Option<f64>,
    #[serde(default)]
    t: Option<f64>,
    #[serde(default)]
    error: Option<String>,
}

impl From<RawValue> for LoggedValue {
    fn from(raw: RawValue) -> Self {
        let fx = logged_value(raw.fx, raw.error.as_deref());
        LoggedValue { call_id: raw.call_id, opt_id: raw.opt_id, fx, t: raw.t, failed: fx.is_nan() }
    }
}

/// The value a logged evaluation had: `null` is a failure (NaN) or a non-finite value named in its
/// error (`non-finite value inf`).
pub fn logged_value(fx: Option<f64>, error: Option<&str>) -> f64 {
    match (fx, error.and_then(|e| e.strip_prefix("non-finite value "))) {
        (Some(v), _) => v,
        (None, Some(name)) => crate::exact::parse_nonfinite(name).unwrap_or(f64::NAN),
        (None, None) => f64::NAN,
    }
}

/// The lines of a JSON-lines log, read one at a time as `T`; see the [module](self) on a live run's
/// last line.
#[derive(Debug)]
pub struct Lines<T, R = File> {
    reader: BufReader<R>,
    path: PathBuf,
    line: u64,
    text: String,
    done: bool,
    kind: PhantomData<fn() -> T>,
}

/// The evaluations of a run directory, as [`LoggedEvaluation`] or [`LoggedValue`].
pub type Evaluations<T = LoggedEvaluation> = Lines<T, File>;

impl<T: DeserializeOwned> Lines<T, File> {
    /// Opens `DIR/evaluations.jsonl`.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::file(&dir.join(EVALUATIONS))
    }

    /// Opens the JSON-lines file `path`.
    pub fn file(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
        Ok(Self::new(file, path))
    }
}

impl<T: DeserializeOwned, R: Read> Lines<T, R> {
    /// Reads the lines of `reader`, which errors call `path`.
    pub fn new(reader: R, path: &Path) -> Self {
        Lines {
            reader: BufReader::with_capacity(1 << 16, reader),
            path: path.to_path_buf(),
            line: 0,
            text: String::new(),
            done: false,
            kind: PhantomData,
        }
    }

    /// The number of the line read last (1 for the first).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The error of line `line` of the file: `message`.
    fn error(&self, message: impl std::fmt::Display) -> CoreError {
        CoreError::Log { path: self.path.clone(), line: self.line, message: message.to_string() }
    }
}

impl<T: DeserializeOwned, R: Read> Iterator for Lines<T, R> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        self.text.clear();
        match self.reader.read_line(&mut self.text) {
            Err(e) => {
                self.done = true;
                Some(Err(CoreError::io(&self.path, e)))
            }
            // The end, or a line still being written by a live run.
            Ok(_) if !self.text.ends_with('\n') => {
                self.done = true;
                None
            }
            Ok(_) => {
                self.line += 1;
                let parsed = serde_json::from_str(&self.text).map_err(|e| self.error(e));
                self.done = parsed.is_err();
                Some(parsed)
            }
        }
    }
}

/// Every line of `DIR/optimizers.jsonl`, in order.
pub fn optimizer_events(dir: &Path) -> Result<Vec<OptimizerEvent>> {
    Lines::file(&dir.join(OPTIMIZERS))?.collect()
}

/// `DIR/summary.json`, or `None` when the run has not written it (it is going, or its manager was
/// killed).
pub fn summary(dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = dir.join(SUMMARY);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| CoreError::Log {
            path,
            line: e.line() as u64,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CoreError::io(path, e)),
    }
}

/// A time in seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC), as reports print the
/// `periods` of a summary.
pub fn utc(unix: f64) -> String {
    let secs = unix.max(0.0) as u64;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = super::checkpoint::civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Checks that `dir` is a run directory (it holds `evaluations.jsonl` and `optimizers.jsonl`).
pub fn check(dir: &Path) -> Result<()> {
    for name in [EVALUATIONS, OPTIMIZERS] {
        if !dir.join(name).is_file() {
            return Err(CoreError::RunDir {
                path: dir.to_path_buf(),
                message: format!("not a glompo run directory (it has no {name})"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_replacement_leaves_the_file_as_it_was_and_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out.json");
        std::fs::write(&path, "old").unwrap();
        let temporary = temporary_beside(&path, ".png");
        assert!(temporary.file_name().unwrap().to_string_lossy().starts_with(".out.json."));
        assert!(temporary.to_string_lossy().ends_with(".tmp.png"));
        // The write fails after writing part of it.
        let failed: std::result::Result<(), String> = replace_atomically(
            &path,
            &temporary,
            |t| {
                std::fs::write(t, "half").unwrap();
                Err("disk full".to_owned())
            },
            |e| e.to_string(),
        );
        assert_eq!(failed, Err("disk full".to_owned()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(!temporary.exists());
        // The rename fails: `path` is a directory.
        let dir = tmp.path().join("a_dir");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("inside"), "x").unwrap();
        let t2 = temporary_beside(&dir, "");
        let renamed = replace_atomically(&dir, &t2, |t| std::fs::write(t, "new"), |e| e);
        assert!(renamed.is_err() && !t2.exists() && dir.join("inside").exists());
        // And it succeeds, returning what the write returned.
        let n =
            replace_atomically(&path, &temporary, |t| std::fs::write(t, "new").map(|()| 3), |e| e).unwrap();
        assert_eq!((n, std::fs::read_to_string(&path).unwrap()), (3, "new".to_owned()));
        assert!(!temporary.exists());
    }

    fn lines<T: DeserializeOwned>(text: &str) -> Vec<Result<T>> {
        Lines::new(text.as_bytes(), Path::new("log.jsonl")).collect()
    }

    #[test]
    fn a_cut_last_line_is_left_for_later() {
        let text = "{\"call_id\":1,\"opt_id\":1,\"x\":[0.5],\"fx\":2,\"t\":0.1}\n{\"call_id\":2,\"opt";
        let read = lines::<LoggedEvaluation>(text);
        assert_eq!(read.len(), 1);
        let first = read.into_iter().next().and_then(|r| r.ok());
        assert_eq!(first.map(|e| (e.call_id, e.x, e.fx)), Some((1, vec![0.5], 2.0)));
    }

    #[test]
    fn failures_and_infinities_are_read_back() {
        let text = concat!(
            "{\"call_id\":1,\"opt_id\":2,\"x\":[null],\"fx\":null,\"t\":0,\"error\":\"boom\"}\n",
            "{\"call_id\":2,\"opt_id\":2,\"x\":[1],\"fx\":null,\"t\":0,\"error\":\"non-finite value -inf\"}\n",
        );
        let read: Vec<LoggedValue> = lines(text).into_iter().collect::<Result<_>>().unwrap_or_default();
        assert_eq!(read.len(), 2);
        assert!(read[0].failed && read[0].fx.is_nan());
        assert!(!read[1].failed && read[1].fx == f64::NEG_INFINITY);
        let whole: Vec<LoggedEvaluation> = lines(text).into_iter().collect::<Result<_>>().unwrap_or_default();
        assert!(whole[0].x[0].is_nan());
        assert_eq!(whole[0].error.as_deref(), Some("boom"));
    }

    #[test]
    fn times_are_printed_in_utc() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_796_345_303.9), "2026-12-04 00:48:23");
    }

    #[test]
    fn a_bad_line_is_an_error_naming_the_file_and_line() {
        let text = "{\"call_id\":1,\"opt_id\":1,\"x\":[],\"fx\":1}\nnot json\n{\"call_id\":3}\n";
        let read = lines::<LoggedValue>(text);
        assert_eq!(read.len(), 2, "reading stops at the bad line");
        let message = read[1].as_ref().err().map(ToString::to_string).unwrap_or_default();
        assert!(message.starts_with("log.jsonl line 2: "), "{message}");
    }
}
