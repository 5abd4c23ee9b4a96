//! Automation for the glompo workspace: `cargo xtask <task>`.
//!
//! - `ci`: fmt check, clippy with `-D warnings`, the tests, rustdoc with `-D warnings`, tidy;
//! - `test`: the whole test suite (cargo-nextest when installed, one process per test, then the
//!   doctests);
//! - `fmt`, `lint`: format, or run clippy;
//! - `bench overhead`: managed evaluations per second on the cheap 10-D sphere (`--checkpoint-every S`:
//!   the same logged run with and without a checkpoint every `S` seconds, and without the log);
//! - `bench hunt`: the cost of a hunt after 10^3 and 10^6 evaluations per optimizer;
//! - `bench efficiency`: parallel efficiency of the backends with a 10 ms objective;
//! - `bench orphans`: processes left alive 2 s after a `kill -9` of the manager, over the backend
//!   combinations;
//! - `bench budget`: how far `max_evals` is overshot and what killed optimizers still report, on every
//!   backend × evaluator combination;
//! - `bench memory`: peak RSS after 10^7 evaluations with thousands of restarts against 10^5;
//! - `bench checkpoint`: the time from the request of a checkpoint of 16 live 100-D CMA-ES to its
//!   event, split into the wait for the saves and the write, and the steps of the write alone;
//! - `bench plot`: the time to plot a synthetic run of 10^7 evaluations, against reading its log alone;
//! - `bench mpi`: the `mpi` backend's efficiency with a 10 ms objective and its evaluations per
//!   second with a free one, beside threads and processes, in one `mpirun` job;
//! - `bench dashboard`: the dashboard on a synthetic run of 10^7 evaluations (catch-up, page load in
//!   Chromium) and a run's wall time with and without a dashboard;
//! - `bench quality`: issue 12's suite (six multimodal functions, 5-D and 10-D, plain, shifted and
//!   with `--rotated` rotated, 20 000 evaluations) for the default strategy, CMA-ES with IPOP and
//!   BIPOP, the old quickstart strategy, differential evolution and, when Python has `cma`, pycma's
//!   IPOP and BIPOP — with successes, median f − f* and evaluations to success (`--quick` for CI,
//!   `--seeds N`, `--jobs J`, `--no-peers`, `--functions F,G`, `--dims D,E`, `--configs C,D`);
//! - `tidy`: the architecture invariants (also a `#[test]`).

mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => ci(),
        ["test", rest @ ..] => test(rest),
        ["fmt"] => cargo(&["fmt", "--all"]),
        ["lint"] => lint(),
        ["tidy"] => tidy::check(&root()).map_err(|problems| problems.join("\n")),
        // With --processes the runners re-execute the glompo binary, so it is built first.
        ["bench", "overhead", rest @ ..] => cargo(&["build", "--release", "--package", "glompo-cli"])
            .and_then(|()| example("glompo-cli", "overhead", rest)),
        ["bench", "hunt"] => example("glompo-core", "hunt_cost", &[]),
        ["bench", "mpi", rest @ ..] => bench_mpi(rest),
        // The processes cases re-execute the glompo binary, so it is built first.
        ["bench", "efficiency", rest @ ..] => cargo(&["build", "--release", "--package", "glompo-cli"])
            .and_then(|()| example("glompo-cli", "efficiency", rest)),
        // The trials run the glompo binary itself.
        ["bench", "orphans", rest @ ..] => cargo(&["build", "--release", "--package", "glompo-cli"])
            .and_then(|()| example("glompo-cli", "orphans", rest)),
        // The cases run the glompo binary itself.
        ["bench", "budget", rest @ ..] => cargo(&["build", "--release", "--package", "glompo-cli"])
            .and_then(|()| example("glompo-cli", "budget", rest)),
        ["bench", "memory", rest @ ..] => example("glompo-cli", "memory", rest),
        ["bench", "checkpoint", rest @ ..] => example("glompo-cli", "checkpoint", rest),
        ["bench", "plot", rest @ ..] => example("glompo-cli", "plot", rest),
        // The runs are of the glompo binary; the page loads in Chromium through playwright-core.
        ["bench", "dashboard", rest @ ..] => cargo(&["build", "--release", "--package", "glompo-cli"])
            .and_then(|()| browser_driver())
            .and_then(|()| example("glompo-cli", "dashboard", rest)),
        ["bench", "quality", rest @ ..] => example("glompo-cli", "quality", rest),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <ci | test [nextest args] | fmt | lint | tidy | bench overhead [--evals N] [--repeats R] \
     [--no-log] [--processes] [--side-by-side] [--checkpoint-every S] | bench hunt | bench efficiency [EVALS] | bench mpi [EVALS] [--ranks N] | bench orphans [TRIALS] [SEED] [--nested] | bench budget [N] | bench memory [LONG] \
     | bench checkpoint [--checkpoints K] [--every-evals N] [--dim D] [--jobs J] [--function NAME] [--replays R] [--dir PATH] \
     | bench plot [EVALS] [--dim D] [--keep FILE] | bench dashboard [EVALS] [--per-optimizer N] [--run-evals M] [--repeats R] [--no-browser] \
     | bench quality [--quick] [--rotated] [--no-peers] [--seeds N] [--jobs J] [--functions F,G] [--dims D,E] [--configs C,D]>";

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.current_dir(root()).status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed with {status}")) }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    run(Command::new(cargo_bin()).args(args))
}

fn lint() -> Result<(), String> {
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    if has_mpi() {
        cargo(&[&["clippy"][..], &MPI_PACKAGES[..], &["--all-targets", "--", "-D", "warnings"]].concat())?;
    }
    Ok(())
}

/// The job-step tests, ignored by a plain run: they need a running Slurm.
const SLURM_TESTS: [&str; 4] = ["--run-ignored", "ignored-only", "-E", "test(/slurm::/)"];

/// Whether a Slurm controller answers here, to run the job-step tests (`bash .ci/slurm` starts a
/// one-node Slurm where Debian's slurmctld, slurmd, slurm-client and munge are installed).
fn has_slurm() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        let found = Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success());
        if !found {
            eprintln!(
                "xtask: no Slurm controller answers: the job-step tests are not run (bash .ci/slurm starts one)"
            );
        }
        found
    })
}

/// The packages and feature of the MPI build (`--features mpi`).
const MPI_PACKAGES: [&str; 6] =
    ["--package", "glompo-backends", "--package", "glompo-cli", "--features", "glompo-cli/mpi"];

/// Whether OpenMPI is installed, to build and test the `mpi` feature: its launcher and its compiler
/// wrapper, which the `mpi` crate's build asks for the library (Debian: openmpi-bin, libopenmpi-dev,
/// and libclang-dev for the bindings).
fn has_mpi() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        let works = |program: &str, arg: &str| {
            Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success())
        };
        let found = works("mpirun", "--version") && works("mpicc", "--showme:version");
        if !found {
            eprintln!(
                "xtask: OpenMPI is not installed: the `mpi` feature is not built or tested \
                 (apt-get install libopenmpi-dev openmpi-bin libclang-dev)"
            );
        }
        found
    })
}

