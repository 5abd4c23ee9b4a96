//! Level 1 in processes: each optimizer's runner in a process of its own.
//!
//! The backend starts a program (for the CLI, glompo itself re-executed as `__runner`) in its own
//! process group, marked as the run's and with `PR_SET_PDEATHSIG`, and writes the runner's
//! [`RunnerRecipe`] as the first line of its stdin. The child rebuilds the optimizer, its evaluator and
//! the objective, runs the runner and writes every [`Message`] as a JSON line on its stdout; the manager's
//! side forwards them into the run's channel. Stops and shared incumbents travel the other way as
//! lines on the child's stdin (`{"stop": true}`, `{"inject": {"x": [...], "fx": ...}}`).
//!
//! A child that dies without saying it ended (a crash, a signal) ends its optimizer as crashed with the
//! cause; everything it sent before is logged. [`RunnerHandle::join`] and the backend's shutdown kill
//! the child's whole process group.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use glompo_core::backend::{Backend, RunnerHandle};
use glompo_core::evaluator::Evaluator;
use glompo_core::runner::{Control, Message, Runner, RunnerEnd, RunnerRecipe};
use glompo_core::{CoreError, Evaluation, Objective, Optimizer};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::json;

use crate::reaper::{RunMarker, mark_command};

/// How often the manager's side looks for a stop or an incumbent to pass on.
const CONTROL_POLL: Duration = Duration::from_millis(10);

/// Runs each optimizer's runner in a child process started from `argv`.
#[derive(Debug, Clone)]
pub struct ProcessBackend {
    argv: Vec<String>,
}

impl ProcessBackend {
    /// A backend whose children run `argv` (the program reads a [`RunnerRecipe`] line on its stdin).
    pub fn new(argv: Vec<String>) -> Result<Self, CoreError> {
        if argv.is_empty() {
            return Err(CoreError::config("backend", "the runner command is empty"));
        }
        Ok(ProcessBackend { argv })
    }
}

/// A runner process. Dropping it without [`RunnerHandle::join`] (the manager abandoning a runner that
/// does not stop) kills the process group: unlike a thread, a process can be forced to end.
#[derive(Debug)]
struct ProcessHandle {
    child: Arc<Mutex<Child>>,
    reader: Option<JoinHandle<()>>,
    relay: Option<JoinHandle<()>>,
    done: Arc<AtomicBool>,
}

impl Backend for ProcessBackend {
    fn name(&self) -> &str {
        "processes"
    }

    fn spawn(&mut self, runner: Runner) -> Result<Box<dyn RunnerHandle>, CoreError> {
        let (recipe, control, tx) = (runner.recipe().clone(), runner.control(), runner.sender());
        // The optimizer is rebuilt in the child; this copy is not needed.
        drop(runner);
        let spawn_error =
            |e: &dyn std::fmt::Display| CoreError::Backend(format!("{}: cannot start: {e}", self.argv[0]));
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        if let Ok(marker) = RunMarker::for_current_process() {
            mark_command(&mut cmd, &marker);
        }
        let mut child = cmd.spawn().map_err(|e| spawn_error(&e))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error(&"no pipes to the runner"));
        };
        let first = serde_json::to_string(&recipe).map_err(|e| spawn_error(&e))? + "\n";
        if let Err(e) = stdin.write_all(first.as_bytes()).and_then(|()| stdin.flush()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error(&e));
        }
        let child = Arc::new(Mutex::new(child));
        let done = Arc::new(AtomicBool::new(false));
        let opt_id = recipe.opt_id;
        let reader = {
            let (child, done) = (Arc::clone(&child), Arc::clone(&done));
            std::thread::Builder::new()
                .name(format!("glompo-proc-{opt_id}"))
                .spawn(move || {
                    let mut ended = false;
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        match serde_json::from_str::<Message>(&line) {
                            Ok(msg) => {
                                ended |= matches!(msg, Message::Ended { .. });
                                let _ = tx.send(msg);
                            }
                            // A line that is not a message (a stray print) is skipped, not fatal.
                            Err(_) => continue,
                        }
                    }
                    if !ended {
                        let cause = death(&child);
                        let _ = tx.send(Message::Ended { opt_id, end: RunnerEnd::Crashed(cause) });
                    }
                    done.store(true, Ordering::SeqCst);
                })
                .map_err(|e| spawn_error(&e))?
        };
        let relay = {
            let done = Arc::clone(&done);
            std::thread::Builder::new()
                .name(format!("glompo-ctl-{opt_id}"))
                .spawn(move || relay_control(&control, stdin, &done))
                .map_err(|e| spawn_error(&e))?
        };
        Ok(Box::new(ProcessHandle { child, reader: Some(reader), relay: Some(relay), done }))
    }
}

