//! The worker side of [`crate::command`]: a program that answers evaluation requests on its stdin.
//!
//! [`serve`] is the loop `glompo __worker` runs for a built-in function. One request per line,
//! `{"x": [...]}`; one answer per line: `{"fx": 1.5}`, `{"fx": 1.5, "extras": {...}}`, or
//! `{"error": "why"}`. Values are exact: a finite one is written in its shortest round-trip form, and a
//! non-finite one by name, `{"fx": "inf"}`, `"-inf"` or `"nan"` ([`glompo_core::exact`]); requests may
//! name non-finite coordinates the same way. See [`crate::command`] for everything the manager reads.
//!
//! A Rust program evaluates its own [`Objective`] in worker processes the same way: it calls
//! [`serve_if_worker`] first thing in `main`, and gives its optimizers the
//! [`Processes`](crate::Processes) evaluator of [`CommandSpec::this_program`]. The workers are the
//! program itself, executed again (fork, then exec: nothing is forked from a process that already has
//! threads), so an objective that is not thread-safe, leaks, aborts or segfaults costs a worker, never
//! the manager:
//!
//! ```rust,standalone_crate
//! use std::sync::Arc;
//!
//! use glompo_backends::worker::serve_if_worker;
//! use glompo_backends::{CommandObjective, CommandSpec, Processes};
//! use glompo_core::objective::from_fn;
//! use glompo_core::selector::{CycleSelector, OptimizerSpec};
//! use glompo_core::testing::ScriptedFactory;
//! use glompo_core::{Bounds, Objective, checker, manager::Manager};
//!
//! fn model() -> impl Objective {
//!     println!("loading the model"); // in a worker, this goes to stderr too
//!     from_fn(|x: &[f64]| {
//!         // Prints go to stderr in a worker; they cannot garble its answers.
//!         println!("evaluating {x:?}");
//!         if x[0] > 1e6 {
//!             std::process::abort(); // a crash costs a worker, not the manager
//!         }
//!         x.iter().map(|v| v * v).sum()
//!     })
//! }
//!
//! fn main() {
//!     // In a worker this serves requests and exits; in the manager it returns at once.
//!     serve_if_worker(model);
//!
//!     // The workers as an objective of their own...
//!     let workers = CommandObjective::new(CommandSpec::this_program(Vec::<String>::new())).unwrap();
//!     assert_eq!(workers.evaluate(&[3.0, 4.0]).unwrap(), 25.0);
//!     let crash = workers.evaluate(&[2e6, 0.0]).unwrap_err();
//!     // The error ends with the last lines the worker wrote on its stderr.
//!     assert!(crash.message().contains("the worker was killed by SIGABRT; its stderr ended with: "), "{crash}");
//!     assert!(crash.message().ends_with(r#"\nevaluating [2000000.0, 0.0]""#), "{crash}");
//!     assert_eq!(workers.evaluate(&[1.0, 2.0]).unwrap(), 5.0); // a fresh worker took over
//!
//!     // ...or as the level-2 evaluator of a run's optimizers (any optimizer factory will do).
//!     let in_workers = Arc::new(Processes::new(CommandSpec::this_program(Vec::<String>::new())));
//!     let spec = OptimizerSpec::new(Arc::new(ScriptedFactory::descending().batch(4)))
//!         .workers(2)
//!         .evaluator(in_workers);
//!     let result = Manager::builder(Arc::new(model()), Bounds::uniform(3, -2.0, 2.0).unwrap())
//!         .selector(Box::new(CycleSelector::new(vec![spec]).unwrap()))
//!         .checker(checker::max_evals(40))
//!         .max_jobs(2)
//!         .build()
//!         .unwrap()
//!         .run()
//!         .unwrap();
//!     assert!(result.counters.evaluations >= 40);
//!     assert_eq!(result.counters.failed_evaluations, 0);
//! }
//! ```

use std::io::{BufRead, Write};
use std::os::fd::AsFd;

use glompo_core::{EvalContext, Objective};
use serde_json::{Value, json};

use crate::command::CommandSpec;

/// The environment variable that tells a program started by [`CommandSpec::this_program`] to serve.
pub const WORKER_ENV: &str = "GLOMPO_WORKER";

/// In a worker started from [`CommandSpec::this_program`], builds the objective with `build`, serves
/// requests until the manager closes the worker's input, and exits the process; anywhere else, returns
/// at once without calling `build`.
///
/// Call it first thing in `main`: before threads, before parsing arguments, before
/// [`crate::reaper::mark_self`] (a worker must keep its manager's run marker). Stdout is pointed at
/// stderr before `build` runs, so nothing `build` or the objective prints, and no process they start,
/// can reach the answers. [`WORKER_ENV`] stays set for the processes the objective starts: a helper
/// program that itself calls `serve_if_worker` would serve too.
pub fn serve_if_worker<O: Objective>(build: impl FnOnce() -> O) {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    // Before `build`: what it prints, and the processes it starts, must not get the answers' pipe.
    let served = answer_channel().and_then(|answers| {
        let objective = build();
        serve_on(&objective, answers)
    });
    let code = match served {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("glompo worker: {e}");
            1
        }
    };
    std::process::exit(code);
}

