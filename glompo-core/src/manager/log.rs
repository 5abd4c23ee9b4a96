//! The run directory: `evaluations.jsonl`, `optimizers.jsonl` and `summary.json`.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::optimizer::OptimizerId;

/// The files a run writes; any of them present means the directory holds a run.
pub const RUN_FILES: &[&str] = &["summary.json", "evaluations.jsonl", "optimizers.jsonl"];

/// The folders a run writes.
pub const RUN_FOLDERS: &[&str] = &["checkpoints", "printstreams"];

/// Makes `dir` ready for a new run: creates it, or refuses if it already holds a run's files unless
/// `overwrite`, in which case only those files and folders are removed (anything else is left alone).
pub(crate) fn prepare_dir(dir: &Path, overwrite: bool) -> Result<()> {
    let existing: Vec<PathBuf> =
        RUN_FILES.iter().chain(RUN_FOLDERS).map(|name| dir.join(name)).filter(|p| p.exists()).collect();
    if !existing.is_empty() {
        if !overwrite {
            return Err(CoreError::RunDirExists { path: dir.to_path_buf() });
        }
        for path in existing {
            let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed.map_err(|e| CoreError::io(&path, e))?;
        }
    }
    fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))
}

/// One line of `evaluations.jsonl`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EvalLine<'a> {
    pub(crate) call_id: u64,
    pub(crate) opt_id: OptimizerId,
    pub(crate) x: &'a [f64],
    pub(crate) fx: f64,
    pub(crate) t: f64,
    pub(crate) extras: Option<&'a serde_json::Value>,
    pub(crate) error: Option<&'a str>,
}

/// Appends `line` to `buf`: `{"call_id":…,"opt_id":…,"x":[…],"fx":…,"t":…}` with `extras` and `error`
/// when present.
///
/// The numbers are written directly (shortest round-trip form, `null` for non-finite values): this is
/// the hot path of a run with a cheap objective, and a generic serializer costs a tenth more.
fn format_evaluation(buf: &mut Vec<u8>, line: &EvalLine<'_>) -> std::io::Result<()> {
    let EvalLine { call_id, opt_id, x, fx, t, extras, error } = *line;
    let mut ints = itoa::Buffer::new();
    let mut floats = zmij::Buffer::new();
    let mut float = |buf: &mut Vec<u8>, v: f64| {
        if v.is_finite() {
            buf.extend_from_slice(floats.format_finite(v).as_bytes());
        } else {
            buf.extend_from_slice(b"null");
        }
    };
    buf.extend_from_slice(b"{\"call_id\":");
    buf.extend_from_slice(ints.format(call_id).as_bytes());
    buf.extend_from_slice(b",\"opt_id\":");
    buf.extend_from_slice(ints.format(opt_id).as_bytes());
    buf.extend_from_slice(b",\"x\":[");
    for (i, &v) in x.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        float(buf, v);
    }
    buf.extend_from_slice(b"],\"fx\":");
    float(buf, fx);
    buf.extend_from_slice(b",\"t\":");
    float(buf, t);
    if let Some(extras) = extras {
        buf.extend_from_slice(b",\"extras\":");
        serde_json::to_writer(&mut *buf, extras)?;
    }
    if let Some(error) = error {
        buf.extend_from_slice(b",\"error\":");
        serde_json::to_writer(&mut *buf, error)?;
    }
    buf.extend_from_slice(b"}\n");
    Ok(())
}

/// The open log files of a run; every method is a no-op for a run without a directory.
pub(crate) struct RunLog {
    files: Option<Files>,
}

struct Files {
    dir: PathBuf,
    /// The line being formatted, reused so that each evaluation costs one copy into the file buffer.
    line: Vec<u8>,
    evaluations: BufWriter<File>,
    optimizers: BufWriter<File>,
}

fn create(path: PathBuf) -> Result<BufWriter<File>> {
    let file =
        OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| CoreError::io(&path, e))?;
    Ok(BufWriter::with_capacity(1 << 16, file))
}

impl RunLog {
    pub(crate) fn open(dir: Option<&Path>) -> Result<Self> {
        let files = match dir {
            None => None,
            Some(dir) => Some(Files {
                dir: dir.to_path_buf(),
                line: Vec::with_capacity(512),
                evaluations: create(dir.join("evaluations.jsonl"))?,
                optimizers: create(dir.join("optimizers.jsonl"))?,
            }),
        };
        Ok(RunLog { files })
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        self.files.as_ref().map(|f| f.dir.as_path())
    }

    pub(crate) fn evaluation(&mut self, line: &EvalLine<'_>) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        f.line.clear();
        format_evaluation(&mut f.line, line)
            .and_then(|()| f.evaluations.write_all(&f.line))
            .map_err(|e| CoreError::io(f.dir.join("evaluations.jsonl"), e))
    }

    pub(crate) fn optimizer_event(&mut self, event: &serde_json::Value) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        write_line(&mut f.optimizers, event)
            .and_then(|()| f.optimizers.flush())
            .map_err(|e| CoreError::io(f.dir.join("optimizers.jsonl"), e))
    }

    /// Pushes buffered lines to the files, so that the logs of a live run are at most one flush behind.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        f.evaluations.flush().map_err(|e| CoreError::io(f.dir.join("evaluations.jsonl"), e))?;
        f.optimizers.flush().map_err(|e| CoreError::io(f.dir.join("optimizers.jsonl"), e))
    }

    /// Writes `summary.json` atomically: a temporary file, fsync, then rename.
    pub(crate) fn summary(&mut self, summary: &impl Serialize) -> Result<()> {
        let Some(f) = &self.files else { return Ok(()) };
        write_atomic(&f.dir.join("summary.json"), summary)
    }
}

fn write_line(w: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}

/// Writes `value` as pretty JSON to `path` atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        serde_json::to_writer_pretty(&mut file, value)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| CoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn line(x: &[f64], fx: f64, extras: Option<&Value>, error: Option<&str>) -> Value {
        let mut buf = Vec::new();
        format_evaluation(&mut buf, &EvalLine { call_id: 12, opt_id: 3, x, fx, t: 0.25, extras, error })
            .unwrap();
        assert_eq!(buf.last(), Some(&b'\n'));
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn evaluation_lines_are_exact_json() {
        let x = [0.1 + 0.2, -1e-300, 123456789.125, f64::MIN_POSITIVE, -0.0];
        let v = line(&x, 1.0 / 3.0, None, None);
        assert_eq!(v, json!({"call_id": 12, "opt_id": 3, "x": x, "fx": 1.0 / 3.0, "t": 0.25}));
        // Every value reads back to the same bits.
        let back: Vec<f64> = v["x"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
        assert!(back.iter().zip(&x).all(|(a, b)| a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0)));
    }

    #[test]
    fn non_finite_values_extras_and_errors() {
        let extras = json!({"residuals": [1, 2], "note": "a \"quoted\" word"});
        let v = line(&[f64::NAN, 1.0], f64::INFINITY, Some(&extras), Some("line 1\nline 2"));
        assert_eq!(v["x"], json!([null, 1.0]));
        assert_eq!(v["fx"], Value::Null);
        assert_eq!(v["extras"], extras);
        assert_eq!(v["error"], "line 1\nline 2");
    }
}
