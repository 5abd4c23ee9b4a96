//! An objective evaluated by external worker processes: the user's own simulation program in any
//! language, or glompo itself re-executed to evaluate a built-in function in isolation.
//!
//! The protocol is one JSON object per line. The worker reads a request `{"x": [...]}` on its stdin and
//! answers one line on its stdout: `{"fx": 1.5}`, `{"fx": 1.5, "extras": {...}}` or
//! `{"error": "why"}`. A worker serves requests until its stdin closes; its stderr is passed through.
//!
//! [`CommandObjective`] keeps a pool of idle workers and starts a new one whenever every worker is
//! busy, so the pool grows to the number of evaluations in flight (the level-2 evaluator decides that).
//! A worker that dies (a crash, a signal, `exit`) or exceeds the timeout is killed with its whole process
//! group and replaced on the next request; the evaluation becomes an [`EvalError`] naming the cause and
//! the run goes on. Workers run in their own process group and get SIGKILL when the thread that started
//! them ends (`PR_SET_PDEATHSIG`), so they do not outlive a manager that dies.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glompo_core::evaluator::{Admission, EvalOutcome, Evaluator, EvaluatorFactory, Gate};
use glompo_core::{CoreError, EvalError, EvalOutput, Objective};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::{BackendError, Result};
use crate::reaper::{RunMarker, mark_command};

/// How to start a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The longest an evaluation may take before its worker is killed.
    pub timeout: Option<Duration>,
    /// Extra environment variables for the workers.
    pub env: Vec<(String, String)>,
    /// The working directory of the workers (default: the manager's).
    pub cwd: Option<PathBuf>,
}

/// An [`Objective`] whose evaluations are made by a pool of worker processes.
///
/// ```no_run
/// use glompo_backends::command::{CommandObjective, CommandSpec};
/// use glompo_core::Objective;
///
/// let spec = CommandSpec { argv: vec!["python3".into(), "model.py".into()], timeout: None, env: vec![], cwd: None };
/// let model = CommandObjective::new(spec).unwrap();
/// let fx = model.evaluate(&[1.0, 2.0]);
/// ```
#[derive(Debug)]
pub struct CommandObjective {
    spec: CommandSpec,
    idle: Mutex<Vec<Worker>>,
    /// Asks the spawner thread for a new worker. Workers are started by that one long-lived thread
    /// because `PR_SET_PDEATHSIG` fires when the *thread* that forked ends, not the process: started
    /// from an evaluation thread, a worker would die with it.
    spawn: Mutex<Sender<Sender<Result<Worker>>>>,
}

#[derive(Debug)]
struct Worker {
    child: Child,
    stdin: ChildStdin,
    /// Read directly, with `poll` for timeouts: no reader thread sits between a worker and the
    /// thread waiting for its answer.
    stdout: ChildStdout,
    /// What has been read of the answer being waited for.
    buf: Vec<u8>,
    /// No answer yet: its first request also waits for the program to start.
    fresh: bool,
}

/// Extra time a new worker gets on its first request to start up (an interpreter importing its
/// modules on a loaded machine), on top of the evaluation timeout.
const STARTUP_GRACE: Duration = Duration::from_secs(5);

/// Why a request failed, and whether the worker can serve again.
#[derive(Clone)]
enum Failure {
    /// The worker answered with an error; it is still usable.
    Answered(String),
    /// The worker is dead or unusable and must be replaced.
    Broken(String),
}

