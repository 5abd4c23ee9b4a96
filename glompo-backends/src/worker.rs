//! The worker side of [`crate::command`]: a program that answers evaluation requests on its stdin.
//!
//! [`serve`] is the loop `glompo __worker` runs for a built-in function; any Rust program can run it for
//! its own [`Objective`]. One request per line, `{"x": [...]}`; one answer per line: `{"fx": 1.5}`,
//! `{"fx": 1.5, "extras": {...}}`, `{"fx": null}` for a non-finite value, or `{"error": "why"}`.

use std::io::{BufRead, Write};
use std::os::fd::AsFd;

use glompo_core::Objective;
use serde_json::{Value, json};

/// Answers the requests on stdin with `objective` until stdin closes.
///
/// The answers go to the stdout the program was started with; the program's own stdout is pointed at
/// its stderr first, so that whatever the objective prints cannot be taken for an answer.
pub fn serve(objective: &dyn Objective) -> std::io::Result<()> {
    let answers = std::io::stdout().as_fd().try_clone_to_owned()?;
    nix::unistd::dup2_stdout(std::io::stderr()).map_err(std::io::Error::from)?;
    let mut answers = std::io::BufWriter::new(std::fs::File::from(answers));
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        writeln!(answers, "{}", answer(objective, &line))?;
        answers.flush()?;
    }
    Ok(())
}

/// The answer line to one request line.
fn answer(objective: &dyn Objective, request: &str) -> Value {
    let x = serde_json::from_str::<Value>(request)
        .ok()
        .and_then(|v| v.get("x")?.as_array()?.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>());
    match x {
        None => json!({"error": format!("bad request {request:?}: expected {{\"x\": [numbers]}}")}),
        Some(x) => match glompo_core::evaluator::evaluate_one(objective, &x, true) {
            Ok(out) if out.fx.is_finite() => json!({"fx": out.fx, "extras": out.extras}),
            Ok(_) => json!({"fx": null}),
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
            if x[0] > 10.0 { f64::INFINITY } else { x[0] * 2.0 }
        });
        assert_eq!(answer(&f, r#"{"x": [1.5]}"#), json!({"fx": 3.0, "extras": null}));
        assert_eq!(answer(&f, r#"{"x": [11]}"#), json!({"fx": null}));
        assert_eq!(answer(&f, r#"{"x": [-1]}"#), json!({"error": "panicked: negative input"}));
        assert_eq!(
            answer(&f, r#"{"y": 1}"#),
            json!({"error": "bad request \"{\\\"y\\\": 1}\": expected {\"x\": [numbers]}"})
        );
    }
}
