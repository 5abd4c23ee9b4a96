//! The manager's side of a runner: its [`Control`], and the [`Directive`]s that carry it to a runner
//! in another process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::Message;
use super::RunnerRecipe;
use crate::evaluator::Admission;
use crate::point::Evaluation;

/// What a manager tells a runner in another process, one per line on the runner's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Directive {
    /// Stop at the next step; start no new evaluation.
    Stop,
    /// A new incumbent to offer the optimizer.
    Inject(Evaluation),
    /// This many more evaluations may start.
    Grant(u64),
    /// The `call_id` the next granted batch's first point will be logged under (a deterministic
    /// round); sent before its [`Directive::Grant`].
    CallIds(u64),
    /// Answer with [`Message::Saved`] at the next batch boundary.
    Save,
    /// Wait at the next batch boundary until resumed or stopped.
    Pause,
    /// Go on after a pause.
    Resume,
    /// In step mode: this many more batches may run.
    Step(u64),
}

/// The manager's side of one runner: a stop flag, a mailbox for shared incumbents, the runner's
/// evaluation credit, and the requests it answers at batch boundaries (saves, pause, steps).
///
/// A runner takes one credit before it starts each evaluation; with none left it waits until its
/// manager grants more or stops it. [`Control::default`] has unlimited credit (a run without an
/// evaluation budget); [`Control::with_credit`] starts with a given number.
#[derive(Debug)]
pub struct Control {
    stop: AtomicBool,
    injection: Mutex<Option<Evaluation>>,
    shared: Mutex<Shared>,
    changed: Condvar,
}

/// What the manager and the runner share behind one lock, so that one condition variable serves
/// every wait.
#[derive(Debug)]
struct Shared {
    /// Credits not taken yet; `None`: unlimited.
    left: Option<u64>,
    /// Credits granted so far, the first ones included.
    granted: u64,
    /// The `call_id` of the first point of the batch granted last, where the manager knows it.
    first_call_id: Option<u64>,
    /// Save requests made so far, and those the runner has taken (answered or is answering).
    saves_requested: u64,
    saves_taken: u64,
    /// Whether the runner is to wait at its next batch boundary.
    paused: bool,
    /// Steps given so far, and those the runner has taken (in step mode).
    steps_given: u64,
    steps_taken: u64,
    /// Bumped by every change, so that a relay can wait for news.
    version: u64,
}

/// What a runner has been asked so far ([`Control::requests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    /// The credits granted, the first ones included (0 for unlimited credit).
    pub granted: u64,
    /// The `call_id` of the first point of the batch granted last, if known.
    pub first_call_id: Option<u64>,
    /// The save requests made.
    pub save_requests: u64,
    /// Whether it is to wait at its batch boundaries.
    pub paused: bool,
    /// The steps given.
    pub steps_given: u64,
}

/// What a runner does at a batch boundary ([`Control::boundary`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Boundary {
    /// It was told to stop.
    Stop,
    /// Answer this many save requests, then come back.
    Save(u64),
    /// Something changed while it waited (an offer, a grant): look at it, then come back.
    News,
    /// Ask the next batch.
    Go,
}

impl Default for Control {
    fn default() -> Self {
        Control::build(None)
    }
}

