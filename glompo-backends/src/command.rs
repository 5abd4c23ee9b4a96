//! An objective evaluated by external worker processes: the user's own simulation program in any
//! language, or glompo itself re-executed to evaluate a built-in function in isolation.
//!
//! # The protocol
//!
//! One JSON object per line. The worker reads a request `{"x": [...]}` on its stdin and answers one
//! line on its stdout: `{"fx": 1.5}`, `{"fx": 1.5, "extras": {...}}` or `{"error": "why"}`. A worker
//! serves requests until its stdin closes.
//!
//! Values are exact: a finite `fx` is read back to the same bits as the number written (write the
//! shortest round-trip form, as Python's `repr` and `json.dumps` do). JSON has no NaN or infinities, so
//! a non-finite `fx` is written as a string, `"nan"`, `"inf"` or `"-inf"` (read in any case, and
//! `"infinity"` too; glompo's own worker writes these). Two more forms are read: `null`, a non-finite
//! value of unknown sign, taken as NaN; and the bare tokens `NaN`, `Infinity` and `-Infinity` that
//! Python's `json.dumps` writes by default, which are not JSON but are read as those names wherever
//! they stand outside a string (so `json.dumps({"fx": float("inf")})` just works).
//!
//! The worker's stderr is passed through to this process's stderr as it comes (so it still reaches the
//! terminal, or a runner process's printstreams file), each line started with the evaluation the
//! worker was serving, `[opt 3 eval 17] ` (`call 1234` added where the call id is known before the
//! evaluation, `[worker PID] ` before its first request), and its last lines (at most 10 lines of the last
//! 2 KiB) end the error of an evaluation whose worker died: `the worker closed its output: the worker
//! exited with code 1; its stderr ended with: "Traceback (most recent call last):\n…"`.
//!
//! # The pool
//!
//! [`CommandObjective`] keeps a pool of idle workers and starts a new one whenever every worker is
//! busy, so the pool grows to the number of evaluations in flight (the level-2 evaluator decides that).
//! A worker that dies (a crash, a signal, `exit`, even while a process it started still holds its
//! output), answers garbage or exceeds the timeout is ended and replaced on the next request; the
//! evaluation becomes an [`EvalError`] naming the cause, and the run goes on. An answer that came before
//! the worker exited still counts. Workers run in their own process group and get SIGKILL when the
//! thread that started them ends (`PR_SET_PDEATHSIG`), so they do not outlive a manager that dies.
//!
//! Workers end gracefully, whenever they end: their stdin is closed, after 0.5 s (or as soon as the
//! worker exited) their process group gets `SIGTERM`, and `SIGKILL` 2 s later or as soon as the group
//! is empty. A launcher (`srun`, a wrapper script that traps TERM) thus gets the chance to clean up. A
//! worker ended after a timeout or a failure is handed to a background thread, so the evaluation
//! returns at once; dropping the objective ends all its workers at once and returns when they are gone.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glompo_core::evaluator::{Admission, Batch, EvalOutcome, Evaluator, EvaluatorFactory, Gate};
use glompo_core::{CoreError, EvalContext, EvalError, EvalOutput, Objective};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::error::{BackendError, Result};

mod call;
mod child;
mod ender;
mod protocol;

pub use call::{CALL_ID_ENV, EVAL_ID_ENV, OPT_ID_ENV, SCRATCH_ENV, TOKENS, check_arguments};

use child::Worker;
use ender::Ender;

/// How a worker is started.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandSpec {
    /// The program and its arguments; a per-call program's arguments may hold tokens (`{x}`, `{x0}`,
    /// …, [`TOKENS`]) replaced for each evaluation.
    pub argv: Vec<String>,
    /// The longest an evaluation may take before its worker is killed.
    pub timeout: Option<Duration>,
    /// Extra environment variables for the workers.
    pub env: Vec<(String, String)>,
    /// The working directory of the workers (default: the manager's).
    pub cwd: Option<PathBuf>,
    /// Whether a worker serves many requests or the program is run once per evaluation.
    pub mode: Mode,
    /// A scratch directory for each evaluation, if asked.
    pub scratch: Option<Scratch>,
    /// What a worker gets when the thread that started it ends (the manager died).
    pub parent_death: ParentDeath,
}

