//! The live display of a run on a terminal: a progress bar of the evaluations against the budget
//! (a spinner when the stop criterion sets none), the best value, the optimizers alive, started,
//! killed and converged, evaluations per second, the time elapsed and an ETA.
//!
//! It is an observer of the run's [`Event::Progress`], redrawn at most ten times a second on stderr,
//! and hidden by indicatif when stderr is not a terminal (a batch job's log gets the plain status
//! line instead: [`ManagerBuilder::status`](super::ManagerBuilder::status)); what it says of an
//! interrupt ([`LiveDisplay::interrupt`]) is printed either way.
//!
//! ```
//! use std::sync::Arc;
//! use glompo_core::manager::Manager;
//! use glompo_core::selector::{CycleSelector, OptimizerSpec};
//! use glompo_core::{checker, functions, testing::ScriptedFactory};
//!
//! let sphere = functions::build("sphere", 2, &Default::default())?;
//! let bounds = sphere.bounds();
//! let spec = OptimizerSpec::new(Arc::new(ScriptedFactory::descending()));
//! let result = Manager::builder(Arc::new(sphere), bounds)
//!     .selector(Box::new(CycleSelector::new(vec![spec])?))
//!     .checker(checker::max_evals(100))
//!     .live_display()
//!     .build()?
//!     .run()?;
//! assert_eq!(result.counters.evaluations, 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::event::{Event, Observe};
use super::{Interrupt, Progress};
use crate::error::Result;

/// The live display of a run on stderr: a bar of the evaluations against the budget (a spinner
/// without one), the best value, the optimizers and the rate; hidden when stderr is not a terminal.
#[derive(Debug)]
pub struct LiveDisplay {
    bar: ProgressBar,
    /// Whether the bar has a length (the run has a budget).
    bounded: bool,
    /// The interrupt the run watches, to say that it is stopping.
    interrupt: Option<Arc<Interrupt>>,
    /// How many interrupts were announced.
    announced: u32,
    /// The last evaluation count and when it was seen, for the rate.
    last: (Instant, u64),
    /// Evaluations per second, smoothed.
    rate: f64,
}

impl Default for LiveDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveDisplay {
    /// A display on stderr (drawn only when stderr is a terminal).
    pub fn new() -> Self {
        Self::on(ProgressDrawTarget::stderr_with_hz(10))
    }

    /// A display drawn on `target`.
    pub fn on(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(spinner_style());
        LiveDisplay {
            bar,
            bounded: false,
            interrupt: None,
            announced: 0,
            last: (Instant::now(), 0),
            rate: 0.0,
        }
    }

    /// The bar, to print around it: `bar.suspend(|| ...)` hides it while something else writes to the
    /// terminal (diagnostics lines, say).
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Says so on the display when `interrupt` is raised: that the run is stopping and that a second
    /// interrupt forces it.
    pub fn interrupt(mut self, interrupt: Arc<Interrupt>) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    fn update(&mut self, p: &Progress) {
        if let Some(budget) = p.budget
            && !self.bounded
        {
            self.bounded = true;
            self.bar.set_length(budget);
            self.bar.set_style(bar_style());
        }
        let evaluations = p.counters.evaluations;
        let (then, before) = self.last;
        let dt = then.elapsed().as_secs_f64();
        if dt >= 0.5 {
            let now = (evaluations - before.min(evaluations)) as f64 / dt;
            self.rate = if self.rate == 0.0 { now } else { 0.5 * self.rate + 0.5 * now };
            self.last = (Instant::now(), evaluations);
        }
        self.bar.set_position(evaluations);
        self.bar.set_message(message(p, self.rate));
        self.announce();
    }

    /// Prints, once each, that the run is stopping and that it is forced.
    fn announce(&mut self) {
        let Some(interrupt) = &self.interrupt else { return };
        let count = interrupt.count();
        let bar = &self.bar;
        // Not on a terminal the bar is hidden, and what it would print goes to stderr as a line.
        let say = |line: String| if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) };
        if count >= 1 && self.announced == 0 {
            say(format!(
                "glompo: {} received: stopping (a checkpoint, the evaluations in flight, the summary); \
                 press Ctrl-C again to stop at once",
                interrupt.cause()
            ));
        }
        if count >= 2 && self.announced < 2 {
            say("glompo: second interrupt: abandoning the evaluations in flight".to_owned());
        }
        self.announced = self.announced.max(count.min(2));
    }
}

impl Observe for LiveDisplay {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            Event::Progress(p) => self.update(p),
            Event::Finished(_) => self.bar.finish_and_clear(),
            _ => {}
        }
        Ok(())
    }
}

impl Drop for LiveDisplay {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// The line after the bar: best, optimizers, rate.
fn message(p: &Progress, rate: f64) -> String {
    let c = &p.counters;
    let mut text = String::new();
    match p.best {
        Some((fx, id)) => {
            let _ = write!(text, "best {fx:.6e} (opt {id})");
        }
        None => text.push_str("no value yet"),
    }
    let _ = write!(
        text,
        " | optimizers {} alive, {} started, {} killed, {} converged",
        p.alive, c.optimizers_started, c.optimizers_killed, c.optimizers_converged
    );
    if c.optimizers_crashed > 0 {
        let _ = write!(text, ", {} crashed", c.optimizers_crashed);
    }
    let _ = write!(text, " | {} evals/s", human_rate(rate));
    text
}

/// `1.2M`, `35.0k`, `12.5`.
fn human_rate(rate: f64) -> String {
    match rate {
        r if r >= 1e6 => format!("{:.1}M", r / 1e6),
        r if r >= 1e3 => format!("{:.1}k", r / 1e3),
        r => format!("{r:.1}"),
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30.cyan/blue}] {human_pos}/{human_len} evals, ETA {eta}\n  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {elapsed_precise} {human_pos} evals\n  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::Counters;

    fn progress(evaluations: u64, budget: Option<u64>) -> Progress {
        Progress {
            seconds: 1.0,
            counters: Counters {
                evaluations,
                optimizers_started: 3,
                optimizers_killed: 1,
                ..Counters::default()
            },
            best: Some((0.125, 2)),
            alive: 2,
            busy_slots: 2,
            max_jobs: 2,
            budget,
        }
    }

    #[test]
    fn the_bar_follows_the_budget_and_the_message_names_the_counters() {
        let mut live = LiveDisplay::on(ProgressDrawTarget::hidden());
        live.update(&progress(10, None));
        assert_eq!(live.bar.length(), None, "a spinner without a budget");
        live.update(&progress(250, Some(1000)));
        assert_eq!((live.bar.position(), live.bar.length()), (250, Some(1000)));
        let text = message(&progress(250, Some(1000)), 1234.0);
        assert_eq!(
            text,
            "best 1.250000e-1 (opt 2) | optimizers 2 alive, 3 started, 1 killed, 0 converged | 1.2k evals/s"
        );
    }

    #[test]
    fn an_interrupt_is_announced_once_and_a_second_one_once_more() {
        let interrupt = Arc::new(Interrupt::new());
        let mut live = LiveDisplay::on(ProgressDrawTarget::hidden()).interrupt(Arc::clone(&interrupt));
        live.update(&progress(1, None));
        assert_eq!(live.announced, 0);
        interrupt.raise(2);
        live.update(&progress(2, None));
        live.update(&progress(3, None));
        assert_eq!(live.announced, 1);
        interrupt.raise(2);
        live.update(&progress(4, None));
        assert_eq!(live.announced, 2);
    }
}
