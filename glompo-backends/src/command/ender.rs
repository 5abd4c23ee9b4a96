//! The ender: one long-lived thread per [`super::CommandObjective`] that ends workers gracefully, so
//! that no optimizer's thread waits out a grace period.
//!
//! Each worker handed to it goes through the same steps, all workers at once: its input is closed (a
//! worker that serves until its stdin closes ends by itself); after [`EOF_WAIT`], or as soon as it
//! exited, its process group gets `SIGTERM` (a launcher such as `srun` releases its job step, a
//! wrapper script that traps TERM cleans up); once the group is empty, or after [`TERM_GRACE`], it
//! gets `SIGKILL`; then the worker is reaped, and the rest of its stderr is passed through.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use nix::sys::signal::Signal;

use super::child::{STDERR_DRAIN, Worker};

/// How long a worker whose input was closed may take to end by itself before it gets `SIGTERM`.
pub(super) const EOF_WAIT: Duration = Duration::from_millis(500);
/// How long a worker's process group has, after `SIGTERM`, before it gets `SIGKILL`.
pub(super) const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long a killed worker may take to die before the ender gives up on reaping it.
const REAP_WAIT: Duration = Duration::from_secs(5);
/// How often the ender looks at the workers it ends.
const TICK: Duration = Duration::from_millis(10);
/// How often it looks whether a dead worker's group is empty (a scan of `/proc`).
const GROUP_LOOK: Duration = Duration::from_millis(50);

/// The handle on the ender thread.
#[derive(Debug)]
pub(super) struct Ender {
    to_end: Option<Sender<Worker>>,
    thread: Option<JoinHandle<()>>,
}

impl Ender {
    /// Starts the thread.
    pub(super) fn start() -> std::io::Result<Ender> {
        let (to_end, workers) = crossbeam_channel::unbounded();
        let thread =
            std::thread::Builder::new().name("glompo-ender".into()).spawn(move || serve(&workers))?;
        Ok(Ender { to_end: Some(to_end), thread: Some(thread) })
    }

    /// Hands `worker` over to be ended; returns at once. If the thread is gone (it panicked), the worker
    /// is ended here, without grace.
    pub(super) fn end(&self, worker: Worker) {
        let refused = match &self.to_end {
            Some(to_end) => to_end.send(worker).err().map(|e| e.into_inner()),
            None => Some(worker),
        };
        if let Some(worker) = refused {
            kill_now(worker);
        }
    }

    /// Ends `workers` and every worker handed over before, all at once, and returns when all are gone:
    /// at most [`EOF_WAIT`] + [`TERM_GRACE`] and a little more.
    pub(super) fn finish(&mut self, workers: impl IntoIterator<Item = Worker>) {
        for worker in workers {
            self.end(worker);
        }
        drop(self.to_end.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            eprintln!("glompo: warning: the thread that ends worker processes panicked");
        }
    }
}

impl Drop for Ender {
    fn drop(&mut self) {
        self.finish([]);
    }
}

/// Ends a worker at once: `SIGKILL` to its group, then reaping it.
fn kill_now(mut worker: Worker) {
    signal(&worker, Signal::SIGKILL);
    let start = Instant::now();
    while !reaped(&mut worker, start.elapsed()) {
        std::thread::sleep(TICK);
    }
}

/// One attempt to reap a worker that got `SIGKILL` `waited` ago; whether it is done with: reaped, or
/// given up on (said on stderr) after [`REAP_WAIT`].
fn reaped(worker: &mut Worker, waited: Duration) -> bool {
    match worker.reap() {
        Ok(true) => true,
        Ok(false) if waited < REAP_WAIT => false,
        Ok(false) => {
            eprintln!("glompo: warning: worker {} did not die of SIGKILL; it is left", worker.pid());
            true
        }
        Err(e) => {
            eprintln!("glompo: warning: cannot reap worker {}: {e}", worker.pid());
            true
        }
    }
}

/// Where a worker is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Its input is closed.
    Closed,
    /// Its group got `SIGTERM`.
    Termed,
    /// Its group got `SIGKILL`.
    Killed,
    /// It is reaped; the rest of its stderr is on its way.
    Reaped,
}

#[derive(Debug)]
struct Ending {
    worker: Option<Worker>,
    step: Step,
    since: Instant,
    group_looked: Option<Instant>,
}

/// The thread's loop: takes workers to end, and moves each a step further every [`TICK`]; returns
/// once the channel closed and every worker is ended.
fn serve(workers: &Receiver<Worker>) {
    let mut ending: Vec<Ending> = Vec::new();
    let mut open = true;
    while open || !ending.is_empty() {
        let next = if ending.is_empty() {
            workers.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else if open {
            workers.recv_timeout(TICK)
        } else {
            std::thread::sleep(TICK);
            Err(RecvTimeoutError::Timeout)
        };
        match next {
            Ok(worker) => ending.push(Ending::new(worker)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        // Everything that came meanwhile starts too, so that workers handed over together end together.
        while let Ok(worker) = workers.try_recv() {
            ending.push(Ending::new(worker));
        }
        let now = Instant::now();
        ending.retain_mut(|e| !e.advance(now));
    }
}

impl Ending {
    fn new(mut worker: Worker) -> Ending {
        worker.close_input();
        Ending { worker: Some(worker), step: Step::Closed, since: Instant::now(), group_looked: None }
    }

    /// Moves the worker on as far as it can go now; whether it is done.
    fn advance(&mut self, now: Instant) -> bool {
        let Some(worker) = self.worker.as_mut() else { return true };
        let waited = now.duration_since(self.since);
        let mut next = None;
        match self.step {
            Step::Closed if waited >= EOF_WAIT || worker.exit_status().is_some() => {
                signal(worker, Signal::SIGTERM);
                next = Some(Step::Termed);
            }
            Step::Termed => {
                // The worker itself is gone: look now and then whether what it started in its group is.
                let look = worker.exit_status().is_some()
                    && self.group_looked.is_none_or(|at| now.duration_since(at) >= GROUP_LOOK);
                let empty = look && {
                    self.group_looked = Some(now);
                    !crate::reaper::group_has_others(worker.pid().as_raw(), worker.pid().as_raw())
                };
                if empty || waited >= TERM_GRACE {
                    signal(worker, Signal::SIGKILL);
                    next = Some(Step::Killed);
                }
            }
            Step::Killed => {
                if reaped(worker, waited) {
                    next = Some(Step::Reaped);
                }
            }
            // Passed through before this process goes on (or exits): a printstreams file is complete.
            Step::Reaped => return worker.stderr_closed() || waited >= STDERR_DRAIN,
            Step::Closed => {}
        }
        if let Some(step) = next {
            self.step = step;
            self.since = now;
        }
        false
    }
}

/// Sends `signal` to the worker's group; a failure (not that the group is gone) is said on stderr.
fn signal(worker: &Worker, signal: Signal) {
    if let Err(e) = worker.signal_group(signal) {
        eprintln!("glompo: warning: cannot send {signal} to worker {}: {e}", worker.pid());
    }
}