impl CommandObjective {
    /// Checks the spec by starting one worker (kept for the first evaluation). A program that does not
    /// exist or cannot run is an error here, before any run starts.
    pub fn new(spec: CommandSpec) -> Result<Self> {
        if spec.argv.is_empty() {
            return Err(BackendError::Command { program: "command".into(), message: "is empty".into() });
        }
        let (spawn, requests) = channel::<Sender<Result<Worker>>>();
        let thread_spec = spec.clone();
        std::thread::Builder::new()
            .name("glompo-spawner".into())
            .spawn(move || {
                for reply in requests {
                    let _ = reply.send(Worker::start(&thread_spec));
                }
            })
            .map_err(|e| BackendError::Command {
                program: spec.argv[0].clone(),
                message: format!("cannot start: {e}"),
            })?;
        let objective = CommandObjective { spec, idle: Mutex::new(Vec::new()), spawn: Mutex::new(spawn) };
        let first = objective.spawn_worker()?;
        objective.idle.lock().unwrap_or_else(|e| e.into_inner()).push(first);
        Ok(objective)
    }

    fn spawn_worker(&self) -> Result<Worker> {
        let (reply, answer) = channel();
        let gone = || BackendError::Command {
            program: self.spec.argv[0].clone(),
            message: "the spawner thread is gone".into(),
        };
        self.spawn.lock().unwrap_or_else(|e| e.into_inner()).send(reply).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Workers started and idle now (for tests and diagnostics).
    pub fn idle_workers(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The outcome of a request that ended: a worker that answered (a value or an error) goes back to the
    /// idle pool; a broken one is killed with its process group.
    fn conclude(&self, worker: Worker, answer: std::result::Result<EvalOutput, Failure>) -> EvalOutcome {
        let (usable, outcome) = match answer {
            Ok(out) => (true, Ok(out)),
            Err(Failure::Answered(message)) => (true, Err(EvalError::new(message))),
            Err(Failure::Broken(message)) => (false, Err(EvalError::new(message))),
        };
        if usable {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
        } else {
            worker.kill();
        }
        outcome
    }

    /// Starts the request for `x` on a worker from the pool; the outcome right away if that fails.
    fn dispatch(&self, x: &[f64], index: usize) -> std::result::Result<InFlight, EvalOutcome> {
        let mut worker = self.take_worker().map_err(Err)?;
        match worker.send(x, self.spec.timeout) {
            Ok(deadline) => Ok(InFlight { worker, index, deadline }),
            Err(failure) => Err(self.conclude(worker, Err(failure))),
        }
    }

    /// Waits once, until the nearest deadline, for the requests in `busy`, and takes out those that
    /// ended: answered, failed, or past their deadline with nothing to read. A deadline that has passed
    /// still gets a look at what is there, so that an answer that came in time is never taken for a
    /// timeout.
    fn wait_round(&self, busy: &mut Vec<InFlight>) -> Vec<(usize, EvalOutcome)> {
        let wait = match busy.iter().filter_map(|f| f.deadline).min() {
            None => PollTimeout::NONE,
            Some(deadline) => poll_timeout(deadline).unwrap_or(PollTimeout::ZERO),
        };
        let polled = {
            let mut fds: Vec<PollFd<'_>> =
                busy.iter().map(|f| PollFd::new(f.worker.stdout.as_fd(), PollFlags::POLLIN)).collect();
            poll_ready(&mut fds, wait).map(|()| fds.iter().map(|fd| fd.any().unwrap_or(true)).collect())
        };
        let ready: Vec<bool> = match polled {
            Ok(ready) => ready,
            // Nothing can be waited for: every request in flight fails.
            Err(failure) => {
                return busy
                    .drain(..)
                    .map(|f| (f.index, self.conclude(f.worker, Err(failure.clone()))))
                    .collect();
            }
        };
        let now = Instant::now();
        let mut ended = Vec::new();
        for i in (0..busy.len()).rev() {
            let answer = if ready[i] {
                match busy[i].worker.read_answer() {
                    Ok(None) => continue,
                    Ok(Some(out)) => Ok(out),
                    Err(failure) => Err(failure),
                }
            } else if busy[i].deadline.is_some_and(|d| d <= now) {
                Err(timed_out(self.spec.timeout))
            } else {
                continue;
            };
            let InFlight { worker, index, .. } = busy.swap_remove(i);
            ended.push((index, self.conclude(worker, answer)));
        }
        ended
    }

    fn take_worker(&self) -> std::result::Result<Worker, EvalError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(worker) => Ok(worker),
            None => self.spawn_worker().map_err(|e| EvalError::new(e.to_string())),
        }
    }
}

