//! The ranks of an MPI job (the `mpi` feature): rank 0 runs the manager; every other rank hosts one
//! optimizer's runner at a time (level 1, [`MpiBackend`]) or evaluates the points of optimizers that
//! run on rank 0 (level 2, [`MpiEvaluators`]).
//!
//! Every rank calls [`Mpi::init`]. Rank 0 builds the manager with [`Mpi::backend`] (level 1), or
//! gives optimizers [`MpiEvaluators`] and uses [`Mpi::threads_backend`] (level 2); every other rank
//! calls [`Mpi::serve`] with its [`Host`], which builds a runner's parts from its [`RunnerRecipe`]
//! (as a `processes` runner does) and the objective of level-2 points; it returns when rank 0 drops
//! its [`Mpi`]. A runner on a rank is driven exactly like a runner process: the manager's
//! [`Directive`](glompo_core::runner::Directive)s go to the rank and the runner's [`Message`]s come
//! back, as the same JSON lines (`process::serve_recipe`, `process::relay_control` and
//! `process::forward_messages` are shared), so the manager cannot tell a rank from a thread. When an
//! optimizer ends (converged, killed by a hunt, stopped), its rank takes the next one: hunting never
//! kills a rank.
//!
//! One thread per process speaks MPI (MPI is initialised on it with `MPI_THREAD_FUNNELED`); the
//! others hand it what to send and get what arrives through channels. It never blocks in MPI: sends
//! are `MPI_Isend`, tested until they complete, and arrivals are looked for with `MPI_Improbe`. A
//! blocking receive would spin a core on an idle rank (OpenMPI busy-polls: 42–67 % of a core was
//! measured here), so between looks the thread sleeps on its channel (a send to make wakes it at once)
//! with a back-off: it looks again at once for 50 µs after the last message (1 ms after answering
//! a level-2 evaluation, whose next request is likely to follow soon), then sleeps 10 µs,
//! twice as long each time up to 1 ms (20 µs on rank 0 while level-2 evaluations are out), and
//! 5 ms once nothing came for 10 s.
//!
//! On the wire (`MPI_COMM_WORLD`, bytes): rank 0 sends `START` (the optimizer's id, 8 bytes
//! little-endian, then `{"context": …, "recipe": …}`), `DIRECTIVES` (the id, then directive lines)
//! and `SHUTDOWN`; a rank sends `MESSAGES`, its runner's message lines as a byte stream cut
//! anywhere. At level 2 rank 0 sends `CONTEXT` (a key and the text a rank's [`Host`] builds the
//! objective from, once per rank) and `EVAL` (a request number, the key, the point's
//! [`EvalContext`] and its coordinates' bits); the rank answers `OUTCOME` (the request number and
//! the value's bits with its extras, or the error). Directives for an optimizer that has ended are discarded by the rank (as a runner
//! process's closed stdin refuses them).
//!
//! What MPI cannot do: a rank that dies (a crash, `kill -9`) takes the whole job down (mpirun ends
//! every rank); a checkpoint makes the run resumable. A rank that stops answering (hung in a
//! blocking call of the objective) is not noticed by MPI: the manager's `force_terminations_after`
//! abandons its optimizer, the rank is never given another, [`Backend::lost`] ends the run with a
//! checkpoint, and when rank 0 drops its [`Mpi`] it aborts the job (`MPI_Abort`) with a message naming the rank, since `MPI_Finalize` would wait for
//! it forever.

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use glompo_core::backend::{Backend, RunnerHandle, ThreadBackend};
use glompo_core::evaluator::{
    Admission, Batch, EvalOutcome, Evaluator, EvaluatorFactory, Gate, evaluate_one,
};
use glompo_core::objective::{EvalContext, EvalOutput};
use glompo_core::runner::{Message, Runner, RunnerEnd, RunnerRecipe};
use glompo_core::{CoreError, EvalError, Objective, OptimizerId};
use mpi::Threading;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::request::{Request, StaticScope};
use mpi::traits::{Communicator, Destination, Source};

use crate::error::BackendError;
use crate::process::{Forwarded, RunnerParts, forward_messages, relay_control, serve_recipe};

/// Rank 0 to a rank: host this optimizer.
const TAG_START: i32 = 1;
/// Rank 0 to a rank: directive lines for the optimizer it hosts.
const TAG_DIRECTIVES: i32 = 2;
/// A rank to rank 0: its runner's message lines.
const TAG_MESSAGES: i32 = 3;
/// Rank 0 to a rank: the job is done.
const TAG_SHUTDOWN: i32 = 4;
/// Rank 0 to a rank: the context (the objective) of later `EVAL`s with its key.
const TAG_CONTEXT: i32 = 5;
/// Rank 0 to a rank: evaluate one point (level 2).
const TAG_EVAL: i32 = 6;
/// A rank to rank 0: the outcome of an `EVAL`.
const TAG_OUTCOME: i32 = 7;

/// How long the MPI thread looks again at once after the last message before it starts sleeping.
const SPIN: Duration = Duration::from_micros(50);

/// How long a rank that answered an evaluation looks at once for the next one: the next batch of
/// a level-2 evaluator comes when the batch's slowest point is back, often within a millisecond
/// (with 200 µs, a 10 ms objective lost 13 % to sleeps; with 1 ms, 2 %).
const SPIN_AFTER_ANSWER: Duration = Duration::from_millis(1);

/// The longest sleep on rank 0 while level-2 evaluations are out: their outcomes are waited for.
const AWAITING_SLEEP: Duration = Duration::from_micros(20);

/// The first sleep between looks for arrivals; each next one is twice as long, up to [`MAX_SLEEP`].
const FIRST_SLEEP: Duration = Duration::from_micros(10);

/// The longest sleep between looks while the process is in use (less than [`IDLE_AFTER`] since
/// the last message): the most an arrival waits.
const MAX_SLEEP: Duration = Duration::from_millis(1);

/// How long without a message makes a process idle.
const IDLE_AFTER: Duration = Duration::from_secs(10);