fn has_nextest() -> bool {
    Command::new(cargo_bin()).args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// The playwright-core version the browser tests drive Chromium with.
const PLAYWRIGHT: &str = "playwright-core@1.64.1";

/// The target directory of the build.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Installs playwright-core into `target/browser` for the browser tests, unless it is there; without
/// npm it says so, and the browser test fails naming what it needs.
fn browser_driver() -> Result<(), String> {
    let prefix = target_dir().join("browser");
    if prefix.join("node_modules/playwright-core/package.json").is_file() {
        return Ok(());
    }
    if Command::new("npm").arg("--version").output().is_err() {
        eprintln!("xtask: npm is not installed: the browser tests will fail (they need {PLAYWRIGHT})");
        return Ok(());
    }
    std::fs::create_dir_all(&prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    let prefix = prefix.to_string_lossy().into_owned();
    run(Command::new("npm").args([
        "install",
        "--prefix",
        &prefix,
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        PLAYWRIGHT,
    ]))
}

fn test(extra: &[&str]) -> Result<(), String> {
    browser_driver()?;
    if has_nextest() {
        let mut args = vec!["nextest", "run", "--workspace", "--no-fail-fast"];
        args.extend_from_slice(extra);
        cargo(&args)?;
        // nextest does not run doctests.
        cargo(&["test", "--workspace", "--doc"])?;
        if has_slurm() {
            // Workers as job steps, on the machine's Slurm.
            cargo(
                &[
                    &["nextest", "run", "--no-fail-fast", "--package", "glompo-cli"][..],
                    &SLURM_TESTS[..],
                    extra,
                ]
                .concat(),
            )?;
        }
        if has_mpi() {
            // The MPI backend's own tests, and the CLI's, which start real mpirun jobs.
            cargo(
                &[
                    &["nextest", "run", "--no-fail-fast"][..],
                    &MPI_PACKAGES[..],
                    &["-E", "test(/mpi/)"],
                    extra,
                ]
                .concat(),
            )?;
            cargo(&[&["test", "--doc"][..], &MPI_PACKAGES[..]].concat())?;
        }
        Ok(())
    } else {
        eprintln!("xtask: cargo-nextest is not installed; using cargo test");
        let mut args = vec!["test", "--workspace", "--no-fail-fast"];
        args.extend_from_slice(extra);
        cargo(&args)?;
        if has_slurm() {
            cargo(&[
                "test",
                "--no-fail-fast",
                "--package",
                "glompo-cli",
                "--test",
                "it",
                "slurm",
                "--",
                "--ignored",
            ])?;
        }
        if has_mpi() {
            cargo(&[&["test", "--no-fail-fast"][..], &MPI_PACKAGES[..], &["mpi"], extra].concat())?;
        }
        Ok(())
    }
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    lint()?;
    test(&[])?;
    run(Command::new(cargo_bin())
        .args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    if has_mpi() {
        run(Command::new(cargo_bin())
            .args([&["doc", "--no-deps"][..], &MPI_PACKAGES[..]].concat())
            .env("RUSTDOCFLAGS", "-D warnings"))?;
    }
    tidy::check(&root()).map_err(|problems| problems.join("\n"))?;
    // The quality benchmark's reduced suite runs end to end (its figures are not asserted).
    example("glompo-cli", "quality", &["--quick"])?;
    eprintln!("xtask: ci passed");
    Ok(())
}

/// `cargo xtask bench mpi [EVALS] [--ranks N]`: the `mpi` example (built with the feature, beside the
/// glompo binary it starts for the process backend) under `mpirun -np N` (default 5).
fn bench_mpi(rest: &[&str]) -> Result<(), String> {
    let (mut ranks, mut args) = ("5".to_owned(), Vec::new());
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--ranks" => ranks = rest.next().ok_or("--ranks takes a number")?.to_string(),
            other => args.push(other.to_owned()),
        }
    }
    cargo(&["build", "--release", "--package", "glompo-cli", "--features", "mpi", "--examples", "--bins"])?;
    let example = target_dir().join("release/examples/mpi");
    run(Command::new("mpirun")
        .args(["--oversubscribe", "-np", &ranks])
        .arg(example)
        .args(&args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"))
}

/// Runs a benchmark example of `package` in release mode with `rest` as its arguments.
fn example(package: &str, name: &str, rest: &[&str]) -> Result<(), String> {
    let mut args = vec!["run", "--release", "--package", package, "--example", name, "--"];
    args.extend_from_slice(rest);
    cargo(&args)
}
