//! `glompo __worker OBJECTIVE`: a worker process of the `processes` evaluator. It builds the built-in
//! function from its resolved config and answers one JSON line per request line until stdin closes
//! (the protocol of `glompo_backends::command`).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use glompo_core::{Objective, functions};
use serde_json::{Map, Value, json};

pub(crate) fn serve(objective: &str) -> ExitCode {
    let f = match serde_json::from_str::<Map<String, Value>>(objective).map_err(|e| e.to_string()).and_then(
        |mut map| {
            let name =
                map.remove("function").and_then(|v| v.as_str().map(str::to_owned)).ok_or("no `function`")?;
            let dim = map.remove("dim").and_then(|v| v.as_u64()).ok_or("no `dim`")? as usize;
            functions::build(&name, dim, &map).map_err(|e| e.to_string())
        },
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("glompo worker: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let answer = match serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v.get("x")?.as_array()?.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
        {
            None => json!({"error": format!("bad request {line:?}: expected {{\"x\": [numbers]}}")}),
            Some(x) => match f.evaluate_detailed(&x) {
                Ok(out) if out.fx.is_finite() => json!({"fx": out.fx, "extras": out.extras}),
                Ok(_) => json!({"fx": null}),
                Err(e) => json!({"error": e.message()}),
            },
        };
        if writeln!(stdout, "{answer}").and_then(|()| stdout.flush()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
