//! One worker process: its pipes, its exit and the tail of its stderr.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use glompo_core::EvalOutput;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use super::ParentDeath;
use super::protocol::parse_answer;
use super::{CommandSpec, Failure, poll_ready, poll_timeout, timed_out};
use crate::error::{BackendError, Result};
use crate::reaper::{RunMarker, mark_command_with};

/// Extra time a new worker gets on its first request to start up (an interpreter importing its
/// modules on a loaded machine), on top of the evaluation timeout.
const STARTUP_GRACE: Duration = Duration::from_secs(5);
/// How long a worker whose output closed may take to exit before it is described as not answering.
const EXIT_WAIT: Duration = Duration::from_millis(500);
/// How long to wait for the rest of a dead worker's stderr: a process it started may hold the pipe
/// open for much longer.
pub(super) const STDERR_DRAIN: Duration = Duration::from_millis(200);
/// How much of a worker's stderr is kept for error messages: the last lines, at most this many bytes.
const TAIL_BYTES: usize = 2048;
/// How many lines of a worker's stderr end an error message.
const TAIL_LINES: usize = 10;
/// How much of a per-call program's stdout is kept to find its last line.
const OUTPUT_KEPT: usize = 64 * 1024;

/// A worker process.
#[derive(Debug)]
pub(super) struct Worker {
    child: Child,
    /// Readable once the worker exited; `None` on kernels without pidfds, where [`Worker::exit_status`]
    /// looks with `waitid` instead.
    pidfd: Option<OwnedFd>,
    /// `None` once closed, to tell the worker to end.
    stdin: Option<ChildStdin>,
    /// Non-blocking, read when `poll` says so: no reader thread sits between a worker and the thread
    /// waiting for its answer.
    stdout: ChildStdout,
    /// The end of what the worker wrote on its stderr, which a thread passes through to ours.
    stderr: Arc<Tail>,
    /// Its stderr (non-blocking), read by the pass-through thread.
    stderr_pipe: Arc<std::fs::File>,
    /// The evaluation it is serving, which starts each line of its stderr passed through; the
    /// thread holds it while it takes bytes out of the pipe, so that what is in the pipe when it is
    /// free was not read yet.
    label: Arc<Mutex<String>>,
    /// What has been read of the answer being waited for.
    buf: Vec<u8>,
    /// No answer yet: its first request also waits for the program to start.
    fresh: bool,
    /// Whether its stdout reached its end (a per-call program's, read to the end).
    output_closed: bool,
}

/// How a worker ended, as `waitid` tells it without reaping it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ended {
    /// What `waitid` said.
    Status(WaitStatus),
    /// It cannot be running, but `waitid` failed.
    Unknown(Errno),
}

impl Ended {
    /// Whether it exited with code 0.
    pub(super) fn success(self) -> bool {
        matches!(self, Ended::Status(WaitStatus::Exited(_, 0)))
    }
}

impl std::fmt::Display for Ended {
    /// `exited with code 3`, `was killed by SIGSEGV`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Status(WaitStatus::Exited(_, code)) => write!(f, "exited with code {code}"),
            Ended::Status(WaitStatus::Signaled(_, signal, _)) => write!(f, "was killed by {signal}"),
            Ended::Status(other) => write!(f, "ended ({other:?})"),
            Ended::Unknown(e) => write!(f, "ended (its exit status cannot be read: {e})"),
        }
    }
}

