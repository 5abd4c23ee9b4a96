//! The `glompo` command: run managed optimizations from a JSON config.

mod args;
mod ranks;
mod signal;
mod worker;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use glompo_backends::reaper;
use glompo_cli::dashboard::Dashboard;
use glompo_cli::{Origin, Overrides, RunConfig, plot};
use glompo_core::functions;
use glompo_core::manager::{EndReason, LiveDisplay, RunResult};

use crate::args::{Cli, Command, Session};

/// Exit code of a run that failed.
const FAILED: u8 = 1;
/// Exit code of bad usage, config or input.
const USAGE: u8 = 2;
/// Exit code of a run interrupted by a signal, after a clean stop: 128 + the signal's number (130 for
/// SIGINT, 143 for SIGTERM, 138 for SIGUSR1, 129 for SIGHUP).
const SIGNALLED: u8 = 128;

/// Exit code of a run that stopped a margin before its batch job's end (`EX_TEMPFAIL`): it took a
/// checkpoint, and `glompo resume` goes on in the next job.
const DEADLINE: u8 = 75;

/// The environment variable with a Slurm job's end, in seconds since the Unix epoch.
const JOB_END: &str = "SLURM_JOB_END_TIME";

/// The deadline of a run in a batch job whose end is `value` (of [`JOB_END`]): `margin` before it,
/// with what set it. `None` outside such a job; a value that is not a time is an error naming it.
fn job_end(value: Option<&std::ffi::OsStr>, margin: Duration) -> Result<Option<(f64, String)>, String> {
    let Some(value) = value else { return Ok(None) };
    let text = value.to_string_lossy();
    match text.trim().parse::<u64>() {
        Ok(end) => {
            let margin_s = margin.as_secs_f64();
            Ok(Some((end as f64 - margin_s, format!("{JOB_END} − {margin_s} s"))))
        }
        Err(e) => Err(format!(
            "{JOB_END}={text:?}: expected the job's end in seconds since the Unix epoch ({e}); \
             unset it to run without a deadline"
        )),
    }
}