impl Objective for CommandObjective {
    fn evaluate(&self, x: &[f64]) -> std::result::Result<f64, EvalError> {
        self.evaluate_detailed(x).map(|out| out.fx)
    }

    fn evaluate_detailed(&self, x: &[f64]) -> std::result::Result<EvalOutput, EvalError> {
        let flight = match self.dispatch(x, 0) {
            Ok(flight) => flight,
            Err(outcome) => return outcome,
        };
        let mut busy = Busy(vec![flight]);
        loop {
            if let Some((_, outcome)) = self.wait_round(&mut busy.0).pop() {
                return outcome;
            }
        }
    }
}

impl Drop for CommandObjective {
    fn drop(&mut self) {
        for worker in self.idle.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
            worker.close();
        }
    }
}

impl Worker {
    fn start(spec: &CommandSpec) -> Result<Self> {
        let program = &spec.argv[0];
        let mut cmd = Command::new(program);
        cmd.args(&spec.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        // The run's marker, a process group of its own, and SIGKILL when the spawner thread ends.
        if let Ok(marker) = RunMarker::of_this_run() {
            mark_command(&mut cmd, &marker);
        }
        let mut child = cmd.spawn().map_err(|e| BackendError::Command {
            program: program.clone(),
            message: format!("cannot start: {e}"),
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BackendError::Command {
                program: program.clone(),
                message: "no pipes to the worker".into(),
            });
        };
        if let Err(e) = fcntl(&stdin, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BackendError::Command {
                program: program.clone(),
                message: format!("cannot make the worker's input non-blocking: {e}"),
            });
        }
        Ok(Worker { child, stdin, stdout, buf: Vec::new(), fresh: true })
    }

    /// Sends the request for `x` and returns the time by which the answer must have come: the
    /// timeout, plus [`STARTUP_GRACE`] for the first request of a new worker.
    fn send(
        &mut self,
        x: &[f64],
        timeout: Option<Duration>,
    ) -> std::result::Result<Option<Instant>, Failure> {
        let mut line = serde_json::to_vec(&serde_json::json!({ "x": x }))
            .map_err(|e| Failure::Broken(format!("cannot encode the request: {e}")))?;
        line.push(b'\n');
        let grace = if self.fresh { STARTUP_GRACE } else { Duration::ZERO };
        self.fresh = false;
        let deadline = timeout.map(|t| Instant::now() + t + grace);
        // The input is non-blocking: a worker that stops reading cannot hold a long request (more than
        // a pipe's 64 KiB) past its deadline.
        let mut sent = 0;
        while sent < line.len() {
            match self.stdin.write(&line[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let wait = match deadline {
                        None => PollTimeout::NONE,
                        Some(deadline) => poll_timeout(deadline).ok_or_else(|| timed_out(timeout))?,
                    };
                    let mut fds = [PollFd::new(self.stdin.as_fd(), PollFlags::POLLOUT)];
                    poll_ready(&mut fds, wait)?;
                }
                Err(e) => return Err(Failure::Broken(self.death(&format!("cannot send the request: {e}")))),
            }
        }
        Ok(deadline)
    }