/// Passes stops and offered incumbents to the child until it is done.
fn relay_control(control: &Control, mut stdin: ChildStdin, done: &AtomicBool) {
    let mut stop_sent = false;
    while !done.load(Ordering::SeqCst) {
        let mut line = String::new();
        if control.is_stopped() && !stop_sent {
            stop_sent = true;
            line += &format!("{}\n", json!({"stop": true}));
        }
        if let Some(Evaluation { x, fx }) = control.take_offer() {
            line += &format!("{}\n", json!({"inject": {"x": x, "fx": fx}}));
        }
        if !line.is_empty() && stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).is_err() {
            break;
        }
        std::thread::sleep(CONTROL_POLL);
    }
}

/// How the child ended, for a child that stopped talking without an end message.
fn death(child: &Mutex<Child>) -> String {
    let mut child = child.lock().unwrap_or_else(|e| e.into_inner());
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => {
                format!("the runner process exited with code {code} without ending its optimizer")
            }
            (None, Some(sig)) => {
                let name = Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.to_string());
                format!("the runner process was killed by {name}")
            }
            _ => format!("the runner process ended ({status})"),
        },
        Err(e) => format!("the runner process cannot be waited for: {e}"),
    }
}

impl RunnerHandle for ProcessHandle {
    fn is_finished(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    fn join(mut self: Box<Self>) {
        // The runner has ended: wait for its last messages; dropping the handle then ends the group.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        // The child's group goes with it, workers it started included.
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = child.wait();
    }
}

/// What a child builds from a recipe: the optimizer, its evaluator and the objective.
pub type RunnerParts = (Box<dyn Optimizer>, Box<dyn Evaluator>, Arc<dyn Objective>);

/// The child side of [`ProcessBackend`]: reads the [`RunnerRecipe`] from stdin, builds the runner's
/// parts with `build`, runs it, writes its messages as JSON lines to stdout and applies the stops and
/// incumbents that arrive on stdin. Returns when the runner has ended and its last message is written;
/// an error (a bad recipe, parts that cannot be built) is written as the runner's crash.
pub fn serve_runner(build: impl FnOnce(&RunnerRecipe) -> Result<RunnerParts, String>) -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the recipe: {e}"))?;
    let recipe: RunnerRecipe = serde_json::from_str(&line).map_err(|e| format!("bad recipe: {e}"))?;
    let (tx, rx) = crossbeam_channel::unbounded();
    let writer = std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        for msg in rx {
            let ended = matches!(msg, Message::Ended { .. });
            let Ok(line) = serde_json::to_string(&msg) else { continue };
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() || ended {
                break;
            }
        }
    });
    match build(&recipe) {
        Err(e) => {
            let _ = tx.send(Message::Ended { opt_id: recipe.opt_id, end: RunnerEnd::Crashed(e) });
        }
        Ok((optimizer, evaluator, objective)) => {
            let control = Arc::new(Control::default());
            let inbox = Arc::clone(&control);
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
                    if value["stop"] == true {
                        inbox.stop();
                    }
                    if let Ok(best) = serde_json::from_value::<Evaluation>(value["inject"].clone()) {
                        inbox.offer(best);
                    }
                }
                // The manager closed our input: it is gone or done with us.
                inbox.stop();
            });
            Runner::new(recipe, optimizer, evaluator, objective, control, tx).run();
        }
    }
    let _ = writer.join();
    Ok(())
}
