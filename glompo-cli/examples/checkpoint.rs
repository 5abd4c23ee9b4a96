//! `cargo xtask bench checkpoint`: how long a checkpoint of 16 live CMA-ES optimizers in 100-D takes.
//!
//! Sixteen CMA-ES (default options: population 17 in 100-D) run on the 100-D Rosenbrock function, each
//! on one worker slot of `max_jobs` 16, threads at level 1, with a run directory (every evaluation is
//! logged) and a checkpoint every `--every-evals N` evaluations. The optimizers are wrapped so that
//! every `save` is timed, and an observer stamps the evaluation that makes a checkpoint due (the
//! manager asks for the saves as soon as it has logged that result group) and the checkpoint event
//! (sent once the file is written and renamed). Each checkpoint then splits into
//!
//! - the **wait**: from the request to the end of the last `save` (each optimizer answers at its next
//!   batch boundary, after its current generation);
//! - the **write**: from there to the event (the manager handles the answers queued behind result
//!   messages, builds the body, encodes and checksums it, writes and fsyncs the file, renames it and
//!   fsyncs the folder).
//!
//! After the run, the largest checkpoint is read and checked with [`glompo_core::manager::inspect`]. One CMA-ES is also run alone to time its `save`. CPU times and
//! the time spent waiting for a CPU come from `/proc/.../schedstat` (Linux).
//!
//! Options: `--checkpoints K` (default 25: the run's budget is `(K + 1) N` evaluations, which holds
//! a few fewer, since each checkpoint's count starts from where the previous one was written),
//! `--every-evals N` (default 50 000, about a second of the run), `--dim D` (default 100), `--jobs J`
//! (default 16), `--function NAME` (default rosenbrock), `--replays R` (default 10: reads of the largest
//! checkpoint), `--delay S` (seconds of sleep per call: an expensive objective, the cores idle; default
//! 0), `--dir PATH` (the
//! folder of the temporary run directory; default the system's temporary folder). It prints every
//! checkpoint, then the medians and maxima.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use glompo_core::manager::{CheckpointPolicy, Event, Manager, Observe};
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use glompo_core::{
    Evaluation, Objective, Optimizer, OptimizerError, OptimizerFactory, OptimizerId, StartContext,
};
use serde_json::json;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("{name} takes a value of the right kind (a whole number, a name or a path)");
            std::process::exit(2)
        }),
    }
}

/// CPU time and time spent waiting for a CPU (runnable, not running), from a `schedstat` file of
/// `/proc` (Linux; updated by the scheduler, so it can lag by up to a tick on a running thread).
#[derive(Debug, Clone, Copy, Default)]
struct Sched {
    cpu: Duration,
    queued: Duration,
}

impl std::ops::Sub for Sched {
    type Output = Sched;

    fn sub(self, earlier: Sched) -> Sched {
        Sched {
            cpu: self.cpu.saturating_sub(earlier.cpu),
            queued: self.queued.saturating_sub(earlier.queued),
        }
    }
}

fn schedstat(path: &Path) -> Option<Sched> {
    let text = fs::read_to_string(path).ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let cpu = Duration::from_nanos(fields.next()??);
    let queued = Duration::from_nanos(fields.next()??);
    Some(Sched { cpu, queued })
}

/// The calling thread's [`Sched`].
fn thread_sched() -> Sched {
    schedstat(Path::new("/proc/thread-self/schedstat")).unwrap_or_default()
}

/// The sum of [`Sched`] over the threads of this process.
fn process_sched() -> Sched {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else { return Sched::default() };
    tasks
        .flatten()
        .filter_map(|t| schedstat(&t.path().join("schedstat")))
        .fold(Sched::default(), |a, b| Sched { cpu: a.cpu + b.cpu, queued: a.queued + b.queued })
}

/// One call of an optimizer's `save`, as its runner thread made it.
#[derive(Debug, Clone, Copy)]
struct SaveStamp {
    opt_id: OptimizerId,
    start: Instant,
    end: Instant,
    /// The runner thread's CPU and queueing during the call.
    sched: Sched,
}

type Stamps = Arc<Mutex<Vec<SaveStamp>>>;

