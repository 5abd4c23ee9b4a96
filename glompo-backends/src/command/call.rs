//! What one evaluation gives the program: its ids in the environment and in the request, the point
//! substituted into the arguments of a per-call program, and its scratch directory.

use std::path::{Path, PathBuf};

use glompo_core::{EvalContext, EvalOutput, exact};

use super::protocol::{parse_answer, point_json};
use super::{CommandSpec, Failure};

/// The variable that holds the evaluation's optimizer id.
pub const OPT_ID_ENV: &str = "GLOMPO_OPT_ID";
/// The variable that holds the optimizer's evaluation number ([`EvalContext::eval`]).
pub const EVAL_ID_ENV: &str = "GLOMPO_EVAL_ID";
/// The variable that holds the evaluation's `call_id`, set only where it is known beforehand.
pub const CALL_ID_ENV: &str = "GLOMPO_CALL_ID";
/// The variable that holds the evaluation's scratch directory, when it has one.
pub const SCRATCH_ENV: &str = "GLOMPO_SCRATCH";

/// The tokens an argument of a per-call program may hold, for messages.
pub const TOKENS: &str = "{x} (the point as a JSON list), {x0}, {x1}, … (one coordinate), {opt_id}, {eval_id}, \
                          {scratch}, and {{ and }} for braces";

/// A piece of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Point,
    Coordinate(usize),
    OptId,
    EvalId,
    Scratch,
}

/// Splits `arg` into text and tokens; an unknown or unclosed token is an error saying so.
fn pieces(arg: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
            continue;
        }
        if let Some(after) = tail.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
            continue;
        }
        if tail.starts_with('}') {
            return Err(format!("a lone `}}` in {arg:?}; write `}}}}` for a brace; the tokens are {TOKENS}"));
        }
        let Some(end) = tail.find('}') else {
            return Err(format!("an unclosed `{{` in {arg:?}; write `{{{{` for a brace"));
        };
        let name = &tail[1..end];
        out.push(match name {
            "x" => Piece::Point,
            "opt_id" => Piece::OptId,
            "eval_id" => Piece::EvalId,
            "scratch" => Piece::Scratch,
            _ => match name.strip_prefix('x').and_then(|i| i.parse::<usize>().ok()) {
                Some(i) if !name[1..].starts_with('+') => Piece::Coordinate(i),
                _ => return Err(format!("unknown token `{{{name}}}` in {arg:?}; the tokens are {TOKENS}")),
            },
        });
        rest = &tail[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks the arguments of a per-call program (not the program itself) for a point of `dim`
/// coordinates, `scratch` saying whether evaluations have a scratch directory. Returns whether any
/// argument takes the point (then the program gets nothing on stdin), or the index in `argv` of the
/// first bad argument and what is wrong with it.
pub fn check_arguments(argv: &[String], dim: usize, scratch: bool) -> Result<bool, (usize, String)> {
    let mut takes_point = false;
    for (i, arg) in argv.iter().enumerate().skip(1) {
        for piece in pieces(arg).map_err(|e| (i, e))? {
            match piece {
                Piece::Point => takes_point = true,
                Piece::Coordinate(c) if c < dim => takes_point = true,
                Piece::Coordinate(c) => {
                    return Err((i, format!("`{{x{c}}}` in {arg:?}, but the point has {dim} coordinates")));
                }
                Piece::Scratch if !scratch => {
                    return Err((i, format!("`{{scratch}}` in {arg:?}, but `scratch` is not asked for")));
                }
                Piece::Text(_) | Piece::OptId | Piece::EvalId | Piece::Scratch => {}
            }
        }
    }
    Ok(takes_point)
}

/// Whether an argument of `spec` takes the point (a bad one is found when it is expanded).
pub(super) fn takes_point(spec: &CommandSpec) -> bool {
    spec.argv.iter().skip(1).any(|arg| {
        pieces(arg).is_ok_and(|p| p.iter().any(|p| matches!(p, Piece::Point | Piece::Coordinate(_))))
    })
}

/// `arg` with its tokens replaced for the evaluation of `x` in `ctx`.
fn expand(arg: &str, x: &[f64], ctx: &EvalContext, scratch: Option<&Path>) -> Result<String, String> {
    let mut out = String::with_capacity(arg.len());
    for piece in pieces(arg)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Point => out.push_str(&point_json(x).map_err(|e| format!("cannot write the point: {e}"))?),
            Piece::Coordinate(i) => match x.get(i) {
                Some(&v) => out.push_str(&number(v)),
                None => return Err(format!("`{{x{i}}}`, but the point has {} coordinates", x.len())),
            },
            Piece::OptId => out.push_str(&ctx.opt_id.to_string()),
            Piece::EvalId => out.push_str(&ctx.eval.to_string()),
            Piece::Scratch => match scratch {
                Some(dir) => out.push_str(&dir.to_string_lossy()),
                None => return Err("`{scratch}`, but the evaluation has no scratch directory".into()),
            },
        }
    }
    Ok(out)
}

