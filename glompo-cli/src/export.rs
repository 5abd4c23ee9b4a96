//! `glompo export DIR --csv`: the evaluations of a run as a CSV table, one column per parameter,
//! which pandas, polars or a spreadsheet load without reshaping lists.
//!
//! The columns are `call_id`, `opt_id`, `t`, `fx`, one per parameter (named as the config names
//! them, else `x0`, `x1`, ...) and `error`. Numbers are written in their shortest form that reads back
//! exactly, as in `evaluations.jsonl`; a failed value (NaN) is an empty cell, an infinite one `inf` or
//! `-inf`. The log is streamed, so a run of 10⁷ evaluations is exported in constant memory; a live
//! run is exported up to its last complete line. The file is written beside its destination and
//! renamed into place, so it is never seen half written.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use glompo_core::CoreError;
use glompo_core::manager::rundir::{self, Evaluations, LoggedEvaluation};

use crate::view::RunView;

/// The default file name of the export, in the run directory.
pub const CSV_FILE: &str = "evaluations.csv";

/// What [`export_csv`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exported {
    /// The file.
    pub path: PathBuf,
    /// Its rows, the header aside.
    pub rows: u64,
    /// Its columns.
    pub columns: Vec<String>,
}

/// Writes the evaluations of the run in `dir` as CSV to `out` (default `DIR/evaluations.csv`); an
/// existing file is replaced only with `overwrite`. Errors name the file (and the line of the log).
pub fn export_csv(dir: &Path, out: Option<&Path>, overwrite: bool) -> Result<Exported, CoreError> {
    let view = RunView::open(dir)?;
    let path = out.map_or_else(|| dir.join(CSV_FILE), Path::to_path_buf);
    if path.exists() && !overwrite {
        return Err(CoreError::RunDir {
            path,
            message: "exists already; pass --overwrite to replace it".into(),
        });
    }
    let mut evaluations = Evaluations::<LoggedEvaluation>::open(dir)?.peekable();
    // The number of columns: the summary's, else the first evaluation's.
    let dim = match (view.dim(), evaluations.peek()) {
        (Some(dim), _) => dim,
        (None, Some(Ok(first))) => first.x.len(),
        (None, _) => 0,
    };
    let mut columns: Vec<String> = ["call_id", "opt_id", "t", "fx"].map(String::from).into();
    columns.extend(view.coordinate_names(dim));
    columns.push("error".into());
    let log = dir.join(rundir::EVALUATIONS);
    // Nothing is left behind of a failed export; the error says why it failed.
    let rows = rundir::replace_atomically(
        &path,
        &rundir::temporary_beside(&path, ""),
        |tmp| write((tmp, &path), &log, &columns, dim, evaluations),
        |e| CoreError::io(&path, e),
    )?;
    Ok(Exported { path, rows, columns })
}

/// Writes the header `columns` and a row per evaluation (of the file `log`) into the new file `tmp`,
/// which errors call `path` (the file it becomes); the number of rows.
fn write(
    (tmp, path): (&Path, &Path),
    log: &Path,
    columns: &[String],
    dim: usize,
    evaluations: impl Iterator<Item = Result<LoggedEvaluation, CoreError>>,
) -> Result<u64, CoreError> {
    let file: File =
        OpenOptions::new().write(true).create_new(true).open(tmp).map_err(|e| CoreError::io(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    let io = |e: std::io::Error| CoreError::io(path, e);
    let header: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
    writeln!(w, "{}", header.join(",")).map_err(io)?;
    let mut rows = 0;
    let mut line = String::new();
    for evaluation in evaluations {
        let e = evaluation?;
        if e.x.len() != dim {
            return Err(CoreError::Log {
                path: log.to_path_buf(),
                line: rows + 1,
                message: format!("{} coordinates where the run has {dim}", e.x.len()),
            });
        }
        line.clear();
        row(&mut line, &e);
        w.write_all(line.as_bytes()).map_err(io)?;
        rows += 1;
    }
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(rows)
}

/// The CSV row of `e`, with its line end.
fn row(line: &mut String, e: &LoggedEvaluation) {
    use std::fmt::Write as _;
    // Writing into a String cannot fail.
    let _ = write!(line, "{},{},", e.call_id, e.opt_id);
    if let Some(t) = e.t {
        number(line, t);
    }
    line.push(',');
    number(line, e.fx);
    for &v in &e.x {
        line.push(',');
        number(line, v);
    }
    line.push(',');
    if let Some(error) = &e.error {
        line.push_str(&quoted(error));
    }
    line.push('\n');
}

/// `v` in its shortest exact form; NaN as nothing, infinities as `inf` and `-inf`.
fn number(line: &mut String, v: f64) {
    match v {
        v if v.is_nan() => {}
        f64::INFINITY => line.push_str("inf"),
        f64::NEG_INFINITY => line.push_str("-inf"),
        v => line.push_str(zmij::Buffer::new().format_finite(v)),
    }
}

/// A CSV field: as it is, or in double quotes (with its quotes doubled) when it holds a comma, a
/// quote or a line break (RFC 4180).
fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluation(x: Vec<f64>, fx: f64, error: Option<&str>) -> LoggedEvaluation {
        LoggedEvaluation {
            call_id: 7,
            opt_id: 2,
            x,
            fx,
            t: Some(0.25),
            extras: None,
            error: error.map(str::to_owned),
        }
    }

    fn line(e: &LoggedEvaluation) -> String {
        let mut line = String::new();
        row(&mut line, e);
        line
    }

    #[test]
    fn rows_hold_exact_numbers_and_empty_cells_for_failures() {
        assert_eq!(line(&evaluation(vec![0.1, -3e-300], 1.5, None)), "7,2,0.25,1.5,0.1,-3e-300,\n");
        let failed = evaluation(vec![f64::NAN, 2.0], f64::NAN, Some("the worker said \"no\", twice"));
        assert_eq!(line(&failed), "7,2,0.25,,,2.0,\"the worker said \"\"no\"\", twice\"\n");
        let infinite = evaluation(vec![1.0], f64::INFINITY, Some("non-finite value inf"));
        assert_eq!(line(&infinite), "7,2,0.25,inf,1.0,non-finite value inf\n");
    }

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(quoted("k_bond"), "k_bond");
        assert_eq!(quoted("a\nb"), "\"a\nb\"");
    }
}
