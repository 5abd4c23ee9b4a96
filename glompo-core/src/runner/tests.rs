//! The link's types on the wire, and the runner's boundary and replay on a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Receiver;
use serde_json::json;

use super::*;
use crate::evaluator::{Batch, Evaluator, Gate, Serial, evaluate_point};
use crate::objective::from_fn;
use crate::optimizer::{OptimizerFactory, StartContext};
use crate::point::Bounds;
use crate::testing::ScriptedFactory;
use std::sync::Mutex;

const OPT_ID: OptimizerId = 4;

fn bounds() -> Bounds {
    Bounds::uniform(2, -1.0, 1.0).unwrap()
}

fn recipe(factory: &ScriptedFactory, stepped: bool, resume: Option<ResumeFrom>) -> RunnerRecipe {
    RunnerRecipe {
        opt_id: OPT_ID,
        optimizer: factory.name().into(),
        options: factory.settings(),
        evaluator: "serial".into(),
        workers: 1,
        x0: vec![0.5, -0.25],
        bounds: bounds(),
        seed: 3,
        detailed: false,
        limited: false,
        stepped,
        resume,
        evaluations: 0,
    }
}

fn build(factory: &ScriptedFactory) -> Box<dyn Optimizer> {
    let b = bounds();
    let ctx = StartContext { opt_id: OPT_ID, x0: &[0.5, -0.25], bounds: &b, seed: 3, workers: 1 };
    factory.build(&ctx).unwrap()
}

/// A started runner of `factory` on a thread, with an objective that counts its calls.
struct Started {
    control: Arc<Control>,
    rx: Receiver<Message>,
    calls: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

fn start(factory: &ScriptedFactory, stepped: bool, resume: Option<ResumeFrom>) -> Started {
    launch(factory, recipe(factory, stepped, resume), Box::new(Serial), Control::default())
}

/// A runner of `factory` built from `recipe`, with `evaluator` and `control`, on a thread.
fn launch(
    factory: &ScriptedFactory,
    recipe: RunnerRecipe,
    evaluator: Box<dyn Evaluator>,
    control: Control,
) -> Started {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let objective = Arc::new(from_fn(move |x: &[f64]| {
        counter.fetch_add(1, Ordering::SeqCst);
        x.iter().map(|v| v * v).sum()
    }));
    let (tx, rx) = crossbeam_channel::unbounded();
    let control = Arc::new(control);
    let runner = Runner::new(recipe, build(factory), evaluator, objective, Arc::clone(&control), tx);
    let thread = std::thread::spawn(move || runner.run());
    Started { control, rx, calls, thread }
}

impl Started {
    /// The next message (a runner that sends nothing for 20 s is broken).
    fn next(&self) -> Message {
        self.rx.recv_timeout(Duration::from_secs(20)).expect("the runner sent nothing")
    }

    /// Stops the runner and returns what it sent until its end, the end included.
    fn stop(self) -> Vec<Message> {
        self.control.stop();
        let messages: Vec<Message> = self.rx.iter().collect();
        self.thread.join().unwrap();
        messages
    }
}

fn pending(x: &[f64], fx: f64) -> PendingEval {
    PendingEval { x: x.to_vec(), record: EvalRecord { fx, extras: None, error: None } }
}

#[test]
fn directives_and_messages_have_exact_json_forms() {
    let directives = [
        (Directive::Save, r#""save""#),
        (Directive::Pause, r#""pause""#),
        (Directive::Resume, r#""resume""#),
        (Directive::Step(3), r#"{"step":3}"#),
        (Directive::Stop, r#""stop""#),
    ];
    for (directive, text) in directives {
        assert_eq!(serde_json::to_string(&directive).unwrap(), text);
        assert_eq!(serde_json::from_str::<Directive>(text).unwrap(), directive);
    }
    let saved = Message::Saved {
        opt_id: 2,
        saved: SavedState { state: Ok(json!({"x": [0.1, -2.5]})), evaluations: 12, replayed: 3 },
    };
    let text = serde_json::to_string(&saved).unwrap();
    assert_eq!(
        text,
        r#"{"Saved":{"opt_id":2,"saved":{"state":{"x":[0.1,-2.5]},"evaluations":12,"replayed":3}}}"#
    );
    assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), saved);
    let failed = Message::Saved {
        opt_id: 2,
        saved: SavedState { state: Err("no checkpoints".into()), evaluations: 0, replayed: 0 },
    };
    let text = serde_json::to_string(&failed).unwrap();
    assert_eq!(
        text,
        r#"{"Saved":{"opt_id":2,"saved":{"error":"no checkpoints","evaluations":0,"replayed":0}}}"#
    );
    assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), failed);
    for msg in [
        Message::BatchDone { opt_id: 1, evaluations: 9 },
        Message::Asked { opt_id: 1, evaluations: 12 },
        Message::Replayed { opt_id: 1, used: 4, unused: 1 },
    ] {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), msg, "{text}");
    }
    // A saved state is a state or an error, never both or neither.
    let both = r#"{"state":1,"error":"e","evaluations":0}"#;
    let err = serde_json::from_str::<SavedState>(both).unwrap_err().to_string();
    assert_eq!(err, "a saved state has both `state` and `error`");
    let neither = r#"{"evaluations":0}"#;
    let err = serde_json::from_str::<SavedState>(neither).unwrap_err().to_string();
    assert_eq!(err, "a saved state has neither `state` nor `error`");
}