/// A coordinate as the shortest text that reads back to the same bits (`nan`, `inf`, `-inf` for the
/// non-finite ones, which bounds rule out).
fn number(v: f64) -> String {
    match exact::nonfinite_name(v) {
        Some(name) => name.to_owned(),
        None => format!("{v:?}"),
    }
}

/// The spec of the program run for one evaluation of a per-call `spec`: its arguments expanded, the
/// evaluation's variables added, and its scratch directory as the working directory if asked.
pub(super) fn launch(
    spec: &CommandSpec,
    x: &[f64],
    ctx: &EvalContext,
    scratch: Option<&Path>,
) -> Result<CommandSpec, String> {
    let mut argv = Vec::with_capacity(spec.argv.len());
    argv.push(spec.argv[0].clone());
    for arg in &spec.argv[1..] {
        argv.push(expand(arg, x, ctx, scratch)?);
    }
    let mut env = spec.env.clone();
    env.extend(variables(ctx, scratch));
    let cwd = match (scratch, &spec.scratch) {
        (Some(dir), Some(s)) if s.cwd => Some(dir.to_path_buf()),
        _ => spec.cwd.clone(),
    };
    Ok(CommandSpec { argv, env, cwd, ..spec.clone() })
}

/// The evaluation's variables: its ids (`GLOMPO_CALL_ID` only where it is known) and its scratch
/// directory.
pub(super) fn variables(ctx: &EvalContext, scratch: Option<&Path>) -> Vec<(String, String)> {
    let mut env =
        vec![(OPT_ID_ENV.to_owned(), ctx.opt_id.to_string()), (EVAL_ID_ENV.to_owned(), ctx.eval.to_string())];
    env.extend(ctx.call_id.map(|c| (CALL_ID_ENV.to_owned(), c.to_string())));
    env.extend(scratch.map(|dir| (SCRATCH_ENV.to_owned(), dir.to_string_lossy().into_owned())));
    env
}

/// Reads the value from the last non-empty line a per-call program wrote: a number (`1.5`, `nan`,
/// `-inf`), or an answer object as persistent workers write (`{"fx": 1.5, "extras": …}`, `{"error":
/// …}`).
pub(super) fn parse_last_line(output: &[u8]) -> Result<EvalOutput, Failure> {
    let text = String::from_utf8_lossy(output);
    let Some(line) = text.lines().map(str::trim).rfind(|l| !l.is_empty()) else {
        return Err(Failure::Broken("the program wrote nothing on its stdout".into()));
    };
    if line.starts_with('{') {
        return parse_answer(line);
    }
    let fx = exact::parse_nonfinite(line).or_else(|| line.parse::<f64>().ok()).ok_or_else(|| {
        Failure::Broken(format!(
            "the last line the program wrote is {line:?}, which is neither a number nor an answer such as \
             {{\"fx\": 1.5}}"
        ))
    })?;
    Ok(EvalOutput { fx, extras: None })
}

/// Whether `program` can be run: a path (with a `/`) to an executable file, or a name of one on
/// `PATH`; `Err` says why not, as a failed start would (`cannot start: …`).
pub(super) fn runnable(program: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return match std::fs::metadata(program) {
            Err(e) => Err(format!("cannot start: {e}")),
            Ok(_) if executable(Path::new(program)) => Ok(()),
            Ok(_) => Err("cannot start: it is not an executable file".into()),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| executable(&dir.join(program))) {
        Ok(())
    } else {
        Err("cannot start: not found on PATH".into())
    }
}