/// A factory whose optimizers time their `save`; everything else is the wrapped factory's.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn OptimizerFactory>,
    stamps: Stamps,
}

impl OptimizerFactory for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn settings(&self) -> serde_json::Value {
        self.inner.settings()
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        let inner = self.inner.build(ctx)?;
        Ok(Box::new(TimedOptimizer { inner, opt_id: ctx.opt_id, stamps: Arc::clone(&self.stamps) }))
    }
}

struct TimedOptimizer {
    inner: Box<dyn Optimizer>,
    opt_id: OptimizerId,
    stamps: Stamps,
}

impl Optimizer for TimedOptimizer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        self.inner.ask()
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<glompo_core::Status, OptimizerError> {
        self.inner.tell(evals)
    }

    fn best(&self) -> Option<Evaluation> {
        self.inner.best()
    }

    fn popsize(&self) -> Option<usize> {
        self.inner.popsize()
    }

    fn inject(&mut self, x: &[f64], fx: f64) {
        self.inner.inject(x, fx);
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        let before = thread_sched();
        let start = Instant::now();
        let state = self.inner.save();
        let end = Instant::now();
        let stamp = SaveStamp { opt_id: self.opt_id, start, end, sched: thread_sched() - before };
        self.stamps.lock().unwrap_or_else(PoisonError::into_inner).push(stamp);
        state
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        self.inner.restore(state)
    }
}

/// One checkpoint of the run.
#[derive(Debug, Clone)]
struct Sample {
    count: u64,
    /// From the request to the checkpoint event.
    total: Duration,
    /// From the request to the end of the last save made for it.
    wait: Option<Duration>,
    /// From the end of the last save to the event.
    write: Option<Duration>,
    /// The optimizers that saved for it.
    answered: usize,
    /// The longest `save` call made for it.
    longest_save: Duration,
    /// The CPU time of all the `save` calls made for it, and their time waiting for a CPU.
    saves: Sched,
    /// The manager thread's CPU time and queueing from the request to the event.
    manager: Sched,
    /// The same for every thread of the process (the manager and the runners).
    process: Sched,
    bytes: u64,
    path: PathBuf,
}

