//! The run directory: `evaluations.jsonl`, `optimizers.jsonl` and `summary.json`.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checkpoint::{LogMarks, remove_after, truncate_logs};
use super::event::{Evaluated, Event, Observe, OptimizerEvent};
use crate::error::{CoreError, Result};
use crate::optimizer::OptimizerId;

/// The files a run writes; any of them present means the directory holds a run.
pub const RUN_FILES: &[&str] = &["summary.json", "evaluations.jsonl", "optimizers.jsonl"];

/// The folder of the runner processes' printstreams, `NNNN.out` and `NNNN.err` (process backends).
pub const PRINTSTREAMS: &str = "printstreams";

/// The file that asks a live run for a checkpoint (`glompo checkpoint DIR` creates it; the run
/// consumes it within a tick).
pub const CHECKPOINT_FILE: &str = "CHKPT";

/// The lock file a live run holds (an advisory `flock`) with the manager's pid in it.
pub const LOCK_FILE: &str = ".glompo.lock";

/// A run directory held by a live run: the lock is released when this is dropped (or the process
/// ends, however it ends).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// How many times [`lock_dir`] tries again, 5 ms apart, to lock a directory whose lock is taken.
const LOCK_TRIES: u32 = 20;

/// Takes `dir` for a run: creates it if needed and locks it, or fails with [`CoreError::RunDirBusy`]
/// naming the pid of the live run that holds it.
pub(crate) fn lock_dir(dir: &Path) -> Result<DirLock> {
    if dir.exists() && !dir.is_dir() {
        return Err(CoreError::RunDir { path: dir.to_path_buf(), message: "is not a directory".into() });
    }
    fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| CoreError::io(&path, e))?;
    // A reader asking whether a run is live ([`live_run`]: a dashboard polls it) holds a shared lock
    // for a moment: a lock that stays taken through a few tries is a live run's.
    let mut tries = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if tries < LOCK_TRIES => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(CoreError::RunDirBusy { path: dir.to_path_buf(), pid: holder(&mut file) });
            }
            Err(fs::TryLockError::Error(e)) => return Err(CoreError::io(&path, e)),
        }
    }
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.write_all_at(pid.as_bytes(), 0))
        .map_err(|e| CoreError::io(&path, e))?;
    Ok(DirLock { _file: file })
}

/// The pid written in a lock file (0 if it cannot be read).
fn holder(file: &mut File) -> u32 {
    let mut text = String::new();
    file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok()).unwrap_or(0)
}

/// The pid of the live run that holds `dir`, if one does: `glompo stop` asks only a live run.
pub fn live_run(dir: &Path) -> Result<Option<u32>> {
    let path = dir.join(LOCK_FILE);
    let mut file = match OpenOptions::new().read(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CoreError::io(&path, e)),
    };
    match file.try_lock_shared() {
        // Taken at once: nobody holds it. Dropping the file releases it.
        Ok(()) => Ok(None),
        Err(fs::TryLockError::WouldBlock) => Ok(Some(holder(&mut file))),
        Err(fs::TryLockError::Error(e)) => Err(CoreError::io(&path, e)),
    }
}

