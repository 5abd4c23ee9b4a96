//! `trajectories.png` and `glompo plot`: every run writes a valid picture, `glompo plot` draws a
//! live, a killed and a finished run, and the picture shows the optimizers, the failures and the
//! scale that the log calls for.

use std::fs;
use std::path::Path;

use glompo_cli::plot::{self, PlotOptions};
use serde_json::json;

use crate::run::{glompo, small_config, start_run, stderr, write_config};

/// The first named optimizer's colour, and the failures'.
const BLUE: [u8; 3] = [31, 119, 180];
const RED: [u8; 3] = [214, 39, 40];
/// The legend panel's width: the chart is left of it.
const LEGEND: u32 = 330;

/// A decoded RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    /// Reads `path`, checking the PNG signature and that the header agrees with the decoder.
    fn read(path: &Path) -> Picture {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}: not a PNG", path.display());
        assert_eq!(&bytes[12..16], b"IHDR");
        let header = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let (width, height) = (header(16), header(20));
        let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes)).read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut rgb).unwrap();
        assert_eq!((frame.width, frame.height, frame.color_type), (width, height, png::ColorType::Rgb));
        rgb.truncate(frame.buffer_size());
        Picture { width, height, rgb }
    }

    /// Pixels of `colour` in the chart (left of the legend), in rows `rows`.
    fn count(&self, colour: [u8; 3], rows: std::ops::Range<u32>) -> usize {
        let chart = self.width - LEGEND;
        rows.flat_map(|y| (0..chart).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let at = ((y * self.width + x) * 3) as usize;
                self.rgb[at..at + 3] == colour
            })
            .count()
    }
}

