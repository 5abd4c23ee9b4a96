//! Level 1 in processes: each optimizer's runner in a process of its own.
//!
//! The backend starts a program (for the CLI, glompo itself re-executed as `__runner`) in its own
//! process group, marked as the run's and with `PR_SET_PDEATHSIG`, and writes the runner's
//! [`RunnerRecipe`] as the first line of its stdin. The child rebuilds the optimizer, its evaluator and
//! the objective, runs the runner and writes every [`Message`] as a JSON line on a pipe of its own: the
//! pipe's write end is descriptor [`MESSAGE_FD`] (3) in the child, which [`MESSAGE_FD_ENV`] names, so
//! that nothing the optimizer, the objective or a library prints can corrupt a message. The manager's
//! side forwards the messages into the run's channel. [`Directive`]s travel the other way as JSON lines
//! on the child's stdin (`"stop"`, `{"inject": {"x": [...], "fx": ...}}`, `{"grant": 256}`, `"save"`,
//! `"pause"`, `"resume"`, `{"step": 3}`), relayed from the runner's [`Control`] as it changes, so that
//! a process runner is driven and answers exactly like a thread runner.
//!
//! The child's stdout and stderr are the manager's, or with [`ProcessBackend::printstreams`] the files
//! `DIR/<opt_id>.out` and `DIR/<opt_id>.err` (the worker processes a runner starts write their stderr
//! there too).
//!
//! A child that dies without saying it ended (a crash, a signal) ends its optimizer as crashed with the
//! cause; everything it sent before is logged. [`RunnerHandle::join`] and the backend's shutdown kill
//! the child's whole process group.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use glompo_core::backend::{Backend, RunnerHandle};
use glompo_core::evaluator::Evaluator;
use glompo_core::runner::{Control, Directive, Message, Runner, RunnerEnd, RunnerRecipe};
use glompo_core::{CoreError, Objective, Optimizer, OptimizerId};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, dup2_raw, pipe2};

use crate::reaper::{RunMarker, mark_command};

/// The descriptor on which a runner process started by [`ProcessBackend`] writes its messages.
pub const MESSAGE_FD: RawFd = 3;

/// The environment variable that tells a runner process which descriptor to write its messages to
/// ([`MESSAGE_FD`]); without it, [`serve_runner`] writes them on stdout.
pub const MESSAGE_FD_ENV: &str = "GLOMPO_MESSAGE_FD";

/// Messages that may wait in a runner process per worker slot before the pipe takes them.
const RUNNER_QUEUE_PER_WORKER: usize = 16;

/// The longest the manager's side waits for news to pass on before it looks whether the child is done
/// (stops, incumbents and grants wake it at once).
const CONTROL_WAIT: Duration = Duration::from_millis(50);

