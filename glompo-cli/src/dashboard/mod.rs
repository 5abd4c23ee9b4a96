//! `glompo dashboard` (issue 13): a read-only web page on a run directory, live or finished, that a
//! browser reaches on the loopback interface (or through an SSH tunnel).
//!
//! - [`http`]: the small blocking HTTP/1.1 server under it. A thread per connection, hard limits on
//!   what a client may send, exact-match routing through a [`Handler`](http::Handler), and
//!   server-sent events ([`EventSource`](http::EventSource)) for the live updates.
//!
//! # The page's protocol
//!
//! The server serves `/` (the page), `/dashboard.js`, `/dashboard.css`, `/api/state` (the whole
//! state as one update, below, for scripts and `curl`) and `/events`, a stream of server-sent
//! events named `update`, each one JSON object. Nothing else: every other path is `404`.
//!
//! The first update of a connection has `"reset": true` and holds everything; later ones hold only
//! what changed since the one before, at most every 250 ms. A field that is absent did not change.
//! A browser that reconnects gets a new connection and so a new reset.
//!
//! ```text
//! {
//!   "reset": true,
//!   "run": {"dir": "runs/fit", "state": "live" | "finished" | "killed" | "waiting",
//!           "end_reason": "budget spent: …" | null, "parameter_names": ["a", "b"] | null,
//!           "budget": 20000 | null, "loading": false},
//!   "counters": {"evaluations": 1234, "failed": 3, "infinite": 0, "last_call": 1234,
//!                "started": 9, "running": 2, "converged": 4, "killed": 2, "crashed": 1,
//!                "stopped": 0, "elapsed_s": 12.5 | null},
//!   "best": {"fx": 0.25, "x": [0.1, 0.2], "opt_id": 3, "call_id": 1200} | null,
//!   "scale": {"kind": "linear" | "log" | "shifted-log", "lo": 1e-3, "hi": 50.0,
//!             "min": -1.0, "offset": 1e-6, "label": "f (log scale)"},
//!   "width": 4,
//!   "tracks": [{"opt": 3, "buckets": [[index, c_first, f_first, c_min, f_min, c_max, f_max,
//!                                      c_last, f_last], …]}, …],
//!   "best_curve": [[index, c_first, f_first, …], …],
//!   "failures": {"reset": false, "add": [index, …]},
//!   "optimizers": [{"opt": 3, "type": "cma-es", "workers": 1, "status": "running" | "converged" |
//!                   "killed" | "crashed" | "stopped", "evaluations": 412, "best": 0.25 | null,
//!                   "start_t": 1.5, "end_t": 9.25 | null, "how": "killed by optimizer 2's hunt at
//!                   evaluation 900: …" | null, "marker": [c, f] | null}, …],
//!   "warnings": ["evaluations.jsonl line 17 is not an evaluation (skipped): …", …]
//! }
//! ```
//!
//! - `run.loading` is true until the logs as they were when the dashboard started are read (a log
//!   of 10⁷ evaluations takes a few seconds): the page says it is still reading them.
//! - `tracks` and `best_curve` are the plot's reduction ([`crate::plot`]): the call ids are cut into
//!   buckets of `width` consecutive ids (bucket `index` holds ids `index · width` to
//!   `(index + 1) · width − 1`), and each optimizer keeps per bucket its first, lowest, highest and
//!   last finite point, `(call id, f)` pairs. A bucket in an update replaces the page's bucket of
//!   the same optimizer and index, or is appended (buckets arrive in increasing index order).
//! - When `width` grows (it only doubles, once per update at most, the factor `width / old`), the
//!   page first merges its own buckets, then applies the rest of the update: each bucket's index
//!   becomes `index / factor` (integer division), and consecutive buckets of one track with the same
//!   new index merge into one: the first keeps its `first`, takes the later one's `min` when that is
//!   strictly lower, its `max` when strictly higher, and its `last`. The server merges the same way,
//!   so both keep the same buckets, and it re-sends the last bucket of every track after a merge.
//! - `best_curve` is the run's best value so far at each improvement, reduced the same way; the page
//!   draws it as steps, the last one held to `counters.last_call`.
//! - `failures` are the bucket indices that hold a failed or infinite evaluation: `reset: true`
//!   replaces the page's list (after a width change), else `add` appends.
//! - `scale` says how to draw f: `linear` from `lo` to `hi`; `log`: log10 f from `lo` to `hi`;
//!   `shifted-log`: log10 (f − `min` + `offset`), from `offset` to `hi` in those shifted units.
//! - `optimizers` replace the page's row of the same `opt` (optimizer 0 is the generator's initial
//!   evaluations, type `generator`). `marker` is where the end is drawn (the last finite point of an
//!   optimizer that converged, was killed or crashed); stopped and running ones have none.
//! - `warnings` are appended: lines of the logs that could not be read, which are skipped.

pub mod http;
pub(crate) mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use glompo_core::manager::rundir;

use self::http::{Event, Next, Request, Response, Server, ServerHandle};
use self::state::{Cursor, Follower, RunState};