/// The longest `--status-every` (a year).
const MAX_STATUS_EVERY: Duration = Duration::from_secs(365 * 24 * 3600);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Functions => list_functions(),
        Command::Dashboard { dir, addr } => dashboard(&dir, addr),
        Command::Report { dir } => match glompo_cli::report::report(&dir) {
            Ok(text) => print(&text),
            Err(e) => fail(USAGE, &e.to_string()),
        },
        Command::Export { dir, csv: _, output, overwrite } => {
            match glompo_cli::export::export_csv(&dir, output.as_deref(), overwrite) {
                Ok(done) => {
                    eprintln!("glompo: wrote {} evaluations to {}", done.rows, done.path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(USAGE, &e.to_string()),
            }
        }
        Command::Plot { dir, output, overwrite } => plot(&dir, output, overwrite),
        Command::Stop { dir, opt_id } => stop(&dir, opt_id),
        Command::Worker { objective } => worker::serve(&objective),
        Command::Runner { config } => {
            match glompo_backends::process::serve_runner(|recipe| {
                glompo_cli::config::runner_parts(&config, recipe)
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(FAILED, &e),
            }
        }
        Command::Reap { dry_run } => reap(dry_run),
        Command::Keeper => keep(),
        Command::Run { config, dir, overwrite, seed, session } => {
            let overrides = Overrides { dir, overwrite, seed, ..Overrides::default() };
            let read = |o: &Overrides| RunConfig::from_file(&config, o).map_err(|e| e.to_string());
            if let Some((variable, rank)) = ranks::launched_rank().filter(|(_, rank)| *rank > 0) {
                return serve_rank(read(&overrides), variable, rank);
            }
            let (keeper, status_every) = match begin(&session) {
                Ok(begun) => begun,
                Err(code) => return code,
            };
            let (run_config, job) = match read(&overrides).and_then(|c| mpi_job(c, read, &overrides)) {
                Ok(found) => found,
                Err(e) => return fail(USAGE, &e),
            };
            run(&run_config, Origin::File(config.clone()), &session, status_every, keeper, None, job)
        }
        Command::Resume { from, dir, overwrite, convergence, max_jobs, seconds, session } => {
            let resumed = Resumed { from, dir, overwrite, convergence, max_jobs, seconds, ranks: None };
            let read = |o: &Overrides| Resumed { ranks: o.ranks, ..resumed.clone() }.config();
            if let Some((variable, rank)) = ranks::launched_rank().filter(|(_, rank)| *rank > 0) {
                return serve_rank(read(&Overrides::default()).map(|(c, _)| c), variable, rank);
            }
            let (keeper, status_every) = match begin(&session) {
                Ok(begun) => begun,
                Err(code) => return code,
            };
            let found = read(&Overrides::default()).and_then(|(run_config, checkpoint)| {
                let read = |o: &Overrides| read(o).map(|(c, _)| c);
                Ok((mpi_job(run_config, read, &Overrides::default())?, checkpoint))
            });
            let ((run_config, job), checkpoint) = match found {
                Ok(found) => found,
                Err(e) => return fail(USAGE, &e),
            };
            let origin = Origin::Checkpoint(checkpoint.clone());
            run(&run_config, origin, &session, status_every, keeper, Some(checkpoint), job)
        }
        Command::Checkpoint { dir } => request_checkpoint(&dir),
        Command::Validate { config, dir, seed } => {
            validate(&config, Overrides { dir, seed, ..Overrides::default() })
        }
        Command::Init { template, dir, overwrite } => init(&template, dir, overwrite),
    }
}

/// `glompo validate CONFIG`: the config checked and its plan printed.
fn validate(config: &std::path::Path, overrides: Overrides) -> ExitCode {
    match RunConfig::from_file(config, &overrides) {
        Ok(run_config) => {
            let text = format!("{}: valid\n\n{}", config.display(), glompo_cli::guide::plan(&run_config));
            print(&text)
        }
        Err(e) => fail(USAGE, &e.to_string()),
    }
}

/// `glompo init [TEMPLATE]`: a starting config (and script) in the current directory or `dir`.
fn init(name: &str, dir: Option<std::path::PathBuf>, overwrite: bool) -> ExitCode {
    use glompo_cli::guide;
    let template = match guide::template(name) {
        Ok(t) => t,
        Err(message) => return fail(USAGE, &message),
    };
    let dir = dir.unwrap_or_else(|| std::path::PathBuf::from("."));
    match guide::init(template, &dir, overwrite) {
        Ok(paths) => {
            let config = dir.join(guide::CONFIG_FILE);
            let written: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let text = format!(
                "wrote {} ({})\nnext: glompo validate {} && glompo run {}\n",
                written.join(" and "),
                template.summary,
                config.display(),
                config.display()
            );
            print(&text)
        }
        Err(message) => fail(USAGE, &message),
    }
}

/// The start of a `glompo run` or `glompo resume`, first of all and before any thread exists: marks
/// this process as a run (it re-executes itself once to carry the marker), adopts orphaned
/// descendants and clears stale runs; and the interval of progress lines (`None`: none).
fn begin(session: &Session) -> Result<(Option<reaper::Keeper>, Option<Duration>), ExitCode> {
    glompo_cli::trace::init(session.verbose).map_err(|message| fail(USAGE, &message))?;
    let keeper = prepare_processes(session.quiet, !session.no_reap).map_err(|e| fail(FAILED, &e))?;
    let every = status_interval(session.status_every).map_err(|message| fail(USAGE, &message))?;
    Ok((keeper, (!session.quiet && !every.is_zero()).then_some(every)))
}

/// The MPI job a run is rank 0 of (the `mpi` backend), which must outlive the run: dropping it
/// ends the other ranks.
#[cfg(feature = "mpi")]
type Job = Option<glompo_backends::mpi::Mpi>;
/// Without the `mpi` feature no run is part of an MPI job.
#[cfg(not(feature = "mpi"))]
type Job = Option<NoMpi>;

/// No MPI job: there is none without the `mpi` feature.
#[cfg(not(feature = "mpi"))]
enum NoMpi {}

/// Ends the MPI job a run is rank 0 of: the other ranks end (or the job is aborted, if a rank
/// stopped answering).
#[cfg(feature = "mpi")]
fn end_job(job: Job) {
    drop(job);
}

/// Without the `mpi` feature there is no job to end.
#[cfg(not(feature = "mpi"))]
fn end_job(job: Job) {
    if let Some(never) = job {
        match never {}
    }
}

/// A run's config and, for one whose backend is `mpi`, its MPI job: MPI initialised and the config
/// read again with `read`, knowing the job's size.
#[cfg(feature = "mpi")]
fn mpi_job(
    config: RunConfig,
    read: impl Fn(&Overrides) -> Result<RunConfig, String>,
    overrides: &Overrides,
) -> Result<(RunConfig, Job), String> {
    if !config.uses_mpi() {
        return Ok((config, None));
    }
    let (mpi, config) = ranks::manager(read, overrides)?;
    Ok((config, Some(mpi)))
}

/// Without the `mpi` feature, a config whose backend is `mpi` is refused when it is read.
#[cfg(not(feature = "mpi"))]
fn mpi_job(
    config: RunConfig,
    _: impl Fn(&Overrides) -> Result<RunConfig, String>,
    _: &Overrides,
) -> Result<(RunConfig, Job), String> {
    Ok((config, None))
}

/// A rank other than 0 of an MPI job: hosts optimizers until rank 0 is done, if the run (`config`)
/// is an MPI run.
fn serve_rank(config: Result<RunConfig, String>, variable: &str, rank: u64) -> ExitCode {
    let config = match config {
        Ok(config) => config,
        Err(e) => return fail(USAGE, &e),
    };
    if let Some(e) = ranks::not_mpi(&config, rank, variable) {
        return fail(USAGE, &e);
    }
    #[cfg(feature = "mpi")]
    return match ranks::serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(FAILED, &e),
    };
    // Without the feature, reading a config whose backend is `mpi` failed above.
    #[cfg(not(feature = "mpi"))]
    fail(FAILED, "this glompo has no MPI backend")
}

