//! What guides a new user: `glompo init` (a commented starting config, and for an external program
//! a working script beside it) and `glompo validate` (a config checked and its resolved plan printed,
//! nothing run or written).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::RunConfig;

/// A starting point `glompo init` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it is for.
    pub summary: &'static str,
    /// The files it writes: name and content.
    pub files: &'static [(&'static str, &'static str)],
}

/// The name of the config file `glompo init` writes.
pub const CONFIG_FILE: &str = "glompo.json";

/// Every template, the default first.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "function",
        summary: "a built-in benchmark function (Rastrigin, 10-D) with CMA-ES, Nelder-Mead and hunters",
        files: &[(CONFIG_FILE, include_str!("../templates/function.json"))],
    },
    Template {
        name: "command",
        summary: "your own program as the objective: a config and a Python model (model.py) to edit",
        files: &[
            (CONFIG_FILE, include_str!("../templates/command.json")),
            ("model.py", include_str!("../templates/model.py")),
        ],
    },
];

/// The template called `name`; an unknown name is an error listing the known ones.
pub fn template(name: &str) -> Result<&'static Template, String> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
        let known: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
        format!("unknown template `{name}`; expected one of {}", known.join(", "))
    })
}

/// Writes `template`'s files into `dir` and returns their paths. With `overwrite` false, a file that
/// exists already is an error naming it, and nothing is written.
pub fn init(template: &Template, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, String> {
    let paths: Vec<PathBuf> = template.files.iter().map(|(name, _)| dir.join(name)).collect();
    if !overwrite && let Some(existing) = paths.iter().find(|p| p.exists()) {
        return Err(format!("{}: exists already; pass --overwrite to replace it", existing.display()));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (path, (_, content)) in paths.iter().zip(template.files) {
        std::fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(paths)
}

/// The resolved plan of `config`, as `glompo validate` prints it: the objective, the box, every
/// optimizer with the settings it will run with, the budget, the hunters, checkpoints and outputs.
pub fn plan(config: &RunConfig) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |key: &str, value: String| rows.push((key.to_owned(), value));
    let kind = match &config.objective {
        crate::config::ObjectiveConfig::Function { .. } => "built-in function",
        crate::config::ObjectiveConfig::Command { .. } => "external program",
    };
    row("objective", format!("{} ({}, {}-D)", config.objective.name(), kind, config.objective.dim()));
    match &config.parameters {
        Some(names) => {
            let mut table = crate::report::Table::new(&["", ""]);
            for (name, (lo, hi)) in names.iter().zip(config.bounds.pairs()) {
                table.row(vec![name.clone(), format!("[{lo}, {hi}]")]);
            }
            let mut lines = String::new();
            table.render_bare(&mut lines);
            for (i, line) in lines.lines().enumerate() {
                row(if i == 0 { "parameters" } else { "" }, line.to_owned());
            }
        }
        None => row("bounds", bounds(&config.bounds)),
    }
    for (i, o) in config.optimizers.iter().enumerate() {
        let settings = match glompo_optimizers::factory(&o.kind, &o.options) {
            Ok(factory) => settings_text(&factory.resolved_settings(&config.bounds, o.workers)),
            Err(e) => format!("(cannot resolve its settings: {e})"),
        };
        let slots = if o.workers == 1 { "slot" } else { "slots" };
        let key = if i == 0 { "optimizers" } else { "" };
        let starts = match o.max_starts {
            None => String::new(),
            Some(1) => ", started once".to_owned(),
            Some(n) => format!(", started at most {n} times"),
        };
        row(
            key,
            format!(
                "{}. {} on {} {} {slots}{starts}: {settings}",
                i + 1,
                o.kind,
                o.workers,
                o.evaluator.name()
            ),
        );
    }
    row("selector", compact(&config.selector));
    row("generator", compact(&config.generator));
    row(
        "parallelism",
        format!(
            "{} worker slots; optimizers on {}; {} schedule",
            config.max_jobs,
            config.backend.name(),
            config.schedule.name()
        ),
    );
    let budget = glompo_core::checker::parse(&config.convergence).ok().and_then(|c| c.budget());
    let budget = budget.map_or_else(String::new, |b| format!(" (a budget of {b} evaluations)"));
    row("stops when", format!("{}{budget}", config.convergence));
    row(
        "hunters",
        match &config.hunters {
            Some(h) => format!("{h}, every {} evaluations", config.hunt_frequency),
            None => "none (no optimizer is killed)".to_owned(),
        },
    );
    row("checkpoints", checkpoints(&config.checkpoint));
    row("seed", config.seed.to_string());
    let dir = &config.output.dir;
    let held = dir.join("evaluations.jsonl").exists() || dir.join("summary.json").exists();
    let note = match (held, config.output.overwrite) {
        (true, false) => " (it holds a run: `glompo run` refuses it without --overwrite)",
        (true, true) => " (it holds a run, which the run replaces)",
        (false, _) => "",
    };
    row("run directory", format!("{}{note}", dir.display()));
    let mut table = crate::report::Table::new(&["", ""]);
    for (key, value) in rows {
        table.row(vec![key, value]);
    }
    let mut text = String::new();
    table.render_bare(&mut text);
    text
}

/// `[lo, hi] in all 10 dimensions`, or each pair.
fn bounds(bounds: &glompo_core::Bounds) -> String {
    let pairs: Vec<(f64, f64)> = bounds.pairs().collect();
    match pairs.first() {
        Some(&first) if pairs.iter().all(|&p| p == first) => {
            format!("[{}, {}] in all {} dimensions", first.0, first.1, pairs.len())
        }
        _ => pairs.iter().map(|(lo, hi)| format!("[{lo}, {hi}]")).collect::<Vec<_>>().join(", "),
    }
}

/// `name=value, …` of a settings object.
fn settings_text(settings: &Value) -> String {
    match settings.as_object() {
        Some(map) if map.is_empty() => "defaults".to_owned(),
        Some(map) => map.iter().map(|(k, v)| format!("{k}={}", compact(v))).collect::<Vec<_>>().join(", "),
        None => compact(settings),
    }
}

/// A JSON value on one line, strings without quotes.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn checkpoints(policy: &glompo_core::manager::CheckpointPolicy) -> String {
    let mut when = Vec::new();
    if let Some(s) = policy.every_seconds {
        when.push(format!("every {s} s"));
    }
    if let Some(n) = policy.every_evals {
        when.push(format!("every {n} evaluations"));
    }
    if policy.at_start {
        when.push("at the start".to_owned());
    }
    if policy.at_end {
        when.push("at the end".to_owned());
    }
    let mut text =
        if when.is_empty() { "only when asked or interrupted".to_owned() } else { when.join(", ") };
    if let Some(keep) = policy.keep {
        let _ = write!(text, "; the newest {keep} kept");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_valid_config() {
        for t in TEMPLATES {
            let dir = tempfile::tempdir().unwrap();
            let paths = init(t, dir.path(), false).unwrap();
            assert_eq!(paths.len(), t.files.len());
            let overrides = crate::Overrides { dir: Some(dir.path().join("run")), ..Default::default() };
            let config = RunConfig::from_file(&dir.path().join(CONFIG_FILE), &overrides);
            assert!(config.is_ok(), "{}: {:?}", t.name, config.err());
        }
    }

    #[test]
    fn init_never_overwrites_unless_asked_and_writes_nothing_then() {
        let dir = tempfile::tempdir().unwrap();
        let command = template("command").unwrap();
        std::fs::write(dir.path().join("model.py"), "mine").unwrap();
        let err = init(command, dir.path(), false).unwrap_err();
        assert!(err.ends_with("model.py: exists already; pass --overwrite to replace it"), "{err}");
        assert!(!dir.path().join(CONFIG_FILE).exists(), "nothing is written when one file exists");
        assert_eq!(std::fs::read_to_string(dir.path().join("model.py")).unwrap(), "mine");
        init(command, dir.path(), true).unwrap();
        assert_ne!(std::fs::read_to_string(dir.path().join("model.py")).unwrap(), "mine");
        assert_eq!(
            template("nope").unwrap_err(),
            "unknown template `nope`; expected one of function, command"
        );
    }
}