/// The signal a worker gets when the thread that started it ends (`PR_SET_PDEATHSIG`): the manager
/// died, or dropped the objective without ending its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParentDeath {
    /// `SIGKILL`: nothing of the worker can outlive the manager.
    #[default]
    Kill,
    /// `SIGTERM`, for a launcher that must clean up (`srun` releases its job step in a fraction
    /// of a second; after `SIGKILL` the step stays for seconds). The run's keeper sends `SIGKILL`
    /// half a second later to whatever is left.
    Terminate,
}

impl CommandSpec {
    /// A persistent worker running `argv`, with no timeout, no extra variables, the manager's working
    /// directory and no scratch directories.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        CommandSpec { argv: argv.into_iter().map(Into::into).collect(), ..CommandSpec::default() }
    }
}

/// How the program serves evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A worker reads one request per line on its stdin and answers each on its stdout, until its
    /// stdin closes; the evaluation's ids (and scratch directory) are in the request.
    #[default]
    Persistent,
    /// The program is run once per evaluation: the point comes in its arguments (tokens, [`TOKENS`])
    /// or, if none takes it, as the request line on its stdin, which is then closed; the value is the
    /// last non-empty line of its stdout, a number or an answer object, once it exited with code 0.
    /// The evaluation's ids are in its environment ([`OPT_ID_ENV`], [`EVAL_ID_ENV`], [`CALL_ID_ENV`]
    /// where the `call_id` is known, [`SCRATCH_ENV`]).
    PerCall,
}

/// Scratch directories: one per evaluation, made under `dir` before the evaluation starts and named
/// by its ids (`opt0003-eval000012`, with `-call00000057` where the `call_id` is known), removed when
/// it succeeded and kept (its path said in the error) when it failed or gave a non-finite value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scratch {
    /// Where they are made.
    pub dir: PathBuf,
    /// Whether a per-call program runs in its scratch directory.
    pub cwd: bool,
}

/// An [`Objective`] whose evaluations are made by a pool of worker processes.
///
/// ```no_run
/// use std::time::Duration;
///
/// use glompo_backends::command::{CommandObjective, CommandSpec};
/// use glompo_core::Objective;
///
/// let spec = CommandSpec::new(["python3", "model.py"]);
/// let model = CommandObjective::new(spec).unwrap();
/// // A program that ends at once (a typo in its name, a missing input file) is an error here.
/// model.check_started(Duration::from_millis(500)).unwrap();
/// let fx = model.evaluate(&[1.0, 2.0]);
/// ```
#[derive(Debug)]
pub struct CommandObjective {
    spec: CommandSpec,
    idle: Mutex<Vec<Worker>>,
    /// Asks the spawner thread for a new worker of a spec. Workers are started by that one long-lived
    /// thread because `PR_SET_PDEATHSIG` fires when the *thread* that forked ends, not the process:
    /// started from an evaluation thread, a worker would die with it.
    spawn: Mutex<Sender<SpawnRequest>>,
    /// Ends workers gracefully without making an evaluation wait.
    ender: Ender,
}

/// Why a request failed, and whether the worker can serve again.
#[derive(Debug, Clone)]
enum Failure {
    /// The worker answered with an error; it is still usable.
    Answered(String),
    /// The worker is dead or unusable and must be replaced.
    Broken(String),
}

/// A worker to start, and where to send it.
type SpawnRequest = (CommandSpec, Sender<Result<Worker>>);

/// How often an exit is looked for on kernels without pidfds, where `poll` cannot wait for one.
const EXIT_LOOK: Duration = Duration::from_millis(50);

