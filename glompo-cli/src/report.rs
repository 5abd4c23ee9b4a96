//! `glompo report DIR`: a run in readable tables, finished, live or killed: its state, objective and
//! result (by parameter name when the config names them), end reason, counters, time periods and one
//! line per optimizer (type, start, end with the hunter or criterion, evaluations, best value).
//!
//! The evaluation log is read once, streamed (constant memory), whatever the run's state: a damaged
//! line is an error naming it, and the per-optimizer totals of optimizers that have not ended come
//! from it. A finished run's result and counters are its summary's. A live run's summary is the one
//! it wrote when it started, so its result and counters are counted from the logs; so are a killed
//! run's, whose summary still says `running` although no process holds its directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use glompo_core::CoreError;
use glompo_core::manager::rundir::{self, Evaluations, LoggedEvaluation};
use glompo_core::manager::{EndHow, KilledBy, OptimizerEnd, OptimizerEvent, OptimizerStart};
use serde_json::Value;

use crate::view::{Liveness, RunView};

/// The most parameters the report lists one by one; `glompo export` has them all.
const MAX_PARAMETER_ROWS: usize = 100;

/// The longest end text of an optimizer's line, in characters (a crash's error can be long).
const MAX_END_TEXT: usize = 240;

/// The report of the run in `dir`, as text. Errors name the directory or the file (and the line) that
/// cannot be read.
pub fn report(dir: &Path) -> Result<String, CoreError> {
    let view = RunView::open(dir)?;
    let events = rundir::optimizer_events(dir)?;
    // Every line is read, of a finished run too: a damaged log is reported, not passed over.
    let tally = Tally::of(dir)?;
    let mut out = String::new();
    head(&mut out, &view, &tally);
    parameters(&mut out, &view, &tally);
    counters(&mut out, &view, &tally, &events);
    periods(&mut out, &view);
    optimizers(&mut out, &view, &tally, &events);
    Ok(out)
}

/// A number as people read it: seven significant digits at most, in scientific notation when it is
/// very small or very large, without trailing zeros (`1.5`, `0.0012346`, `-3.2e-9`, `nan`).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}").to_lowercase();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-4..1e7).contains(&a) {
        let decimals = (6 - a.log10().floor() as i32).clamp(0, 10) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_owned()
    } else {
        let text = format!("{v:.6e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
            None => text,
        }
    }
}

/// `text` without the trailing zeros of its decimals (and without a trailing point).
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { text }
}

/// Seconds as people read them: `12.34 s`, `5 min 03 s`, `2 h 07 min`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 120.0 {
        format!("{s:.2} s")
    } else if s < 7200.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, s as u64 % 60)
    } else {
        format!("{} h {:02} min", (s / 3600.0) as u64, s as u64 / 60 % 60)
    }
}

/// What the logs of a live (or killed) run say, counted as they are read.
#[derive(Debug, Default)]
struct Tally {
    evaluations: u64,
    failed: u64,
    /// The first evaluation with the lowest value.
    best: Option<LoggedEvaluation>,
    /// Each optimizer's evaluations and best value.
    per_optimizer: BTreeMap<u64, (u64, Option<f64>)>,
    /// The arrival time of the last evaluation.
    last_t: Option<f64>,
}

impl Tally {
    /// Reads `DIR/evaluations.jsonl` up to its last complete line.
    fn of(dir: &Path) -> Result<Tally, CoreError> {
        let mut tally = Tally::default();
        for e in Evaluations::<LoggedEvaluation>::open(dir)? {
            let e = e?;
            tally.evaluations += 1;
            tally.last_t = e.t.or(tally.last_t);
            let (count, best) = tally.per_optimizer.entry(e.opt_id).or_default();
            *count += 1;
            if e.error.is_some() {
                tally.failed += 1;
            }
            if !e.fx.is_finite() {
                continue;
            }
            *best = Some(best.map_or(e.fx, |b| b.min(e.fx)));
            if tally.best.as_ref().is_none_or(|b| e.fx < b.fx) {
                tally.best = Some(e);
            }
        }
        Ok(tally)
    }
}

/// The best evaluation: `(x, fx, opt_id, call_id)`.
type Found = (Vec<f64>, f64, u64, u64);