/// `glompo resume`'s arguments.
#[derive(Clone)]
struct Resumed {
    from: std::path::PathBuf,
    dir: Option<std::path::PathBuf>,
    overwrite: bool,
    convergence: Option<String>,
    max_jobs: Option<u64>,
    seconds: Option<f64>,
    /// The size of the MPI job it runs in.
    ranks: Option<usize>,
}

impl Resumed {
    /// The checkpoint to resume from and the config of its run, with the overrides.
    fn config(self) -> Result<(RunConfig, std::path::PathBuf), String> {
        let checkpoint = if self.from.is_dir() {
            glompo_core::manager::latest(&self.from).map_err(|e| e.to_string())?
        } else {
            self.from.clone()
        };
        let info = glompo_core::manager::inspect(&checkpoint).map_err(|e| e.to_string())?;
        let Some(config) = info.config else {
            return Err(format!(
                "checkpoint {}: holds no config (it was taken by a library run); resume it from Rust",
                checkpoint.display()
            ));
        };
        // The run directory is the one the checkpoint lies in (DIR/checkpoints/NAME.json).
        let source = checkpoint.parent().and_then(|p| p.parent()).map(std::path::Path::to_path_buf);
        let Some(source) = source.filter(|s| s.join("evaluations.jsonl").is_file()) else {
            return Err(format!(
                "checkpoint {}: not in a run directory's checkpoints/ folder (no evaluations.jsonl beside it)",
                checkpoint.display()
            ));
        };
        let convergence = match (self.convergence, self.seconds) {
            (c, None) => c,
            (c, Some(s)) if s.is_finite() && s > 0.0 => {
                let base = c.or_else(|| config["convergence"].as_str().map(str::to_owned));
                let limit = format!("max_seconds(session={s})");
                Some(base.map_or(limit.clone(), |b| format!("({b}) | {limit}")))
            }
            (_, Some(s)) => return Err(format!("--seconds: {s} is not a positive number of seconds")),
        };
        let overrides = Overrides {
            dir: Some(self.dir.unwrap_or(source)),
            overwrite: self.overwrite,
            seed: None,
            convergence,
            max_jobs: self.max_jobs,
            ranks: self.ranks,
        };
        let config = RunConfig::from_resolved(config, &overrides)
            .map_err(|e| e.with_origin(Origin::Checkpoint(checkpoint.clone())).to_string())?;
        Ok((config, checkpoint))
    }
}