#[test]
fn a_run_writes_a_png_of_its_trajectories() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &small_config());
    let out = glompo(&["run", &config, "--dir", "out", "-q"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let picture = Picture::read(&tmp.path().join("out").join(plot::TRAJECTORIES));
    let defaults = PlotOptions::default();
    assert_eq!((picture.width, picture.height), (defaults.width, defaults.height));
    assert!(picture.count(BLUE, 0..picture.height) > 200, "the first optimizer's line is drawn");
    assert!(picture.count([0, 0, 0], 0..picture.height) > 500, "axes, text and the best so far");
    assert_eq!(picture.count(RED, 0..picture.height), 0, "no evaluation failed");
    // Nothing is left beside it (the temporary file is renamed).
    let names: Vec<String> = fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp.png")), "{names:?}");
}

#[test]
fn no_plot_writes_no_png() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["convergence"] = json!("max_evals(300)");
    let config = write_config(tmp.path(), &config);
    let out = glompo(&["run", &config, "--dir", "out", "-q", "--no-plot"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("out/summary.json").is_file());
    assert!(!tmp.path().join("out").join(plot::TRAJECTORIES).exists());
}

#[test]
fn plot_draws_a_live_run_then_the_killed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config["objective"]["delay_s"] = json!(0.002);
    config["convergence"] = json!("max_evals(100000000)");
    let config = write_config(tmp.path(), &config);
    let run = start_run(tmp.path(), &config);
    // A live run: its last line may be cut while it is read.
    let out = glompo(&["plot", "out", "-o", "live.png"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("wrote live.png: "), "{stdout}");
    assert!(Picture::read(&tmp.path().join("live.png")).count(BLUE, 0..720) > 0);
    // A file the user named is not replaced without --overwrite.
    let before = fs::read(tmp.path().join("live.png")).unwrap();
    let out = glompo(&["plot", "out", "-o", "live.png"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("live.png: the file exists; pass --overwrite"), "{}", stderr(&out));
    assert_eq!(fs::read(tmp.path().join("live.png")).unwrap(), before);
    // The run's manager killed with SIGKILL once its log has grown: no summary of its end, the
    // plot still draws it.
    let log = tmp.path().join("out/evaluations.jsonl");
    let drawn = fs::metadata(&log).unwrap().len();
    let start = std::time::Instant::now();
    while fs::metadata(&log).unwrap().len() <= drawn {
        assert!(start.elapsed().as_secs() < 30, "the run did not go on");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(run);
    for _ in 0..2 {
        // The default file is regenerated without --overwrite.
        let out = glompo(&["plot", "out"], tmp.path());
        assert!(out.status.success(), "{}", stderr(&out));
        Picture::read(&tmp.path().join("out").join(plot::TRAJECTORIES));
    }
    let out = glompo(&["plot", "out", "-o", "live.png", "--overwrite"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(fs::read(tmp.path().join("live.png")).unwrap(), before, "the killed run went further");
}

#[test]
fn plot_of_a_directory_that_holds_no_run_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = glompo(&["plot", "nowhere"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("glompo: error: nowhere: "), "{err}");
    assert!(err.contains("evaluations.jsonl"), "{err}");
    assert!(!tmp.path().join("nowhere").exists());
    // A log with a bad line: the message names the file and the line.
    let dir = tmp.path().join("bad");
    fs::create_dir(&dir).unwrap();
    fs::write(
        dir.join("evaluations.jsonl"),
        "{\"call_id\": 1, \"opt_id\": 1, \"x\": [], \"fx\": 1}\nnot json\n",
    )
    .unwrap();
    fs::write(dir.join("optimizers.jsonl"), "").unwrap();
    let out = glompo(&["plot", "bad"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("evaluations.jsonl line 2: "), "{}", stderr(&out));
}

/// Writes a run directory by hand: `values(call_id)` gives each evaluation's optimizer and value
/// (NaN: failed), and every optimizer ends killed.
fn synthetic(dir: &Path, n: u64, values: impl Fn(u64) -> (u64, f64)) {
    fs::create_dir_all(dir).unwrap();
    let mut evals = String::new();
    let mut ids = std::collections::BTreeSet::new();
    for c in 1..=n {
        let (opt, fx) = values(c);
        ids.insert(opt);
        evals += &if fx.is_nan() {
            format!(
                "{{\"call_id\":{c},\"opt_id\":{opt},\"x\":[0.5],\"fx\":null,\"t\":0,\"error\":\"boom\"}}\n"
            )
        } else {
            format!("{{\"call_id\":{c},\"opt_id\":{opt},\"x\":[0.5],\"fx\":{fx:e},\"t\":0}}\n")
        };
    }
    fs::write(dir.join("evaluations.jsonl"), evals).unwrap();
    let mut events = String::new();
    for id in ids {
        let start = json!({"event": "start", "opt_id": id, "t": 0, "type": "random-search", "settings": {},
            "popsize": null, "workers": 1, "evaluator": "serial", "seed": 1, "x0": [0.5]});
        let end = json!({"event": "end", "opt_id": id, "t": 1, "evaluations": 1, "best_fx": null,
            "reason": "killed", "by": "hunt", "hunter": 1, "expression": "x", "t_kill": 1, "at_call_id": n});
        events += &format!("{start}\n{end}\n");
    }
    fs::write(dir.join("optimizers.jsonl"), events).unwrap();
}

#[test]
fn failures_show_on_the_top_edge_and_decades_get_a_log_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // Optimizer 1 descends from 1e3 to 1e-3; optimizer 2 fails on every fifth call of its own.
    synthetic(&dir, 20_000, |c| match c % 2 {
        1 => (1, 1e3 * 1e-6f64.powf(c as f64 / 20_000.0)),
        _ if c % 10 == 0 => (2, f64::NAN),
        _ => (2, 50.0 + (c % 7) as f64),
    });
    let out = tmp.path().join("a.png");
    let info = plot::trajectories(&dir, &out, &PlotOptions::default()).unwrap();
    assert_eq!((info.evaluations, info.not_finite, info.optimizers), (20_000, 2_000, 2));
    assert!(info.log_scale);
    assert!(info.points <= 2 * 4 * PlotOptions::default().columns, "decimated: {} points", info.points);
    let picture = Picture::read(&out);
    assert!(picture.count(RED, 0..60) > 100, "failure marks along the top edge");
    assert_eq!(picture.count(RED, 60..picture.height), 0, "and nowhere else");
    // Values that go below zero and span decades above their minimum: a shifted log scale.
    synthetic(&dir, 5_000, |c| (1, -1e6 + 1e6 * 1e-9f64.powf(c as f64 / 5_000.0)));
    let info = plot::trajectories(&dir, &out, &PlotOptions::default()).unwrap();
    assert!(info.log_scale && info.best.is_some_and(|b| b < -9.9e5), "{info:?}");
    // A narrow spread of values: linear.
    synthetic(&dir, 500, |c| (1, -1.0 + (c % 5) as f64));
    assert!(!plot::trajectories(&dir, &out, &PlotOptions::default()).unwrap().log_scale);
}

#[test]
fn a_run_without_evaluations_is_drawn_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    synthetic(&dir, 0, |_| (1, 0.0));
    let out = dir.join(plot::TRAJECTORIES);
    let info = plot::trajectories(&dir, &out, &PlotOptions::default()).unwrap();
    assert_eq!((info.evaluations, info.best), (0, None));
    Picture::read(&out);
}