impl CommandSpec {
    /// Workers that are this very program executed again (`/proc/self/exe`) with `args` and
    /// [`WORKER_ENV`] set, for a program that calls [`serve_if_worker`] first thing in `main`.
    pub fn this_program<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        let argv = std::iter::once("/proc/self/exe".to_owned()).chain(args.into_iter().map(Into::into));
        CommandSpec { env: vec![(WORKER_ENV.to_owned(), "1".to_owned())], ..CommandSpec::new(argv) }
    }
}

/// Answers the requests on stdin with `objective` until stdin closes.
///
/// The answers go to the stdout the program was started with; the program's own stdout is pointed at
/// its stderr first, so that whatever the objective prints cannot be taken for an answer.
pub fn serve(objective: &dyn Objective) -> std::io::Result<()> {
    serve_on(objective, answer_channel()?)
}

/// Takes the stdout the program was started with for the answers (a copy that closes on exec, so no
/// process the objective starts holds it) and points stdout at stderr.
fn answer_channel() -> std::io::Result<std::fs::File> {
    let answers = std::io::stdout().as_fd().try_clone_to_owned()?;
    nix::unistd::dup2_stdout(std::io::stderr()).map_err(std::io::Error::from)?;
    Ok(std::fs::File::from(answers))
}

/// The request loop of [`serve`], answering on `answers`.
fn serve_on(objective: &dyn Objective, answers: std::fs::File) -> std::io::Result<()> {
    let mut answers = std::io::BufWriter::new(answers);
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        writeln!(answers, "{}", answer(objective, &line))?;
        answers.flush()?;
    }
    Ok(())
}

/// The answer line to one request line.
fn answer(objective: &dyn Objective, request: &str) -> Value {
    let coordinate =
        |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(glompo_core::exact::parse_nonfinite));
    let value = serde_json::from_str::<Value>(request).ok();
    let x = value
        .as_ref()
        .and_then(|v| v.get("x")?.as_array()?.iter().map(coordinate).collect::<Option<Vec<f64>>>());
    // The request's ids, where the manager sent them, reach the objective as they would in-process.
    let id = |key: &str| value.as_ref().and_then(|v| v.get(key)?.as_u64());
    let ctx = EvalContext {
        opt_id: id("opt_id").unwrap_or(0),
        eval: id("eval_id").unwrap_or(0),
        call_id: id("call_id"),
        detailed: true,
    };
    match x {
        None => json!({"error": format!("bad request {request:?}: expected {{\"x\": [numbers]}}")}),
        Some(x) => match glompo_core::evaluator::evaluate_one(objective, &x, &ctx) {
            Ok(out) => match glompo_core::exact::nonfinite_name(out.fx) {
                None => json!({"fx": out.fx, "extras": out.extras}),
                Some(name) => json!({"fx": name, "extras": out.extras}),
            },
            Err(e) => json!({"error": e.message()}),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glompo_core::objective::from_fn;

    #[test]
    fn answers_values_errors_and_bad_requests() {
        let f = from_fn(|x: &[f64]| {
            assert!(x[0] >= 0.0, "negative input");
            if x[0] > 20.0 {
                f64::NEG_INFINITY
            } else if x[0] > 10.0 {
                f64::INFINITY
            } else {
                x[0] * 2.0
            }
        });
        assert_eq!(answer(&f, r#"{"x": [1.5]}"#), json!({"fx": 3.0, "extras": null}));
        // Non-finite values are named, as glompo_core::exact writes them.
        assert_eq!(answer(&f, r#"{"x": [11]}"#), json!({"fx": "inf", "extras": null}));
        assert_eq!(answer(&f, r#"{"x": [21]}"#), json!({"fx": "-inf", "extras": null}));
        assert_eq!(answer(&f, r#"{"x": ["inf"]}"#), json!({"fx": "-inf", "extras": null}));
        let nan = from_fn(|x: &[f64]| x[0] - x[0]);
        assert_eq!(answer(&nan, r#"{"x": ["inf"]}"#), json!({"fx": "nan", "extras": null}));
        // Finite values are written so that they read back to the same bits.
        let third = from_fn(|_: &[f64]| 1.0 / 3.0);
        let line = answer(&third, r#"{"x": [0]}"#).to_string();
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap()["fx"].as_f64().unwrap().to_bits(),
            (1.0_f64 / 3.0).to_bits()
        );
        assert_eq!(answer(&f, r#"{"x": [-1]}"#), json!({"error": "panicked: negative input"}));
        assert_eq!(
            answer(&f, r#"{"y": 1}"#),
            json!({"error": "bad request \"{\\\"y\\\": 1}\": expected {\"x\": [numbers]}"})
        );
    }
}
