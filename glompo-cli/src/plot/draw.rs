//! Drawing a [`Picture`] with plotters: the chart on the left, the legend in a panel on the right.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::CoordTranslate;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Ending, Line, Picture, number};

/// The embedded font (see `assets/README.md`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The font family the drawing asks for.
const FAMILY: &str = "sans-serif";

/// The named optimizers' colours (matplotlib's tab10 without its red, which marks failures).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];
/// The optimizers that are not named.
const OTHERS: RGBColor = RGBColor(200, 200, 200);
/// Failed evaluations.
const FAILED: RGBColor = RGBColor(214, 39, 40);
/// The best-so-far curve.
const BEST: RGBColor = RGBColor(0, 0, 0);

/// The width of the legend panel, in pixels.
const LEGEND_WIDTH: u32 = 330;

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// The colour of a line's palette slot.
fn colour(slot: Option<usize>) -> RGBColor {
    slot.map_or(OTHERS, |i| PALETTE[i % PALETTE.len()])
}

/// Registers the embedded font, once.
fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the embedded font cannot be read".to_owned())
        })
        .clone()
}

/// Draws `picture` as a PNG of `size` pixels into `path` (whose name ends in `.png`).
pub(super) fn png(path: &Path, size: (u32, u32), picture: &Picture) -> Result<(), String> {
    font()?;
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let drawn = (|| {
        root.fill(&WHITE)?;
        let (chart, legend) = root.split_horizontally(size.0.saturating_sub(LEGEND_WIDTH));
        let (lo, hi) = picture.scale.bounds();
        if picture.scale.is_log() {
            chart_area(&chart, picture, (lo..hi).log_scale())?;
        } else {
            chart_area(&chart, picture, lo..hi)?;
        }
        legend_area(&legend, picture)?;
        root.present()
    })();
    drawn.map_err(|e| e.to_string())
}

/// A compact call id: 950, 12k, 3.5M.
fn call_label(v: &f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{}M", number(v / 1e6, 3)),
        a if a >= 1e3 => format!("{}k", number(v / 1e3, 3)),
        _ => format!("{v:.0}"),
    }
}

/// A value on the y axis.
fn value_label(v: &f64) -> String {
    number(*v, 4)
}

type DrawResult<'a> = Result<(), DrawingAreaErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>>;

/// The chart: axes, the optimizers' lines, their end markers, the best so far, the failures.
fn chart_area<'a, Y>(area: &Area<'a>, picture: &Picture, y: Y) -> DrawResult<'a>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let top = picture.scale.bounds().1;
    let mut chart = ChartBuilder::on(area)
        .caption(&picture.title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(RangedCoordf64::from(0.0..picture.last_call as f64), y)?;
    chart
        .configure_mesh()
        .x_desc("call_id")
        .y_desc(picture.scale.label())
        .x_label_formatter(&call_label)
        .y_label_formatter(&value_label)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    // The grey others first, so that the named lines lie on top of them.
    let mut lines: Vec<&Line> = picture.lines.iter().collect();
    lines.sort_by_key(|l| l.colour.is_some());
    // One pixel wide: plotters joins wider lines with miters, which spike far out of the chart where
    // a line turns back on itself, as an optimizer's values do.
    for line in &lines {
        chart.draw_series(LineSeries::new(line.points.iter().copied(), colour(line.colour)))?;
    }
    chart.draw_series(LineSeries::new(picture.best.iter().copied(), BEST.stroke_width(2)))?;
    for line in &lines {
        if let Some((ending, at)) = line.end {
            let style = colour(line.colour).mix(1.0);
            draw_marker(chart.plotting_area(), at, ending, style)?;
        }
    }
    chart.draw_series(
        picture
            .failures
            .iter()
            .map(|&c| EmptyElement::at((c as f64, top)) + Rectangle::new([(-1, 0), (1, 9)], FAILED.filled())),
    )?;
    Ok(())
}

/// Draws the end marker of `ending` at `at` on `area`, in `colour` with a black outline.
fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    ending: Ending,
    colour: RGBAColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone + 'static,
{
    let origin = EmptyElement::at(at);
    match ending {
        Ending::Killed => area.draw(
            &(origin
                + Cross::new((0, 0), 6, BEST.stroke_width(4))
                + Cross::new((0, 0), 5, colour.stroke_width(2))),
        ),
        Ending::Converged => area.draw(
            &(origin + Circle::new((0, 0), 6, BEST.filled()) + Circle::new((0, 0), 4, colour.filled())),
        ),
        Ending::Crashed => area.draw(
            &(origin
                + TriangleMarker::new((0, 0), 8, BEST.filled())
                + TriangleMarker::new((0, 1), 5, colour.filled())),
        ),
    }
}

/// What a legend row shows before its text.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A line of this colour and width.
    Line(RGBColor, u32),
    /// An end marker.
    Marker(Ending),
    /// A failure mark.
    Failure,
}

/// The legend: one line per named optimizer, the others together, then what the marks mean.
fn legend_area<'a>(area: &Area<'a>, picture: &Picture) -> DrawResult<'a> {
    let mut rows: Vec<(Swatch, String)> = Vec::new();
    for line in picture.lines.iter().filter(|l| l.colour.is_some()) {
        let best = line.best.map_or("no value".to_owned(), |b| number(b, 5));
        let end = line.end.map_or(String::new(), |(e, _)| format!(", {}", e.text()));
        rows.push((
            Swatch::Line(colour(line.colour), 3),
            format!("{} {}: {best}{end}", line.opt_id, line.name),
        ));
    }
    if picture.others > 0 {
        rows.push((Swatch::Line(OTHERS, 1), format!("{} other optimizers", picture.others)));
    }
    let marks = rows.len();
    rows.push((Swatch::Line(BEST, 2), "best so far".to_owned()));
    for ending in [Ending::Killed, Ending::Converged, Ending::Crashed] {
        rows.push((Swatch::Marker(ending), ending.text().to_owned()));
    }
    let (failed, infinite) = picture.not_finite;
    let what = match (failed, infinite) {
        (_, 0) => format!("failed ({failed})"),
        (0, _) => format!("infinite ({infinite})"),
        _ => format!("failed ({failed}) or infinite ({infinite})"),
    };
    rows.push((Swatch::Failure, what));
    let font = (FAMILY, 14).into_font();
    let mut y = 48;
    for (i, (swatch, text)) in rows.into_iter().enumerate() {
        if i == marks {
            y += 12;
        }
        match swatch {
            Swatch::Line(c, w) => area.draw(&PathElement::new(vec![(16, y), (38, y)], c.stroke_width(w)))?,
            Swatch::Marker(ending) => draw_marker(area, (27, y), ending, OTHERS.mix(1.0))?,
            Swatch::Failure => area.draw(&Rectangle::new([(26, y - 5), (28, y + 4)], FAILED.filled()))?,
        }
        area.draw(&Text::new(text, (46, y - 8), font.clone()))?;
        y += 22;
    }
    Ok(())
}
