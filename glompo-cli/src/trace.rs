//! `glompo run -v`: the run's events as `tracing` lines on stderr (optimizers started and ended,
//! hunts, checkpoints), with `RUST_LOG` taking precedence over `-v`/`-vv`.

use std::io::Write;
use std::sync::OnceLock;

use glompo_core::manager::{EndHow, Event, KilledBy, Observe, OptimizerEvent};

/// The live display's bar, hidden while a diagnostics line is written (else the line and the bar
/// overwrite each other).
static BAR: OnceLock<indicatif::ProgressBar> = OnceLock::new();

/// Writes the diagnostics lines around `bar` (the live display's) from now on.
pub fn around(bar: indicatif::ProgressBar) {
    let _ = BAR.set(bar);
}

/// Stderr, with the live display's bar hidden for each write.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BAR.get() {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Sends the run's events to `tracing`: starts, ends and checkpoints at `info`, hunts that killed
/// nothing at `debug`.
#[derive(Debug, Default)]
pub struct TraceEvents;

impl Observe for TraceEvents {
    fn observe(&mut self, event: &Event<'_>) -> glompo_core::Result<()> {
        match event {
            Event::Optimizer(OptimizerEvent::Start(s)) => {
                tracing::info!("optimizer {} ({}) started", s.opt_id, s.type_name);
            }
            Event::Optimizer(OptimizerEvent::End(e)) => {
                let how = match &e.how {
                    EndHow::Converged { criterion } => format!("converged ({criterion})"),
                    EndHow::Killed { by: KilledBy::Hunt { hunter, expression }, .. } => {
                        format!("killed by optimizer {hunter}'s hunt: {expression}")
                    }
                    EndHow::Killed { by: KilledBy::StopFile, .. } => "killed by a STOP file".to_owned(),
                    EndHow::Stopped { by, .. } => format!("stopped by {by}"),
                    EndHow::Crashed { error, .. } => format!("crashed: {error}"),
                    EndHow::Abandoned { error, .. } => format!("abandoned: {error}"),
                };
                let best = e.best_fx.map_or_else(|| "none".to_owned(), |f| format!("{f:.6e}"));
                tracing::info!(
                    "optimizer {} {how} after {} evaluations, best {best}",
                    e.opt_id,
                    e.evaluations
                );
            }
            Event::Hunt { hunter, killed: [], .. } => {
                tracing::debug!("optimizer {hunter} hunted and killed none");
            }
            Event::Hunt { hunter, killed, .. } => {
                tracing::info!("optimizer {hunter} hunted and killed {killed:?}");
            }
            Event::Checkpoint { path, count, reason, .. } => {
                tracing::info!("checkpoint {count} ({reason}) written: {}", path.display());
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether the diagnostics filter lets [`TraceEvents`]' lines through (so it is worth observing).
pub fn wanted() -> bool {
    tracing::enabled!(tracing::Level::INFO)
}

/// Installs the subscriber that prints `tracing` lines on stderr: `RUST_LOG` when set, else
/// `warn` (`-q` or no flag), `info` (`-v`) or `debug` (`-vv` and more) for glompo's crates.
pub fn init(verbosity: u8) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) => EnvFilter::try_new(&text).map_err(|e| format!("RUST_LOG={text:?}: {e}"))?,
        Err(_) => EnvFilter::new(format!("warn,glompo={level},glompo_cli={level},glompo_core={level}")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| format!("cannot start the diagnostics: {e}"))
}
