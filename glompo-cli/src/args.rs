//! The command line, as clap parses it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// glompo: globally managed parallel optimization.
#[derive(Debug, Parser)]
#[command(name = "glompo", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a managed optimization described by a JSON config and print the result.
    Run {
        /// The config file (`glompo init` writes one to start from).
        config: PathBuf,
        /// The run directory (overrides `output.dir`; default `glompo_run`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Replace the outputs of an earlier run in the run directory.
        #[arg(long)]
        overwrite: bool,
        /// The run seed (overrides `seed`; default 0).
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        session: Session,
    },
    /// Continue a run from its newest checkpoint (or from the checkpoint file given), as the run that
    /// was never interrupted: the logs are cut back to the checkpoint and every optimizer alive then
    /// goes on from its saved state.
    Resume {
        /// The run directory, or a checkpoint file (in a run directory's `checkpoints/`).
        from: PathBuf,
        /// Continue in another run directory (the logs up to the checkpoint are copied there).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// With --dir: replace the outputs of an earlier run there.
        #[arg(long)]
        overwrite: bool,
        /// Another stop criterion (a checker expression) for the rest of the run.
        #[arg(long, value_name = "EXPRESSION")]
        convergence: Option<String>,
        /// Another number of worker slots.
        #[arg(long, value_name = "N")]
        max_jobs: Option<u64>,
        /// End this session after this many seconds (the checker gets `| max_seconds(session=S)`).
        #[arg(long, value_name = "S")]
        seconds: Option<f64>,
        #[command(flatten)]
        session: Session,
    },
    /// Check a config and print the plan it resolves to (objective, bounds, optimizers with their
    /// settings, budget, hunters, checkpoints), without running or writing anything.
    Validate {
        /// The config file.
        config: PathBuf,
        /// The run directory the run would use (as `glompo run --dir`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The run seed (as `glompo run --seed`).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Write a commented starting config (`glompo.json`) into the current directory: `function` (a
    /// built-in benchmark function) or `command` (your own program, with a Python model to edit).
    Init {
        /// The template: `function` or `command`.
        #[arg(default_value = "function")]
        template: String,
        /// Write into this directory instead.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Replace files that exist already.
        #[arg(long)]
        overwrite: bool,
    },
    /// Ask a live run to write a checkpoint now (it creates `DIR/CHKPT`, which the run consumes).
    Checkpoint {
        /// The run directory.
        dir: PathBuf,
    },
    /// Ask a live run to stop one optimizer (it creates `DIR/STOP_<OPT_ID>`, which the run consumes).
    Stop {
        /// The run directory.
        dir: PathBuf,
        /// The optimizer's id, as in `optimizers.jsonl`.
        opt_id: u64,
    },
    /// Kill the leftover processes of glompo runs whose manager is gone.
    Reap {
        /// List them without killing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Draw a run's trajectories (f against call_id per optimizer, the best so far, ends and failures)
    /// as a PNG; the run may still be going.
    Plot {
        /// The run directory.
        dir: PathBuf,
        /// The PNG file (default DIR/trajectories.png, which is replaced).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace FILE if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Serve a live page of a run (live, finished or killed) in the browser: trajectories, optimizers,
    /// counters, the best point. Read-only; on the loopback interface unless told otherwise.
    Dashboard {
        /// The run directory.
        dir: PathBuf,
        /// The address to serve on: `IP:PORT`, or a port on 127.0.0.1 (port 0: any free one).
        #[arg(long, value_name = "ADDR", default_value = glompo_cli::dashboard::DEFAULT_ADDR, value_parser = address)]
        addr: SocketAddr,
    },
    /// List the built-in benchmark functions.
    Functions,
    /// Print a finished, live or killed run as tables: result by parameter, end, counters, periods,
    /// one line per optimizer.
    Report {
        /// The run directory.
        dir: PathBuf,
    },
    /// Write a run's evaluations as CSV, one column per parameter (and call_id, opt_id, t, fx, error).
    Export {
        /// The run directory.
        dir: PathBuf,
        /// Write CSV (the only format, for now).
        #[arg(long, required = true)]
        csv: bool,
        /// The file to write (default DIR/evaluations.csv).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Run one optimizer's runner, its recipe on stdin and its messages on the descriptor that
    /// `GLOMPO_MESSAGE_FD` names, or on stdout without it (the `processes` backend's children).
    #[command(name = "__runner", hide = true)]
    Runner {
        /// What the runner needs besides its recipe, as JSON.
        config: String,
    },
    /// Guard a run: wait for its manager's end on stdin and kill what is left of the run if the manager
    /// died (started by `glompo run`, with the run in `GLOMPO_KEEPER`).
    #[command(name = "__keeper", hide = true)]
    Keeper,
    /// Serve evaluations of a built-in function on stdin/stdout (the `processes` evaluator's workers).
    #[command(name = "__worker", hide = true)]
    Worker {
        /// The resolved objective config, as JSON.
        objective: String,
    },
}

/// What `glompo run` and `glompo resume` share: how the session prints and starts.
#[derive(Debug, Args)]
pub(crate) struct Session {
    /// Print only the result (no start line, live display or progress lines).
    #[arg(short, long, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Also print what happens in the run (optimizers started and ended, hunts, checkpoints); -vv
    /// adds the hunts that killed nothing. `RUST_LOG` (tracing's filter syntax) takes precedence.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Skip the start-up sweep that kills the leftovers of runs whose manager died.
    #[arg(long)]
    pub(crate) no_reap: bool,
    /// Seconds between progress lines on stderr when it is not a terminal (0: none); a terminal gets
    /// a live display instead.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) status_every: f64,
    /// Do not write DIR/trajectories.png at the end of the run.
    #[arg(long)]
    pub(crate) no_plot: bool,
    /// Serve the run's dashboard while it runs (as `glompo dashboard`), on ADDR (`IP:PORT` or a
    /// port; default 127.0.0.1:8050), and print its address.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = glompo_cli::dashboard::DEFAULT_ADDR, value_parser = address)]
    pub(crate) dashboard: Option<SocketAddr>,
}

/// An address to serve on: `IP:PORT`, or `PORT` alone for 127.0.0.1.
fn address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| format!("`{text}` is not an address: give IP:PORT (127.0.0.1:8050) or a port"))
}
