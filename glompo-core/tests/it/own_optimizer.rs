//! `examples/own_optimizer.rs`, the README's example of a user's own optimizer: it runs, and its
//! optimizer saves and restores exactly.

#[path = "../../examples/own_optimizer.rs"]
mod example;

use glompo_core::checker::EndCause;
use glompo_core::manager::EndReason;
use glompo_core::serde_json::{self, json};
use glompo_core::{Bounds, Evaluation, OptimizerError, StartContext, Status};

fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64 + x.iter().map(|v| v * v - 10.0 * (std::f64::consts::TAU * v).cos()).sum::<f64>()
}

fn evaluate(batch: Vec<Vec<f64>>) -> Vec<Evaluation> {
    batch.into_iter().map(|x| Evaluation { fx: rastrigin(&x), x }).collect()
}

#[test]
fn the_example_runs_to_its_target_with_kills_and_restarts() {
    example::main().unwrap();
    let result = example::run().unwrap();
    let best = result.best.unwrap();
    assert!(best.fx <= 1e-6, "best {best:?}");
    assert!(best.x.iter().all(|v| v.abs() < 1e-3), "best {best:?}");
    let c = &result.counters;
    assert!(c.evaluations <= 20_000, "{c:?}");
    assert!(c.optimizers_killed > 0 && c.optimizers_started > c.optimizers_killed, "{c:?}");
    let EndReason::Checker { causes, .. } = &result.end_reason else {
        panic!("the run ended otherwise: {}", result.end_reason)
    };
    assert_eq!(causes, &[EndCause::TargetReached]);
}

#[test]
fn the_example_optimizer_resumes_exactly_from_its_saved_state() {
    let factory = example::factory();
    let bounds = Bounds::uniform(2, -5.12, 5.12).unwrap();
    let ctx = StartContext { opt_id: 1, x0: &[2.0, -3.0], bounds: &bounds, seed: 5, workers: 1 };
    let mut original = factory.build(&ctx).unwrap();
    for _ in 0..5 {
        let batch = original.ask().unwrap();
        original.tell(&evaluate(batch)).unwrap();
    }
    // Through text, as in a checkpoint, into one built with another seed and start.
    let text = serde_json::to_string(&original.save().unwrap()).unwrap();
    let mut resumed = factory.build(&StartContext { seed: 6, x0: &[0.0, 0.0], ..ctx }).unwrap();
    resumed.restore(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(resumed.best(), original.best());
    let mut ended = None;
    for _ in 0..200 {
        let batch = original.ask().unwrap();
        assert_eq!(resumed.ask().unwrap(), batch);
        let evals = evaluate(batch);
        let status = original.tell(&evals).unwrap();
        assert_eq!(resumed.tell(&evals).unwrap(), status);
        if status != Status::Running {
            ended = Some(status);
            break;
        }
    }
    assert_eq!(ended, Some(Status::Converged("step".into())));
    assert_eq!(resumed.best(), original.best());
}

#[test]
fn the_example_optimizer_refuses_a_state_it_did_not_save() {
    let factory = example::factory();
    let bounds = Bounds::uniform(3, -1.0, 1.0).unwrap();
    let ctx = StartContext { opt_id: 1, x0: &[0.0; 3], bounds: &bounds, seed: 1, workers: 1 };
    let mut optimizer = factory.build(&ctx).unwrap();
    let two_d = Bounds::uniform(2, -1.0, 1.0).unwrap();
    let other =
        factory.build(&StartContext { x0: &[0.0; 2], bounds: &two_d, ..ctx }).unwrap().save().unwrap();
    for (state, message) in [
        (other, "a point of 2 coordinates in 3 dimensions"),
        (json!({ "x": [0.0, 0.0, 0.0] }), "missing field `step`"),
    ] {
        match optimizer.restore(&state) {
            Err(OptimizerError::BadState { optimizer, message: m }) => {
                assert_eq!(optimizer, "local-search");
                assert!(m.starts_with(message), "{m}");
            }
            other => panic!("restoring {state} gave {other:?}"),
        }
    }
}