/// Makes the scratch directory of the evaluation `ctx` under `base`: `opt0003-eval000012` (with
/// `-call00000057` where the `call_id` is known), or with `.1`, `.2`, … after it if that exists (a
/// resumed run, or evaluations outside a run).
pub(super) fn make_scratch(base: &Path, ctx: &EvalContext) -> Result<PathBuf, String> {
    let cannot =
        |dir: &Path, e: std::io::Error| format!("cannot make the scratch directory {}: {e}", dir.display());
    std::fs::create_dir_all(base).map_err(|e| cannot(base, e))?;
    let mut name = format!("opt{:04}-eval{:06}", ctx.opt_id, ctx.eval);
    if let Some(call_id) = ctx.call_id {
        name += &format!("-call{call_id:08}");
    }
    for n in 0..1000 {
        let dir = if n == 0 { base.join(&name) } else { base.join(format!("{name}.{n}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(cannot(&dir, e)),
        }
    }
    Err(format!(
        "cannot make the scratch directory {}: 1000 of its names are taken",
        base.join(name).display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EvalContext {
        EvalContext { opt_id: 3, eval: 12, call_id: None, detailed: false }
    }

    #[test]
    fn arguments_take_the_point_the_ids_and_the_scratch_directory() {
        let x = [0.1 + 0.2, -2.0, 1e-300];
        let scratch = Path::new("/tmp/s");
        let got =
            expand("--x={x} a={x0},{x2} {{lit}} o{opt_id}e{eval_id} {scratch}/in", &x, &ctx(), Some(scratch));
        assert_eq!(
            got.unwrap(),
            "--x=[0.30000000000000004,-2.0,1e-300] a=0.30000000000000004,1e-300 {lit} o3e12 /tmp/s/in"
        );
        assert_eq!(expand("plain", &x, &ctx(), None).unwrap(), "plain");
        let argv: Vec<String> = ["prog", "{x1}", "--id={opt_id}"].map(String::from).to_vec();
        assert_eq!(check_arguments(&argv, 2, false), Ok(true));
        let argv: Vec<String> = ["{x}", "--id={opt_id}"].map(String::from).to_vec();
        assert_eq!(check_arguments(&argv, 2, false), Ok(false), "the program itself is not expanded");
    }

    #[test]
    fn bad_tokens_name_the_argument_and_what_is_wrong() {
        let check = |arg: &str, dim, scratch| {
            check_arguments(&["prog".into(), "ok".into(), arg.into()], dim, scratch)
        };
        let err = check("{y}", 2, false).unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.starts_with("unknown token `{y}` in \"{y}\"; the tokens are {x}"), "{}", err.1);
        assert!(check("{x2}", 2, false).unwrap_err().1.contains("the point has 2 coordinates"));
        assert!(check("{x+1}", 2, false).unwrap_err().1.contains("unknown token `{x+1}`"));
        assert!(check("{scratch}", 2, false).unwrap_err().1.contains("`scratch` is not asked for"));
        assert_eq!(check("{scratch}", 2, true), Ok(false));
        assert!(check("a{x", 2, false).unwrap_err().1.contains("unclosed"));
        assert!(check("a}b", 2, false).unwrap_err().1.contains("lone `}`"));
    }

    #[test]
    fn the_last_line_is_a_number_or_an_answer() {
        let fx = |out: &str| match parse_last_line(out.as_bytes()) {
            Ok(o) => Ok(o.fx),
            Err(Failure::Answered(m) | Failure::Broken(m)) => Err(m),
        };
        assert_eq!(fx("step 1\nstep 2\n0.30000000000000004\n\n"), Ok(0.1 + 0.2));
        assert_eq!(fx("-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(fx("log\n{\"fx\": 2.5}\n"), Ok(2.5));
        assert_eq!(fx("{\"error\": \"diverged\"}"), Err("diverged".into()));
        assert!(fx("1.5\ndone\n").unwrap_err().contains("\"done\", which is neither a number"));
        assert!(fx("\n \n").unwrap_err().contains("wrote nothing"));
    }

    #[test]
    fn scratch_directories_are_named_by_the_ids_and_never_shared() {
        let base = std::env::temp_dir().join(format!("glompo-scratch-test-{}", std::process::id()));
        let first = make_scratch(&base, &ctx()).unwrap();
        let second = make_scratch(&base, &ctx()).unwrap();
        let known = make_scratch(&base, &EvalContext { call_id: Some(57), ..ctx() }).unwrap();
        assert_eq!(first, base.join("opt0003-eval000012"));
        assert_eq!(second, base.join("opt0003-eval000012.1"));
        assert_eq!(known, base.join("opt0003-eval000012-call00000057"));
        assert!(first.is_dir() && second.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
