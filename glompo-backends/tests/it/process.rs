//! The process backend: messages on a descriptor of their own, the runner's prints in its printstream
//! files, and a runner that dies without ending its optimizer ending as crashed with the cause.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use glompo_backends::ProcessBackend;
use glompo_core::backend::Backend;
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::objective::from_fn;
use glompo_core::runner::{Control, Message, Runner, RunnerEnd, RunnerRecipe};
use glompo_core::testing::ScriptedFactory;
use glompo_core::{Bounds, OptimizerFactory, StartContext};

/// The optimizer id the runners of these tests have.
const OPT_ID: u64 = 7;

/// A runner of a scripted optimizer, and the channel its messages arrive on.
fn runner() -> (Runner, crossbeam_channel::Receiver<Message>) {
    let bounds = Bounds::new(vec![(-1.0, 1.0)]).unwrap();
    let x0 = [0.5];
    let factory = ScriptedFactory::descending();
    let ctx = StartContext { opt_id: OPT_ID, x0: &x0, bounds: &bounds, seed: 1, workers: 1 };
    let optimizer = factory.build(&ctx).unwrap();
    let recipe = RunnerRecipe {
        opt_id: OPT_ID,
        optimizer: factory.name().into(),
        options: factory.settings(),
        evaluator: "serial".into(),
        workers: 1,
        x0: x0.to_vec(),
        bounds,
        seed: 1,
        detailed: false,
        limited: false,
        stepped: false,
        resume: None,
        evaluations: 0,
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let objective = Arc::new(from_fn(|x: &[f64]| x[0] * x[0]));
    let control = Arc::new(Control::default());
    (Runner::new(recipe, optimizer, Serial.build(1).unwrap(), objective, control, tx), rx)
}

/// What a runner process whose program is the shell script `script` did.
#[derive(Debug)]
struct Outcome {
    /// Every message that arrived, the end last.
    messages: Vec<Message>,
    /// The contents of `printstreams/0007.out` and `0007.err`.
    out: String,
    err: String,
}

/// Runs `script` with `sh -c` as the runner process, printstreams in a temporary directory, until its
/// end message arrives (at most 20 s: a copy of the message pipe's write end left open anywhere but in
/// the child would hold the end back forever). A failing test kills the child when the handle drops.
fn run_script(script: &str) -> Outcome {
    let _processes = crate::processes();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("printstreams");
    let mut backend =
        ProcessBackend::new(vec!["sh".into(), "-c".into(), script.into()]).unwrap().printstreams(&dir);
    let (runner, rx) = runner();
    let handle = backend.spawn(runner).unwrap();
    let mut messages = Vec::new();
    while !matches!(messages.last(), Some(Message::Ended { .. })) {
        let msg = rx.recv_timeout(Duration::from_secs(20)).expect("the runner's end did not arrive");
        messages.push(msg);
    }
    handle.join();
    let read = |ext: &str| fs::read_to_string(dir.join(format!("0007.{ext}"))).unwrap();
    Outcome { messages, out: read("out"), err: read("err") }
}

fn crashed(cause: &str) -> Vec<Message> {
    vec![Message::Ended { opt_id: OPT_ID, end: RunnerEnd::Crashed(cause.into()) }]
}

#[test]
fn a_runner_that_prints_and_exits_is_a_crash_and_its_prints_are_in_its_files() {
    // What looks like a message on stdout is only a print: messages travel on their own descriptor.
    let outcome = run_script(
        r#"read -r recipe
echo "to stdout"
echo '{"Ended":{"opt_id":7,"end":{"Converged":"a print, not a message"}}}'
echo "to stderr" >&2
echo "again" >&2
exit 3"#,
    );
    assert_eq!(
        outcome.messages,
        crashed("the runner process exited with code 3 without ending its optimizer"),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.out,
        "to stdout\n{\"Ended\":{\"opt_id\":7,\"end\":{\"Converged\":\"a print, not a message\"}}}\n"
    );
    assert_eq!(outcome.err, "to stderr\nagain\n");
}

#[test]
fn a_runner_killed_by_a_signal_is_a_crash_that_names_the_signal() {
    let outcome = run_script("read -r recipe\necho 'going down' >&2\nkill -KILL $$\necho 'never'");
    assert_eq!(outcome.messages, crashed("the runner process was killed by SIGKILL"), "{outcome:?}");
    assert_eq!((outcome.out.as_str(), outcome.err.as_str()), ("", "going down\n"));
}

#[test]
fn a_runner_that_ends_on_its_message_descriptor_ends_as_it_says() {
    // The recipe arrives on stdin; the end goes to the descriptor that GLOMPO_MESSAGE_FD names.
    let outcome = run_script(
        r#"read -r recipe
case "$recipe" in *'"opt_id":7'*) echo "recipe for 7 on fd $GLOMPO_MESSAGE_FD" ;; esac
echo "printed" >&2
printf '%s\n' '{"Ended":{"opt_id":7,"end":"Stopped"}}' >&"$GLOMPO_MESSAGE_FD""#,
    );
    assert_eq!(outcome.messages, [Message::Ended { opt_id: OPT_ID, end: RunnerEnd::Stopped }]);
    assert_eq!(outcome.out, "recipe for 7 on fd 3\n");
    assert_eq!(outcome.err, "printed\n");
}