impl CommandObjective {
    /// Checks the spec by starting one worker (kept for the first evaluation). A program that does not
    /// exist or cannot run is an error here, before any run starts; one that starts but ends at once is
    /// found by [`CommandObjective::check_started`].
    pub fn new(spec: CommandSpec) -> Result<Self> {
        if spec.argv.is_empty() {
            return Err(BackendError::Command { program: "command".into(), message: "is empty".into() });
        }
        let cannot_start = |e: std::io::Error| BackendError::Command {
            program: spec.argv[0].clone(),
            message: format!("cannot start: {e}"),
        };
        let (spawn, requests) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("glompo-spawner".into())
            .spawn(move || {
                for (spec, reply) in requests {
                    // The asker is gone (its evaluation unwound): the worker goes down with the reply.
                    let _ = reply.send(Worker::start(&spec));
                }
            })
            .map_err(cannot_start)?;
        let ender = Ender::start().map_err(cannot_start)?;
        let objective =
            CommandObjective { spec, idle: Mutex::new(Vec::new()), spawn: Mutex::new(spawn), ender };
        // A persistent program is started now, to serve the first evaluation. A per-call program is
        // run by each evaluation only (started here it could write its files, or take a long time):
        // `new` checks that it is there to run.
        match objective.spec.mode {
            Mode::Persistent => {
                let first = objective.spawn_worker(objective.spec.clone())?;
                objective.idle.lock().unwrap_or_else(|e| e.into_inner()).push(first);
            }
            Mode::PerCall => call::runnable(&objective.spec.argv[0]).map_err(|message| {
                BackendError::Command { program: objective.spec.argv[0].clone(), message }
            })?,
        }
        Ok(objective)
    }