impl Control {
    fn build(left: Option<u64>) -> Self {
        Control {
            stop: AtomicBool::new(false),
            injection: Mutex::new(None),
            shared: Mutex::new(Shared {
                left,
                granted: left.unwrap_or(0),
                first_call_id: None,
                saves_requested: 0,
                saves_taken: 0,
                paused: false,
                steps_given: 0,
                steps_taken: 0,
                version: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// A control whose runner may start `credit` evaluations before it needs a [`Control::grant`].
    pub fn with_credit(credit: u64) -> Self {
        Control::build(Some(credit))
    }

    /// The control a runner built from `recipe` starts with: no credit if it is
    /// [`limited`](RunnerRecipe::limited) (the manager grants its first), else unlimited credit.
    pub fn for_recipe(recipe: &RunnerRecipe) -> Self {
        if recipe.limited { Control::with_credit(0) } else { Control::default() }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes whoever waits on this control after a change.
    fn changed(&self, mut shared: std::sync::MutexGuard<'_, Shared>) {
        shared.version += 1;
        drop(shared);
        self.changed.notify_all();
    }

    /// Wakes whoever waits for news ([`Control::wait_for_news`]) without changing anything: a relay
    /// whose runner ended looks at it at once.
    pub fn wake(&self) {
        self.changed(self.shared());
    }

    /// Asks the runner to stop at its next step; its evaluator starts no new point.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.changed(self.shared());
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Offers a new incumbent; only the latest offer is kept until the runner takes it.
    pub fn offer(&self, best: Evaluation) {
        *self.injection.lock().unwrap_or_else(|e| e.into_inner()) = Some(best);
        self.changed(self.shared());
    }

    /// Takes the latest offered incumbent, if any.
    pub fn take_offer(&self) -> Option<Evaluation> {
        self.injection.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Lets the runner start `n` more evaluations (nothing changes for unlimited credit).
    pub fn grant(&self, n: u64) {
        let mut credit = self.shared();
        if let Some(left) = &mut credit.left {
            *left += n;
            credit.granted += n;
            self.changed(credit);
        }
    }

    /// Grants a whole batch of `n` evaluations whose first will be logged as `first_call_id` (a
    /// deterministic round): the runner's evaluations then know their `call_id`s.
    pub fn grant_batch(&self, n: u64, first_call_id: u64) {
        let mut credit = self.shared();
        credit.first_call_id = Some(first_call_id);
        if let Some(left) = &mut credit.left {
            *left += n;
            credit.granted += n;
        }
        self.changed(credit);
    }

    /// Sets the `call_id` of the next granted batch's first point (a runner process, from
    /// [`Directive::CallIds`]).
    fn set_first_call_id(&self, first: u64) {
        self.shared().first_call_id = Some(first);
    }

    /// The `call_id` of the first point of the batch granted last, where the manager knows it.
    pub fn first_call_id(&self) -> Option<u64> {
        self.shared().first_call_id
    }

    /// Whether the runner's evaluations are counted against a budget.
    pub fn is_limited(&self) -> bool {
        self.shared().left.is_some()
    }

    /// The credits granted so far, the first ones included (0 for unlimited credit).
    pub fn granted(&self) -> u64 {
        self.shared().granted
    }

    /// Takes one credit if the runner may start an evaluation now.
    pub fn try_admit(&self) -> Admission {
        if self.is_stopped() {
            return Admission::Cancelled;
        }
        let mut credit = self.shared();
        match &mut credit.left {
            None => Admission::Go,
            Some(0) => Admission::Wait,
            Some(left) => {
                *left -= 1;
                Admission::Go
            }
        }
    }

    /// Asks the runner to answer with [`Message::Saved`] at its next batch boundary (at once if it
    /// waits at one). Every request gets one answer, unless the runner ends first. A runner that
    /// finds both a save request and a step at a boundary answers the save first: to save after the
    /// batches of a [`Control::step`], wait for their [`Message::BatchDone`].
    pub fn request_save(&self) {
        let mut shared = self.shared();
        shared.saves_requested += 1;
        self.changed(shared);
    }

    /// The save requests made so far.
    pub fn save_requests(&self) -> u64 {
        self.shared().saves_requested
    }

    /// Makes the runner wait at its next batch boundary until [`Control::resume`] or a stop; the
    /// evaluations of the batch in flight finish normally.
    pub fn pause(&self) {
        self.set_paused(true);
    }

    /// Lets a paused runner go on.
    pub fn resume(&self) {
        self.set_paused(false);
    }

    fn set_paused(&self, paused: bool) {
        let mut shared = self.shared();
        if shared.paused != paused {
            shared.paused = paused;
            self.changed(shared);
        }
    }

    /// Whether the runner is to wait at its batch boundaries.
    pub fn is_paused(&self) -> bool {
        self.shared().paused
    }

    /// Lets a runner in step mode ([`RunnerRecipe::stepped`]) run `n` more batches; it sends
    /// [`Message::BatchDone`] after each and waits at the boundary when it has no step left. No
    /// effect on a runner that is not in step mode.
    pub fn step(&self, n: u64) {
        if n > 0 {
            let mut shared = self.shared();
            shared.steps_given += n;
            self.changed(shared);
        }
    }

    /// The steps given so far.
    pub fn steps_given(&self) -> u64 {
        self.shared().steps_given
    }

    /// What the runner has been asked so far, read at once: a relay that forwards it never shows the
    /// runner a later request without an earlier one (a save requested after a pause arrives after
    /// the pause).
    pub fn requests(&self) -> Requests {
        let shared = self.shared();
        Requests {
            granted: shared.granted,
            first_call_id: shared.first_call_id,
            save_requests: shared.saves_requested,
            paused: shared.paused,
            steps_given: shared.steps_given,
        }
    }

    /// The runner's side of a batch boundary: what to do next, after waiting while paused or, when
    /// `stepped`, while no step is left. A stop wins over everything; saves are answered before a wait
    /// and during it. Waits on the condition variable that every change notifies.
    pub(super) fn boundary(&self, stepped: bool) -> Boundary {
        let mut shared = self.shared();
        let entered = shared.version;
        loop {
            if self.is_stopped() {
                return Boundary::Stop;
            }
            if shared.saves_requested > shared.saves_taken {
                let n = shared.saves_requested - shared.saves_taken;
                shared.saves_taken = shared.saves_requested;
                return Boundary::Save(n);
            }
            let has_step = !stepped || shared.steps_given > shared.steps_taken;
            if !shared.paused && has_step {
                if stepped {
                    shared.steps_taken += 1;
                }
                return Boundary::Go;
            }
            if shared.version != entered {
                return Boundary::News;
            }
            shared = self.changed.wait(shared).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits until a stop or a grant, or at most `timeout`.
    pub(super) fn wait_for_credit(&self, timeout: Duration) {
        let credit = self.shared();
        let starved = |c: &mut Shared| c.left == Some(0) && !self.is_stopped();
        let _ = self.changed.wait_timeout_while(credit, timeout, starved);
    }

    /// Waits until anything changed since `seen` (a stop, an offer, a grant, a save request, a pause,
    /// a resume or a step), or at most `timeout`, and returns the version to wait from next time.
    /// Relays to runners in other processes use it.
    pub fn wait_for_news(&self, seen: u64, timeout: Duration) -> u64 {
        let credit = self.shared();
        let (credit, _) = self
            .changed
            .wait_timeout_while(credit, timeout, |c| c.version == seen)
            .unwrap_or_else(|e| e.into_inner());
        credit.version
    }

    /// Applies a directive from the manager (the runner's side of a process backend).
    pub fn apply(&self, directive: Directive) {
        match directive {
            Directive::Stop => self.stop(),
            Directive::Inject(best) => self.offer(best),
            Directive::Grant(n) => self.grant(n),
            Directive::CallIds(first) => self.set_first_call_id(first),
            Directive::Save => self.request_save(),
            Directive::Pause => self.pause(),
            Directive::Resume => self.resume(),
            Directive::Step(n) => self.step(n),
        }
    }
}