/// Whether `name` is a printstream file glompo writes: `NNNN.out` or `NNNN.err`.
fn is_printstream(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        (ext == "out" || ext == "err") && stem.len() >= 4 && stem.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Whether the file at `path` is a checkpoint glompo wrote: it starts as every one does.
fn is_checkpoint(path: &Path) -> bool {
    let head = format!("{{\"format\":\"{}\"", super::checkpoint::CHECKPOINT_FORMAT);
    let mut buf = vec![0; head.len()];
    File::open(path).and_then(|mut f| f.read_exact(&mut buf)).is_ok_and(|()| buf == head.as_bytes())
}

/// Whether `name` is a STOP file: `STOP_<opt_id>`.
pub(crate) fn stop_file_id(name: &str) -> Option<OptimizerId> {
    name.strip_prefix("STOP_").filter(|n| n.bytes().all(|b| b.is_ascii_digit())).and_then(|n| n.parse().ok())
}

/// The files in `dir` that glompo writes, by their known names only: the run files, the temporary
/// summary, printstreams and STOP files. Nothing else in the directory is glompo's.
fn glompo_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut run = Vec::new();
    for name in RUN_FILES {
        let path = dir.join(name);
        if path.is_file() {
            run.push(path);
        }
    }
    let streams = dir.join(PRINTSTREAMS);
    if streams.is_dir() {
        for entry in fs::read_dir(&streams).map_err(|e| CoreError::io(&streams, e))? {
            let entry = entry.map_err(|e| CoreError::io(&streams, e))?;
            if entry.file_name().to_str().is_some_and(is_printstream) && entry.path().is_file() {
                run.push(entry.path());
            }
        }
    }
    // Checkpoints belong to the run whose logs they were taken of.
    let checkpoints = dir.join(super::checkpoint::CHECKPOINTS);
    if checkpoints.is_dir() {
        for entry in fs::read_dir(&checkpoints).map_err(|e| CoreError::io(&checkpoints, e))? {
            let path = entry.map_err(|e| CoreError::io(&checkpoints, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if (name.ends_with(".json") || name.ends_with(".json.tmp")) && is_checkpoint(&path) {
                run.push(path);
            }
        }
    }
    let mut stale = Vec::new();
    let tmp = dir.join("summary.json.tmp");
    if tmp.is_file() {
        stale.push(tmp);
    }
    for entry in fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))? {
        let entry = entry.map_err(|e| CoreError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_str().unwrap_or("");
        if (stop_file_id(name).is_some() || name == CHECKPOINT_FILE) && entry.path().is_file() {
            stale.push(entry.path());
        }
    }
    Ok((run, stale))
}

/// Makes a locked `dir` ready for a new run: refuses it if it holds a run's files unless `overwrite`,
/// in which case those files are removed. Only files glompo writes, by their known names, are
/// removed; a folder is removed only when that leaves it empty, and anything of the user's stays.
/// Stale STOP files and a temporary summary are always removed: they would act on the new run.
pub(crate) fn prepare_dir(dir: &Path, overwrite: bool) -> Result<()> {
    let (run, stale) = glompo_files(dir)?;
    if !run.is_empty() && !overwrite {
        return Err(CoreError::RunDirExists { path: dir.to_path_buf() });
    }
    for path in run.iter().chain(&stale) {
        fs::remove_file(path).map_err(|e| CoreError::io(path, e))?;
    }
    // A printstreams or checkpoints folder that still holds files of the user's stays; an empty one
    // is glompo's.
    for folder in [dir.join(PRINTSTREAMS), dir.join(super::checkpoint::CHECKPOINTS)] {
        if folder.is_dir() && fs::read_dir(&folder).is_ok_and(|mut d| d.next().is_none()) {
            fs::remove_dir(&folder).map_err(|e| CoreError::io(&folder, e))?;
        }
    }
    Ok(())
}

/// A log file written through a buffer. When a write fails (a full disk), the file is cut back to its
/// last complete line and every later write fails the same way without touching it, so the log stays
/// readable to its last line.
struct LogFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    failed: Option<String>,
}

impl LogFile {
    fn create(path: PathBuf) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| CoreError::io(&path, e))?;
        Ok(LogFile { path, writer: Some(BufWriter::with_capacity(1 << 16, file)), failed: None })
    }

    /// Opens an existing log to write after its end (a resumed run).
    fn append(path: PathBuf) -> Result<Self> {
        let file =
            OpenOptions::new().read(true).append(true).open(&path).map_err(|e| CoreError::io(&path, e))?;
        Ok(LogFile { path, writer: Some(BufWriter::with_capacity(1 << 16, file)), failed: None })
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.attempt(|w| w.write_all(bytes))
    }

    fn flush(&mut self) -> Result<()> {
        self.attempt(|w| w.flush())
    }

    fn attempt(&mut self, op: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> Result<()> {
        if let Some(failed) = &self.failed {
            return Err(CoreError::io(&self.path, std::io::Error::other(failed.clone())));
        }
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        op(writer).map_err(|e| {
            self.fail(&e);
            CoreError::io(&self.path, e)
        })
    }

    /// Gives up on the file after `error`: drops what is buffered and cuts a half-written line.
    fn fail(&mut self, error: &std::io::Error) {
        self.failed = Some(error.to_string());
        if let Some(writer) = self.writer.take() {
            let (file, _unwritten) = writer.into_parts();
            // Cutting a file needs no space; if even this fails, the half line stays.
            let _ = cut_to_last_line(&file);
        }
    }
}