#[test]
fn a_recipe_to_resume_from_crosses_the_pipe_bit_for_bit() {
    let factory = ScriptedFactory::descending();
    let resume = ResumeFrom {
        state: Some(build(&factory).save().unwrap()),
        pending: vec![pending(&[0.1 + 0.2, -1e-300], f64::NAN), pending(&[1.0 / 3.0, 0.0], f64::INFINITY)],
    };
    let r = recipe(&factory, true, Some(resume));
    let back: RunnerRecipe = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    let (sent, got) = (r.resume.as_ref().unwrap(), back.resume.as_ref().unwrap());
    for (a, b) in sent.pending.iter().zip(&got.pending) {
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.x), bits(&b.x));
        assert_eq!(a.record.fx.to_bits(), b.record.fx.to_bits());
    }
    assert_eq!(sent.state, got.state);
    assert!(back.stepped);
    // A recipe of an older manager, without the new fields, is a fresh free-running start.
    let mut old = serde_json::to_value(recipe(&factory, false, None)).unwrap();
    old.as_object_mut().unwrap().retain(|k, _| k != "stepped" && k != "resume");
    let old: RunnerRecipe = serde_json::from_value(old).unwrap();
    assert_eq!((old.stepped, old.resume), (false, None));
}

#[test]
fn a_save_before_the_first_ask_has_no_evaluations_and_the_fresh_state() {
    let factory = ScriptedFactory::descending();
    let r = start(&factory, true, None);
    r.control.request_save();
    r.control.request_save();
    let fresh = build(&factory).save().unwrap();
    let answer = Message::Saved {
        opt_id: OPT_ID,
        saved: SavedState { state: Ok(fresh), evaluations: 0, replayed: 0 },
    };
    assert_eq!(r.next(), answer);
    // Two requests, two answers.
    assert_eq!(r.next(), answer);
    assert_eq!(r.calls.load(Ordering::SeqCst), 0);
    assert_eq!(r.stop(), [Message::Ended { opt_id: OPT_ID, end: RunnerEnd::Stopped }]);
}

#[test]
fn a_state_that_does_not_restore_ends_the_runner_as_crashed() {
    let factory = ScriptedFactory::descending();
    let resume = ResumeFrom { state: Some(json!("garbage")), pending: vec![pending(&[0.0, 0.0], 1.0)] };
    let r = start(&factory, false, Some(resume));
    let Message::Ended { end: RunnerEnd::Crashed(error), .. } = r.next() else { panic!("not a crash") };
    assert!(error.starts_with("cannot restore the saved state: cannot restore scripted state: "), "{error}");
    assert_eq!(r.stop(), []);
}

#[test]
fn a_replay_cut_short_by_a_stop_reports_what_it_did_not_use() {
    let factory = ScriptedFactory::descending();
    let state = build(&factory).save().unwrap();
    let resume = ResumeFrom {
        state: Some(state),
        pending: vec![pending(&[0.5, -0.25], 1.0), pending(&[0.1, 0.1], 1.0)],
    };
    let r = start(&factory, true, Some(resume));
    assert_eq!(
        r.stop(),
        [
            Message::Replayed { opt_id: OPT_ID, used: 0, unused: 2 },
            Message::Ended { opt_id: OPT_ID, end: RunnerEnd::Stopped }
        ]
    );
}

#[test]
fn repeated_points_replay_one_pending_evaluation_each() {
    // Every batch is three copies of the optimizer's point; two of the first batch's are logged, with a
    // value the objective cannot give, and only the third is evaluated.
    let factory = ScriptedFactory::descending().batch(3);
    let state = build(&factory).save().unwrap();
    let x0 = [0.5, -0.25];
    let resume = ResumeFrom { state: Some(state), pending: vec![pending(&x0, -7.0), pending(&x0, -8.0)] };
    let r = start(&factory, true, Some(resume));
    r.control.step(1);
    let Message::Results { results, .. } = r.next() else { panic!("no results") };
    let got: Vec<(Vec<f64>, f64)> = results.iter().map(|(x, rec)| (x.to_vec(), rec.fx)).collect();
    assert_eq!(got, [(x0.to_vec(), 0.3125)]);
    assert_eq!(r.next(), Message::Replayed { opt_id: OPT_ID, used: 2, unused: 0 });
    assert_eq!(r.next(), Message::BatchDone { opt_id: OPT_ID, evaluations: 1 });
    assert_eq!(r.calls.load(Ordering::SeqCst), 1);
    // The optimizer was told the logged values: its best is the replayed -8.
    r.control.request_save();
    let Message::Saved { saved, .. } = r.next() else { panic!("no answer") };
    assert_eq!((saved.evaluations, saved.replayed), (1, 2));
    assert_eq!(saved.state.unwrap()["best"]["fx"], json!(-8.0));
    assert_eq!(r.stop(), [Message::Ended { opt_id: OPT_ID, end: RunnerEnd::Stopped }]);
}