/// The loopback address `glompo dashboard` and `glompo run --dashboard` bind by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8050";

/// How often the logs are read for what they gained, and the shortest time between two updates of
/// one page.
pub const POLL: Duration = Duration::from_millis(250);

/// How long `/api/state` waits for the logs to be read to their end once.
const CATCH_UP_WAIT: Duration = Duration::from_secs(60);

/// How long [`Dashboard::finish`] waits for the run's end to be read.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// The page and its assets, embedded in the binary.
const INDEX_HTML: &str = include_str!("page/index.html");
const DASHBOARD_JS: &str = include_str!("page/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("page/dashboard.css");

/// Why a dashboard could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The directory is not a run directory.
    #[error(transparent)]
    RunDir(#[from] glompo_core::CoreError),
    /// The address could not be bound.
    #[error("cannot serve the dashboard on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start the dashboard: {0}")]
    Thread(std::io::Error),
}

/// A dashboard's address, bound, before it serves a run directory.
#[derive(Debug)]
pub struct Bound(Server);

impl Bound {
    /// Serves the run directory `dir`. The directory must exist; it may be empty (a run about to
    /// start: the page says it waits), but if it has files, it must be a run directory.
    pub fn serve(self, dir: &Path) -> Result<Dashboard, DashboardError> {
        self.serve_run(dir, None)
    }

    /// Serves the run directory of the run about to start in process `owner` (this one, for
    /// `glompo run --dashboard`): the directory need not exist yet, and the logs are read once
    /// `owner` holds it, never those of an earlier run it replaces.
    pub fn serve_run(self, dir: &Path, owner: Option<u32>) -> Result<Dashboard, DashboardError> {
        if owner.is_some() {
            std::fs::create_dir_all(dir).map_err(|e| glompo_core::CoreError::io(dir, e))?;
        }
        if !dir.is_dir() {
            let message = if dir.exists() { "not a directory" } else { "no such directory" };
            return Err(
                glompo_core::CoreError::RunDir { path: dir.to_path_buf(), message: message.into() }.into()
            );
        }
        if owner.is_none() && dir.read_dir().map_err(|e| glompo_core::CoreError::io(dir, e))?.next().is_some()
        {
            rundir::check(dir)?;
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(RunState::new(dir)),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            pages: Mutex::new(BTreeMap::new()),
            streams: AtomicU64::new(0),
        });
        let follower = {
            let shared = Arc::clone(&shared);
            let dir: PathBuf = dir.to_path_buf();
            std::thread::Builder::new()
                .name("dashboard-follower".into())
                .spawn(move || follow(&dir, &shared, owner))
                .map_err(DashboardError::Thread)?
        };
        let handler = {
            let shared = Arc::clone(&shared);
            move |request: &Request| route(&shared, request)
        };
        let server = self.0.serve(Arc::new(handler)).map_err(DashboardError::Thread)?;
        Ok(Dashboard { server: Some(server), follower: Some(follower), shared })
    }
}