    /// Waits up to `within` (half a second is plenty) for the first worker, still idle, to end, and
    /// returns an error naming the program, how it ended and the end of its stderr if it did:
    /// `python3: ended at once: it exited with code 2; its stderr ended with: "python3: can't open file
    /// …"`. A command that exits at once (`false`, a script with a typo in its name) is then reported
    /// before a run starts, like one that cannot start at all.
    ///
    /// Call it right after [`CommandObjective::new`], before any evaluation; with no idle worker it has
    /// nothing to check. It is not part of `new`, which runner processes call, so that they do not wait.
    pub fn check_started(&self, within: Duration) -> Result<()> {
        let first = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.is_empty() {
                return Ok(());
            }
            idle.remove(0)
        };
        match first.wait_exit(within) {
            None => {
                self.idle.lock().unwrap_or_else(|e| e.into_inner()).insert(0, first);
                Ok(())
            }
            Some(ended) => {
                let message = format!("ended at once: it {ended}{}", first.stderr_tail());
                self.ender.end(first);
                Err(BackendError::Command { program: self.spec.argv[0].clone(), message })
            }
        }
    }

    fn spawn_worker(&self, spec: CommandSpec) -> Result<Worker> {
        let (reply, answer) = channel();
        let gone = || BackendError::Command {
            program: self.spec.argv[0].clone(),
            message: "the spawner thread is gone".into(),
        };
        self.spawn.lock().unwrap_or_else(|e| e.into_inner()).send((spec, reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Workers started and idle now (for tests and diagnostics).
    pub fn idle_workers(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The outcome of a request that ended: a persistent worker that answered (a value or an error)
    /// goes back to the idle pool if it still runs; a broken one, and every per-call program, is ended
    /// with its group. The evaluation's scratch directory is removed if it gave a finite value, and
    /// kept (and named in the error) otherwise.
    fn conclude(&self, flight: InFlight, answer: std::result::Result<EvalOutput, Failure>) -> EvalOutcome {
        let InFlight { worker, scratch, .. } = flight;
        let (usable, outcome) = match answer {
            Ok(out) => (true, Ok(out)),
            Err(Failure::Answered(message)) => (true, Err(message)),
            Err(Failure::Broken(message)) => (false, Err(message)),
        };
        if !usable || self.spec.mode == Mode::PerCall {
            self.ender.end(worker);
        } else if let Some(worker) = self.still_running(worker) {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
        }
        let Some(dir) = scratch else { return outcome.map_err(EvalError::new) };
        match outcome {
            Ok(out) if out.fx.is_finite() => {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    let line = format!("glompo: warning: cannot remove {}: {e}\n", dir.display());
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
                Ok(out)
            }
            Ok(out) => Ok(out),
            Err(message) => {
                Err(EvalError::new(format!("{message}; its scratch directory is kept: {}", dir.display())))
            }
        }
    }

    /// The worker, if it still runs. One that ended while idle is ended for good (its group too), and,
    /// unless it exited with code 0, said on stderr (its own stderr went there already).
    fn still_running(&self, worker: Worker) -> Option<Worker> {
        let Some(ended) = worker.exit_status() else { return Some(worker) };
        if !ended.success() {
            let line = format!(
                "glompo: warning: an idle worker of {} {ended}; a new one takes over\n",
                self.spec.argv[0]
            );
            // Nowhere else to say it if stderr is gone.
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        self.ender.end(worker);
        None
    }

    /// Starts the evaluation of `x` in `ctx`: its scratch directory if asked, then the request on a
    /// worker from the pool, or a per-call program of its own; the outcome right away if that fails.
    fn dispatch(
        &self,
        x: &[f64],
        ctx: &EvalContext,
        index: usize,
    ) -> std::result::Result<InFlight, EvalOutcome> {
        let scratch = match &self.spec.scratch {
            Some(s) => Some(call::make_scratch(&s.dir, ctx).map_err(|e| Err(EvalError::new(e)))?),
            None => None,
        };
        let per_call = self.spec.mode == Mode::PerCall;
        let started = if per_call {
            call::launch(&self.spec, x, ctx, scratch.as_deref())
                .and_then(|spec| self.spawn_worker(spec).map_err(|e| e.to_string()))
        } else {
            self.take_worker().map_err(|e| e.message().to_owned())
        };
        let worker = match started {
            Ok(worker) => worker,
            Err(message) => {
                // Nothing ran: the scratch directory holds nothing to look at.
                if let Some(dir) = &scratch {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(Err(EvalError::new(message)));
            }
        };
        let mut flight = InFlight { worker, index, deadline: None, scratch };
        let line = if per_call && call::takes_point(&self.spec) {
            Ok(Vec::new())
        } else {
            protocol::request_line(x, ctx, flight.scratch.as_deref())
        };
        flight.worker.serving(ctx);
        let sent = line
            .map_err(Failure::Broken)
            .and_then(|line| flight.worker.send(&line, self.spec.timeout, per_call));
        match sent {
            Ok(deadline) => {
                flight.deadline = deadline;
                Ok(flight)
            }
            Err(failure) => Err(self.conclude(flight, Err(failure))),
        }
    }

    /// Waits once, until the nearest deadline, for the requests in `busy`, and takes out those that
    /// ended: answered, failed, past their deadline with nothing to read, or whose worker exited. A
    /// deadline that has passed, or an exit, still gets a look at what is there, so that an answer that
    /// came in time is never taken for a timeout or a crash. A per-call program's output is read as it
    /// comes; its evaluation ends when it exits.
    fn wait_round(&self, busy: &mut Vec<InFlight>) -> Vec<(usize, EvalOutcome)> {
        let mut wake = busy.iter().filter_map(|f| f.deadline).min();
        // Without pidfds `poll` cannot wait for an exit: look now and then.
        if busy.iter().any(|f| f.worker.exit_fd().is_none()) {
            let look = Instant::now() + EXIT_LOOK;
            wake = Some(wake.map_or(look, |w| w.min(look)));
        }
        let wait = match wake {
            None => PollTimeout::NONE,
            Some(at) => poll_timeout(at).unwrap_or(PollTimeout::ZERO),
        };
        let polled = {
            let mut fds = Vec::with_capacity(2 * busy.len());
            for f in busy.iter() {
                // An output that reached its end would wake the poll at once, over and over.
                if !f.worker.output_closed() {
                    fds.push(PollFd::new(f.worker.stdout(), PollFlags::POLLIN));
                }
                fds.extend(f.worker.exit_fd().map(|fd| PollFd::new(fd, PollFlags::POLLIN)));
            }
            poll_ready(&mut fds, wait).map(|()| {
                let mut revents = fds.iter().map(|fd| fd.any().unwrap_or(true));
                busy.iter()
                    .map(|f| {
                        let readable = !f.worker.output_closed() && revents.next().unwrap_or(true);
                        let exited = f.worker.exit_fd().is_some() && revents.next().unwrap_or(true);
                        (readable, exited)
                    })
                    .collect::<Vec<_>>()
            })
        };
        let ready = match polled {
            Ok(ready) => ready,
            // Nothing can be waited for: every request in flight fails.
            Err(failure) => {
                return busy.drain(..).map(|f| (f.index, self.conclude(f, Err(failure.clone())))).collect();
            }
        };
        let now = Instant::now();
        let per_call = self.spec.mode == Mode::PerCall;
        let mut ended = Vec::new();
        for i in (0..busy.len()).rev() {
            let (readable, exit_seen) = ready[i];
            let worker = &mut busy[i].worker;
            let exited = exit_seen || (worker.exit_fd().is_none() && worker.exit_status().is_some());
            let answer = if per_call {
                match call_outcome(worker, readable, exited) {
                    Some(answer) => answer,
                    None if busy[i].deadline.is_some_and(|d| d <= now) => Err(timed_out(self.spec.timeout)),
                    None => continue,
                }
            } else if readable || exited {
                // What is in the pipe first: an answer the worker wrote before it exited counts.
                match worker.read_answer() {
                    Ok(Some(out)) => Ok(out),
                    Ok(None) if exited => {
                        // A process it started still holds its output, or it stopped mid-line.
                        Err(Failure::Broken(worker.death("the worker ended without a complete answer")))
                    }
                    Ok(None) => continue,
                    Err(failure) => Err(failure),
                }
            } else if busy[i].deadline.is_some_and(|d| d <= now) {
                Err(timed_out(self.spec.timeout))
            } else {
                continue;
            };
            let flight = busy.swap_remove(i);
            let index = flight.index;
            ended.push((index, self.conclude(flight, answer)));
        }
        ended
    }

    fn take_worker(&self) -> std::result::Result<Worker, EvalError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(worker) => {
                    if let Some(worker) = self.still_running(worker) {
                        return Ok(worker);
                    }
                }
                None => {
                    return self.spawn_worker(self.spec.clone()).map_err(|e| EvalError::new(e.to_string()));
                }
            }
        }
    }
}

impl Objective for CommandObjective {
    fn evaluate(&self, x: &[f64]) -> std::result::Result<f64, EvalError> {
        self.evaluate_detailed(x).map(|out| out.fx)
    }

    fn evaluate_detailed(&self, x: &[f64]) -> std::result::Result<EvalOutput, EvalError> {
        self.evaluate_in(x, &EvalContext { detailed: true, ..EvalContext::default() })
    }

    fn evaluate_in(&self, x: &[f64], ctx: &EvalContext) -> std::result::Result<EvalOutput, EvalError> {
        let flight = match self.dispatch(x, ctx, 0) {
            Ok(flight) => flight,
            Err(outcome) => return outcome,
        };
        let mut busy = Busy { objective: self, flights: vec![flight] };
        loop {
            if let Some((_, outcome)) = self.wait_round(&mut busy.flights).pop() {
                return outcome
                    .map(|out| if ctx.detailed { out } else { EvalOutput { extras: None, ..out } });
            }
        }
    }
}

impl Drop for CommandObjective {
    /// Ends every worker, all at once (see the module documentation), and returns when they are gone.
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        self.ender.finish(idle);
    }
}

/// The poll timeout until `deadline` (rounded up to whole milliseconds, so that a wake-up is never
/// early), or `None` once it has passed.
fn poll_timeout(deadline: Instant) -> Option<PollTimeout> {
    let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
    let ms = left.as_nanos().div_ceil(1_000_000);
    Some(PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX))
}