/// Runs each optimizer's runner in a child process started from `argv`.
#[derive(Debug, Clone)]
pub struct ProcessBackend {
    argv: Vec<String>,
    printstreams: Option<PathBuf>,
    /// The threads ending runner processes that were let go; [`Backend::shutdown`] waits for them.
    closers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl ProcessBackend {
    /// A backend whose children run `argv` (the program reads a [`RunnerRecipe`] line on its stdin).
    pub fn new(argv: Vec<String>) -> Result<Self, CoreError> {
        if argv.is_empty() {
            return Err(CoreError::config("backend", "the runner command is empty"));
        }
        Ok(ProcessBackend { argv, printstreams: None, closers: Arc::default() })
    }

    /// Sends each runner process's stdout and stderr to `dir/<opt_id>.out` and `dir/<opt_id>.err`, the
    /// id with at least four digits (`0001.out`); the worker processes a runner starts inherit its
    /// stderr, so theirs lands in the `.err` file too. The directory is created when the first runner
    /// starts, and the files are appended to. Without this, runner processes print on the manager's
    /// own stdout and stderr.
    pub fn printstreams(mut self, dir: impl Into<PathBuf>) -> Self {
        self.printstreams = Some(dir.into());
        self
    }
}

/// How long a runner process that ended its optimizer gets to exit by itself (it ends its own worker
/// processes gracefully first) before its process group is sent SIGTERM.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// How long a runner process's group gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// A runner process. When it is let go, a closer thread ends its process group: after
/// [`RunnerHandle::join`] (its runner ended) the child gets [`EXIT_GRACE`] to exit by itself; dropped
/// without it (the manager abandoning a runner that does not stop) it is sent SIGTERM at once. Then
/// SIGTERM to the whole group, SIGKILL [`TERM_GRACE`] later: unlike a thread, a process can be forced
/// to end, and a launcher among its workers gets a chance to clean up.
#[derive(Debug)]
struct ProcessHandle {
    child: Arc<Mutex<Child>>,
    reader: Option<JoinHandle<()>>,
    relay: Option<JoinHandle<()>>,
    done: Arc<AtomicBool>,
    joined: bool,
    closers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Backend for ProcessBackend {
    fn name(&self) -> &str {
        "processes"
    }

    /// Waits for every runner process that was let go to be ended: each gets 5 s to exit on its
    /// own and 2 s more after SIGTERM before SIGKILL, all in parallel.
    fn shutdown(&mut self) {
        let closers = std::mem::take(&mut *self.closers.lock().unwrap_or_else(|e| e.into_inner()));
        for closer in closers {
            let _ = closer.join();
        }
    }

    fn spawn(&mut self, runner: Runner) -> Result<Box<dyn RunnerHandle>, CoreError> {
        let (opt_id, control, tx) = (runner.opt_id(), runner.control(), runner.sender());
        let spawn_error =
            |e: &dyn std::fmt::Display| CoreError::Backend(format!("{}: cannot start: {e}", self.argv[0]));
        // The child rebuilds the runner from its recipe (a saved state to resume from included); the
        // optimizer of this copy is not needed.
        let first = serde_json::to_string(runner.recipe()).map_err(|e| spawn_error(&e))? + "\n";
        drop(runner);
        let (stdout, stderr) = match &self.printstreams {
            Some(dir) => {
                let (out, err) = printstream_files(dir, opt_id)?;
                (Stdio::from(out), Stdio::from(err))
            }
            None => (Stdio::inherit(), Stdio::inherit()),
        };
        // Both ends close on exec, so that no other process the manager starts inherits them.
        let (messages, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(|e| spawn_error(&e))?;
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .env(MESSAGE_FD_ENV, MESSAGE_FD.to_string())
            .process_group(0);
        pass_message_fd(&mut cmd, &write_end);
        if let Ok(marker) = RunMarker::of_this_run() {
            mark_command(&mut cmd, &marker);
        }
        let spawned = cmd.spawn();
        // The child has its own copy now. Ours must go, or the reader would never see the end of a child
        // that dies.
        drop(write_end);
        let mut child = spawned.map_err(|e| spawn_error(&e))?;
        let Some(mut stdin) = child.stdin.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error(&"no pipe to the runner"));
        };
        if let Err(e) = stdin.write_all(first.as_bytes()).and_then(|()| stdin.flush()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error(&e));
        }
        let child = Arc::new(Mutex::new(child));
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (child, done, wake) = (Arc::clone(&child), Arc::clone(&done), Arc::clone(&control));
            std::thread::Builder::new()
                .name(format!("glompo-proc-{opt_id}"))
                .spawn(move || {
                    let end = match forward_messages(File::from(messages), &tx) {
                        Forwarded::Ended(end @ RunnerEnd::Crashed(_)) => {
                            // A crashed runner's child is not waited for.
                            end_group(&child, Duration::ZERO);
                            end
                        }
                        Forwarded::Broken(why) => {
                            // Nor is a child that breaks the protocol.
                            end_group(&child, Duration::ZERO);
                            RunnerEnd::Crashed(why)
                        }
                        Forwarded::Ended(end) => end,
                        // The pipe closed without an end message: the child died. Its workers go too.
                        Forwarded::Closed => RunnerEnd::Crashed(end_group(&child, EXIT_GRACE)),
                    };
                    let _ = tx.send(Message::Ended { opt_id, end });
                    done.store(true, Ordering::SeqCst);
                    wake.wake();
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
        Ok(Box::new(ProcessHandle {
            child,
            reader: Some(reader),
            relay: Some(relay),
            done,
            joined: false,
            closers: Arc::clone(&self.closers),
        }))
    }
}

/// Creates `dir` if needed and opens `dir/<opt_id>.out` and `dir/<opt_id>.err` for appending.
fn printstream_files(dir: &Path, opt_id: OptimizerId) -> Result<(File, File), CoreError> {
    let cannot = |path: &Path, e: std::io::Error| {
        CoreError::Backend(format!("{}: cannot create the runner's output file: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    let open = |ext: &str| {
        let path = dir.join(format!("{opt_id:04}.{ext}"));
        OpenOptions::new().create(true).append(true).open(&path).map_err(|e| cannot(&path, e))
    };
    Ok((open("out")?, open("err")?))
}

/// Makes the child find `write_end` as descriptor [`MESSAGE_FD`], open across `exec`.
///
/// Call it while both ends of the pipe are open, and spawn before closing them: then the pipe that the
/// standard library makes to report a failed `exec` is not descriptor 3 (the message pipe took 3 if it
/// was free), so moving the message pipe there does not cover it, unless another thread closes
/// descriptor 3 in between. Even then only the report is lost: the child exits with code 1 and ends its
/// optimizer as crashed.
fn pass_message_fd(cmd: &mut Command, write_end: &OwnedFd) {
    let write_end = write_end.as_raw_fd();
    // SAFETY: the hook runs in the forked child before `exec` and makes only async-signal-safe calls
    // (`dup2`, `fcntl`), without allocating. `write_end` is open in the child: the parent keeps it open
    // until `spawn` returns. Nothing that runs in the child owns descriptor 3 (whatever owns it in the
    // parent never runs there), and the `OwnedFd` that `dup2_raw` returns is turned back into a raw
    // descriptor, never closed. The standard library sets up stdin, stdout and stderr before the hook
    // runs, so moving the pipe to 3 cannot disturb them.
    unsafe {
        cmd.pre_exec(move || {
            let fd = BorrowedFd::borrow_raw(write_end);
            if write_end == MESSAGE_FD {
                // `dup2` onto itself changes nothing: the close-on-exec flag must be cleared by hand.
                fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
                return Ok(());
            }
            // The copy `dup2` makes is open across `exec`.
            loop {
                match dup2_raw(fd, MESSAGE_FD) {
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(copy) => {
                        let _ = copy.into_raw_fd();
                        return Ok(());
                    }
                }
            }
        })
    };
}

/// How a stream of a runner's messages ended.
pub(crate) enum Forwarded {
    /// With the runner's end message.
    Ended(RunnerEnd),
    /// With a line that is not a message, or a read that failed: why.
    Broken(String),
    /// Without an end message (the child died).
    Closed,
}

/// Reads a runner's messages and forwards them until its end message, which it returns. A line that
/// is not a message ends the runner as crashed, with the line's beginning and the error: nothing the
/// runner sends is skipped.
pub(crate) fn forward_messages(pipe: impl std::io::Read, tx: &Sender<Message>) -> Forwarded {
    for line in BufReader::new(pipe).split(b'\n') {
        let line = match line {
            Ok(line) => line,
            Err(e) => return Forwarded::Broken(format!("cannot read the runner process's messages: {e}")),
        };
        match serde_json::from_slice::<Message>(&line) {
            Ok(Message::Ended { end, .. }) => return Forwarded::Ended(end),
            Ok(msg) => {
                // The manager may be gone at the end of a run; then nobody needs the message.
                let _ = tx.send(msg);
            }
            Err(e) => {
                let text = String::from_utf8_lossy(&line);
                let start: String = text.chars().take(200).collect();
                let more = if start.len() < text.len() { "…" } else { "" };
                return Forwarded::Broken(format!(
                    "the runner process sent a line that is not a message ({e}): {start:?}{more}"
                ));
            }
        }
    }
    Forwarded::Closed
}

/// Passes stops, offered incumbents, evaluation credit, save requests, pauses, resumes and steps to
/// the child until it is done. A pause and a resume that both came between two looks cancel out.
pub(crate) fn relay_control(control: &Control, mut stdin: impl Write, done: &AtomicBool) {
    let (mut seen, mut stop_sent, mut forwarded, mut call_ids) = (0, false, 0, None);
    let (mut saves, mut paused, mut steps) = (0, false, 0);
    while !done.load(Ordering::SeqCst) {
        let mut directives = Vec::new();
        if control.is_stopped() && !stop_sent {
            stop_sent = true;
            directives.push(Directive::Stop);
        }
        // One reading of all requests, forwarded in this order: the child sees them as a thread
        // runner would (a save requested after a pause is applied after the pause). The offer is read
        // after them and sent before them: an offer made before a step or a save reaches the child
        // before that step or save does.
        let now = control.requests();
        if let Some(best) = control.take_offer() {
            directives.push(Directive::Inject(best));
        }
        // The call ids of a batch come before its credit: the child's evaluations start only with it.
        if now.first_call_id != call_ids {
            call_ids = now.first_call_id;
            directives.extend(call_ids.map(Directive::CallIds));
        }
        if now.granted > forwarded {
            directives.push(Directive::Grant(now.granted - forwarded));
            forwarded = now.granted;
        }
        if now.paused != paused {
            paused = now.paused;
            directives.push(if paused { Directive::Pause } else { Directive::Resume });
        }
        if now.steps_given > steps {
            directives.push(Directive::Step(now.steps_given - steps));
            steps = now.steps_given;
        }
        for _ in saves..now.save_requests {
            directives.push(Directive::Save);
        }
        saves = now.save_requests;
        let mut text = String::new();
        for directive in &directives {
            match serde_json::to_string(directive) {
                Ok(line) => text += &(line + "\n"),
                // Directives hold only numbers: this cannot fail, but if it did the child must stop.
                Err(_) => text += "\"stop\"\n",
            }
        }
        if !text.is_empty() && stdin.write_all(text.as_bytes()).and_then(|()| stdin.flush()).is_err() {
            break;
        }
        seen = control.wait_for_news(seen, CONTROL_WAIT);
    }
}

/// Ends a runner process and its whole process group, and says how the process ended: it waits up to
/// `exit_grace` for the process to exit by itself, then sends SIGTERM to the group, and SIGKILL to
/// what is left of it [`TERM_GRACE`] later. Members of the group that outlive the process are killed
/// too (a worker it started).
fn end_group(child: &Mutex<Child>, exit_grace: Duration) -> String {
    let mut child = child.lock().unwrap_or_else(|e| e.into_inner());
    let group = i32::try_from(child.id()).ok().map(Pid::from_raw);
    let step = Duration::from_millis(10);
    let waited = |child: &mut Child, limit: Duration| {
        let deadline = Instant::now() + limit;
        loop {
            match child.try_wait() {
                Ok(None) if Instant::now() < deadline => std::thread::sleep(step),
                Ok(None) => return None,
                Ok(Some(status)) => return Some(Ok(status)),
                Err(e) => return Some(Err(e)),
            }
        }
    };
    let mut status = waited(&mut child, exit_grace);
    if let Some(group) = group {
        // The group survives its leader's exit while a member lives; signalling an empty group fails
        // harmlessly.
        if killpg(group, Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + TERM_GRACE;
            while Instant::now() < deadline {
                if status.is_none() {
                    status = waited(&mut child, Duration::ZERO);
                }
                if status.is_some() && killpg(group, None).is_err() {
                    break;
                }
                std::thread::sleep(step);
            }
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
    let status = match status {
        Some(status) => status,
        None => child.wait(),
    };
    match status {
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
        self.joined = true;
    }
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        // A child that ended its runner is given time to exit by itself; an abandoned one is not.
        let exit_grace = if self.joined { EXIT_GRACE } else { Duration::ZERO };
        let child = Arc::clone(&self.child);
        let closer = std::thread::Builder::new()
            .name("glompo-closer".into())
            .spawn(move || drop(end_group(&child, exit_grace)));
        let mut closers = self.closers.lock().unwrap_or_else(|e| e.into_inner());
        // Finished closers are let go, so that their number stays that of the runners still ending.
        closers.retain(|c| !c.is_finished());
        match closer {
            Ok(closer) => closers.push(closer),
            // Without a thread, the group is ended here.
            Err(_) => drop(end_group(&self.child, Duration::ZERO)),
        }
    }
}

/// What a child builds from a recipe: the optimizer, its evaluator and the objective.
pub type RunnerParts = (Box<dyn Optimizer>, Box<dyn Evaluator>, Arc<dyn Objective>);

/// The child side of [`ProcessBackend`]: reads the [`RunnerRecipe`] from stdin, builds the runner's
/// parts with `build` (as for a fresh start: the runner itself restores a recipe's saved state), runs
/// it, writes its messages as JSON lines and applies the [`Directive`]s that arrive on stdin. Returns
/// when the runner has ended and its last message is written; an error (a bad recipe, parts that
/// cannot be built) is written as the runner's crash.
///
/// The messages go to the descriptor that the environment variable [`MESSAGE_FD_ENV`] names, which
/// this function takes over (it closes it at the end and keeps it from the processes the runner
/// starts), or to stdout if the variable is not set. It fails if the variable does not name an open
/// descriptor above 2, or if it is called a second time with the variable set.
pub fn serve_runner(build: impl FnOnce(&RunnerRecipe) -> Result<RunnerParts, String>) -> Result<(), String> {
    let out = message_sink()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the recipe: {e}"))?;
    let recipe: RunnerRecipe = serde_json::from_str(&line).map_err(|e| format!("bad recipe: {e}"))?;
    serve_recipe(recipe, build, BufReader::new(std::io::stdin()), out);
    Ok(())
}

/// Runs the runner of `recipe` with the parts `build` makes, its messages written as JSON lines to
/// `out` and the [`Directive`] lines read from `directives` applied to it, until it has ended and its
/// last message is written. A part that cannot be built is the runner's crash. The thread reading
/// `directives` stops the runner when they end or break the protocol, and ends itself when they end:
/// a caller that serves several runners in turn ends each one's directives after it.
pub(crate) fn serve_recipe(
    recipe: RunnerRecipe,
    build: impl FnOnce(&RunnerRecipe) -> Result<RunnerParts, String>,
    directives: impl BufRead + Send + 'static,
    out: impl Write + Send + 'static,
) {
    // Buffered, and flushed whenever no other message waits: a batch's results and the message that
    // follows them (its `BatchDone` in step mode) go out in one write when they come together.
    let mut out = std::io::BufWriter::new(out);
    // Bounded like the manager's own channel: when the pipe is full (the manager falls behind), the
    // runner waits instead of evaluating past the budget.
    let (tx, rx) = crossbeam_channel::bounded::<Message>(RUNNER_QUEUE_PER_WORKER * recipe.workers.max(1));
    // Why the manager's directives could not be read, if they could not: the runner then stops, and its
    // end is a crash with this cause.
    let broken: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let cause = Arc::clone(&broken);
    let writer = std::thread::spawn(move || {
        for mut msg in rx.iter() {
            let opt_id = msg.opt_id();
            if let Message::Ended { end: end @ RunnerEnd::Stopped, .. } = &mut msg
                && let Some(e) = cause.lock().unwrap_or_else(|e| e.into_inner()).take()
            {
                *end = RunnerEnd::Crashed(e);
            }
            let mut ended = matches!(msg, Message::Ended { .. });
            // Every value has an exact form, so a message always serializes; should one not, the
            // manager learns why instead of missing it.
            let mut line = serde_json::to_string(&msg).unwrap_or_else(|e| {
                ended = true;
                let end = RunnerEnd::Crashed(format!("cannot encode a message: {e}"));
                serde_json::to_string(&Message::Ended { opt_id, end }).unwrap_or_default()
            });
            line.push('\n');
            let written = out.write_all(line.as_bytes());
            let flushed = written.and_then(|()| if ended || rx.is_empty() { out.flush() } else { Ok(()) });
            if flushed.is_err() || ended {
                break;
            }
        }
    });
    match build(&recipe) {
        Err(e) => {
            let _ = tx.send(Message::Ended { opt_id: recipe.opt_id, end: RunnerEnd::Crashed(e) });
        }
        Ok((optimizer, evaluator, objective)) => {
            // A budgeted runner starts with no credit: the manager's first grant follows the recipe.
            let control = Arc::new(Control::for_recipe(&recipe));
            let inbox = Arc::clone(&control);
            let why = Arc::clone(&broken);
            std::thread::spawn(move || {
                for line in directives.lines() {
                    let directive = line
                        .map_err(|e| format!("cannot read the manager's directives: {e}"))
                        .and_then(|line| {
                            serde_json::from_str::<Directive>(&line).map_err(|e| {
                                format!("the manager sent {line:?}, which is not a directive: {e}")
                            })
                        });
                    match directive {
                        Ok(directive) => inbox.apply(directive),
                        Err(e) => {
                            *why.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                            break;
                        }
                    }
                }
                // The manager closed our input (it is gone or done with us), or broke the protocol.
                inbox.stop();
            });
            Runner::new(recipe, optimizer, evaluator, objective, control, tx).run();
        }
    }
    let _ = writer.join();
}

/// Where a runner process writes its messages: the descriptor [`MESSAGE_FD_ENV`] names, or stdout.
fn message_sink() -> Result<Box<dyn Write + Send>, String> {
    /// Whether the descriptor was taken by an earlier call: it has one owner.
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let Some(value) = std::env::var_os(MESSAGE_FD_ENV) else {
        return Ok(Box::new(std::io::stdout()));
    };
    let bad = |why: &str| format!("{MESSAGE_FD_ENV}={}: {why}", value.to_string_lossy());
    let fd: RawFd = value
        .to_str()
        .and_then(|v| v.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| bad("expected the number of a file descriptor above 2"))?;
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err(bad("the descriptor was taken by an earlier runner"));
    }
    // SAFETY: `fcntl(F_GETFD)` only reads this process's descriptor table; on a number that names no
    // open descriptor it fails with EBADF.
    if unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1 {
        return Err(bad("not an open file descriptor"));
    }
    // SAFETY: the descriptor is open, and by the protocol of this module it was handed to this runner:
    // nothing else in the process owns it, and `TAKEN` makes sure that it is taken once.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // The worker processes the runner starts must not keep the pipe open after the runner dies.
    fcntl(&file, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|e| bad(&format!("cannot set close-on-exec: {e}")))?;
    Ok(Box::new(file))
}