impl Worker {
    /// Starts a worker of `spec`: in its own process group, with the run's marker and `SIGKILL` when the
    /// calling thread ends, its stdin, stdout and stderr piped, and a thread that passes its stderr
    /// through to this process's stderr and keeps the tail.
    pub(super) fn start(spec: &CommandSpec) -> Result<Self> {
        let program = &spec.argv[0];
        let fail = |message: String| BackendError::Command { program: program.clone(), message };
        let mut cmd = Command::new(program);
        cmd.args(&spec.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        // The run's marker, a process group of its own, and SIGKILL (or SIGTERM, for a launcher)
        // when the spawner thread ends.
        if let Ok(marker) = RunMarker::of_this_run() {
            let signal = match spec.parent_death {
                ParentDeath::Kill => Signal::SIGKILL,
                ParentDeath::Terminate => Signal::SIGTERM,
            };
            mark_command_with(&mut cmd, &marker, signal);
        }
        let mut child = cmd.spawn().map_err(|e| fail(format!("cannot start: {e}")))?;
        let give_up = |mut child: Child, message: String| {
            // The worker never served: nothing of it is worth a grace period.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            fail(message)
        };
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(give_up(child, "no pipes to the worker".into()));
        };
        for (fd, name) in
            [(stdin.as_fd(), "input"), (stdout.as_fd(), "output"), (stderr.as_fd(), "error output")]
        {
            if let Err(e) = fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)) {
                return Err(give_up(child, format!("cannot make the worker's {name} non-blocking: {e}")));
            }
        }
        let pidfd = match i32::try_from(child.id()).map(crate::pidfd::open) {
            Ok(Ok(fd)) => Some(fd),
            // Without pidfds (before Linux 5.3, or forbidden by a seccomp filter) exits are looked for
            // with `waitid`.
            Ok(Err(Errno::ENOSYS | Errno::EPERM)) => None,
            Ok(Err(e)) => return Err(give_up(child, format!("cannot watch the worker's exit: {e}"))),
            Err(e) => return Err(give_up(child, format!("cannot watch the worker's exit: {e}"))),
        };
        let tail = Arc::new(Tail::default());
        let passed = Arc::clone(&tail);
        let label = Arc::new(Mutex::new(format!("worker {}", child.id())));
        let labelled = Arc::clone(&label);
        let stderr_pipe = Arc::new(std::fs::File::from(OwnedFd::from(stderr)));
        let pipe = Arc::clone(&stderr_pipe);
        let thread = std::thread::Builder::new()
            .name("glompo-stderr".into())
            .spawn(move || pass_through(&pipe, &passed, &labelled));
        if let Err(e) = thread {
            return Err(give_up(child, format!("cannot start a thread for the worker's stderr: {e}")));
        }
        Ok(Worker {
            child,
            pidfd,
            stdin: Some(stdin),
            stdout,
            stderr: tail,
            stderr_pipe,
            label,
            buf: Vec::new(),
            fresh: true,
            output_closed: false,
        })
    }

    /// The worker's pid, which is also its process group.
    pub(super) fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }

    /// The worker's output, to poll.
    pub(super) fn stdout(&self) -> BorrowedFd<'_> {
        self.stdout.as_fd()
    }

    /// The worker's pidfd, to poll for its exit, if the kernel has pidfds.
    pub(super) fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// How the worker ended, if it did, without reaping it (so that its pid, which is also its process
    /// group's id, cannot be reused while the group is signalled).
    pub(super) fn exit_status(&self) -> Option<Ended> {
        // The pid is safe to use: the worker is this process's child and is not reaped yet.
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(self.pid()), flags) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => None,
            Ok(status) => Some(Ended::Status(status)),
            // ECHILD: reaped already, which only `reap` does; it cannot be running.
            Err(e) => Some(Ended::Unknown(e)),
        }
    }

    /// Waits up to `within` for the worker to exit; how it ended, if it did.
    pub(super) fn wait_exit(&self, within: Duration) -> Option<Ended> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(ended) = self.exit_status() {
                return Some(ended);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match &self.pidfd {
                Some(fd) => {
                    let wait = PollTimeout::try_from(left.as_millis().max(1)).unwrap_or(PollTimeout::MAX);
                    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                    // An error here shows up again in `exit_status` or as the deadline passing.
                    let _ = nix::poll::poll(&mut fds, wait);
                }
                None => std::thread::sleep(left.min(Duration::from_millis(5))),
            }
        }
    }

    /// Names the evaluation the worker serves from now on, for the lines of its stderr:
    /// `opt 3 eval 17` (and `call 1234` where the call id is known).
    /// Outside a run (evaluation number 0) the label stays `worker PID`.
    pub(super) fn serving(&self, ctx: &glompo_core::objective::EvalContext) {
        if ctx.eval == 0 {
            return;
        }
        let mut label = format!("opt {} eval {}", ctx.opt_id, ctx.eval);
        if let Some(call_id) = ctx.call_id {
            label += &format!(" call {call_id}");
        }
        // What the worker wrote before its last answer is in the pipe by now: it goes out under the
        // evaluation it came from before the label changes (a thread that no longer reads, after
        // LABEL_DRAIN, does not hold the evaluation up).
        let start = Instant::now();
        loop {
            let mut current = self.label.lock().unwrap_or_else(|e| e.into_inner());
            if unread(&self.stderr_pipe) == 0 || start.elapsed() > LABEL_DRAIN {
                *current = label;
                return;
            }
            drop(current);
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Sends a request `line` and returns the time by which the answer must have come: the timeout,
    /// plus [`STARTUP_GRACE`] for the first request of a new persistent worker. A per-call program
    /// (`per_call`) gets no grace, its start is part of its evaluation, and its input is closed after
    /// the line (if it exits without reading it all, the rest is dropped).
    pub(super) fn send(
        &mut self,
        line: &[u8],
        timeout: Option<Duration>,
        per_call: bool,
    ) -> std::result::Result<Option<Instant>, Failure> {
        let grace = if self.fresh && !per_call { STARTUP_GRACE } else { Duration::ZERO };
        self.fresh = false;
        let deadline = timeout.map(|t| Instant::now() + t + grace);
        let sent = self.write_line(line, timeout, deadline, per_call);
        if per_call {
            self.close_input();
        }
        sent.map(|()| deadline)
    }

    fn write_line(
        &mut self,
        line: &[u8],
        timeout: Option<Duration>,
        deadline: Option<Instant>,
        per_call: bool,
    ) -> std::result::Result<(), Failure> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Failure::Broken("the worker's input is closed".into()));
        };
        // The input is non-blocking: a worker that stops reading cannot hold a long request (more than
        // a pipe's 64 KiB) past its deadline.
        let mut sent = 0;
        while sent < line.len() {
            match stdin.write(&line[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if per_call && e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let wait = match deadline {
                        None => PollTimeout::NONE,
                        Some(deadline) => poll_timeout(deadline).ok_or_else(|| timed_out(timeout))?,
                    };
                    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLOUT)];
                    poll_ready(&mut fds, wait)?;
                }
                Err(e) => return Err(Failure::Broken(self.death(&format!("cannot send the request: {e}")))),
            }
        }
        Ok(())
    }

    /// Reads what a per-call program has written, without blocking, keeping the last
    /// [`OUTPUT_KEPT`] bytes; notes when its stdout reached its end.
    pub(super) fn read_output(&mut self) -> std::result::Result<(), Failure> {
        let mut chunk = [0_u8; 4096];
        while !self.output_closed {
            match self.stdout.read(&mut chunk) {
                Ok(0) => self.output_closed = true,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    let over = self.buf.len().saturating_sub(OUTPUT_KEPT);
                    if over > 0 {
                        self.buf.drain(..over);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(Failure::Broken(format!("cannot read the program's output: {e}"))),
            }
        }
        Ok(())
    }

    /// Whether its stdout reached its end: it is not worth polling any more.
    pub(super) fn output_closed(&self) -> bool {
        self.output_closed
    }

    /// What a per-call program wrote on its stdout (its last [`OUTPUT_KEPT`] bytes).
    pub(super) fn output(&self) -> &[u8] {
        &self.buf
    }

    /// Reads what the worker has written, without blocking, and returns the answer once a whole line
    /// has come (`None` while it has not).
    pub(super) fn read_answer(&mut self) -> std::result::Result<Option<EvalOutput>, Failure> {
        let mut chunk = [0_u8; 4096];
        loop {
            match self.stdout.read(&mut chunk) {
                Ok(0) => return Err(Failure::Broken(self.death("the worker closed its output"))),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = self.buf.iter().position(|&b| b == b'\n') else { continue };
                    let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                    self.buf.drain(..=end);
                    if !self.buf.is_empty() {
                        let extra = String::from_utf8_lossy(&self.buf).into_owned();
                        return Err(Failure::Broken(format!(
                            "the worker wrote more than one line for one request: {extra:?} after {line:?}"
                        )));
                    }
                    return parse_answer(&line).map(Some);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(Failure::Broken(self.death(&format!("cannot read the answer: {e}")))),
            }
        }
    }

    /// `what`, then how the worker ended (waiting briefly for it to exit) and the last lines of its
    /// stderr: `the worker closed its output: the worker exited with code 1; its stderr ended with:
    /// "…"`.
    pub(super) fn death(&self, what: &str) -> String {
        match self.wait_exit(EXIT_WAIT) {
            Some(ended) => format!("{what}: the worker {ended}{}", self.stderr_tail()),
            None => format!("{what}: the worker stopped answering{}", self.stderr_tail()),
        }
    }

    /// `; its stderr ended with: "…"` after waiting up to [`STDERR_DRAIN`] for the rest of it, or
    /// nothing if the worker wrote nothing there.
    pub(super) fn stderr_tail(&self) -> String {
        self.stderr.wait_closed(STDERR_DRAIN);
        match self.stderr.text() {
            text if text.is_empty() => String::new(),
            text => format!("; its stderr ended with: {text:?}"),
        }
    }

    /// Whether the thread that passes the worker's stderr through has seen all of it.
    pub(super) fn stderr_closed(&self) -> bool {
        self.stderr.closed()
    }

    /// Closes the worker's input, which tells it to end.
    pub(super) fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Sends `signal` to the worker's process group: the worker and whatever it started that stayed in
    /// its group. The worker is not reaped before [`Worker::reap`], so its pid, the group's id, still
    /// names this group even after the worker died.
    pub(super) fn signal_group(&self, signal: Signal) -> std::result::Result<(), Errno> {
        match killpg(self.pid(), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Kills the worker (if it still runs) and reaps it: `Ok(true)` once it is reaped, `Ok(false)` while
    /// it has not died yet.
    pub(super) fn reap(&mut self) -> std::io::Result<bool> {
        if self.exit_status().is_none() {
            // Only if it is not dead yet: a dead but unreaped worker is still there to signal.
            let _ = self.child.kill();
        }
        self.child.try_wait().map(|status| status.is_some())
    }
}

/// The end of a worker's stderr, shared by the thread that reads it and the worker's owner.
#[derive(Debug, Default)]
struct Tail {
    state: Mutex<TailState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct TailState {
    bytes: VecDeque<u8>,
    /// Whether bytes were dropped at the front.
    cut: bool,
    /// Whether the pipe reached its end.
    closed: bool,
}

impl Tail {
    fn lock(&self) -> std::sync::MutexGuard<'_, TailState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, chunk: &[u8]) {
        let mut state = self.lock();
        state.bytes.extend(chunk);
        let over = state.bytes.len().saturating_sub(TAIL_BYTES);
        if over > 0 {
            state.bytes.drain(..over);
            state.cut = true;
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    fn closed(&self) -> bool {
        self.lock().closed
    }

    /// Waits up to `within` for the pipe to reach its end.
    fn wait_closed(&self, within: Duration) {
        let state = self.lock();
        // A poisoned lock still holds the tail; a timeout just means the pipe is still open.
        let _ = self.changed.wait_timeout_while(state, within, |s| !s.closed);
    }

    /// The last [`TAIL_LINES`] lines kept, without the final newline; `…` first where something before
    /// them was dropped.
    fn text(&self) -> String {
        let state = self.lock();
        let bytes: Vec<u8> = state.bytes.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_end();
        let lines: Vec<&str> = text.lines().collect();
        let kept = &lines[lines.len().saturating_sub(TAIL_LINES)..];
        let cut = state.cut || kept.len() < lines.len();
        let joined = kept.join("\n");
        if cut && !joined.is_empty() { format!("…{joined}") } else { joined }
    }
}

/// Copies the worker's stderr to this process's stderr as it comes, and keeps its end in `tail`.
/// How long [`Worker::serving`] waits for the pass-through thread to take what is in the stderr pipe.
const LABEL_DRAIN: Duration = Duration::from_millis(200);

/// The bytes waiting in `pipe` (0 if that cannot be read).
fn unread(pipe: &std::fs::File) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: nix::libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into the location it is given, which lives for the call; the fd
    // is open as long as `pipe` is.
    let rc = unsafe { nix::libc::ioctl(pipe.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
    if rc == 0 { usize::try_from(n).unwrap_or(0) } else { 0 }
}

/// Passes the worker's stderr through to ours, each line started with `[LABEL] ` (the evaluation
/// it was serving when the line was written), and keeps its tail for error messages.
fn pass_through(pipe: &std::fs::File, tail: &Tail, label: &Mutex<String>) {
    let mut out = std::io::stderr();
    let mut chunk = [0_u8; 4096];
    let mut lines = Lines::default();
    let mut reader = pipe;
    let mut open = true;
    while open {
        match nix::poll::poll(&mut [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)], PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                tail.push(format!("\n[cannot wait for more of the worker's stderr: {e}]").as_bytes());
                break;
            }
        }
        let current = label.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => {
                    tail.push(&chunk[..n]);
                    // If this process's own stderr is gone there is nowhere to say so; the tail still
                    // keeps the lines for the error messages.
                    let _ = out.write_all(&lines.labelled(&chunk[..n], &current));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tail.push(format!("\n[cannot read more of the worker's stderr: {e}]").as_bytes());
                    open = false;
                    break;
                }
            }
        }
        if !open {
            let _ = out.write_all(&lines.finish(&current));
        }
    }
    tail.close();
}

/// Cuts a stream into lines and starts each with a label.
#[derive(Debug, Default)]
struct Lines {
    /// The start of a line whose end has not come yet.
    pending: Vec<u8>,
}

impl Lines {
    /// The complete lines of what came so far with `chunk`, each as `[label] line\n`.
    fn labelled(&mut self, chunk: &[u8], label: &str) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') else { return Vec::new() };
        let rest = self.pending.split_off(last + 1);
        let complete = std::mem::replace(&mut self.pending, rest);
        let mut out = Vec::with_capacity(complete.len() + 32);
        for line in complete.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(format!("[{label}] ").as_bytes());
            out.extend_from_slice(line);
        }
        out
    }

    /// The last line, if it had no newline, with one.
    fn finish(&mut self, label: &str) -> Vec<u8> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        self.labelled(b"\n", label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_passed_through_starts_with_the_evaluation_it_came_from() {
        let mut lines = Lines::default();
        assert_eq!(lines.labelled(b"Trace", "opt 1 eval 2"), b"");
        assert_eq!(
            lines.labelled(b"back\n  File\nVal", "opt 1 eval 2"),
            b"[opt 1 eval 2] Traceback\n[opt 1 eval 2]   File\n"
        );
        assert_eq!(lines.labelled(b"ueError\n", "opt 1 eval 3"), b"[opt 1 eval 3] ValueError\n");
        assert_eq!(lines.labelled(b"no newline", "x"), b"");
        assert_eq!(lines.finish("opt 2 eval 1"), b"[opt 2 eval 1] no newline\n");
        assert_eq!(lines.finish("opt 2 eval 1"), b"");
    }

    #[test]
    fn the_tail_keeps_the_last_lines_of_the_last_bytes() {
        let tail = Tail::default();
        assert_eq!(tail.text(), "");
        tail.push(b"one\ntwo\n");
        assert_eq!(tail.text(), "one\ntwo");
        for i in 0..20 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        assert_eq!(
            tail.text(),
            format!("…{}", (10..20).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n"))
        );
        let long = "x".repeat(5000);
        tail.push(long.as_bytes());
        assert_eq!(tail.text(), format!("…{}", "x".repeat(TAIL_BYTES)));
        assert!(!tail.closed());
        tail.close();
        tail.wait_closed(Duration::from_secs(10));
        assert!(tail.closed());
    }
}
