//! `glompo __worker OBJECTIVE`: a worker process of the `processes` evaluator. It builds the built-in
//! function from its resolved config and answers one JSON line per request line until stdin closes
//! (the protocol of `glompo_backends::command`).

use std::process::ExitCode;

use glompo_core::functions;
use serde_json::{Map, Value};

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
    match glompo_backends::worker::serve(&f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("glompo worker: {e}");
            ExitCode::FAILURE
        }
    }
}
