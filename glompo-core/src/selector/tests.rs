//! Unit tests of the selectors: their selections, saved states and config builder.

use super::*;
use crate::testing::ScriptedFactory;

#[test]
fn cycle_waits_for_a_misfit_without_skipping() {
    let a = OptimizerSpec::new(Arc::new(ScriptedFactory::named("a"))).workers(2);
    let b = OptimizerSpec::new(Arc::new(ScriptedFactory::named("b")));
    let mut s = CycleSelector::new(vec![a, b]).unwrap();
    let mut seq = Vec::new();
    for free in [0, 1, 2, 1, 0, 2] {
        let ctx = SelectContext { free_slots: free, evaluations: 0, optimizers_started: 0 };
        seq.push(match s.select(&ctx) {
            Selection::Start(spec) => format!("{}({})", spec.factory.name(), spec.workers),
            Selection::Wait => "wait".into(),
            Selection::Stop => "stop".into(),
        });
    }
    // The original's sequence: None, None, A(2 slots), B, None, A.
    assert_eq!(seq, ["wait", "wait", "a(2)", "b(1)", "wait", "a(2)"]);
    assert!(CycleSelector::new(Vec::new()).is_err());
}

fn spec(name: &str, workers: usize) -> OptimizerSpec {
    OptimizerSpec::new(Arc::new(ScriptedFactory::named(name))).workers(workers)
}

fn pick(s: &mut dyn Selector, free: usize, evaluations: u64, started: u64) -> String {
    match s.select(&SelectContext { free_slots: free, evaluations, optimizers_started: started }) {
        Selection::Start(spec) => spec.factory.name().to_string(),
        Selection::Wait => "wait".into(),
        Selection::Stop => "stop".into(),
    }
}

#[test]
fn chain_follows_thresholds_and_stops_after_the_last() {
    let specs = vec![spec("a", 1), spec("b", 1), spec("c", 1)];
    let mut s = ChainSelector::new(specs.clone(), vec![10, 20, 30]).unwrap();
    let seq: Vec<String> = [0, 9, 10, 19, 20, 29, 30, 40].iter().map(|&e| pick(&mut s, 1, e, 0)).collect();
    assert_eq!(seq, ["a", "a", "b", "b", "c", "c", "stop", "stop"]);
    // Several thresholds passed between two calls all count.
    let mut s = ChainSelector::new(specs.clone(), vec![10, 20]).unwrap();
    assert_eq!(pick(&mut s, 1, 25, 0), "c");
    assert_eq!(pick(&mut s, 1, 1000, 0), "c", "with n − 1 thresholds the last one stays");
    assert_eq!(
        ChainSelector::new(specs.clone(), vec![10]).unwrap_err().to_string(),
        "selector.thresholds: 1 thresholds for 3 optimizers; give 2 or 3"
    );
    assert!(ChainSelector::new(specs, vec![20, 10]).is_err());
}

#[test]
fn random_picks_only_what_fits_and_covers_it() {
    let mut s = RandomSelector::new(vec![spec("small", 1), spec("big", 3)], 4).unwrap();
    let mut seen = std::collections::HashMap::new();
    for _ in 0..400 {
        *seen.entry(pick(&mut s, 3, 0, 0)).or_insert(0) += 1;
        assert_eq!(pick(&mut s, 2, 0, 0), "small");
    }
    assert!(seen["small"] > 150 && seen["big"] > 150, "{seen:?}");
    assert_eq!(pick(&mut s, 0, 0, 0), "wait");
}

#[test]
fn spawn_controls_stop_spawning() {
    let cycle = || Box::new(CycleSelector::new(vec![spec("a", 1)]).unwrap());
    let mut s = SpawnControl::new(cycle(), Some(5), None);
    assert_eq!(pick(&mut s, 1, 4, 0), "a");
    assert_eq!(pick(&mut s, 1, 5, 0), "stop");
    let mut s = SpawnControl::new(cycle(), None, Some(3));
    assert_eq!(pick(&mut s, 1, 100, 2), "a");
    assert_eq!(pick(&mut s, 1, 100, 3), "stop");
}

#[test]
fn increasing_population_doubles_after_convergences_only_and_stops_at_the_cap() {
    let base = OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(3)));
    let mut s = IncreasingPopulation::new(Box::new(CycleSelector::new(vec![base]).unwrap()));
    let ctx = SelectContext { free_slots: 1, evaluations: 0, optimizers_started: 0 };
    let start = |s: &mut IncreasingPopulation| match s.select(&ctx) {
        Selection::Start(spec) => spec.factory,
        other => panic!("expected a start, got {other:?}"),
    };
    let batch = |f: &Arc<dyn OptimizerFactory>| f.settings()["batch"].as_u64().unwrap();
    let mut batches = Vec::new();
    // A kill (not converged) keeps the size; each convergence doubles the next start's.
    for converged in [false, true, true, false, true] {
        let factory = start(&mut s);
        batches.push(batch(&factory));
        s.ended(&factory, converged);
    }
    assert_eq!(batches, [3, 3, 6, 12, 12]);
    for _ in 0..20 {
        let factory = start(&mut s);
        s.ended(&factory, true);
    }
    assert_eq!(batch(&start(&mut s)), 3 << MAX_DOUBLINGS);
}