#[test]
fn a_stepped_runner_reports_every_batch_up_to_its_convergence() {
    let factory = ScriptedFactory::descending().batch(2).converge_after(2);
    let r = start(&factory, true, None);
    r.control.step(5);
    let (mut kinds, mut results) = (Vec::new(), 0);
    loop {
        match r.next() {
            Message::Results { results: group, .. } => results += group.len(),
            Message::BatchDone { evaluations, .. } => {
                kinds.push(format!("{results} results, done {evaluations}"))
            }
            Message::Ended { end, .. } => {
                kinds.push(format!("{results} results, {end:?}"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The batch after which it converged is reported by its end alone.
    assert_eq!(kinds, ["2 results, done 2", "4 results, Converged(\"script\")"]);
    assert_eq!(r.stop(), []);
}

/// An evaluator that evaluates and reports a batch's points from the last to the first, and records
/// the batches it was given.
struct Backwards(Arc<Mutex<Vec<Vec<Vec<f64>>>>>);

impl Evaluator for Backwards {
    fn evaluate(
        &mut self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
        batch: &Batch<'_>,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        self.0.lock().unwrap().push(points.to_vec());
        let mut outcomes = vec![None; points.len()];
        for i in (0..points.len()).rev() {
            outcomes[i] = Some(evaluate_point(objective, i, &points[i], batch, gate, report)?);
        }
        outcomes.into_iter().collect()
    }
}

fn points(results: &ResultGroup) -> Vec<Vec<f64>> {
    results.iter().map(|(x, _)| x.to_vec()).collect()
}

#[test]
fn a_stepped_runner_sends_its_batch_in_the_batchs_order_whatever_finished_first() {
    let factory = ScriptedFactory::descending().batch(3).spread(0.5);
    for stepped in [false, true] {
        let given = Arc::new(Mutex::new(Vec::new()));
        let evaluator = Box::new(Backwards(Arc::clone(&given)));
        let r = launch(&factory, recipe(&factory, stepped, None), evaluator, Control::default());
        r.control.step(1);
        let mut got = Vec::new();
        while got.len() < 3 {
            match r.next() {
                Message::Results { results, .. } => got.extend(points(&results)),
                other => panic!("unexpected {other:?}"),
            }
        }
        let _ = r.stop();
        let mut batch = given.lock().unwrap()[0].clone();
        if !stepped {
            // Streamed: in the order they finished.
            batch.reverse();
        }
        assert_eq!(got, batch, "stepped: {stepped}");
    }
}

#[test]
fn a_stepped_runner_with_a_budget_announces_each_batch_and_starts_it_only_with_credit() {
    let factory = ScriptedFactory::descending().batch(3).spread(0.5);
    let limited = RunnerRecipe { limited: true, ..recipe(&factory, true, None) };
    let r = launch(&factory, limited, Box::new(Serial), Control::with_credit(0));
    r.control.step(1);
    assert_eq!(r.next(), Message::Asked { opt_id: OPT_ID, evaluations: 3 });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(r.calls.load(Ordering::SeqCst), 0, "evaluated without credit");
    r.control.grant(3);
    let Message::Results { results, .. } = r.next() else { panic!("no results") };
    assert_eq!(results.len(), 3);
    assert_eq!(r.next(), Message::BatchDone { opt_id: OPT_ID, evaluations: 3 });
    // A batch the manager stops before granting it ends the runner with nothing evaluated.
    r.control.step(1);
    assert_eq!(r.next(), Message::Asked { opt_id: OPT_ID, evaluations: 3 });
    let calls = Arc::clone(&r.calls);
    assert_eq!(r.stop(), [Message::Ended { opt_id: OPT_ID, end: RunnerEnd::Stopped }]);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn the_latest_offer_is_taken_before_a_save_and_before_the_next_batch() {
    let factory = ScriptedFactory::descending();
    let r = start(&factory, true, None);
    r.control.step(1);
    let _ = r.next();
    assert_eq!(r.next(), Message::BatchDone { opt_id: OPT_ID, evaluations: 1 });
    // Two offers while it waits for a step: the later is the one its state and its next batch have.
    r.control.offer(Evaluation { x: vec![0.75, 0.75], fx: 0.1 });
    r.control.offer(Evaluation { x: vec![-0.5, 0.25], fx: 0.05 });
    r.control.request_save();
    let Message::Saved { saved, .. } = r.next() else { panic!("no answer") };
    assert_eq!(saved.state.unwrap()["x"], json!([-0.5, 0.25]));
    r.control.offer(Evaluation { x: vec![0.125, 0.125], fx: 0.01 });
    r.control.step(1);
    let Message::Results { results, .. } = r.next() else { panic!("no results") };
    assert_eq!(points(&results), [vec![0.125, 0.125]]);
    let _ = r.stop();
}