/// The run's best evaluation: from the summary of a finished run, else from the logs.
fn best(view: &RunView, tally: &Tally) -> Option<Found> {
    if view.liveness != Liveness::Finished {
        return tally.best.as_ref().map(|b| (b.x.clone(), b.fx, b.opt_id, b.call_id));
    }
    let r = view.field("result");
    let x = r["x"].as_array()?.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
    Some((x, r["fx"].as_f64()?, r["opt_id"].as_u64()?, r["call_id"].as_u64()?))
}

/// The run, its state, objective, result and end.
fn head(out: &mut String, view: &RunView, tally: &Tally) {
    let mut t = Table::new(&["", ""]);
    t.row(vec!["run".into(), view.dir.display().to_string()]);
    let last = tally
        .last_t
        .filter(|_| view.liveness != Liveness::Finished)
        .map_or(String::new(), |s| format!(", last evaluation at {}", duration(s)));
    let state = match view.liveness {
        Liveness::Finished => "finished".to_owned(),
        Liveness::Live { pid } => format!("live (glompo process {pid}{last})"),
        Liveness::Killed => format!(
            "killed: its summary says it is running but no glompo process holds the directory; \
             its manager was killed or died before the end{last}"
        ),
    };
    t.row(vec!["state".into(), state]);
    let objective = &view.field("config")["objective"];
    let name = match (&objective["function"], &objective["command"]) {
        (Value::String(f), _) => f.clone(),
        (_, Value::Array(argv)) => argv.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    };
    if !name.is_empty() {
        let dim = view.dim().map_or(String::new(), |d| format!(" ({d}-D)"));
        t.row(vec!["objective".into(), format!("{name}{dim}")]);
    }
    let result = match best(view, tally) {
        Some((_, fx, 0, call_id)) => format!("f = {} (the generator's evaluation {call_id})", number(fx)),
        Some((_, fx, opt_id, call_id)) => {
            format!("f = {} (optimizer {opt_id}, evaluation {call_id})", number(fx))
        }
        None => "no finite value yet".into(),
    };
    t.row(vec!["best".into(), result]);
    let end = match view.liveness {
        Liveness::Finished => view.field("end_reason").as_str().unwrap_or("not recorded").to_owned(),
        Liveness::Live { .. } => "still running".into(),
        Liveness::Killed => "none: the run did not end by itself (no final summary)".into(),
    };
    t.row(vec!["end".into(), end]);
    t.render_bare(out);
}

/// The best point, one row per parameter with its bounds.
fn parameters(out: &mut String, view: &RunView, tally: &Tally) {
    let Some((x, ..)) = best(view, tally) else { return };
    let names = view.coordinate_names(x.len());
    let config = &view.field("config");
    let bound = |i: usize, side: usize| {
        let pair = match &config["parameters"] {
            Value::Array(p) => &p[i]["bounds"],
            _ => &config["bounds"][i],
        };
        pair[side].as_f64().map_or(String::new(), number)
    };
    let mut t = Table::new(&["parameter", "best", "lower", "upper"]).right(&[1, 2, 3]);
    for (i, (name, v)) in names.iter().zip(&x).enumerate().take(MAX_PARAMETER_ROWS) {
        // The best point exactly (it is copied into other programs), its bounds readably.
        let exact = if v.is_finite() { zmij::Buffer::new().format_finite(*v).to_owned() } else { number(*v) };
        t.row(vec![name.clone(), exact, bound(i, 0), bound(i, 1)]);
    }
    out.push('\n');
    t.render(out);
    if x.len() > MAX_PARAMETER_ROWS {
        let _ = writeln!(
            out,
            "… and {} more (glompo export DIR --csv has them all)",
            x.len() - MAX_PARAMETER_ROWS
        );
    }
}

/// The counters in the order the report lists them (a summary's others follow).
const COUNTERS: &[&str] = &[
    "evaluations",
    "failed_evaluations",
    "optimizers_started",
    "optimizers_killed",
    "optimizers_converged",
    "optimizers_crashed",
    "hunts",
    "peak_busy_slots",
];