/// Stamps the request of each checkpoint and its event (in the manager's thread, as events happen).
struct Probe {
    every: u64,
    seen: u64,
    at_last: u64,
    asked: Option<(Instant, Sched, Sched)>,
    stamps: Stamps,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Observe for Probe {
    fn observe(&mut self, event: &Event<'_>) -> glompo_core::Result<()> {
        match event {
            Event::Evaluation(_) => {
                self.seen += 1;
                // The manager asks for the saves after logging the result group this one belongs to.
                if self.asked.is_none() && self.seen - self.at_last >= self.every {
                    self.asked = Some((Instant::now(), thread_sched(), process_sched()));
                }
            }
            Event::Checkpoint { path, count, .. } => {
                let now = Instant::now();
                let (manager, process) = (thread_sched(), process_sched());
                let (asked, manager_then, process_then) =
                    self.asked.take().unwrap_or((now, manager, process));
                let stamps: Vec<SaveStamp> =
                    std::mem::take(&mut *self.stamps.lock().unwrap_or_else(PoisonError::into_inner))
                        .into_iter()
                        .filter(|s| s.end >= asked)
                        .collect();
                let last = stamps.iter().map(|s| s.end).max();
                let mut ids: Vec<OptimizerId> = stamps.iter().map(|s| s.opt_id).collect();
                ids.sort_unstable();
                ids.dedup();
                let sample = Sample {
                    count: *count,
                    total: now - asked,
                    wait: last.map(|l| l - asked),
                    write: last.map(|l| now.saturating_duration_since(l)),
                    answered: ids.len(),
                    longest_save: stamps.iter().map(|s| s.end - s.start).max().unwrap_or_default(),
                    saves: stamps.iter().fold(Sched::default(), |a, s| Sched {
                        cpu: a.cpu + s.sched.cpu,
                        queued: a.queued + s.sched.queued,
                    }),
                    manager: manager - manager_then,
                    process: process - process_then,
                    bytes: fs::metadata(path).map_or(0, |m| m.len()),
                    path: path.to_path_buf(),
                };
                self.samples.lock().unwrap_or_else(PoisonError::into_inner).push(sample);
                self.at_last = self.seen;
            }
            _ => {}
        }
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median and maximum, in ms.
fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort();
    (ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

/// One optimizer alone, `generations` generations into `objective`, then `save` timed `repeats` times:
/// the median time of a save and the size of its state as JSON.
fn lone_save(
    factory: &Arc<dyn OptimizerFactory>,
    objective: &glompo_core::functions::Benchmark,
    generations: usize,
    repeats: usize,
) -> (Duration, Duration, Duration, usize) {
    let bounds = objective.bounds();
    let x0 = bounds.centre();
    let ctx = StartContext { opt_id: 1, x0: &x0, bounds: &bounds, seed: 1, workers: 1 };
    let mut optimizer = factory.build(&ctx).expect("a CMA-ES");
    for _ in 0..generations {
        let batch = optimizer.ask().expect("a batch");
        let evals: Vec<Evaluation> = batch
            .into_iter()
            .map(|x| {
                let fx = objective.evaluate(&x).expect("a value");
                Evaluation { x, fx }
            })
            .collect();
        if optimizer.tell(&evals).expect("a tell") != glompo_core::Status::Running {
            break;
        }
    }
    let mut saves = Vec::new();
    let mut encodes = Vec::new();
    let mut clones = Vec::new();
    let mut size = 0;
    for _ in 0..repeats {
        let t = Instant::now();
        let state = optimizer.save().expect("CMA-ES saves");
        saves.push(t.elapsed());
        let t = Instant::now();
        let copy = state.clone();
        clones.push(t.elapsed());
        drop(copy);
        let t = Instant::now();
        size = serde_json::to_string(&state).expect("a state encodes").len();
        encodes.push(t.elapsed());
    }
    saves.sort();
    encodes.sort();
    clones.sort();
    (saves[saves.len() / 2], clones[clones.len() / 2], encodes[encodes.len() / 2], size)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let checkpoints: u64 = arg(&args, "--checkpoints", 25);
    let every: u64 = arg(&args, "--every-evals", 50_000);
    let dim: usize = arg(&args, "--dim", 100);
    let jobs: usize = arg(&args, "--jobs", 16);
    let function: String = arg(&args, "--function", "rosenbrock".to_owned());
    let replays: usize = arg(&args, "--replays", 10);
    let parent: PathBuf = arg(&args, "--dir", std::env::temp_dir());
    let delay: f64 = arg(&args, "--delay", 0.0);

    let mut params = serde_json::Map::new();
    if delay > 0.0 {
        params.insert("delay_s".into(), json!(delay));
    }
    let objective = glompo_core::functions::build(&function, dim, &params).expect("a function");
    let objective = Arc::new(objective);
    let cma: Arc<dyn OptimizerFactory> =
        glompo_optimizers::factory("cma-es", json!({}).as_object().expect("an object")).expect("CMA-ES");
    let stamps: Stamps = Arc::default();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let timed = Timed { inner: Arc::clone(&cma), stamps: Arc::clone(&stamps) };
    let selector =
        CycleSelector::new(vec![OptimizerSpec::new(Arc::new(timed)).workers(1)]).expect("one spec");
    let policy = CheckpointPolicy { every_evals: Some(every), ..CheckpointPolicy::default() };
    let probe = Probe { every, seen: 0, at_last: 0, asked: None, stamps, samples: Arc::clone(&samples) };
    let dir = tempfile::tempdir_in(&parent).expect("a temporary directory");
    let budget = (checkpoints + 1) * every;
    let manager = Manager::builder(objective.clone(), objective.bounds())
        .selector(Box::new(selector))
        .checker(glompo_core::checker::max_evals(budget))
        .max_jobs(jobs)
        .seed(1)
        .dir(dir.path())
        .checkpoints(policy)
        .observer(Box::new(probe))
        .build()
        .expect("a valid manager");
    println!(
        "{jobs} CMA-ES in {dim}-D on {function}, max_jobs {jobs}, 1 worker each, a checkpoint every {every} evaluations, {budget} evaluations, run directory in {}",
        parent.display()
    );
    let start = Instant::now();
    let result = manager.run().expect("the run succeeds");
    let seconds = start.elapsed().as_secs_f64();
    let log_bytes = fs::metadata(dir.path().join("evaluations.jsonl")).map_or(0, |m| m.len());
    println!(
        "run: {} evaluations in {seconds:.1} s = {:.0} evaluations/s, {} optimizers started, {} converged, log {:.0} MB",
        result.counters.evaluations,
        result.counters.evaluations as f64 / seconds,
        result.counters.optimizers_started,
        result.counters.optimizers_converged,
        log_bytes as f64 / 1e6
    );

    let samples = samples.lock().unwrap_or_else(PoisonError::into_inner).clone();
    println!(
        "checkpoint | request → event | wait for saves | write | answered | longest save | CPU of the saves (queued) | manager CPU (queued) | process CPU (queued) | file"
    );
    for s in &samples {
        println!(
            "{:>10} | {:>12.1} ms | {:>11.1} ms | {:>5.1} ms | {:>5}/{jobs} | {:>9.2} ms | {:.1} ms ({:.1} ms) | {:.1} ms ({:.1} ms) | {:.1} ms ({:.1} ms) | {:.2} MB",
            s.count,
            ms(s.total),
            s.wait.map_or(f64::NAN, ms),
            s.write.map_or(f64::NAN, ms),
            s.answered,
            ms(s.longest_save),
            ms(s.saves.cpu),
            ms(s.saves.queued),
            ms(s.manager.cpu),
            ms(s.manager.queued),
            ms(s.process.cpu),
            ms(s.process.queued),
            s.bytes as f64 / 1e6
        );
    }
    let (total_med, total_max) = stats(samples.iter().map(|s| s.total).collect());
    let (wait_med, wait_max) = stats(samples.iter().filter_map(|s| s.wait).collect());
    let (write_med, write_max) = stats(samples.iter().filter_map(|s| s.write).collect());
    let (save_med, save_max) = stats(samples.iter().map(|s| s.longest_save).collect());
    let (saves_med, _) = stats(samples.iter().map(|s| s.saves.cpu).collect());
    let (manager_med, _) = stats(samples.iter().map(|s| s.manager.cpu).collect());
    let (manager_q, _) = stats(samples.iter().map(|s| s.manager.queued).collect());
    let (process_med, _) = stats(samples.iter().map(|s| s.process.cpu).collect());
    let mut sizes: Vec<u64> = samples.iter().map(|s| s.bytes).collect();
    sizes.sort_unstable();
    println!(
        "{} checkpoints: request → event median {total_med:.1} ms, max {total_max:.1} ms; wait for saves median {wait_med:.1} ms, max {wait_max:.1} ms; write median {write_med:.1} ms, max {write_max:.1} ms; longest save median {save_med:.2} ms, max {save_max:.2} ms; file median {:.2} MB",
        samples.len(),
        sizes.get(sizes.len() / 2).map_or(0.0, |&b| b as f64 / 1e6)
    );
    println!(
        "median CPU per checkpoint: all the saves {saves_med:.1} ms, the manager {manager_med:.1} ms (and {manager_q:.1} ms waiting for a CPU), the whole process {process_med:.1} ms"
    );

    // The largest checkpoint, read back and checked.
    let Some(newest) = samples.iter().max_by_key(|s| s.bytes) else {
        println!("no checkpoint was taken");
        return;
    };
    let mut reads = Vec::new();
    for _ in 0..replays.clamp(1, 5) {
        let t = Instant::now();
        let info = glompo_core::manager::inspect(&newest.path).expect("the checkpoint reads back");
        reads.push(t.elapsed());
        assert_eq!(info.count, newest.count);
    }
    let (read_med, read_max) = stats(reads);
    println!(
        "inspect (read, check and decode the checkpoint): median {read_med:.1} ms, max {read_max:.1} ms"
    );
    let (save, clone, encode, size) = lone_save(&cma, &objective, 300, 20);
    println!(
        "one CMA-ES in {dim}-D alone after 300 generations: save (to a serde_json::Value) {:.2} ms, a clone of that value {:.2} ms, its encoding to a string {:.2} ms, {:.0} kB",
        ms(save),
        ms(clone),
        ms(encode),
        size as f64 / 1e3
    );
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
}