/// `--status-every`, checked.
fn status_interval(seconds: f64) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(every) if every <= MAX_STATUS_EVERY => Ok(every),
        _ => Err(format!(
            "--status-every: {seconds} is not a number of seconds from 0 to {}",
            MAX_STATUS_EVERY.as_secs()
        )),
    }
}

/// `glompo dashboard DIR --addr ADDR`: serves the run's page until interrupted.
fn dashboard(dir: &std::path::Path, addr: std::net::SocketAddr) -> ExitCode {
    let interrupt = match signal::install() {
        Ok(flag) => flag,
        Err(e) => return fail(FAILED, &e),
    };
    let dashboard = match Dashboard::start(dir, addr) {
        Ok(dashboard) => dashboard,
        Err(e) => return fail(USAGE, &e.to_string()),
    };
    eprintln!("glompo: dashboard of {} at {} (Ctrl-C stops it)", dir.display(), dashboard.url());
    while interrupt.count() == 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    dashboard.shutdown();
    ExitCode::SUCCESS
}

/// `glompo checkpoint DIR`: asks the live run there for a checkpoint.
fn request_checkpoint(dir: &std::path::Path) -> ExitCode {
    let pid = match glompo_core::manager::live_run(dir) {
        Ok(Some(pid)) => pid,
        Ok(None) => return fail(USAGE, &format!("{}: no run is going on in this directory", dir.display())),
        Err(e) => return fail(FAILED, &e.to_string()),
    };
    let file = dir.join(glompo_core::manager::CHECKPOINT_FILE);
    match std::fs::write(&file, b"") {
        Ok(()) => {
            eprintln!("glompo: asked the run (glompo process {pid}) for a checkpoint ({})", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(FAILED, &format!("{}: {e}", file.display())),
    }
}

/// Prints `text` on stdout; a closed stdout (a pipe to `head`) is not an error.
fn print(text: &str) -> ExitCode {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("glompo: error: {message}");
    ExitCode::from(code)
}

/// Runs `config` (from `origin`, which its errors name), from the checkpoint `resume` if given.
fn run(
    config: &RunConfig,
    origin: Origin,
    session: &Session,
    status_every: Option<Duration>,
    keeper: Option<reaper::Keeper>,
    resume: Option<std::path::PathBuf>,
    job: Job,
) -> ExitCode {
    let dir = config.output.dir.clone();
    let quiet = session.quiet;
    // The config is checked again and an external program started once, before anything else.
    #[cfg(feature = "mpi")]
    let builder = match &job {
        Some(mpi) => config.mpi_builder(mpi),
        None => config.builder(),
    };
    #[cfg(not(feature = "mpi"))]
    let builder = config.builder();
    let builder = match builder {
        Ok(builder) => builder,
        Err(e) => return fail(USAGE, &e.with_origin(origin).to_string()),
    };
    // The dashboard's address is checked before the run writes anything.
    let dashboard = match session.dashboard.map(Dashboard::bind).transpose() {
        Ok(bound) => bound,
        Err(e) => return fail(USAGE, &e.to_string()),
    };
    let interrupt = match signal::install() {
        Ok(flag) => flag,
        Err(e) => return fail(FAILED, &e),
    };
    let signalled = std::sync::Arc::clone(&interrupt);
    let mut builder = builder.interrupt(std::sync::Arc::clone(&interrupt));
    if let Some(checkpoint) = &resume {
        builder = builder.resume(checkpoint);
    }
    if !quiet {
        // On a terminal it is drawn; elsewhere it only says when an interrupt stops the run, and the
        // plain status line reports the progress.
        let live = LiveDisplay::new().interrupt(interrupt);
        glompo_cli::trace::around(live.bar());
        builder = builder.observer(Box::new(live));
        if let Some(every) = status_every.filter(|_| !std::io::stderr().is_terminal()) {
            builder = builder.status(every, Box::new(|p| eprintln!("glompo: {p}")));
        }
    }
    if glompo_cli::trace::wanted() {
        builder = builder.observer(Box::new(glompo_cli::trace::TraceEvents));
    }
    match job_end(std::env::var_os(JOB_END).as_deref(), config.checkpoint.before_job_end) {
        Ok(Some((unix, by))) => builder = builder.deadline(unix, by),
        Ok(None) => {}
        Err(message) => return fail(USAGE, &message),
    }
    let manager = match builder.build() {
        Ok(m) => m,
        Err(e) => return fail(if e.is_usage() { USAGE } else { FAILED }, &e.to_string()),
    };
    let dashboard = match dashboard.map(|bound| bound.serve_run(&dir, Some(std::process::id()))).transpose() {
        Ok(dashboard) => dashboard,
        Err(e) => return fail(FAILED, &e.to_string()),
    };
    if let Some(dashboard) = &dashboard {
        eprintln!("glompo: dashboard at {}", dashboard.url());
    }
    if !quiet && let Some(checkpoint) = &resume {
        eprintln!("glompo: resuming from {}", checkpoint.display());
    }
    if !quiet {
        eprintln!(
            "glompo: minimising {} ({}-D) with up to {} jobs; writing {}",
            config.objective.name(),
            config.objective.dim(),
            config.max_jobs,
            dir.display()
        );
    }
    let outcome = manager.run();
    // Nothing this run started may outlive it: every descendant but the keeper is killed, then the
    // keeper is told the run ended (so that it stays on guard during the sweep).
    let spared: Vec<reaper::Pid> = keeper.iter().map(reaper::Keeper::pid).collect();
    if let Err(e) = reaper::kill_descendants_except(&spared) {
        eprintln!("glompo: warning: cannot sweep leftover processes: {e}");
    }
    drop(keeper);
    if let Some(dashboard) = dashboard {
        // The pages get the run's end before the server goes with the process.
        dashboard.finish();
    }
    match outcome {
        Ok(result) => {
            report(&result, config.parameters.as_deref(), &dir, quiet);
            if !session.no_plot {
                let out = dir.join(plot::TRAJECTORIES);
                if let Err(e) = plot::trajectories(&dir, &out, &plot::PlotOptions::default()) {
                    eprintln!("glompo: warning: cannot plot the run: {e}");
                }
            }
            // The other ranks of an MPI job end once the run's files are written.
            end_job(job);
            match result.end_reason {
                EndReason::Interrupted { .. } => match u8::try_from(signalled.signal()) {
                    Ok(signal @ 1..=127) => ExitCode::from(SIGNALLED + signal),
                    _ => ExitCode::from(FAILED),
                },
                EndReason::Deadline { .. } => ExitCode::from(DEADLINE),
                ref end if end.is_failure() => ExitCode::from(FAILED),
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) if e.is_usage() => fail(USAGE, &e.to_string()),
        Err(e) => fail(FAILED, &e.to_string()),
    }
}

fn report(result: &RunResult, names: Option<&[String]>, dir: &std::path::Path, quiet: bool) {
    let mut out = std::io::stdout().lock();
    let c = &result.counters;
    let lines = match &result.best {
        Some(b) => {
            let mut lines = vec![match b.opt_id {
                0 => format!("best f = {:.10e} (the generator's own evaluation {})", b.fx, b.call_id),
                id => format!("best f = {:.10e} (optimizer {id}, evaluation {})", b.fx, b.call_id),
            }];
            match names {
                Some(names) => {
                    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
                    lines.extend(names.iter().zip(&b.x).map(|(n, v)| format!("  {n:<width$} = {v}")));
                }
                None => {
                    let x: Vec<String> = b.x.iter().map(|v| format!("{v:.6}")).collect();
                    lines.push(format!("x = [{}]", x.join(", ")));
                }
            }
            lines
        }
        None => vec!["no finite value was found".to_owned()],
    };
    let mut text = lines.join("\n") + "\n";
    if !quiet {
        text += &format!(
            "end: {}\nevaluations {} ({} failed); optimizers started {}, killed {}, converged {}, crashed {}; hunts {}\nwall time {:.2} s; outputs in {}\n",
            result.end_reason,
            c.evaluations,
            c.failed_evaluations,
            c.optimizers_started,
            c.optimizers_killed,
            c.optimizers_converged,
            c.optimizers_crashed,
            c.hunts,
            result.wall_time_s,
            dir.display()
        );
    }
    // A closed stdout (a pipe to `head`) must not turn a finished run into a failure.
    let _ = out.write_all(text.as_bytes());
}

/// Marks this process as a run's manager, starts its keeper, contains the run in a cgroup where the
/// machine allows it, makes it a child subreaper, and reaps the leftovers of runs whose manager died.
fn prepare_processes(quiet: bool, sweep: bool) -> Result<Option<reaper::Keeper>, String> {
    let marker = reaper::mark_self().map_err(|e| format!("cannot mark the run's processes: {e}"))?;
    // The program's own path, so that `ps` shows the keeper as glompo; /proc/self/exe if it is unknown.
    let exe =
        std::env::current_exe().map_or_else(|_| "/proc/self/exe".to_owned(), |p| p.display().to_string());
    let argv = [exe, "__keeper".to_owned()];
    let keeper = match reaper::Keeper::start(&argv, &marker) {
        Ok(mut keeper) => {
            // The keeper stays outside the cgroup; everything the manager starts from now on is in
            // it. Most machines do not let a user make cgroups, so a run without one is normal and
            // said only with -v: what that leaves uncovered is in the reaper's README, "Cgroups".
            if let Err(e) = keeper.contain() {
                tracing::info!("the run is not contained in a cgroup: {e}");
            }
            Some(keeper)
        }
        Err(e) => {
            eprintln!("glompo: warning: cannot start the run's keeper: {e}");
            None
        }
    };
    reaper::set_child_subreaper().map_err(|e| e.to_string())?;
    if !sweep {
        return Ok(keeper);
    }
    match reaper::reap(false) {
        Ok(report) if !quiet && (!report.signalled.is_empty() || !report.cgroups.is_empty()) => {
            eprintln!(
                "glompo: killed {} leftover processes of dead runs and removed {} of their cgroups",
                report.signalled.len(),
                report.cgroups.len()
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("glompo: warning: cannot look for leftovers of dead runs: {e}"),
    }
    Ok(keeper)
}

/// `glompo __keeper`: see [`reaper::serve_keeper`].
fn keep() -> ExitCode {
    let Some(run) = reaper::keeper_run() else {
        return fail(USAGE, "__keeper: not started as a run's keeper (GLOMPO_KEEPER is not a run marker)");
    };
    match reaper::serve_keeper(&run) {
        Ok(report) => {
            if !report.signalled.is_empty() {
                eprintln!(
                    "glompo: the manager of run {run} died; its keeper killed {} processes left of the run",
                    report.signalled.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(FAILED, &format!("the keeper of run {run}: {e}")),
    }
}

fn reap(dry_run: bool) -> ExitCode {
    match reaper::reap(dry_run) {
        Err(e) => fail(FAILED, &e.to_string()),
        Ok(report) => {
            let mut text = String::new();
            for p in &report.selected {
                let run = p.marker.map_or_else(|| "-".to_owned(), |m| m.env_pair().1);
                text += &format!("{:>8} {:<16} run {run}\n", p.pid, p.comm);
            }
            for dir in &report.cgroups {
                text += &format!("cgroup {}\n", dir.display());
            }
            let (verb, removal) =
                if dry_run { ("would kill", "would remove") } else { ("killed", "removed") };
            let count = if dry_run { report.selected.len() } else { report.signalled.len() };
            text += &format!("{verb} {count} processes of dead runs\n");
            if !report.cgroups.is_empty() {
                text += &format!("{removal} {} cgroups of dead runs\n", report.cgroups.len());
            }
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                fail(FAILED, &format!("{} signals failed", report.failed.len()))
            }
        }
    }
}

fn stop(dir: &std::path::Path, opt_id: u64) -> ExitCode {
    let log = dir.join("optimizers.jsonl");
    let text = match std::fs::read_to_string(&log) {
        Ok(text) => text,
        Err(e) => return fail(USAGE, &format!("{}: not a run directory: {e}", log.display())),
    };
    let pid = match glompo_core::manager::live_run(dir) {
        Ok(Some(pid)) => pid,
        Ok(None) => return fail(USAGE, &format!("{}: no run is going on in this directory", dir.display())),
        Err(e) => return fail(FAILED, &e.to_string()),
    };
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["opt_id"].as_u64() == Some(opt_id))
        .collect();
    if !events.iter().any(|e| e["event"] == "start") {
        return fail(USAGE, &format!("{}: no optimizer {opt_id} was started in this run", dir.display()));
    }
    if let Some(end) = events.iter().find(|e| e["event"] == "end") {
        let reason = end["reason"].as_str().unwrap_or("ended");
        return fail(USAGE, &format!("{}: optimizer {opt_id} has already ended ({reason})", dir.display()));
    }
    let file = dir.join(format!("STOP_{opt_id}"));
    match std::fs::write(&file, b"") {
        Ok(()) => {
            eprintln!(
                "glompo: asked the run (glompo process {pid}) to stop optimizer {opt_id} ({})",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(FAILED, &format!("{}: {e}", file.display())),
    }
}

/// `glompo plot DIR [-o FILE] [--overwrite]`: draws the run's trajectories; the default file is
/// replaced, a file the user named only with `--overwrite`.
fn plot(dir: &std::path::Path, output: Option<std::path::PathBuf>, overwrite: bool) -> ExitCode {
    let out = match output {
        Some(file) if file.exists() && !overwrite => {
            return fail(
                USAGE,
                &format!("{}: the file exists; pass --overwrite to replace it", file.display()),
            );
        }
        Some(file) => file,
        None => dir.join(plot::TRAJECTORIES),
    };
    match plot::trajectories(dir, &out, &plot::PlotOptions::default()) {
        Ok(info) => {
            let scale = if info.log_scale { "log" } else { "linear" };
            let text = format!(
                "wrote {}: {} evaluations ({} not finite) of {} optimizers, {scale} scale\n",
                out.display(),
                info.evaluations,
                info.not_finite,
                info.optimizers
            );
            print(&text)
        }
        Err(plot::PlotError::Read(e)) if e.is_usage() => fail(USAGE, &e.to_string()),
        Err(e) => fail(FAILED, &e.to_string()),
    }
}

fn list_functions() -> ExitCode {
    let mut table = glompo_cli::report::Table::new(&["name", "dims", "parameters", "description"]);
    for f in functions::catalogue() {
        table.row(vec![f.name.to_owned(), f.dims.to_string(), f.params.to_string(), f.summary.to_owned()]);
    }
    let mut text = String::new();
    table.render(&mut text);
    text += "\nEvery function also takes delay_s (seconds of sleep per call, to stand in for an expensive objective)\n\
           and shift: f(x - s) in the same box, with s drawn within +-shift x half the box's width from\n\
           shift_seed (default 0), or given as a list of dim numbers; the minimiser moves to its old place + s.\n\
           With a known minimiser m, rotate: true (and rotate_seed, default 0) makes it f(m + R(x - m)) with R a\n\
           random rotation, so that a separable function no longer is.\n";
    print(&text)
}