/// The counters: the summary's for a finished run, counted from the logs for a live one.
fn counters(out: &mut String, view: &RunView, tally: &Tally, events: &[OptimizerEvent]) {
    let mut values: Vec<(String, String)> = match (view.liveness, view.field("counters")) {
        (Liveness::Finished, Value::Object(counters)) => {
            counters.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
        }
        _ => {
            let ends = || {
                events
                    .iter()
                    .filter_map(|e| if let OptimizerEvent::End(end) = e { Some(&end.how) } else { None })
            };
            let count = |f: fn(&EndHow) -> bool| ends().filter(|h| f(h)).count().to_string();
            let started = events.iter().filter(|e| matches!(e, OptimizerEvent::Start(_))).count();
            vec![
                ("evaluations".into(), tally.evaluations.to_string()),
                ("failed_evaluations".into(), tally.failed.to_string()),
                ("optimizers_started".into(), started.to_string()),
                ("optimizers_killed".into(), count(|h| matches!(h, EndHow::Killed { .. }))),
                ("optimizers_converged".into(), count(|h| matches!(h, EndHow::Converged { .. }))),
                ("optimizers_crashed".into(), count(|h| matches!(h, EndHow::Crashed { .. }))),
                ("hunts".into(), "- (counted at the end)".into()),
            ]
        }
    };
    values.sort_by_key(|(key, _)| COUNTERS.iter().position(|c| c == key).unwrap_or(COUNTERS.len()));
    let mut t = Table::new(&["counter", "value"]).right(&[1]);
    for (key, value) in values {
        t.row(vec![key.replace('_', " "), value]);
    }
    out.push('\n');
    t.render(out);
}

/// The sessions of the run (one, and one more per resume), from the summary's `periods`.
fn periods(out: &mut String, view: &RunView) {
    let Value::Array(periods) = view.field("periods") else { return };
    let mut t = Table::new(&["period", "start (UTC)", "end (UTC)", "length"]).right(&[0, 3]);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    for (i, p) in periods.iter().enumerate() {
        let start = p["start_unix"].as_f64();
        let (end, length) = match (p["end_unix"].as_f64(), view.liveness) {
            (Some(end), _) => {
                (rundir::utc(end), duration(p["seconds"].as_f64().unwrap_or(end - start.unwrap_or(end))))
            }
            (None, Liveness::Live { .. }) => {
                ("running".into(), start.map_or(String::new(), |s| format!("{} so far", duration(now - s))))
            }
            (None, _) => ("killed".into(), "-".into()),
        };
        t.row(vec![(i + 1).to_string(), start.map_or(String::new(), rundir::utc), end, length]);
    }
    out.push('\n');
    t.render(out);
}

/// One line per optimizer: its id, type, start and end times, evaluations, best value and end.
fn optimizers(out: &mut String, view: &RunView, tally: &Tally, events: &[OptimizerEvent]) {
    let mut ends: BTreeMap<u64, &OptimizerEnd> = BTreeMap::new();
    for e in events {
        if let OptimizerEvent::End(end) = e {
            ends.insert(end.opt_id, end);
        }
    }
    // A finished run's totals, from its summary (the optimizers that ended have their own).
    let totals = |id: u64| tally.per_optimizer.get(&id).copied().unwrap_or_default();
    let mut t =
        Table::new(&["opt", "type", "workers", "start s", "end s", "evaluations", "best f", "how it ended"])
            .right(&[0, 2, 3, 4, 5, 6]);
    if let Some((count, best)) = tally.per_optimizer.get(&0) {
        let best = best.map_or("-".into(), number);
        t.row(vec![
            "0".into(),
            "(generator)".into(),
            String::new(),
            String::new(),
            String::new(),
            count.to_string(),
            best,
            String::new(),
        ]);
    }
    for e in events {
        let OptimizerEvent::Start(start) = e else { continue };
        t.row(optimizer_row(start, ends.get(&start.opt_id).copied(), totals(start.opt_id), view.liveness));
    }
    out.push('\n');
    t.render(out);
}

/// The line of the optimizer that started with `start` and ended with `end`, if it did.
fn optimizer_row(
    start: &OptimizerStart,
    end: Option<&OptimizerEnd>,
    totals: (u64, Option<f64>),
    liveness: Liveness,
) -> Vec<String> {
    let (evaluations, best) = end.map_or(totals, |e| (e.evaluations, e.best_fx));
    let how = match (end, liveness) {
        (Some(end), _) => end_text(&end.how),
        (None, Liveness::Live { .. }) => "running".into(),
        (None, _) => "no end logged (the manager was killed)".into(),
    };
    vec![
        start.opt_id.to_string(),
        start.type_name.clone(),
        start.workers.to_string(),
        format!("{:.2}", start.t),
        end.map_or("-".into(), |e| format!("{:.2}", e.t)),
        evaluations.to_string(),
        best.map_or("-".into(), number),
        one_line(&how),
    ]
}