/// Truncates `file` just after its last newline (to nothing if it has none).
fn cut_to_last_line(file: &File) -> std::io::Result<()> {
    let mut end = file.metadata()?.len();
    let mut chunk = vec![0_u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buf, start)?;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            return file.set_len(start + i as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

/// Appends `line` to `buf`: `{"call_id":…,"opt_id":…,"x":[…],"fx":…,"t":…}` with `extras` and `error`
/// when present.
///
/// The numbers are written directly (shortest round-trip form, `null` for non-finite values): this is
/// the hot path of a run with a cheap objective, and a generic serializer costs a tenth more.
fn format_evaluation(buf: &mut Vec<u8>, line: &Evaluated<'_>) -> std::io::Result<()> {
    let Evaluated { call_id, opt_id, x, fx, t, extras, error } = *line;
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
    evaluations: LogFile,
    optimizers: LogFile,
    /// Held for the run's life.
    _lock: DirLock,
}

impl RunLog {
    /// Locks and prepares `dir` for a new run and creates its logs (nothing for a run without one).
    pub(crate) fn open(dir: Option<&Path>, overwrite: bool) -> Result<Self> {
        let files = match dir {
            None => None,
            Some(dir) => {
                let lock = lock_dir(dir)?;
                prepare_dir(dir, overwrite)?;
                Some(Files {
                    dir: dir.to_path_buf(),
                    line: Vec::with_capacity(512),
                    evaluations: LogFile::create(dir.join("evaluations.jsonl"))?,
                    optimizers: LogFile::create(dir.join("optimizers.jsonl"))?,
                    _lock: lock,
                })
            }
        };
        Ok(RunLog { files })
    }

    /// Locks `dir` for the resumed run of a checkpoint taken in `source` and opens its logs cut back to
    /// `marks` (checked by the caller): in `source` itself the logs are truncated; a new `dir` is
    /// prepared as for a new run and gets a copy of the logs up to the marks.
    pub(crate) fn resume(
        dir: &Path,
        source: &Path,
        marks: &LogMarks,
        count: u64,
        overwrite: bool,
    ) -> Result<Self> {
        let lock = lock_dir(dir)?;
        let same = fs::canonicalize(dir).map_err(|e| CoreError::io(dir, e))?
            == fs::canonicalize(source).map_err(|e| CoreError::io(source, e))?;
        if same {
            // Requests left from before the resume would act on it.
            let (_, stale) = glompo_files(dir)?;
            for path in &stale {
                fs::remove_file(path).map_err(|e| CoreError::io(path, e))?;
            }
            truncate_logs(dir, marks)?;
            remove_after(dir, count)?;
        } else {
            prepare_dir(dir, overwrite)?;
            for (name, mark) in
                [("evaluations.jsonl", &marks.evaluations), ("optimizers.jsonl", &marks.optimizers)]
            {
                let (from, to) = (source.join(name), dir.join(name));
                let copy = || -> std::io::Result<()> {
                    let mut input = File::open(&from)?.take(mark.bytes);
                    let mut output = OpenOptions::new().write(true).create_new(true).open(&to)?;
                    std::io::copy(&mut input, &mut output)?;
                    output.sync_all()
                };
                copy().map_err(|e| CoreError::io(&to, e))?;
            }
        }
        Ok(RunLog {
            files: Some(Files {
                dir: dir.to_path_buf(),
                line: Vec::with_capacity(512),
                evaluations: LogFile::append(dir.join("evaluations.jsonl"))?,
                optimizers: LogFile::append(dir.join("optimizers.jsonl"))?,
                _lock: lock,
            }),
        })
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        self.files.as_ref().map(|f| f.dir.as_path())
    }

    fn evaluation(&mut self, line: &Evaluated<'_>) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        f.line.clear();
        format_evaluation(&mut f.line, line)
            .map_err(|e| CoreError::io(f.dir.join("evaluations.jsonl"), e))?;
        f.evaluations.write_all(&f.line)
    }

    fn optimizer_event(&mut self, event: &OptimizerEvent) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        f.line.clear();
        write_line(&mut f.line, event).map_err(|e| CoreError::io(f.dir.join("optimizers.jsonl"), e))?;
        f.optimizers.write_all(&f.line)?;
        f.optimizers.flush()
    }

    /// Pushes buffered lines to the files, so that the logs of a live run are at most one flush behind.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let Some(f) = &mut self.files else { return Ok(()) };
        let evaluations = f.evaluations.flush();
        let optimizers = f.optimizers.flush();
        evaluations.and(optimizers)
    }

    /// Writes `summary.json` atomically: a temporary file, fsync, then rename.
    pub(crate) fn summary(&mut self, summary: &impl Serialize) -> Result<()> {
        let Some(f) = &self.files else { return Ok(()) };
        write_atomic(&f.dir.join("summary.json"), summary)
    }

    /// Ends the run's use of its directory: STOP files that arrived too late to act on are removed
    /// (they would act on the next run there), and the lock is released.
    pub(crate) fn close(&mut self) {
        if let Some(f) = self.files.take()
            && let Ok(entries) = fs::read_dir(&f.dir)
        {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_str().unwrap_or("");
                if stop_file_id(name).is_some() || name == CHECKPOINT_FILE {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The log writer is an observer: evaluations go to `evaluations.jsonl`, optimizer events to
/// `optimizers.jsonl`; the other events are not logged line by line (the summary has the run's end).
impl Observe for RunLog {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            Event::Evaluation(line) => self.evaluation(line),
            Event::Optimizer(event) => self.optimizer_event(event),
            Event::Hunt { .. } | Event::Checkpoint { .. } | Event::Progress(_) | Event::Finished(_) => Ok(()),
        }
    }
}

fn write_line(w: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}

/// Writes `value` as pretty JSON to `path` atomically (temporary file, fsync, rename). If that fails,
/// the temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let write = |tmp: &Path| -> std::io::Result<()> {
        let mut file = BufWriter::new(File::create(tmp)?);
        serde_json::to_writer_pretty(&mut file, value)?;
        file.write_all(b"\n")?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    super::rundir::replace_atomically(path, &path.with_extension("json.tmp"), write, |e| e)
        .map_err(|e| CoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_takes_a_directory_that_readers_keep_asking_about() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        drop(lock_dir(&dir).unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // A dashboard asks whether a run is live, as often as it can.
        let asking = {
            let (dir, stop) = (dir.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut asked = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    live_run(&dir).unwrap();
                    asked += 1;
                }
                asked
            })
        };
        for _ in 0..200 {
            let lock = lock_dir(&dir).unwrap();
            assert_eq!(live_run(&dir).unwrap(), Some(std::process::id()));
            drop(lock);
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(asking.join().unwrap() > 200);
        // A run that holds the directory still keeps the next one out.
        let _held = lock_dir(&dir).unwrap();
        let busy = lock_dir(&dir).unwrap_err();
        assert!(matches!(busy, CoreError::RunDirBusy { pid, .. } if pid == std::process::id()), "{busy}");
    }
    use serde_json::{Value, json};

    fn line(x: &[f64], fx: f64, extras: Option<&Value>, error: Option<&str>) -> Value {
        let mut buf = Vec::new();
        format_evaluation(&mut buf, &Evaluated { call_id: 12, opt_id: 3, x, fx, t: 0.25, extras, error })
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
