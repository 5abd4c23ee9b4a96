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
#[derive(Serialize)]
struct EvalLine<'a> {
    call_id: u64,
    opt_id: OptimizerId,
    x: &'a [f64],
    fx: Option<f64>,
    t: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    extras: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
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

    #[allow(clippy::too_many_arguments)] // One argument per field of the line.
    pub(crate) fn evaluation(
        &mut self,
        call_id: u64,
        opt_id: OptimizerId,
        x: &[f64],
        fx: f64,
        t: f64,
        extras: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        let line = EvalLine { call_id, opt_id, x, fx: fx.is_finite().then_some(fx), t, extras, error };
        f.line.clear();
        write_line(&mut f.line, &line)
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