/// The sleep between looks of an idle process.
const IDLE_SLEEP: Duration = Duration::from_millis(5);

/// What the other threads ask of the MPI thread.
enum Command {
    /// Send `bytes` to `to` with `tag`.
    Send { to: i32, tag: i32, bytes: Vec<u8> },
    /// End the job at once with this exit code (`MPI_Abort`).
    Abort(i32),
    /// Finish the sends in flight, finalise MPI and end the thread.
    Finish,
}

/// What a rank's serving loop gets from the MPI thread.
enum Inbox {
    /// An optimizer to host: its id, the rest of the `START` message and its directives.
    Start(OptimizerId, Vec<u8>, Receiver<Vec<u8>>),
    /// The context of later evaluations: its key and text.
    Context(u64, String),
    /// A point to evaluate (the `EVAL` message).
    Eval(Vec<u8>),
    /// Rank 0 is done.
    Shutdown,
}

/// What a rank is doing, as rank 0 sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hosting {
    /// Nothing: it can take an optimizer.
    Free,
    /// This optimizer's runner.
    Busy(OptimizerId),
    /// This optimizer's runner, which the manager abandoned (it did not end in time) or which
    /// broke the protocol: the rank is not given another one.
    Lost(OptimizerId),
    /// One evaluation of a level-2 evaluator, for this optimizer.
    Evaluating(OptimizerId),
}

/// Rank 0's routing: where each rank's message bytes go, and what it hosts.
#[derive(Debug)]
struct Ranks {
    routes: Vec<Option<Sender<Vec<u8>>>>,
    hosting: Vec<Hosting>,
}

/// A rank's routing: the optimizer it hosts and where its directives go.
#[derive(Debug, Default)]
struct Current(Option<(OptimizerId, Sender<Vec<u8>>)>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This process's place in an MPI job, and the thread that speaks MPI for it.
///
/// Rank 0 runs the manager with [`Mpi::backend`]; the others call [`Mpi::serve`]. Dropping it on
/// rank 0 tells every other rank that the job is done, and finalises MPI (or aborts the job if a
/// rank never ended its optimizer); it must outlive every manager that uses its backend.
///
/// ```no_run
/// use std::sync::Arc;
/// use glompo_backends::mpi::{Host, Mpi};
/// use glompo_backends::process::RunnerParts;
/// use glompo_core::{Objective, runner::RunnerRecipe};
///
/// /// What this program runs on the ranks.
/// struct Mine;
///
/// impl Host for Mine {
///     fn runner(&self, _context: &str, recipe: &RunnerRecipe) -> Result<RunnerParts, String> {
///         // The recipe's optimizer (glompo_optimizers::factory), an evaluator, and the objective.
/// #       unimplemented!()
///     }
///     fn objective(&self, _context: &str) -> Result<Arc<dyn Objective>, String> {
/// #       unimplemented!()
///     }
/// }
///
/// let mpi = Mpi::init()?;
/// if !mpi.is_manager() {
///     // Every other rank hosts optimizers (or evaluates points) until rank 0 is done.
///     return Ok(mpi.serve(&Mine)?);
/// }
/// let backend = mpi.backend(String::new())?;
/// // Manager::builder(...).backend(Box::new(backend)).max_jobs(mpi.size() - 1)...run()
/// # drop(backend);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mpi {
    rank: i32,
    size: i32,
    link: Arc<Link>,
    thread: Option<JoinHandle<()>>,
    inbox: Option<Receiver<Inbox>>,
}

/// What the threads of a process share with its MPI thread.
#[derive(Debug)]
struct Link {
    commands: Sender<Command>,
    ranks: Mutex<Ranks>,
    /// Signalled when a rank becomes free.
    freed: Condvar,
    current: Mutex<Current>,
    /// Rank 0: the level-2 evaluations in flight, by request number: where their outcome goes.
    evaluations: Mutex<Evaluations>,
    /// Rank 0: the optimizers of level-2 evaluations whose runner the manager abandoned.
    abandoned: Mutex<BTreeSet<OptimizerId>>,
}

/// Rank 0's level-2 bookkeeping.
#[derive(Debug, Default)]
struct Evaluations {
    next_request: u64,
    waiting: std::collections::HashMap<u64, Sender<(u64, Vec<u8>)>>,
    /// The contexts, by key (their index), and the ranks that have each.
    contexts: Vec<(String, BTreeSet<i32>)>,
}

impl Link {
    /// What `describe` says of each rank by its number and what it does, where it says anything,
    /// joined with commas; `None` when it says nothing of any.
    fn ranks_where(&self, describe: impl Fn(usize, &Hosting) -> Option<String>) -> Option<String> {
        let ranks = lock(&self.ranks);
        let said: Vec<String> =
            ranks.hosting.iter().enumerate().filter_map(|(rank, h)| describe(rank, h)).collect();
        (!said.is_empty()).then(|| said.join(", "))
    }

    fn send(&self, to: i32, tag: i32, bytes: Vec<u8>) -> std::io::Result<()> {
        self.commands
            .send(Command::Send { to, tag, bytes })
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the MPI thread has ended"))
    }
}

