//! Trajectory plots of a run directory: [`trajectories`] draws `f` against `call_id` as a PNG, one
//! colour per optimizer, with a marker where each one ended (killed, converged, crashed), the
//! best-so-far curve, failed evaluations as marks along the top edge, and a log scale when the values
//! span decades.
//!
//! It reads the run with [`rundir`], so it works on a finished run and on one that is still going
//! (the line a live run is writing is left out). It reads the log once and keeps a bounded
//! reduction of it ([`PlotOptions::columns`] buckets per optimizer, each with its first, lowest,
//! highest and last point), so a run of 10⁷ evaluations plots in seconds, most of them spent reading.
//! The text is drawn with DejaVu Sans, embedded in the library: nothing is needed from the machine.
//!
//! ```
//! use glompo_cli::{Overrides, RunConfig, plot};
//! use serde_json::json;
//!
//! let tmp = tempfile::tempdir()?;
//! let config = json!({
//!     "objective": {"function": "sphere", "dim": 2},
//!     "optimizers": [{"type": "nelder-mead"}],
//!     "convergence": "max_evals(200)",
//! });
//! let overrides = Overrides { dir: Some(tmp.path().join("run")), ..Overrides::default() };
//! RunConfig::from_value(config, std::path::Path::new("."), &overrides)?.builder()?.build()?.run()?;
//! let out = tmp.path().join("plot.png");
//! let info = plot::trajectories(&tmp.path().join("run"), &out, &plot::PlotOptions::default())?;
//! assert_eq!(info.evaluations, 200);
//! assert!(std::fs::read(&out)?.starts_with(b"\x89PNG"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod decimate;
mod draw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glompo_core::CoreError;
use glompo_core::manager::{EndHow, OptimizerEvent, rundir};
use glompo_core::optimizer::OptimizerId;

use self::decimate::{Scale, Trajectories};

/// The file a run writes its plot to, in its run directory.
pub const TRAJECTORIES: &str = "trajectories.png";

/// How [`trajectories`] draws.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlotOptions {
    /// The picture's width in pixels.
    pub width: u32,
    /// The picture's height in pixels.
    pub height: u32,
    /// Buckets of call ids across the run (at least 2): each optimizer's curve keeps at most four
    /// points per bucket.
    pub columns: usize,
    /// Optimizers named in the legend, each in a colour of its own; when there are more, the others
    /// are drawn in grey and named together.
    pub named: usize,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions { width: 1280, height: 720, columns: 2000, named: 9 }
    }
}

/// What [`trajectories`] drew.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlotInfo {
    /// Evaluations read.
    pub evaluations: u64,
    /// Evaluations without a finite value (failed or infinite), marked on the top edge.
    pub not_finite: u64,
    /// Optimizers with evaluations (the generator's own evaluations count as optimizer 0).
    pub optimizers: usize,
    /// The best finite value.
    pub best: Option<f64>,
    /// Whether the y axis is logarithmic.
    pub log_scale: bool,
    /// Points drawn on the optimizers' lines.
    pub points: usize,
}

/// Why a plot could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The run directory or one of its logs cannot be read.
    #[error(transparent)]
    Read(#[from] CoreError),
    /// The picture cannot be drawn or written.
    #[error("{}: cannot write the plot: {message}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// How an optimizer ended, as its marker shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Killed,
    Converged,
    Crashed,
}

impl Ending {
    /// The marker of an optimizer that ended so; `None` for one stopped (no marker).
    pub(crate) fn of(how: &EndHow) -> Option<Ending> {
        match how {
            EndHow::Killed { .. } => Some(Ending::Killed),
            EndHow::Converged { .. } => Some(Ending::Converged),
            EndHow::Crashed { .. } | EndHow::Abandoned { .. } => Some(Ending::Crashed),
            // Stopped at the end of the run (or by itself): no marker, as the legend says.
            EndHow::Stopped { .. } => None,
        }
    }

    /// Its name, as legends and the dashboard say it.
    pub(crate) fn text(self) -> &'static str {
        match self {
            Ending::Killed => "killed",
            Ending::Converged => "converged",
            Ending::Crashed => "crashed",
        }
    }
}

/// One optimizer as the picture shows it.
#[derive(Debug, Clone)]
struct Line {
    opt_id: OptimizerId,
    /// Its type, or `generator` for optimizer 0.
    name: String,
    /// Its palette slot; `None`: one of the grey others.
    colour: Option<usize>,
    points: Vec<(f64, f64)>,
    best: Option<f64>,
    /// How it ended and where its marker goes.
    end: Option<(Ending, (f64, f64))>,
}

/// Everything [`draw`] needs, in plot coordinates.
#[derive(Debug, Clone)]
struct Picture {
    title: String,
    scale: Scale,
    last_call: u64,
    lines: Vec<Line>,
    /// Optimizers drawn in grey, named together.
    others: usize,
    best: Vec<(f64, f64)>,
    failures: Vec<u64>,
    not_finite: (u64, u64),
}