#[test]
fn configs_build_selectors_and_name_bad_fields() {
    let specs = || vec![spec("a", 1), spec("b", 1)];
    let mut s = from_config(
        &serde_json::json!({"type": "chain", "thresholds": [5], "stop_after_optimizers": 4}),
        specs(),
        1,
    )
    .unwrap();
    assert_eq!(s.name(), "chain");
    assert_eq!(pick(s.as_mut(), 1, 6, 0), "b");
    assert_eq!(pick(s.as_mut(), 1, 6, 4), "stop");
    assert_eq!(from_config(&serde_json::json!("Random"), specs(), 1).unwrap().name(), "random");
    let err = |v: serde_json::Value| from_config(&v, specs(), 1).unwrap_err().to_string();
    assert_eq!(
        err(serde_json::json!("roulette")),
        "selector: unknown selector `roulette`; expected one of cycle, chain, random"
    );
    assert_eq!(err(serde_json::json!({"type": "chain"})), "selector.thresholds: missing");
    assert_eq!(
        err(serde_json::json!({"type": "cycle", "thresholds": [1]})),
        "selector.thresholds: unknown option; expected one of stop_after_evals, stop_after_optimizers, increasing_population"
    );
    assert_eq!(
        err(serde_json::json!({"type": "cycle", "stop_after_evals": -1})),
        "selector.stop_after_evals: expected a whole number ≥ 0, found -1"
    );
}

/// A state as a checkpoint carries it: written as JSON text and read back.
fn through_text(state: &Value) -> Value {
    serde_json::from_str(&state.to_string()).unwrap()
}

/// Drives `s` through `steps` selections with varying free slots and evaluation counts.
fn drive(s: &mut dyn Selector, from: u64, steps: u64) -> Vec<String> {
    (from..from + steps).map(|i| pick(s, (i % 3) as usize, i * 7, 0)).collect()
}

#[test]
fn every_selector_continues_exactly_after_a_restore() {
    let specs = || vec![spec("a", 1), spec("b", 2), spec("c", 1)];
    // A chain catches up with the evaluation count at once, so a fresh one answers the same.
    for (config, shape, matters) in [
        (serde_json::json!("cycle"), Some(serde_json::json!({"next": 2})), true),
        (
            serde_json::json!({"type": "chain", "thresholds": [50, 100]}),
            Some(serde_json::json!({"index": 1})),
            false,
        ),
        (serde_json::json!({"type": "random", "stop_after_evals": 1_000_000}), None, true),
    ] {
        let mut original = from_config(&config, specs(), 11).unwrap();
        let before = drive(original.as_mut(), 0, 10);
        let saved = through_text(&original.save());
        if let Some(shape) = shape {
            assert_eq!(saved, shape, "{config}");
        }
        let mut resumed = from_config(&config, specs(), 11).unwrap();
        resumed.restore(&saved).unwrap();
        let after = drive(original.as_mut(), 10, 40);
        assert_eq!(drive(resumed.as_mut(), 10, 40), after, "{config}");
        // The state is what makes the difference: a fresh selector answers otherwise.
        let mut fresh = from_config(&config, specs(), 11).unwrap();
        assert_eq!(drive(fresh.as_mut(), 10, 40) != after, matters, "{config} after {before:?}");
    }
    // The random selector's state is its RNG's position, behind the spawn controls.
    let mut random =
        from_config(&serde_json::json!({"type": "random", "stop_after_evals": 10}), specs(), 3).unwrap();
    drive(random.as_mut(), 1, 1);
    let saved = random.save();
    assert_eq!(saved["rng"]["seed"], 3);
    assert_eq!(saved["rng"]["word_pos"], "2");
}