impl Mpi {
    /// Initialises MPI (`MPI_Init_thread` on a thread of its own) and says which rank this process
    /// is. A program started without `mpirun` is a job of one rank. Fails if MPI was initialised
    /// already or does not give the threading this needs.
    pub fn init() -> Result<Mpi, BackendError> {
        let (commands, orders) = crossbeam_channel::unbounded();
        let (ready, started) = crossbeam_channel::bounded(1);
        let (inbox_tx, inbox) = crossbeam_channel::unbounded();
        let link = Arc::new(Link {
            commands,
            ranks: Mutex::new(Ranks { routes: Vec::new(), hosting: Vec::new() }),
            freed: Condvar::new(),
            current: Mutex::new(Current::default()),
            evaluations: Mutex::new(Evaluations::default()),
            abandoned: Mutex::new(BTreeSet::new()),
        });
        let shared = Arc::clone(&link);
        let thread = std::thread::Builder::new()
            .name("glompo-mpi".into())
            .spawn(move || {
                let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Funneled) else {
                    let _ = ready.send(Err("MPI was initialised already in this process".to_owned()));
                    return;
                };
                if threading == Threading::Single {
                    let _ =
                        ready.send(Err("the MPI library gives no thread support (MPI_THREAD_SINGLE)".into()));
                    return;
                }
                let world = universe.world();
                let (rank, size) = (world.rank(), world.size());
                if rank == 0 {
                    let n = usize::try_from(size).unwrap_or(0);
                    *lock(&shared.ranks) = Ranks { routes: vec![None; n], hosting: vec![Hosting::Free; n] };
                }
                let _ = ready.send(Ok((rank, size)));
                // Sleeps as short as asked: the default slack of 50 µs would double the back-off.
                let _ = nix::sys::prctl::set_timerslack(1_000);
                pump(&world, &orders, &shared, &inbox_tx);
                // Dropping the universe finalises MPI.
                drop(universe);
            })
            .map_err(|e| BackendError::Mpi(format!("cannot start the MPI thread: {e}")))?;
        match started.recv() {
            Ok(Ok((rank, size))) => {
                if rank == 0 {
                    *lock(&MANAGER) = Some(Arc::clone(&link));
                }
                Ok(Mpi { rank, size, link, thread: Some(thread), inbox: Some(inbox) })
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(BackendError::Mpi(e))
            }
            Err(_) => {
                let _ = thread.join();
                Err(BackendError::Mpi("the MPI thread ended while it initialised MPI".into()))
            }
        }
    }

    /// This process's rank in `MPI_COMM_WORLD`.
    pub fn rank(&self) -> usize {
        usize::try_from(self.rank).unwrap_or(0)
    }

    /// The number of ranks in the job.
    pub fn size(&self) -> usize {
        usize::try_from(self.size).unwrap_or(0)
    }

    /// Whether this is rank 0, which runs the manager.
    pub fn is_manager(&self) -> bool {
        self.rank == 0
    }

    /// The backend that runs each optimizer on a rank of its own (rank 0 only, in a job of at least
    /// two ranks). `context` is handed to the ranks' build function with every recipe (the CLI sends
    /// its runner config). A manager that uses it must run at most `size() - 1` optimizers at once.
    pub fn backend(&self, context: String) -> Result<MpiBackend, BackendError> {
        if self.rank != 0 {
            return Err(BackendError::Mpi(format!("rank {}: only rank 0 runs the manager", self.rank)));
        }
        if self.size < 2 {
            return Err(BackendError::Mpi(format!(
                "a job of {} rank has no rank to run optimizers on: start it with mpirun -np N, N ≥ 2",
                self.size
            )));
        }
        Ok(MpiBackend { link: Arc::clone(&self.link), context: Arc::from(context) })
    }

    /// The thread backend for a run whose optimizers evaluate on the ranks ([`MpiEvaluators`], rank
    /// 0 only): it runs each runner on a thread as [`ThreadBackend`] does, and when the manager
    /// abandons one whose evaluation a rank never answered, it says that rank is lost
    /// ([`Backend::lost`]), so the run ends with a checkpoint.
    pub fn threads_backend(&self) -> Result<MpiThreads, BackendError> {
        if self.rank != 0 {
            return Err(BackendError::Mpi(format!("rank {}: only rank 0 runs the manager", self.rank)));
        }
        Ok(MpiThreads { threads: ThreadBackend::default(), link: Arc::clone(&self.link) })
    }

    /// A rank's work (every rank but 0), until rank 0 is done: hosts the optimizers rank 0 sends,
    /// one at a time, each built by `host.runner(context, recipe)` and run to its end, and
    /// evaluates the points of level-2 evaluators ([`MpiEvaluators`]) with `host.objective(context)`.
    /// A recipe that cannot be read or built is that optimizer's crash, and an objective that cannot
    /// be built the evaluation's error, reported to rank 0.
    pub fn serve(mut self, host: &dyn Host) -> Result<(), BackendError> {
        if self.rank == 0 {
            return Err(BackendError::Mpi("rank 0 runs the manager; it does not serve".into()));
        }
        let Some(inbox) = self.inbox.take() else {
            return Err(BackendError::Mpi("this rank serves already".into()));
        };
        // The objectives of level-2 evaluations, built from their context when first needed.
        let mut contexts = Contexts::new();
        loop {
            match inbox.recv() {
                Ok(Inbox::Start(opt_id, payload, directives)) => {
                    let mut out =
                        RankWriter { link: Arc::clone(&self.link), to: 0, tag: TAG_MESSAGES, prefix: None };
                    let directives = BufReader::new(ChannelReader::new(directives));
                    match read_start(&payload) {
                        Ok((context, recipe)) => {
                            serve_recipe(recipe, |recipe| host.runner(&context, recipe), directives, out);
                        }
                        Err(e) => {
                            let end = RunnerEnd::Crashed(format!("rank {}: {e}", self.rank));
                            let line = serde_json::to_string(&Message::Ended { opt_id, end })
                                .map_err(|e| BackendError::Mpi(format!("cannot encode a message: {e}")))?;
                            out.write_all(format!("{line}\n").as_bytes())
                                .map_err(|e| BackendError::Mpi(e.to_string()))?;
                        }
                    }
                    // Directives that still come are for an optimizer that has ended; dropping its
                    // channel also ends the thread that read them.
                    let mut current = lock(&self.link.current);
                    if current.0.as_ref().is_some_and(|(id, _)| *id == opt_id) {
                        current.0 = None;
                    }
                }
                Ok(Inbox::Context(key, context)) => {
                    contexts.insert(key, (context, None));
                }
                Ok(Inbox::Eval(request)) => {
                    let answer = evaluate_request(&request, &mut contexts, host, self.rank);
                    self.link.send(0, TAG_OUTCOME, answer).map_err(|e| BackendError::Mpi(e.to_string()))?;
                }
                Ok(Inbox::Shutdown) => return Ok(()),
                Err(_) => return Err(BackendError::Mpi("the MPI thread has ended".into())),
            }
        }
    }
}