/// Draws the trajectories of the run in `dir` (finished or live) into the PNG file `out`, which is
/// replaced atomically (a viewer never sees half a file).
pub fn trajectories(dir: &Path, out: &Path, options: &PlotOptions) -> Result<PlotInfo, PlotError> {
    rundir::check(dir)?;
    let mut reduced = Trajectories::new(options.columns);
    for value in rundir::Evaluations::<rundir::LoggedValue>::open(dir)? {
        let value = value?;
        reduced.add(value.call_id, value.opt_id, value.fx);
    }
    let mut names = BTreeMap::new();
    let mut ends = BTreeMap::new();
    for event in rundir::optimizer_events(dir)? {
        match event {
            OptimizerEvent::Start(s) => {
                names.insert(s.opt_id, s.type_name);
            }
            OptimizerEvent::End(e) => {
                if let Some(ending) = Ending::of(&e.how) {
                    ends.insert(e.opt_id, ending);
                }
            }
            _ => {}
        }
    }
    let live = glompo_core::manager::live_run(dir)?.is_some();
    let picture = picture(&reduced, &names, &ends, &run_name(dir), live, options.named);
    let info = PlotInfo {
        evaluations: reduced.evaluations,
        not_finite: reduced.failed + reduced.infinite,
        optimizers: reduced.tracks.len(),
        best: reduced.best_point.map(|p| p.1),
        log_scale: picture.scale.is_log(),
        points: picture.lines.iter().map(|l| l.points.len()).sum(),
    };
    write_png(out, options, &picture)?;
    Ok(info)
}

/// The run directory's name, for the title.
fn run_name(dir: &Path) -> String {
    let named = dir
        .file_name()
        .map(PathBuf::from)
        .or_else(|| dir.canonicalize().ok()?.file_name().map(PathBuf::from));
    named.unwrap_or_else(|| dir.to_path_buf()).display().to_string()
}

/// Arranges the reduced run for drawing: the scale, the lines with their colours and markers.
fn picture(
    reduced: &Trajectories,
    names: &BTreeMap<OptimizerId, String>,
    ends: &BTreeMap<OptimizerId, Ending>,
    run: &str,
    live: bool,
    named: usize,
) -> Picture {
    let curves: BTreeMap<OptimizerId, Vec<(u64, f64)>> =
        reduced.tracks.iter().map(|(&id, t)| (id, t.curve.points())).collect();
    let scale = scale_of(reduced, curves.values().map(Vec::as_slice));
    // The optimizers named: all of them if they fit, else those with the best values.
    let mut ranked: Vec<(OptimizerId, Option<f64>)> =
        reduced.tracks.iter().map(|(&id, t)| (id, t.best)).collect();
    ranked.sort_by(|a, b| a.1.unwrap_or(f64::INFINITY).total_cmp(&b.1.unwrap_or(f64::INFINITY)));
    let keep = if ranked.len() <= named + 1 { ranked.len() } else { named };
    let mut chosen: Vec<OptimizerId> = ranked[..keep].iter().map(|r| r.0).collect();
    chosen.sort_unstable();
    let top = scale.bounds().1;
    let lines = reduced
        .tracks
        .iter()
        .map(|(&opt_id, track)| {
            let points: Vec<(f64, f64)> =
                curves[&opt_id].iter().map(|&(c, f)| (c as f64, scale.y(f))).collect();
            let at = points.last().copied().unwrap_or((track.last_call as f64, top));
            Line {
                opt_id,
                name: names.get(&opt_id).cloned().unwrap_or_else(|| "generator".to_owned()),
                colour: chosen.iter().position(|&c| c == opt_id),
                points,
                best: track.best,
                end: ends.get(&opt_id).map(|&e| (e, at)),
            }
        })
        .collect();
    let best_text = reduced
        .best_point
        .map_or("no finite value".to_owned(), |(_, f)| format!("best f = {}", number(f, 7)));
    let state = if live { ", running" } else { "" };
    Picture {
        title: format!("{run}: {} evaluations, {best_text}{state}", reduced.evaluations),
        scale,
        last_call: reduced.last_call.max(1),
        lines,
        others: reduced.tracks.len() - keep,
        best: reduced.best_steps().into_iter().map(|(c, f)| (c as f64, scale.y(f))).collect(),
        failures: reduced.failure_marks(),
        not_finite: (reduced.failed, reduced.infinite),
    }
}

/// The y scale of the reduced run whose curves' points are `curves`.
pub(crate) fn scale_of<'a>(reduced: &Trajectories, curves: impl Iterator<Item = &'a [(u64, f64)]>) -> Scale {
    match reduced.range {
        Some((lo, hi)) => Scale::choose(lo, hi, decimate::smallest_gap(curves, lo)),
        None => Scale::Linear { lo: 0.0, hi: 1.0 },
    }
}

/// `v` with `digits` significant digits and no trailing zeros: `0.9949591`, `-9.104`, `1.5e-7`, `1e14`.
pub(crate) fn number(v: f64, digits: usize) -> String {
    let digits = digits.max(1);
    let magnitude = v.abs();
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if (1e-3..1e6).contains(&magnitude) {
        let decimals = (digits as i32 - 1 - magnitude.log10().floor() as i32).max(0) as usize;
        let text = format!("{v:.decimals$}");
        return if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        };
    }
    let text = format!("{v:.prec$e}", prec = digits - 1);
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            format!("{}e{exponent}", mantissa.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => text,
    }
}

/// Draws `picture` into a temporary file beside `out`, then renames it to `out`.
fn write_png(out: &Path, options: &PlotOptions, picture: &Picture) -> Result<(), PlotError> {
    // The encoder picks the format from the extension, so the temporary file ends in .png.
    let tmp = glompo_core::manager::rundir::temporary_beside(out, ".png");
    // A panic in the drawing library is an error of the plot, never the end of the caller (a run
    // that plots at its end).
    let draw = |tmp: &Path| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            draw::png(tmp, (options.width, options.height), picture)
        }))
        .unwrap_or_else(|_| Err("the drawing panicked".to_owned()))
    };
    glompo_core::manager::rundir::replace_atomically(out, &tmp, draw, |e| e.to_string())
        .map_err(|message| PlotError::Write { path: out.to_path_buf(), message })
}