/// Waits on `fds`; an interrupted wait is a wait that returned nothing.
fn poll_ready(fds: &mut [PollFd<'_>], wait: PollTimeout) -> std::result::Result<(), Failure> {
    match poll(fds, wait) {
        Ok(_) | Err(Errno::EINTR) => Ok(()),
        Err(e) => Err(Failure::Broken(format!("cannot wait for the worker: {e}"))),
    }
}

/// A per-call program's outcome once it exited (`None` while it runs): its value from the last line
/// of its output if it exited with code 0, else how it ended with the end of its stderr. What it wrote
/// before it exited counts, even while a process it started still holds its output.
fn call_outcome(
    worker: &mut Worker,
    readable: bool,
    exited: bool,
) -> Option<std::result::Result<EvalOutput, Failure>> {
    if (readable || exited)
        && let Err(failure) = worker.read_output()
    {
        return Some(Err(failure));
    }
    if !exited {
        return None;
    }
    let ended = worker.exit_status()?;
    Some(if ended.success() {
        call::parse_last_line(worker.output())
    } else {
        Err(Failure::Broken(format!("the program {ended}{}", worker.stderr_tail())))
    })
}

fn timed_out(timeout: Option<Duration>) -> Failure {
    let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
    Failure::Broken(format!("timed out after {secs} s; the worker was killed"))
}

/// Level 2 in worker processes: each optimizer's batch is sent to up to `workers` worker processes at
/// once. Every optimizer built from one `Processes` shares its pool of workers, which starts with the
/// first optimizer (so a config can be checked without starting anything).
///
/// The evaluator evaluates with its own [`CommandObjective`], not with the run's in-process objective:
/// the workers hold their own copy of the objective (glompo re-executed for a built-in function, or a
/// program of the user's, see [`crate::worker`]). The optimizer's thread itself writes the requests
/// and waits for all answers with one `poll`, so an evaluation costs one round trip through a pipe and
/// no thread hand-offs.
#[derive(Debug)]
pub struct Processes {
    spec: CommandSpec,
    objective: std::sync::OnceLock<Arc<CommandObjective>>,
    start: Mutex<()>,
}

impl Processes {
    /// A factory whose workers run `spec`.
    pub fn new(spec: CommandSpec) -> Self {
        Processes { spec, objective: std::sync::OnceLock::new(), start: Mutex::new(()) }
    }

    fn objective(&self) -> Result<Arc<CommandObjective>> {
        let _one_at_a_time = self.start.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(objective) = self.objective.get() {
            return Ok(Arc::clone(objective));
        }
        let objective = Arc::new(CommandObjective::new(self.spec.clone())?);
        Ok(Arc::clone(self.objective.get_or_init(|| objective)))
    }
}

impl EvaluatorFactory for Processes {
    fn name(&self) -> &str {
        "processes"
    }

    fn build(&self, workers: usize) -> std::result::Result<Box<dyn Evaluator>, CoreError> {
        Ok(Box::new(ProcessEvaluator { workers: workers.max(1), objective: self.objective()? }))
    }
}

/// See [`Processes`].
#[derive(Debug)]
struct ProcessEvaluator {
    workers: usize,
    objective: Arc<CommandObjective>,
}

/// The requests in flight of one batch. Left over only if the batch unwinds (a panic in `report`):
/// then their workers are ended, not left running unattended.
struct Busy<'o> {
    objective: &'o CommandObjective,
    flights: Vec<InFlight>,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        for flight in self.flights.drain(..) {
            // Its scratch directory is kept: the evaluation never ended.
            self.objective.ender.end(flight.worker);
        }
    }
}