#[test]
fn increasing_population_continues_after_a_restore_and_knows_the_optimizers_it_started() {
    let config =
        serde_json::json!({"type": "random", "increasing_population": true, "stop_after_optimizers": 100});
    let specs = || {
        vec![
            OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(3))),
            OptimizerSpec::new(Arc::new(ScriptedFactory::named("b").batch(5))),
        ]
    };
    let ctx = SelectContext { free_slots: 1, evaluations: 0, optimizers_started: 0 };
    let start = |s: &mut dyn Selector| match s.select(&ctx) {
        Selection::Start(spec) => spec.factory,
        other => panic!("expected a start, got {other:?}"),
    };
    let label = |f: &Arc<dyn OptimizerFactory>| format!("{}{}", f.name(), f.settings()["batch"]);
    // Two optimizers run at a time; the oldest ends, converged every other time, and another starts.
    let step = |s: &mut dyn Selector, live: &mut Vec<Arc<dyn OptimizerFactory>>, i: usize| {
        let ended = live.remove(0);
        s.ended(&ended, i.is_multiple_of(2));
        let started = start(s);
        live.push(Arc::clone(&started));
        label(&started)
    };
    let mut original = from_config(&config, specs(), 8).unwrap();
    let mut live = vec![start(original.as_mut()), start(original.as_mut())];
    for i in 0..9 {
        step(original.as_mut(), &mut live, i);
    }
    let saved = through_text(&original.save());
    assert_eq!(saved["issued"].as_array().map(Vec::len), Some(2));
    assert!(saved["inner"]["rng"].is_object(), "the inner selector's state is saved: {saved}");
    // The resumed selector never saw the factories of the two optimizers still running: it knows
    // them by their names and settings.
    let mut resumed = from_config(&config, specs(), 8).unwrap();
    resumed.restore(&saved).unwrap();
    let mut live_resumed = live.clone();
    let after: Vec<String> = (9..30).map(|i| step(original.as_mut(), &mut live, i)).collect();
    let resumed_after: Vec<String> = (9..30).map(|i| step(resumed.as_mut(), &mut live_resumed, i)).collect();
    assert_eq!(resumed_after, after);
    assert!(after.iter().any(|l| l.starts_with('a') && l != "a3"), "populations doubled: {after:?}");
    assert_eq!(original.save(), resumed.save());
}

/// A selector of the user's own with no state.
#[derive(Debug)]
struct First(Vec<OptimizerSpec>);

impl Selector for First {
    fn name(&self) -> &str {
        "first"
    }
    fn specs(&self) -> &[OptimizerSpec] {
        &self.0
    }
    fn select(&mut self, _: &SelectContext) -> Selection {
        Selection::Start(self.0[0].clone())
    }
}

#[test]
fn states_of_another_shape_are_refused_with_the_selector_named() {
    let specs = || vec![spec("a", 1), spec("b", 1)];
    let err = |config: Value, state: Value| {
        let mut s = from_config(&config, specs(), 1).unwrap();
        s.restore(&state).unwrap_err().to_string()
    };
    assert_eq!(
        err(serde_json::json!("cycle"), serde_json::json!({"next": 2})),
        "cannot restore the state of selector cycle: next = 2 names no optimizer; it cycles over 2"
    );
    assert_eq!(
        err(serde_json::json!("cycle"), Value::Null),
        "cannot restore the state of selector cycle: found null; this component saves a state of its own"
    );
    assert!(
        err(serde_json::json!("random"), serde_json::json!({"next": 0}))
            .starts_with("cannot restore the state of selector random: unknown field `next`"),
    );
    assert_eq!(
        err(serde_json::json!({"type": "chain", "thresholds": [5]}), serde_json::json!({"index": 2})),
        "cannot restore the state of selector chain: index = 2 is past its 1 thresholds"
    );
    let ipop = serde_json::json!({"type": "cycle", "increasing_population": true});
    assert_eq!(
        err(ipop.clone(), serde_json::json!({"doublings": [], "issued": [], "inner": null})),
        "cannot restore the state of selector cycle: found null; this component saves a state of its own",
        "the inner selector's state is checked by the inner selector"
    );
    assert!(
        err(ipop, serde_json::json!({"doublings": [{"key": "a", "doublings": 10}], "issued": [], "inner": {"next": 0}}))
            .ends_with("10 doublings of a exceed the cap of 9")
    );
    // A stateless selector takes `null` only, also behind the spawn controls.
    let mut first = SpawnControl::new(Box::new(First(specs())), Some(5), None);
    assert_eq!(first.save(), Value::Null);
    assert_eq!(first.restore(&Value::Null), Ok(()));
    assert_eq!(
        first.restore(&serde_json::json!({"next": 1})).unwrap_err().to_string(),
        "cannot restore the state of selector first: it holds no state; expected null, found {\"next\":1}"
    );
}

#[test]
fn every_listed_selector_builds_and_an_unknown_one_is_refused_with_a_suggestion() {
    for name in SELECTORS {
        let config = match *name {
            "chain" => serde_json::json!({"type": "chain", "thresholds": [5]}),
            other => serde_json::json!(other),
        };
        assert_eq!(from_config(&config, vec![spec("a", 1), spec("b", 1)], 1).unwrap().name(), *name);
    }
    assert_eq!(
        from_config(&serde_json::json!("cylce"), vec![spec("a", 1)], 1).unwrap_err().to_string(),
        "selector: unknown selector `cylce`; did you mean `cycle`? expected one of cycle, chain, random"
    );
}