impl Drop for Mpi {
    fn drop(&mut self) {
        if self.rank == 0 {
            lock(&MANAGER).take();
            // A rank still at work now (an optimizer abandoned or never ended, an evaluation never
            // answered) will not take the shutdown.
            let busy = self.link.ranks_where(|rank, h| match h {
                Hosting::Lost(opt_id) | Hosting::Busy(opt_id) => {
                    Some(format!("rank {rank} never ended optimizer {opt_id}"))
                }
                Hosting::Evaluating(opt_id) => {
                    Some(format!("rank {rank} never answered an evaluation of optimizer {opt_id}"))
                }
                Hosting::Free => None,
            });
            if let Some(busy) = busy {
                eprintln!(
                    "glompo: {}; aborting the MPI job, since MPI_Finalize would wait for it forever (the run's \
                     files are written; resume it from a checkpoint)",
                    busy
                );
                let _ = self.link.commands.send(Command::Abort(1));
            } else {
                for rank in 1..self.size {
                    let _ = self.link.send(rank, TAG_SHUTDOWN, Vec::new());
                }
            }
        }
        let _ = self.link.commands.send(Command::Finish);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What `START` carries after the optimizer's id: `{"context": …, "recipe": …}`.
fn start_payload(opt_id: OptimizerId, context: &str, recipe: &RunnerRecipe) -> serde_json::Result<Vec<u8>> {
    let mut payload = opt_id.to_le_bytes().to_vec();
    serde_json::to_writer(&mut payload, &serde_json::json!({"context": context, "recipe": recipe}))?;
    Ok(payload)
}

/// The context and recipe of a `START` payload (after the id).
fn read_start(payload: &[u8]) -> Result<(String, RunnerRecipe), String> {
    let mut start: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("the START message is not JSON: {e}"))?;
    let context = match start["context"].take() {
        serde_json::Value::String(context) => context,
        other => return Err(format!("the START message's context is not a string: {other}")),
    };
    let recipe = serde_json::from_value(start["recipe"].take()).map_err(|e| format!("bad recipe: {e}"))?;
    Ok((context, recipe))
}

/// A send in flight and its buffer, leaked to MPI until the send completes.
type Sending = (Request<'static, [u8], StaticScope>, *mut [u8]);

/// The MPI thread: sends what it is given, hands on what arrives, and sleeps with a back-off while
/// nothing happens, until told to finish.
fn pump(
    world: &mpi::topology::SimpleCommunicator,
    orders: &Receiver<Command>,
    link: &Link,
    inbox: &Sender<Inbox>,
) {
    // Sends in flight, with their buffers (leaked to MPI, reclaimed when the send completes).
    let mut sending: VecDeque<Sending> = VecDeque::new();
    let mut last = Instant::now();
    let mut spin = SPIN;
    let mut sleep = Duration::ZERO;
    let mut finishing = false;
    let mut next: Option<Command> = None;
    loop {
        let mut busy = false;
        while let Some(command) = next.take().or_else(|| orders.try_recv().ok()) {
            busy = true;
            match command {
                Command::Send { to, tag, bytes } => {
                    spin = if tag == TAG_OUTCOME { SPIN_AFTER_ANSWER } else { SPIN };
                    let buffer: &'static mut [u8] = Box::leak(bytes.into_boxed_slice());
                    let raw: *mut [u8] = buffer;
                    let request =
                        world.process_at_rank(to).immediate_send_with_tag(StaticScope, &*buffer, tag);
                    sending.push_back((request, raw));
                }
                Command::Abort(code) => world.abort(code),
                Command::Finish => finishing = true,
            }
        }
        for _ in 0..sending.len() {
            let Some((request, raw)) = sending.pop_front() else { break };
            match request.test() {
                Ok(_) => {
                    // SAFETY: `raw` came from `Box::leak` above; the send that borrowed it has
                    // completed, so nothing refers to it any more.
                    drop(unsafe { Box::from_raw(raw) });
                    busy = true;
                }
                Err(request) => sending.push_back((request, raw)),
            }
        }
        while let Some(probed) = world.any_process().immediate_matched_probe() {
            busy = true;
            let (from, tag) = (probed.1.source_rank(), probed.1.tag());
            let (bytes, _) = probed.matched_receive_vec::<u8>();
            arrived(bytes, from, tag, world.rank(), link, inbox);
        }
        if finishing && sending.is_empty() {
            return;
        }
        let now = Instant::now();
        if busy {
            last = now;
            sleep = Duration::ZERO;
            continue;
        }
        let idle = now - last;
        if idle < spin {
            std::thread::yield_now();
            continue;
        }
        let awaiting = !lock(&link.evaluations).waiting.is_empty();
        sleep = if awaiting {
            (sleep * 2).clamp(FIRST_SLEEP, AWAITING_SLEEP)
        } else if idle > IDLE_AFTER {
            IDLE_SLEEP
        } else {
            (sleep * 2).clamp(FIRST_SLEEP, MAX_SLEEP)
        };
        match orders.recv_timeout(sleep) {
            Ok(command) => next = Some(command),
            Err(RecvTimeoutError::Timeout) => {}
            // Every sender is gone: nobody can ask for anything any more.
            Err(RecvTimeoutError::Disconnected) => finishing = true,
        }
    }
}

/// Hands on what arrived.
fn arrived(bytes: Vec<u8>, from: i32, tag: i32, me: i32, link: &Link, inbox: &Sender<Inbox>) {
    let id =
        |bytes: &[u8]| -> Option<OptimizerId> { Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)) };
    match (me, tag) {
        (0, TAG_MESSAGES) => {
            let rank = usize::try_from(from).unwrap_or(usize::MAX);
            let ranks = lock(&link.ranks);
            match ranks.routes.get(rank).and_then(Option::as_ref) {
                Some(route) => drop(route.send(bytes)),
                None => eprintln!(
                    "glompo: MPI rank {from} sent {} bytes of messages while it hosts no optimizer (ignored)",
                    bytes.len()
                ),
            }
        }
        (0, TAG_OUTCOME) => {
            let waiting = id(&bytes)
                .and_then(|request| Some((request, lock(&link.evaluations).waiting.remove(&request)?)));
            match waiting {
                Some((request, to)) => drop(to.send((request, bytes))),
                None => {
                    eprintln!("glompo: MPI rank {from} answered an evaluation nobody waits for (ignored)")
                }
            }
            free_rank(link, from);
        }
        (_, TAG_CONTEXT) if me != 0 => match id(&bytes) {
            Some(key) => {
                let _ = inbox.send(Inbox::Context(key, String::from_utf8_lossy(&bytes[8..]).into_owned()));
            }
            None => eprintln!("glompo: MPI rank {me}: a context of {} bytes has no key", bytes.len()),
        },
        (_, TAG_EVAL) if me != 0 => {
            let _ = inbox.send(Inbox::Eval(bytes));
        }
        (_, TAG_START) if me != 0 => match id(&bytes) {
            Some(opt_id) => {
                let (tx, rx) = crossbeam_channel::unbounded();
                lock(&link.current).0 = Some((opt_id, tx));
                let _ = inbox.send(Inbox::Start(opt_id, bytes[8..].to_vec(), rx));
            }
            None => eprintln!(
                "glompo: MPI rank {me}: a START message of {} bytes has no optimizer id",
                bytes.len()
            ),
        },
        (_, TAG_DIRECTIVES) if me != 0 => match id(&bytes) {
            Some(opt_id) => {
                let current = lock(&link.current);
                // Directives for an optimizer that has ended change nothing (a process runner's
                // closed stdin would refuse them): they are not delivered.
                if let Some((_, route)) = current.0.as_ref().filter(|(id, _)| *id == opt_id) {
                    let _ = route.send(bytes[8..].to_vec());
                }
            }
            None => {
                eprintln!("glompo: MPI rank {me}: directives of {} bytes have no optimizer id", bytes.len())
            }
        },
        (_, TAG_SHUTDOWN) if me != 0 => {
            let _ = inbox.send(Inbox::Shutdown);
        }
        _ => eprintln!(
            "glompo: MPI rank {me}: a message with tag {tag} from rank {from} is not glompo's (ignored)"
        ),
    }
}