    /// A complete line read, if there is one.
    fn take_line(&mut self) -> Option<String> {
        let end = self.buf.iter().position(|&b| b == b'\n')?;
        let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..=end);
        Some(line)
    }

    /// Reads what the worker has written (call it when its output is readable: it does not block
    /// then) and returns the answer once a whole line has come.
    fn read_answer(&mut self) -> std::result::Result<Option<EvalOutput>, Failure> {
        let mut chunk = [0_u8; 4096];
        match self.stdout.read(&mut chunk) {
            Ok(0) => Err(Failure::Broken(self.death("the worker closed its output"))),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                let Some(line) = self.take_line() else { return Ok(None) };
                if !self.buf.is_empty() {
                    let extra = String::from_utf8_lossy(&self.buf).into_owned();
                    return Err(Failure::Broken(format!(
                        "the worker wrote more than one line for one request: {extra:?} after {line:?}"
                    )));
                }
                parse_answer(&line).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(Failure::Broken(self.death(&format!("cannot read the answer: {e}")))),
        }
    }

    /// Describes how the worker ended, waiting briefly for it to be reaped.
    fn death(&mut self, what: &str) -> String {
        for _ in 0..100 {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return match (status.code(), status.signal()) {
                        (Some(code), _) => format!("{what}: the worker exited with code {code}"),
                        (None, Some(sig)) => {
                            let name =
                                Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.to_string());
                            format!("{what}: the worker was killed by {name}")
                        }
                        _ => format!("{what}: the worker ended ({status})"),
                    };
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break,
            }
        }
        format!("{what}: the worker stopped answering")
    }

    /// Kills the worker's whole process group and reaps it.
    fn kill(mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // The worker leads its own group, so this reaches whatever it started too.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes the worker's input so that it ends, then makes sure it and its group are gone.
    fn close(mut self) {
        drop(self.stdin);
        for _ in 0..20 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
/// then their workers are killed, not left running unattended.
struct Busy(Vec<InFlight>);

impl Drop for Busy {
    fn drop(&mut self) {
        for flight in self.0.drain(..) {
            flight.worker.kill();
        }
    }
}

/// A request on its way: the worker, the point's index in the batch, and its deadline.
struct InFlight {
    worker: Worker,
    index: usize,
    deadline: Option<Instant>,
}

impl Evaluator for ProcessEvaluator {
    fn evaluate(
        &mut self,
        _objective: &dyn Objective,
        points: &[Vec<f64>],
        detailed: bool,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        let mut outcomes: Vec<Option<EvalOutcome>> = (0..points.len()).map(|_| None).collect();
        let mut finish = |index: usize, mut outcome: EvalOutcome| {
            if !detailed && let Ok(out) = &mut outcome {
                out.extras = None;
            }
            report(index, &outcome);
            outcomes[index] = Some(outcome);
        };
        let mut busy = Busy(Vec::with_capacity(self.workers));
        let mut next = 0;
        let mut cancelled = false;
        loop {
            while busy.0.len() < self.workers && next < points.len() && !cancelled {
                // With answers in flight the gate must not wait: the budget comes back only as they are
                // reported.
                let admission = if busy.0.is_empty() {
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
                match self.objective.dispatch(&points[next], next) {
                    Ok(flight) => busy.0.push(flight),
                    Err(outcome) => finish(next, outcome),
                }
                next += 1;
            }
            // Empty here means every point was dispatched or the batch was cancelled: an empty batch
            // never waits for budget, it takes it with `admit`.
            if busy.0.is_empty() {
                break;
            }
            for (index, outcome) in self.objective.wait_round(&mut busy.0) {
                finish(index, outcome);
            }
        }
        outcomes.into_iter().collect()
    }
}

fn parse_answer(text: &str) -> std::result::Result<EvalOutput, Failure> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Failure::Broken(format!("the worker answered {text:?}, which is not JSON: {e}")))?;
    if let Some(error) = value.get("error") {
        let message = error.as_str().map_or_else(|| error.to_string(), str::to_owned);
        return Err(Failure::Answered(message));
    }
    let fx = match value.get("fx") {
        Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        // JSON has no infinities or NaN; null stands for a non-finite value.
        Some(serde_json::Value::Null) => f64::NAN,
        _ => {
            return Err(Failure::Broken(format!(
                "the worker answered {text:?}, with no number `fx` and no `error`"
            )));
        }
    };
    Ok(EvalOutput { fx, extras: value.get("extras").cloned() })
}
