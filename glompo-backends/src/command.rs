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

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glompo_core::evaluator::{EvalOutcome, Evaluator, EvaluatorFactory};
use glompo_core::{CoreError, EvalError, EvalOutput, Objective};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::{BackendError, Result};
use crate::reaper::{RunMarker, mark_command};
use crate::thread::ThreadPoolEvaluator;

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
    lines: Receiver<std::io::Result<String>>,
    /// No answer yet: its first request also waits for the program to start.
    fresh: bool,
}

/// Extra time a new worker gets on its first request to start up (an interpreter importing its
/// modules on a loaded machine), on top of the evaluation timeout.
const STARTUP_GRACE: Duration = Duration::from_secs(5);

/// Why a request failed, and whether the worker can serve again.
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
        let mut worker = self.take_worker()?;
        match worker.request(x, self.spec.timeout) {
            Ok(out) => {
                self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
                Ok(out)
            }
            Err(Failure::Answered(message)) => {
                self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
                Err(EvalError::new(message))
            }
            Err(Failure::Broken(message)) => {
                worker.kill();
                Err(EvalError::new(message))
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
        if let Ok(marker) = RunMarker::for_current_process() {
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
        // A reader thread turns the blocking pipe into a channel, so that a request can time out.
        let (tx, lines) = channel();
        std::thread::Builder::new()
            .name(format!("glompo-worker-{}", child.id()))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let end = line.is_err();
                    if tx.send(line).is_err() || end {
                        break;
                    }
                }
            })
            .map_err(|e| BackendError::Command {
                program: program.clone(),
                message: format!("cannot read: {e}"),
            })?;
        Ok(Worker { child, stdin, lines, fresh: true })
    }

    fn request(&mut self, x: &[f64], timeout: Option<Duration>) -> std::result::Result<EvalOutput, Failure> {
        let mut line = serde_json::to_vec(&serde_json::json!({ "x": x }))
            .map_err(|e| Failure::Broken(format!("cannot encode the request: {e}")))?;
        line.push(b'\n');
        if let Err(e) = self.stdin.write_all(&line).and_then(|()| self.stdin.flush()) {
            return Err(Failure::Broken(self.death(&format!("cannot send the request: {e}"))));
        }
        let grace = if self.fresh { STARTUP_GRACE } else { Duration::ZERO };
        self.fresh = false;
        let answer = match timeout {
            Some(t) => self.lines.recv_timeout(t + grace),
            None => self.lines.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match answer {
            Ok(Ok(text)) => parse_answer(&text),
            Ok(Err(e)) => Err(Failure::Broken(self.death(&format!("cannot read the answer: {e}")))),
            Err(RecvTimeoutError::Timeout) => {
                let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
                Err(Failure::Broken(format!("timed out after {secs} s; the worker was killed")))
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(Failure::Broken(self.death("the worker closed its output")))
            }
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

/// Level 2 in worker processes: each optimizer's batch is sent to worker processes by `workers`
/// threads. Every optimizer built from one `Processes` shares its pool of workers, which starts with the
/// first optimizer (so a config can be checked without starting anything).
///
/// The evaluator evaluates with its own [`CommandObjective`], not with the run's in-process objective:
/// the workers hold their own copy of the objective (glompo re-executed for a built-in function).
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
        Ok(Box::new(ProcessEvaluator {
            threads: ThreadPoolEvaluator::new(workers)?,
            objective: self.objective()?,
        }))
    }
}

/// See [`Processes`].
#[derive(Debug)]
struct ProcessEvaluator {
    threads: ThreadPoolEvaluator,
    objective: Arc<CommandObjective>,
}

impl Evaluator for ProcessEvaluator {
    fn evaluate(
        &mut self,
        _objective: &dyn Objective,
        points: &[Vec<f64>],
        detailed: bool,
        cancel: &AtomicBool,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        self.threads.evaluate(&*self.objective, points, detailed, cancel, report)
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