/// Bytes written to it go to rank `to` as one MPI message each, after `prefix`.
struct RankWriter {
    link: Arc<Link>,
    to: i32,
    tag: i32,
    prefix: Option<OptimizerId>,
}

impl Write for RankWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = Vec::with_capacity(buf.len() + 8);
        if let Some(id) = self.prefix {
            bytes.extend_from_slice(&id.to_le_bytes());
        }
        bytes.extend_from_slice(buf);
        self.link.send(self.to, self.tag, bytes)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A byte stream made of the chunks a channel delivers; it ends when the channel does.
struct ChannelReader {
    chunks: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(chunks: Receiver<Vec<u8>>) -> Self {
        ChannelReader { chunks, chunk: Vec::new(), at: 0 }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.chunks.recv() {
                Ok(chunk) => (self.chunk, self.at) = (chunk, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Runs each optimizer on a rank of its own: see the [module](self). Made by [`Mpi::backend`].
#[derive(Debug, Clone)]
pub struct MpiBackend {
    link: Arc<Link>,
    context: Arc<str>,
}

impl Backend for MpiBackend {
    fn name(&self) -> &str {
        "mpi"
    }

    /// The ranks whose optimizer was abandoned (it did not end when told) or broke the protocol:
    /// they are never given another one, and the job cannot end normally (see the [module](self)).
    fn lost(&self) -> Option<String> {
        self.link.ranks_where(|rank, h| match h {
            Hosting::Lost(opt_id) => Some(format!("MPI rank {rank} (optimizer {opt_id}) stopped answering")),
            _ => None,
        })
    }

    fn spawn(&mut self, runner: Runner) -> Result<Box<dyn RunnerHandle>, CoreError> {
        let (opt_id, control, tx) = (runner.opt_id(), runner.control(), runner.sender());
        let payload = start_payload(opt_id, &self.context, runner.recipe())
            .map_err(|e| CoreError::Backend(format!("cannot encode optimizer {opt_id}'s recipe: {e}")))?;
        drop(runner);
        let (chunks, stream) = crossbeam_channel::unbounded();
        let rank = {
            let mut ranks = lock(&self.link.ranks);
            let Some(rank) = ranks.hosting.iter().skip(1).position(|h| *h == Hosting::Free).map(|i| i + 1)
            else {
                let lost = ranks.hosting.iter().filter(|h| matches!(h, Hosting::Lost(_))).count();
                return Err(CoreError::Backend(format!(
                    "no MPI rank is free for optimizer {opt_id}: {} ranks host optimizers{} (run at most as many \
                     optimizers at once as there are ranks besides rank 0)",
                    ranks.hosting.len().saturating_sub(1),
                    if lost > 0 { format!(", {lost} of them lost") } else { String::new() }
                )));
            };
            ranks.routes[rank] = Some(chunks);
            ranks.hosting[rank] = Hosting::Busy(opt_id);
            rank
        };
        let to = i32::try_from(rank).map_err(|e| CoreError::Backend(e.to_string()))?;
        self.link.send(to, TAG_START, payload).map_err(|e| CoreError::Backend(e.to_string()))?;
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (link, done, wake) = (Arc::clone(&self.link), Arc::clone(&done), Arc::clone(&control));
            std::thread::Builder::new()
                .name(format!("glompo-mpi-{opt_id}"))
                .spawn(move || {
                    let (end, next) = match forward_messages(ChannelReader::new(stream), &tx) {
                        Forwarded::Ended(end) => (end, Hosting::Free),
                        // A rank that broke the protocol is in an unknown state: it is not reused.
                        Forwarded::Broken(why) => (RunnerEnd::Crashed(why), Hosting::Lost(opt_id)),
                        Forwarded::Closed => (
                            RunnerEnd::Crashed(format!(
                                "the MPI layer ended before rank {rank}'s runner did"
                            )),
                            Hosting::Lost(opt_id),
                        ),
                    };
                    {
                        let mut ranks = lock(&link.ranks);
                        ranks.routes[rank] = None;
                        ranks.hosting[rank] = next;
                    }
                    link.freed.notify_all();
                    let _ = tx.send(Message::Ended { opt_id, end });
                    done.store(true, Ordering::SeqCst);
                    wake.wake();
                })
                .map_err(|e| CoreError::Backend(format!("cannot start a thread: {e}")))?
        };
        let relay = {
            let done = Arc::clone(&done);
            let out =
                RankWriter { link: Arc::clone(&self.link), to, tag: TAG_DIRECTIVES, prefix: Some(opt_id) };
            std::thread::Builder::new()
                .name(format!("glompo-mpictl-{opt_id}"))
                .spawn(move || relay_control(&control, out, &done))
                .map_err(|e| CoreError::Backend(format!("cannot start a thread: {e}")))?
        };
        Ok(Box::new(RankHandle {
            link: Arc::clone(&self.link),
            rank,
            opt_id,
            reader: Some(reader),
            relay: Some(relay),
            done,
            joined: false,
        }))
    }
}

/// An optimizer on a rank.
#[derive(Debug)]
struct RankHandle {
    link: Arc<Link>,
    rank: usize,
    opt_id: OptimizerId,
    reader: Option<JoinHandle<()>>,
    relay: Option<JoinHandle<()>>,
    done: Arc<AtomicBool>,
    joined: bool,
}

impl RunnerHandle for RankHandle {
    fn is_finished(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    fn join(mut self: Box<Self>) {
        for thread in [self.reader.take(), self.relay.take()].into_iter().flatten() {
            let _ = thread.join();
        }
        self.joined = true;
    }
}

impl Drop for RankHandle {
    fn drop(&mut self) {
        // Abandoned by the manager while its runner goes on: the rank cannot be stopped from here, so
        // it gets no other optimizer (if the runner ends after all, the rank is free again).
        if !self.joined && !self.done.load(Ordering::SeqCst) {
            let mut ranks = lock(&self.link.ranks);
            if ranks.hosting.get(self.rank) == Some(&Hosting::Busy(self.opt_id)) {
                ranks.hosting[self.rank] = Hosting::Lost(self.opt_id);
            }
        }
    }
}

/// Rank 0's link, for the level-2 evaluators (made in the config, before the run): set while rank
/// 0's [`Mpi`] lives.
static MANAGER: Mutex<Option<Arc<Link>>> = Mutex::new(None);

/// What a rank builds for rank 0's work: a whole optimizer's runner (level 1,
/// [`MpiBackend`]), or the objective of level-2 evaluations ([`MpiEvaluators`]), each from the
/// context rank 0 gave (the CLI's: its runner config).
pub trait Host {
    /// The optimizer, evaluator and objective of a runner.
    fn runner(&self, context: &str, recipe: &RunnerRecipe) -> Result<RunnerParts, String>;

    /// The objective that evaluates the points of level-2 evaluations with this context (built
    /// once per context and rank).
    fn objective(&self, context: &str) -> Result<Arc<dyn Objective>, String>;
}

/// Marks `rank` free again after an evaluation and wakes whoever waits for one.
fn free_rank(link: &Link, rank: i32) {
    let mut ranks = lock(&link.ranks);
    if let Some(h) = usize::try_from(rank).ok().and_then(|r| ranks.hosting.get_mut(r))
        && matches!(h, Hosting::Evaluating(_))
    {
        *h = Hosting::Free;
    }
    link.freed.notify_all();
}

/// A rank's contexts of level-2 evaluations by key: the text, and the objective once built from it.
type Contexts = std::collections::HashMap<u64, (String, Option<Result<Arc<dyn Objective>, String>>)>;

/// Evaluates one `EVAL` request with the objective of its context and encodes the answer:
/// `[request][0][fx][extras JSON]` or `[request][1][message]`.
fn evaluate_request(request: &[u8], contexts: &mut Contexts, host: &dyn Host, rank: i32) -> Vec<u8> {
    let word = |i: usize| -> u64 {
        request.get(i * 8..i * 8 + 8).and_then(|b| b.try_into().ok()).map_or(u64::MAX, u64::from_le_bytes)
    };
    let (id, key) = (word(0), word(1));
    let ctx = EvalContext {
        opt_id: word(2),
        eval: word(3),
        call_id: Some(word(4)).filter(|c| *c != u64::MAX),
        detailed: request.get(40) == Some(&1),
    };
    let point = request.get(41..).filter(|p| p.len() % 8 == 0);
    let x: Vec<f64> = point
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .collect();
    let outcome = match contexts.get_mut(&key) {
        // A request cut short is refused, not evaluated at a point it does not hold.
        _ if point.is_none() => {
            Err(EvalError::new(format!("MPI rank {rank} got a malformed request of {} bytes", request.len())))
        }
        None => Err(EvalError::new(format!("MPI rank {rank} has no context {key} to evaluate with"))),
        Some((context, objective)) => match objective.get_or_insert_with(|| host.objective(context)) {
            Ok(objective) => evaluate_one(&**objective, &x, &ctx),
            Err(e) => Err(EvalError::new(format!("MPI rank {rank} cannot build the objective: {e}"))),
        },
    };
    let mut answer = id.to_le_bytes().to_vec();
    match outcome {
        Ok(output) => {
            answer.push(0);
            answer.extend_from_slice(&output.fx.to_le_bytes());
            if let Some(extras) = output.extras {
                answer.extend_from_slice(extras.to_string().as_bytes());
            }
        }
        Err(e) => {
            answer.push(1);
            answer.extend_from_slice(e.message().as_bytes());
        }
    }
    answer
}

/// An answer's outcome (after the request number).
fn read_outcome(answer: &[u8]) -> EvalOutcome {
    match answer.get(8) {
        Some(0) => {
            let fx = answer.get(9..17).and_then(|b| b.try_into().ok()).map(f64::from_le_bytes);
            let Some(fx) = fx else { return Err(EvalError::new("an MPI rank's answer has no value")) };
            let extras = match answer.get(17..) {
                None | Some([]) => None,
                Some(text) => Some(
                    serde_json::from_slice(text)
                        .map_err(|e| EvalError::new(format!("an MPI rank's extras are not JSON: {e}")))?,
                ),
            };
            Ok(EvalOutput { fx, extras })
        }
        Some(1) => {
            Err(EvalError::new(String::from_utf8_lossy(answer.get(9..).unwrap_or_default()).into_owned()))
        }
        _ => Err(EvalError::new("an MPI rank's answer is not an outcome")),
    }
}

/// Level 2 on the ranks: the [`EvaluatorFactory`] whose evaluators send each point to a free rank
/// besides 0, which evaluates it with the objective its [`Host`] builds from `context`, so an
/// optimizer with `workers` slots has that many points evaluated at once on as many ranks. The
/// optimizers run on rank 0 (the thread backend); the objective handed to
/// [`Evaluator::evaluate`] is not called. The ranks are shared by every such evaluator of the
/// run: a run's slots (`max_jobs`) must not exceed the ranks besides 0. Values travel as their
/// bits, so the outcomes are the objective's exactly.
#[derive(Debug, Clone)]
pub struct MpiEvaluators {
    context: Arc<str>,
}

impl MpiEvaluators {
    /// Evaluators of points with the ranks' objective for `context`. They need rank 0's [`Mpi`]
    /// alive when an optimizer builds one.
    pub fn new(context: impl Into<Arc<str>>) -> Self {
        MpiEvaluators { context: context.into() }
    }
}

impl EvaluatorFactory for MpiEvaluators {
    fn name(&self) -> &str {
        "mpi"
    }

    fn build(&self, workers: usize) -> Result<Box<dyn Evaluator>, CoreError> {
        let Some(link) = lock(&MANAGER).clone() else {
            return Err(CoreError::Backend(
                "the mpi evaluator needs MPI: rank 0 of a job started by mpirun, with glompo_backends::mpi::Mpi::init"
                    .into(),
            ));
        };
        let key = {
            let mut evaluations = lock(&link.evaluations);
            match evaluations.contexts.iter().position(|(c, _)| **c == *self.context) {
                Some(key) => key,
                None => {
                    evaluations.contexts.push((self.context.to_string(), BTreeSet::new()));
                    evaluations.contexts.len() - 1
                }
            }
        } as u64;
        let (answers, inbox) = crossbeam_channel::unbounded();
        Ok(Box::new(MpiEvaluator { link, key, workers: workers.max(1), answers, inbox }))
    }
}

/// Runners on threads of rank 0 whose points ranks evaluate: made by [`Mpi::threads_backend`].
#[derive(Debug)]
pub struct MpiThreads {
    threads: ThreadBackend,
    link: Arc<Link>,
}

impl Backend for MpiThreads {
    fn name(&self) -> &str {
        "threads"
    }

    fn spawn(&mut self, runner: Runner) -> Result<Box<dyn RunnerHandle>, CoreError> {
        let opt_id = runner.opt_id();
        let inner = self.threads.spawn(runner)?;
        Ok(Box::new(Watched { inner: Some(inner), opt_id, link: Arc::clone(&self.link) }))
    }

    /// The ranks evaluating a point of an optimizer that the manager abandoned.
    fn lost(&self) -> Option<String> {
        let abandoned = lock(&self.link.abandoned);
        self.link.ranks_where(|rank, h| match h {
            Hosting::Evaluating(opt_id) if abandoned.contains(opt_id) => {
                Some(format!("MPI rank {rank} (evaluating a point of optimizer {opt_id}) stopped answering"))
            }
            _ => None,
        })
    }
}

/// A runner thread whose abandonment [`MpiThreads`] notes.
#[derive(Debug)]
struct Watched {
    inner: Option<Box<dyn RunnerHandle>>,
    opt_id: OptimizerId,
    link: Arc<Link>,
}

impl RunnerHandle for Watched {
    fn is_finished(&self) -> bool {
        self.inner.as_ref().is_none_or(|h| h.is_finished())
    }

    fn join(mut self: Box<Self>) {
        if let Some(inner) = self.inner.take() {
            inner.join();
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // Dropped without a join while it runs: the manager gave up on it.
        if self.inner.as_ref().is_some_and(|h| !h.is_finished()) {
            lock(&self.link.abandoned).insert(self.opt_id);
        }
    }
}

/// One optimizer's level-2 evaluator on the ranks.
struct MpiEvaluator {
    link: Arc<Link>,
    key: u64,
    workers: usize,
    answers: Sender<(u64, Vec<u8>)>,
    inbox: Receiver<(u64, Vec<u8>)>,
}

impl MpiEvaluator {
    /// Takes a free rank for an evaluation, waiting for one if every rank is busy.
    fn take_rank(&self, opt_id: OptimizerId) -> Result<i32, String> {
        let mut ranks = lock(&self.link.ranks);
        loop {
            if let Some(rank) = ranks.hosting.iter().skip(1).position(|h| *h == Hosting::Free).map(|i| i + 1)
            {
                ranks.hosting[rank] = Hosting::Evaluating(opt_id);
                return i32::try_from(rank).map_err(|e| e.to_string());
            }
            if ranks.hosting.iter().skip(1).all(|h| matches!(h, Hosting::Lost(_))) {
                return Err("every MPI rank is lost".into());
            }
            ranks = self.link.freed.wait(ranks).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Sends point `i` of the batch to a free rank: its request number.
    fn send(&self, x: &[f64], ctx: &EvalContext) -> Result<u64, String> {
        let rank = self.take_rank(ctx.opt_id)?;
        let request = {
            let mut evaluations = lock(&self.link.evaluations);
            let request = evaluations.next_request;
            evaluations.next_request += 1;
            evaluations.waiting.insert(request, self.answers.clone());
            let key = usize::try_from(self.key).unwrap_or(usize::MAX);
            if let Some((context, given)) = evaluations.contexts.get_mut(key)
                && given.insert(rank)
            {
                let mut bytes = self.key.to_le_bytes().to_vec();
                bytes.extend_from_slice(context.as_bytes());
                self.link.send(rank, TAG_CONTEXT, bytes).map_err(|e| e.to_string())?;
            }
            request
        };
        let mut bytes = Vec::with_capacity(41 + 8 * x.len());
        for word in [request, self.key, ctx.opt_id, ctx.eval, ctx.call_id.unwrap_or(u64::MAX)] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.push(u8::from(ctx.detailed));
        for v in x {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.link.send(rank, TAG_EVAL, bytes).map_err(|e| e.to_string())?;
        Ok(request)
    }
}

impl Evaluator for MpiEvaluator {
    fn evaluate(
        &mut self,
        _objective: &dyn Objective,
        points: &[Vec<f64>],
        batch: &Batch<'_>,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        let mut outcomes: Vec<Option<EvalOutcome>> = points.iter().map(|_| None).collect();
        let mut in_flight: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        let (mut next, mut cancelled) = (0, false);
        loop {
            while !cancelled && next < points.len() && in_flight.len() < self.workers {
                // With nothing in flight nothing can come back to report: wait for the gate.
                let admitted = if in_flight.is_empty() {
                    if gate.admit() { Admission::Go } else { Admission::Cancelled }
                } else {
                    gate.try_admit()
                };
                match admitted {
                    Admission::Go => {
                        let outcome = match self.send(&points[next], &batch.point(next)) {
                            Ok(request) => {
                                in_flight.insert(request, next);
                                None
                            }
                            Err(e) => {
                                Some(Err(EvalError::new(format!("cannot send the point to a rank: {e}"))))
                            }
                        };
                        if let Some(outcome) = outcome {
                            report(next, &outcome);
                            outcomes[next] = Some(outcome);
                        }
                        next += 1;
                    }
                    Admission::Wait => break,
                    Admission::Cancelled => cancelled = true,
                }
            }
            if in_flight.is_empty() {
                break;
            }
            let Ok((request, answer)) = self.inbox.recv() else { break };
            if let Some(i) = in_flight.remove(&request) {
                let outcome = read_outcome(&answer);
                report(i, &outcome);
                outcomes[i] = Some(outcome);
            }
        }
        outcomes.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host whose objective is x0 · 10 and fails at x0 < 0; it builds no runners.
    struct Tens;

    impl Host for Tens {
        fn runner(&self, _: &str, _: &RunnerRecipe) -> Result<RunnerParts, String> {
            Err("no runners".into())
        }

        fn objective(&self, context: &str) -> Result<Arc<dyn Objective>, String> {
            if context == "broken" {
                return Err("cannot".into());
            }
            Ok(Arc::new(TenTimes))
        }
    }

    struct TenTimes;

    impl Objective for TenTimes {
        fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
            if x[0] < 0.0 { Err(EvalError::new("negative")) } else { Ok(10.0 * x[0]) }
        }
    }

    fn request(id: u64, key: u64, x: &[f64]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [id, key, 3, 17, u64::MAX] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.push(0);
        for v in x {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn an_evaluation_travels_as_bits_and_comes_back_as_the_objective_gave_it() {
        let mut contexts = std::collections::HashMap::new();
        contexts.insert(0, ("sphere".to_owned(), None));
        contexts.insert(1, ("broken".to_owned(), None));
        let x = 0.1 + 0.2;
        let answer = evaluate_request(&request(7, 0, &[x]), &mut contexts, &Tens, 2);
        assert_eq!(u64::from_le_bytes(answer[..8].try_into().unwrap()), 7);
        let outcome = read_outcome(&answer).unwrap();
        assert_eq!(outcome.fx.to_bits(), (10.0 * x).to_bits());
        assert_eq!(outcome.extras, None);
        let failed = read_outcome(&evaluate_request(&request(8, 0, &[-1.0]), &mut contexts, &Tens, 2));
        assert_eq!(failed.unwrap_err().message(), "negative");
        let broken = read_outcome(&evaluate_request(&request(9, 1, &[1.0]), &mut contexts, &Tens, 2));
        assert_eq!(broken.unwrap_err().message(), "MPI rank 2 cannot build the objective: cannot");
        let unknown = read_outcome(&evaluate_request(&request(9, 5, &[1.0]), &mut contexts, &Tens, 2));
        assert_eq!(unknown.unwrap_err().message(), "MPI rank 2 has no context 5 to evaluate with");
        assert!(read_outcome(&[0; 8]).is_err());
        let mut cut = request(10, 0, &[1.0]);
        cut.pop();
        let cut = read_outcome(&evaluate_request(&cut, &mut contexts, &Tens, 2));
        assert_eq!(cut.unwrap_err().message(), "MPI rank 2 got a malformed request of 48 bytes");
    }

    #[test]
    fn a_channel_of_chunks_reads_as_one_stream_cut_anywhere() {
        let (tx, rx) = crossbeam_channel::unbounded();
        for chunk in ["{\"a\":", "1}\n{\"b\"", ":2}\n", ""] {
            tx.send(chunk.as_bytes().to_vec()).unwrap();
        }
        drop(tx);
        let mut text = String::new();
        ChannelReader::new(rx).read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn a_start_message_carries_the_context_and_the_recipe() {
        assert!(read_start(b"not json").unwrap_err().contains("not JSON"));
        assert!(read_start(br#"{"context": 3, "recipe": {}}"#).unwrap_err().contains("not a string"));
        assert!(read_start(br#"{"context": "c", "recipe": {}}"#).unwrap_err().starts_with("bad recipe"));
    }
}