/// How an optimizer ended, in words, with the criterion, the hunter or the error.
pub(crate) fn end_text(how: &EndHow) -> String {
    match how {
        EndHow::Converged { criterion } => format!("converged: {criterion}"),
        EndHow::Killed { by: KilledBy::Hunt { hunter, expression }, at_call_id, .. } => {
            format!("killed by optimizer {hunter}'s hunt at evaluation {at_call_id}: {expression}")
        }
        EndHow::Killed { by: KilledBy::StopFile, at_call_id, .. } => {
            format!("killed by a STOP file at evaluation {at_call_id}")
        }
        EndHow::Stopped { by, .. } => format!("stopped: {by}"),
        EndHow::Crashed { error, .. } => format!("crashed: {error}"),
        EndHow::Abandoned { error, .. } => format!("abandoned: {error}"),
    }
}

/// `text` on one line (line breaks as ` | `), cut at [`MAX_END_TEXT`] characters.
pub(crate) fn one_line(text: &str) -> String {
    let joined = text.split(['\n', '\r']).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" | ");
    if joined.chars().count() > MAX_END_TEXT {
        joined.chars().take(MAX_END_TEXT - 1).chain(['…']).collect()
    } else {
        joined
    }
}

/// A table of text, its columns as wide as their widest cell (in characters), two spaces apart, the
/// last one not padded: what `glompo report`, `glompo validate` and `glompo functions` print.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Whether each column is aligned to the right (numbers).
    right: Vec<bool>,
}

impl Table {
    /// A table with the column names `header` (empty names for a table without a header).
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            right: vec![false; header.len()],
        }
    }

    /// Aligns the columns `columns` to the right.
    pub fn right(mut self, columns: &[usize]) -> Table {
        for &c in columns {
            self.right[c] = true;
        }
        self
    }

    /// Adds a row, one cell per column.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the header, a rule and the rows.
    pub fn render(&self, out: &mut String) {
        let widths = self.widths(true);
        self.line(out, &self.header, &widths);
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        let _ = writeln!(out, "{}", rule.join("  ").trim_end());
        for row in &self.rows {
            self.line(out, row, &widths);
        }
    }

    /// Writes the rows only.
    pub fn render_bare(&self, out: &mut String) {
        let widths = self.widths(false);
        for row in &self.rows {
            self.line(out, row, &widths);
        }
    }

    fn widths(&self, with_header: bool) -> Vec<usize> {
        let mut widths = vec![0; self.header.len()];
        let header = with_header.then_some(&self.header);
        for row in header.into_iter().chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        widths
    }

    fn line(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            // The last column is not padded on the right: lines end with their text.
            match (self.right[i], i + 1 == cells.len()) {
                (true, _) => line.extend(std::iter::repeat_n(' ', pad).chain(cell.chars())),
                (false, true) => line.push_str(cell),
                (false, false) => line.extend(cell.chars().chain(std::iter::repeat_n(' ', pad))),
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        let cases = [
            (0.0, "0"),
            (1.5, "1.5"),
            (1.23456789, "1.234568"),
            (0.00123456789, "0.001234568"),
            (123456.789, "123456.8"),
            (-3.2e-9, "-3.2e-9"),
            (1.0e12, "1e12"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, text) in cases {
            assert_eq!(number(v), text, "{v}");
        }
    }

    #[test]
    fn tables_align_on_their_widest_cell() {
        let mut t = Table::new(&["name", "n"]).right(&[1]);
        t.row(vec!["a".into(), "100".into()]);
        t.row(vec!["longer".into(), "2".into()]);
        let mut out = String::new();
        t.render(&mut out);
        assert_eq!(out, "name      n\n──────  ───\na       100\nlonger    2\n");
    }

    #[test]
    fn durations_and_end_texts_read_as_words() {
        assert_eq!(duration(4.56789), "4.57 s");
        assert_eq!(duration(303.0), "5 min 03 s");
        assert_eq!(duration(7620.0), "2 h 07 min");
        let killed = EndHow::Killed {
            by: KilledBy::Hunt { hunter: 2, expression: "min_evals(10) = true".into() },
            t_kill: 1.0,
            at_call_id: 40,
        };
        assert_eq!(end_text(&killed), "killed by optimizer 2's hunt at evaluation 40: min_evals(10) = true");
        assert_eq!(one_line("boom\nTraceback\n"), "boom | Traceback");
    }
}