/// The state all connections read, and the follower writes.
#[derive(Debug)]
struct Shared {
    state: Mutex<RunState>,
    changed: Condvar,
    stop: AtomicBool,
    /// The state's version each open page has been sent, by stream.
    pages: Mutex<BTreeMap<u64, u64>>,
    /// Numbers the streams.
    streams: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, RunState> {
        // A panic while the state was held leaves it as consistent as the batch before: go on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A dashboard serving one run directory until it is shut down (or dropped).
#[derive(Debug)]
pub struct Dashboard {
    server: Option<ServerHandle>,
    follower: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Dashboard {
    /// Serves the run directory `dir` on `addr` (see [`Dashboard::bind`] and [`Bound::serve`]).
    pub fn start(dir: &Path, addr: SocketAddr) -> Result<Dashboard, DashboardError> {
        Dashboard::bind(addr)?.serve(dir)
    }

    /// Binds `addr`, before anything else is done: a run checks its dashboard's address first.
    pub fn bind(addr: SocketAddr) -> Result<Bound, DashboardError> {
        Server::bind(addr).map(Bound).map_err(|source| DashboardError::Bind { addr, source })
    }

    /// The address it serves on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(ServerHandle::local_addr)
    }

    /// The page's address: `http://127.0.0.1:8050/`.
    pub fn url(&self) -> String {
        self.local_addr().map_or_else(String::new, |a| format!("http://{a}/"))
    }

    /// Stops once the open pages have had the run's end: when what the run directory says (the run
    /// finished, or no process holds it any more) has been sent to every page; at most a few seconds.
    pub fn finish(self) {
        let deadline = Instant::now() + FINISH_WAIT;
        let ended = loop {
            let state = self.shared.state();
            if !state.is_running() {
                break Some(state.version());
            }
            drop(state);
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(version) = ended {
            let pages = || self.shared.pages.lock().unwrap_or_else(PoisonError::into_inner);
            while Instant::now() < deadline && pages().values().any(|&sent| sent < version) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.shutdown();
    }

    /// Stops serving and following; open pages see their stream end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
        if let Some(follower) = self.follower.take() {
            let _ = follower.join();
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The follower's loop: reads what the run directory gained, applies it, wakes the pages; reads
/// again at once while a long log is being caught up with, else after [`POLL`].
///
/// With `owner`, it waits until that process holds the directory (a run that has opened its logs),
/// so that the files of an earlier run it replaces are never read. When the logs are replaced under
/// it (a new run in the directory), it starts again: the pages get a reset.
fn follow(dir: &Path, shared: &Shared, owner: Option<u32>) {
    yield_to_the_run();
    while let Some(pid) = owner
        && !shared.stop.load(Ordering::SeqCst)
        && glompo_core::manager::live_run(dir).ok().flatten() != Some(pid)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut follower = Follower::new(dir);
    while !shared.stop.load(Ordering::SeqCst) {
        if follower.replaced() {
            follower = Follower::new(dir);
            shared.state().restart();
        }
        let (batch, more) = follower.read();
        if !batch.is_empty() {
            shared.state().apply(batch);
            shared.changed.notify_all();
        }
        if !more {
            let deadline = Instant::now() + POLL;
            while !shared.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }
}

/// Puts the calling thread in the `SCHED_IDLE` class: the dashboard's threads run only on CPU time
/// that the run's threads leave, and give way at once when one of them wakes, so that a run with a
/// page open is not slowed down (its page lags instead). A failure leaves the thread as it was.
fn yield_to_the_run() {
    let param = nix::libc::sched_param { sched_priority: 0 };
    // SAFETY: with pid 0, sched_setscheduler changes the policy of the calling thread alone; `param`
    // is a valid sched_param that it only reads.
    let done = unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_IDLE, &raw const param) };
    if done != 0 {
        tracing::debug!(
            "cannot lower the priority of a dashboard thread: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The server's routes: exact paths only.
fn route(shared: &Arc<Shared>, request: &Request) -> Response {
    // Every request runs on a connection thread of its own.
    yield_to_the_run();
    match request.path() {
        "/" | "/index.html" => Response::ok("text/html; charset=utf-8", INDEX_HTML.as_bytes()),
        "/dashboard.js" => Response::ok("text/javascript; charset=utf-8", DASHBOARD_JS.as_bytes()),
        "/dashboard.css" => Response::ok("text/css; charset=utf-8", DASHBOARD_CSS.as_bytes()),
        "/api/state" => {
            // The whole state: once what the logs held at the start is read (a long log takes seconds).
            let deadline = Instant::now() + CATCH_UP_WAIT;
            let mut state = shared.state();
            while !state.caught_up() && Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
                let left = deadline.saturating_duration_since(Instant::now());
                state = shared.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
            }
            Response::json(&state.update(&mut Cursor::default()).unwrap_or_default())
        }
        "/events" => Response::stream(Updates::new(shared)),
        _ => Response::not_found(),
    }
}

/// One page's stream of updates.
struct Updates {
    shared: Arc<Shared>,
    cursor: Cursor,
    /// When the last update went out.
    sent: Option<Instant>,
    id: u64,
    /// Its number among the streams, in `Shared::pages`.
    stream: u64,
}

impl Updates {
    fn new(shared: &Arc<Shared>) -> Self {
        let stream = shared.streams.fetch_add(1, Ordering::SeqCst);
        shared.pages.lock().unwrap_or_else(PoisonError::into_inner).insert(stream, 0);
        Updates { shared: Arc::clone(shared), cursor: Cursor::default(), sent: None, id: 0, stream }
    }
}

impl Drop for Updates {
    fn drop(&mut self) {
        self.shared.pages.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.stream);
    }
}

impl http::EventSource for Updates {
    fn next(&mut self, wait: Duration) -> Next {
        let deadline = Instant::now() + wait;
        // At most one update per POLL: a page catching up with a long log gets few large ones.
        if let Some(ready) = self.sent.map(|t| t + POLL)
            && ready > Instant::now()
        {
            std::thread::sleep(ready.min(deadline).saturating_duration_since(Instant::now()));
            if ready > deadline {
                return Next::Pending;
            }
        }
        if self.shared.stop.load(Ordering::SeqCst) {
            return Next::End;
        }
        let mut state = self.shared.state();
        let first = self.id == 0;
        if !first && state.version() == self.cursor.version() {
            let left = deadline.saturating_duration_since(Instant::now());
            state = self.shared.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        let update = state.update(&mut self.cursor);
        let version = self.cursor.version();
        drop(state);
        // Counted as sent once it is handed on: the server writes it before it asks for the next.
        self.shared.pages.lock().unwrap_or_else(PoisonError::into_inner).insert(self.stream, version);
        match update {
            Some(update) => {
                self.id += 1;
                self.sent = Some(Instant::now());
                Next::Event(Event {
                    id: Some(self.id.to_string()),
                    event: Some("update".into()),
                    data: update.to_string(),
                })
            }
            None => Next::Pending,
        }
    }
}