/// A request on its way: the worker, the point's index in the batch, its deadline and its scratch
/// directory.
struct InFlight {
    worker: Worker,
    index: usize,
    deadline: Option<Instant>,
    scratch: Option<PathBuf>,
}

impl Evaluator for ProcessEvaluator {
    fn evaluate(
        &mut self,
        _objective: &dyn Objective,
        points: &[Vec<f64>],
        batch: &Batch<'_>,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        let mut outcomes: Vec<Option<EvalOutcome>> = (0..points.len()).map(|_| None).collect();
        let mut finish = |index: usize, mut outcome: EvalOutcome| {
            if !batch.detailed
                && let Ok(out) = &mut outcome
            {
                out.extras = None;
            }
            report(index, &outcome);
            outcomes[index] = Some(outcome);
        };
        let mut busy = Busy { objective: &self.objective, flights: Vec::with_capacity(self.workers) };
        let mut next = 0;
        let mut cancelled = false;
        loop {
            while busy.flights.len() < self.workers && next < points.len() && !cancelled {
                // With answers in flight the gate must not wait: the budget comes back only as they are
                // reported.
                let admission = if busy.flights.is_empty() {
                    if gate.admit() { Admission::Go } else { Admission::Cancelled }
                } else {
                    gate.try_admit()
                };
                match admission {
                    Admission::Go => {}
                    Admission::Wait => break,
                    Admission::Cancelled => {
                        cancelled = true;
                        break;
                    }
                }
                match self.objective.dispatch(&points[next], &batch.point(next), next) {
                    Ok(flight) => busy.flights.push(flight),
                    Err(outcome) => finish(next, outcome),
                }
                next += 1;
            }
            // Empty here means every point was dispatched or the batch was cancelled: an empty batch
            // never waits for budget, it takes it with `admit`.
            if busy.flights.is_empty() {
                break;
            }
            for (index, outcome) in self.objective.wait_round(&mut busy.flights) {
                finish(index, outcome);
            }
        }
        outcomes.into_iter().collect()
    }
}
