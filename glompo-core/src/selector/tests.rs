//! Unit tests of the selectors: their selections, saved states and config builder.

use super::*;
use crate::testing::ScriptedFactory;

/// The box every selector test runs in.
static BOUNDS: std::sync::LazyLock<Bounds> =
    std::sync::LazyLock::new(|| Bounds::uniform(2, -1.0, 1.0).expect("a valid box"));

/// What a selector sees with `free` slots, `evaluations` logged and `started` optimizers, without a
/// budget.
fn context(free: usize, evaluations: u64, started: u64) -> SelectContext<'static> {
    SelectContext {
        free_slots: free,
        evaluations,
        optimizers_started: started,
        remaining: None,
        bounds: &BOUNDS,
    }
}

/// An end of the optimizer started with `factory`, without a best value.
fn ended(factory: &Arc<dyn OptimizerFactory>, converged: bool, evaluations: u64) -> Ended<'_> {
    Ended { factory, converged, evaluations, best: None, found_best: false }
}

#[test]
fn cycle_waits_for_a_misfit_without_skipping() {
    let a = OptimizerSpec::new(Arc::new(ScriptedFactory::named("a"))).workers(2);
    let b = OptimizerSpec::new(Arc::new(ScriptedFactory::named("b")));
    let mut s = CycleSelector::new(vec![a, b]).unwrap();
    let mut seq = Vec::new();
    for free in [0, 1, 2, 1, 0, 2] {
        let ctx = context(free, 0, 0);
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
    match s.select(&context(free, evaluations, started)) {
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
    let mut s = Restarts::ipop(Box::new(CycleSelector::new(vec![base]).unwrap()));
    let ctx = context(1, 0, 0);
    let start = |s: &mut Restarts| match s.select(&ctx) {
        Selection::Start(spec) => spec.factory,
        other => panic!("expected a start, got {other:?}"),
    };
    let batch = |f: &Arc<dyn OptimizerFactory>| f.settings()["batch"].as_u64().unwrap();
    let mut batches = Vec::new();
    // A kill (not converged) keeps the size; each convergence doubles the next start's.
    for converged in [false, true, true, false, true] {
        let factory = start(&mut s);
        batches.push(batch(&factory));
        s.ended(&ended(&factory, converged, 100));
    }
    assert_eq!(batches, [3, 3, 6, 12, 12]);
    for _ in 0..20 {
        let factory = start(&mut s);
        s.ended(&ended(&factory, true, 100));
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
        "selector: unknown selector `roulette`; expected one of cycle, chain, random, portfolio"
    );
    assert_eq!(err(serde_json::json!({"type": "chain"})), "selector.thresholds: missing");
    assert_eq!(
        err(serde_json::json!({"type": "cycle", "thresholds": [1]})),
        "selector.thresholds: unknown option; expected one of stop_after_evals, stop_after_optimizers, increasing_population, restarts"
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
        (serde_json::json!("cycle"), Some(serde_json::json!({"next": 2, "started": [2, 2, 1]})), true),
        (
            serde_json::json!({"type": "chain", "thresholds": [50, 100]}),
            Some(serde_json::json!({"index": 1, "started": [5, 1, 0]})),
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
fn restarts_continue_after_a_restore_and_know_the_optimizers_they_started() {
    for restarts in
        [serde_json::json!({"increasing_population": true}), serde_json::json!({"restarts": "bipop"})]
    {
        let mut config = serde_json::json!({"type": "random", "stop_after_optimizers": 100});
        config.as_object_mut().unwrap().extend(restarts.as_object().unwrap().clone());
        let specs = || {
            vec![
                OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(3))),
                OptimizerSpec::new(Arc::new(ScriptedFactory::named("b").batch(5))),
            ]
        };
        let ctx = context(1, 0, 0);
        let start = |s: &mut dyn Selector| match s.select(&ctx) {
            Selection::Start(spec) => spec.factory,
            other => panic!("expected a start, got {other:?}"),
        };
        let label = |f: &Arc<dyn OptimizerFactory>| format!("{}{}", f.name(), f.settings()["batch"]);
        // Two optimizers run at a time; the oldest ends, converged every other time, after a varying
        // number of evaluations, and another starts.
        let step = |s: &mut dyn Selector, live: &mut Vec<Arc<dyn OptimizerFactory>>, i: usize| {
            let oldest = live.remove(0);
            s.ended(&ended(&oldest, i.is_multiple_of(2), (i as u64 * 37) % 500 + 50));
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
        assert_eq!(saved["issued"].as_array().map(Vec::len), Some(2), "{config}");
        assert!(saved["inner"]["rng"].is_object(), "the inner selector's state is saved: {saved}");
        // The resumed selector never saw the factories of the two optimizers still running: it knows
        // them by their names and settings.
        let mut resumed = from_config(&config, specs(), 8).unwrap();
        resumed.restore(&saved).unwrap();
        let mut live_resumed = live.clone();
        let after: Vec<String> = (9..30).map(|i| step(original.as_mut(), &mut live, i)).collect();
        let resumed_after: Vec<String> =
            (9..30).map(|i| step(resumed.as_mut(), &mut live_resumed, i)).collect();
        assert_eq!(resumed_after, after, "{config}");
        assert!(after.iter().any(|l| l.starts_with('a') && l != "a3"), "populations grew: {after:?}");
        assert_eq!(original.save(), resumed.save());
    }
}

#[test]
fn bipop_interleaves_small_restarts_until_their_budget_matches_the_large_ones() {
    let base = OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(4)));
    let mut s = Restarts::new(Box::new(CycleSelector::new(vec![base]).unwrap()), RestartMode::Bipop, 3);
    let mut seq = Vec::new();
    // Large runs use 1000 evaluations, small ones 400.
    for _ in 0..14 {
        let Selection::Start(spec) = s.select(&context(1, 0, 0)) else { panic!("no start") };
        let batch = spec.factory.settings()["batch"].as_u64().unwrap();
        let large = s.issued.last().unwrap().large;
        s.ended(&ended(&spec.factory, true, if large { 1000 } else { 400 }));
        seq.push((batch, large));
    }
    let regimes: Vec<bool> = seq.iter().map(|&(_, large)| large).collect();
    // The first start is large (the default); small ones follow while their total is below the large
    // total: 400, 800 < 1000, then 1200 ≥ 1000 lets a large one start (2000 large); 1600, then 2000 ≥
    // 2000 (3000 large); 2400, 2800, 3200 ≥ 3000, and so on.
    assert_eq!(
        regimes,
        [true, false, false, false, true, false, false, true, false, false, false, true, false, false]
    );
    let large: Vec<u64> = seq.iter().filter(|s| s.1).map(|s| s.0).collect();
    assert_eq!(large, [4, 8, 16, 32], "each large restart doubles the last one");
    // A small one is ⌊4 · (½ λ_large / 4)^{u²}⌋: from 4 up to half the last large population.
    let mut last_large = 4;
    for &(batch, is_large) in &seq {
        if is_large {
            last_large = batch;
        } else {
            assert!((4..=(last_large / 2).max(4)).contains(&batch), "{batch} after {last_large}: {seq:?}");
        }
    }
    assert!(
        seq.iter().any(|&(b, l)| !l && b > 4),
        "some small restarts are larger than the default: {seq:?}"
    );
}

#[test]
fn restarts_start_no_population_whose_first_generations_exceed_the_budget() {
    let base = || OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(3)));
    let budget = |remaining| SelectContext { remaining: Some(remaining), ..context(1, 0, 0) };
    let batch = |s: &mut Restarts, remaining| match s.select(&budget(remaining)) {
        Selection::Start(spec) => {
            s.ended(&ended(&spec.factory, true, 10));
            spec.factory.settings()["batch"].as_u64().unwrap()
        }
        other => panic!("expected a start, got {other:?}"),
    };
    let mut ipop = Restarts::ipop(Box::new(CycleSelector::new(vec![base()]).unwrap()));
    let sizes: Vec<u64> =
        [1000, 1000, 1000, 1000, 100, 1000, 10].iter().map(|&r| batch(&mut ipop, r)).collect();
    // 3, 6, 12, 24; then 48 · 10 > 100 so 6 (60 ≤ 100); then 96 again; at 10 left, the configured 3.
    assert_eq!(sizes, [3, 6, 12, 24, 6, 96, 3]);
    let mut bipop = Restarts::new(Box::new(CycleSelector::new(vec![base()]).unwrap()), RestartMode::Bipop, 1);
    assert_eq!(batch(&mut bipop, 1000), 3);
    // The small regime has used more than the large one: a large restart is due, but 6 · 10 > 50.
    bipop.configs[0].1.small_evals = 500;
    assert_eq!(batch(&mut bipop, 50), 3);
    assert_eq!(bipop.configs[0].1.small_evals, 510, "it ran as a small restart");
    assert_eq!(batch(&mut bipop, 1000), 6);
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
    fn select(&mut self, _: &SelectContext<'_>) -> Selection {
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
        err(serde_json::json!({"type": "chain", "thresholds": [5]}), serde_json::json!({"index": 3})),
        "cannot restore the state of selector chain: index = 3 is past its 2 optimizers"
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
        "selector: unknown selector `cylce`; did you mean `cycle`? expected one of cycle, chain, random, portfolio"
    );
}

#[test]
fn max_starts_passes_over_a_spent_spec_in_every_selector() {
    let specs = || vec![spec("once", 1).max_starts(1), spec("twice", 1).max_starts(2)];
    let mut cycle = CycleSelector::new(specs()).unwrap();
    let seq: Vec<String> = (0..5).map(|_| pick(&mut cycle, 1, 0, 0)).collect();
    assert_eq!(seq, ["once", "twice", "twice", "stop", "stop"]);
    // A spec that does not fit still waits, and its start still counts once it does.
    let mut cycle = CycleSelector::new(vec![spec("a", 2).max_starts(1), spec("b", 1)]).unwrap();
    let seq: Vec<String> = [1, 2, 1, 2].iter().map(|&free| pick(&mut cycle, free, 0, 0)).collect();
    assert_eq!(seq, ["wait", "a", "b", "b"]);

    let mut chain = ChainSelector::new(specs(), vec![100]).unwrap();
    let seq: Vec<String> = [0, 0, 0, 0].iter().map(|&e| pick(&mut chain, 1, e, 0)).collect();
    assert_eq!(seq, ["once", "twice", "twice", "stop"], "a spent link passes on before its threshold");

    let mut random = RandomSelector::new(specs(), 1).unwrap();
    let mut seq: Vec<String> = (0..3).map(|_| pick(&mut random, 1, 0, 0)).collect();
    assert_eq!(pick(&mut random, 1, 0, 0), "stop");
    seq.sort();
    assert_eq!(seq, ["once", "twice", "twice"]);
}

#[test]
fn start_counts_survive_a_checkpoint_and_older_states_load() {
    let specs = || vec![spec("once", 1).max_starts(1), spec("any", 1)];
    let mut a = CycleSelector::new(specs()).unwrap();
    assert_eq!(pick(&mut a, 1, 0, 0), "once");
    let mut b = CycleSelector::new(specs()).unwrap();
    b.restore(&a.save()).unwrap();
    let seq: Vec<String> = (0..3).map(|_| pick(&mut b, 1, 0, 0)).collect();
    assert_eq!(seq, ["any", "any", "any"]);
    // A checkpoint written before `max_starts` existed has no counts: none started.
    let mut c = CycleSelector::new(specs()).unwrap();
    c.restore(&serde_json::json!({"next": 0})).unwrap();
    assert_eq!(pick(&mut c, 1, 0, 0), "once");
    let err = c.restore(&serde_json::json!({"next": 0, "started": [1, 2, 3]})).unwrap_err();
    assert!(err.to_string().contains("3 start counts for 2 optimizers"), "{err}");

    let mut r = RandomSelector::new(specs(), 2).unwrap();
    let first = pick(&mut r, 1, 0, 0);
    let mut q = RandomSelector::new(specs(), 9).unwrap();
    q.restore(&r.save()).unwrap();
    let next: Vec<String> = (0..20).map(|_| pick(&mut r, 1, 0, 0)).collect();
    assert_eq!((0..20).map(|_| pick(&mut q, 1, 0, 0)).collect::<Vec<_>>(), next);
    assert_eq!(next.iter().chain([&first]).filter(|s| *s == "once").count(), 1);
}

/// The name of the factory a selection starts, `wait` or `stop`.
fn started(selection: Selection) -> String {
    match selection {
        Selection::Start(spec) => spec.factory.name().to_owned(),
        Selection::Wait => "wait".into(),
        Selection::Stop => "stop".into(),
    }
}

/// Drives `s` on one slot through runs of `(evaluations, whether it ends holding the run's best)`
/// each, and the optimizers it started.
fn portfolio_sequence(s: &mut dyn Selector, specs: &[OptimizerSpec], runs: &[(u64, bool)]) -> Vec<String> {
    let factory = |name: &str| {
        let spec = specs.iter().find(|s| s.factory.name() == name).expect("a spec of that name");
        Arc::clone(&spec.factory)
    };
    runs.iter()
        .map(|&(evaluations, found_best)| {
            let name = started(s.select(&context(1, 0, 0)));
            let f = factory(&name);
            s.ended(&Ended { factory: &f, converged: true, evaluations, best: Some(1.0), found_best });
            name
        })
        .collect()
}

#[test]
fn portfolio_gives_the_optimizer_that_wins_twice_the_share_per_win() {
    let specs = vec![
        OptimizerSpec::new(Arc::new(ScriptedFactory::named("a"))),
        OptimizerSpec::new(Arc::new(ScriptedFactory::named("b"))),
    ];
    let mut s = PortfolioSelector::new(specs.clone()).unwrap();
    // a's first run ends holding the run's best (a win), b's does not, a's second does again (a's
    // second win: weight 4), its later runs do not. Shares: a 100/2 < b 100/1; 200/4 < 100; 300/4 <
    // 100; 400/4 = 100, a tie, which goes to the first configured; 500/4 > 100: b.
    let (win, lose) = ((100, true), (100, false));
    let runs = [win, lose, win, lose, lose, lose, lose];
    let seq = portfolio_sequence(&mut s, &specs, &runs);
    assert_eq!(seq, ["a", "b", "a", "a", "a", "a", "b"]);
    assert_eq!(s.wins(), [2, 0]);
    // a goes on (600/4, 700/4, 800/4 = b's 200, a tie) until 900/4 > 200; b's run then wins, and
    // with 300/2 against 900/4 it goes on.
    let runs = [lose, lose, lose, lose, win, lose];
    let seq = portfolio_sequence(&mut s, &specs, &runs);
    assert_eq!(seq, ["a", "a", "a", "a", "b", "b"]);
    assert_eq!(s.wins(), [2, 1]);
    assert!(PortfolioSelector::new(Vec::new()).is_err());
}

#[test]
fn portfolio_counts_running_optimizers_at_their_mean_and_honours_slots_and_max_starts() {
    let specs = vec![
        OptimizerSpec::new(Arc::new(ScriptedFactory::named("a"))),
        OptimizerSpec::new(Arc::new(ScriptedFactory::named("b"))).workers(2).max_starts(2),
    ];
    let mut s = PortfolioSelector::new(specs.clone()).unwrap();
    let a = Arc::clone(&specs[0].factory);
    let b = Arc::clone(&specs[1].factory);
    // The first round in order, waiting for b's two slots without skipping it.
    assert_eq!(started(s.select(&context(1, 0, 0))), "a");
    assert_eq!(started(s.select(&context(1, 0, 0))), "wait");
    assert_eq!(started(s.select(&context(2, 0, 0))), "b");
    // a ends after 300 evaluations holding the best; b is still running, counted at the mean of all
    // ended runs (300): a 300/2 < b 300.
    s.ended(&Ended { factory: &a, converged: true, evaluations: 300, best: Some(1.0), found_best: true });
    assert_eq!(started(s.select(&context(1, 0, 0))), "a");
    // Now a counts 300 + one running at its mean 300, over 2: 300, b 300: a tie, to a.
    assert_eq!(started(s.select(&context(1, 0, 0))), "a");
    // a: 300 + 2 · 300 = 900 / 2 = 450 > b's 300: b, which waits for its slots.
    assert_eq!(started(s.select(&context(1, 0, 0))), "wait");
    s.ended(&Ended { factory: &b, converged: false, evaluations: 10, best: None, found_best: false });
    assert_eq!(started(s.select(&context(2, 0, 0))), "b");
    // b has used its two starts: only a is left, then nothing once a has a limit too.
    assert_eq!(started(s.select(&context(2, 0, 0))), "a");
    let limited = vec![OptimizerSpec::new(Arc::new(ScriptedFactory::named("a"))).max_starts(1)];
    let mut s = PortfolioSelector::new(limited).unwrap();
    assert_eq!(started(s.select(&context(1, 0, 0))), "a");
    assert_eq!(started(s.select(&context(1, 0, 0))), "stop");
}

#[test]
fn portfolio_learns_through_restarts_and_continues_after_a_restore() {
    let specs = || {
        vec![
            OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(3))),
            OptimizerSpec::new(Arc::new(ScriptedFactory::named("b").batch(5))),
        ]
    };
    let config = serde_json::json!({"type": "portfolio", "restarts": "ipop"});
    // IPOP hands out doubled factories; their ends count for their spec. Both first runs win, so a's
    // share ties with b's and a starts again; from then on b wins every run, so it gets the starts,
    // with a growing population.
    let step = |s: &mut dyn Selector, i: u64| {
        let Selection::Start(spec) = s.select(&context(1, 0, 0)) else { panic!("no start") };
        let name = spec.factory.name().to_owned();
        let found_best = name == "b" || i == 0;
        s.ended(&Ended { factory: &spec.factory, converged: true, evaluations: 100, best: None, found_best });
        format!("{name}{}", spec.factory.settings()["batch"])
    };
    let mut original = from_config(&config, specs(), 1).unwrap();
    let first: Vec<String> = (0..4).map(|i| step(original.as_mut(), i)).collect();
    assert_eq!(first, ["a3", "b5", "a6", "b10"]);
    let saved = through_text(&original.save());
    assert_eq!(saved["inner"]["arms"][1]["wins"], 2, "{saved}");
    let mut resumed = from_config(&config, specs(), 1).unwrap();
    resumed.restore(&saved).unwrap();
    let after: Vec<String> = (4..8).map(|i| step(original.as_mut(), i)).collect();
    let resumed_after: Vec<String> = (4..8).map(|i| step(resumed.as_mut(), i)).collect();
    assert_eq!(after, resumed_after);
    assert_eq!(after, ["b20", "b40", "b80", "b160"]);
    // States that cannot be this selector's are refused, naming it.
    let mut fresh = PortfolioSelector::new(specs()).unwrap();
    let mut wrong = saved["inner"].clone();
    wrong["arms"][0]["ended"] = serde_json::json!(9);
    let error = fresh.restore(&wrong).unwrap_err().to_string();
    assert!(error.contains("selector portfolio") && error.contains("9 runs ended of 2 started"), "{error}");
    wrong = saved["inner"].clone();
    wrong["started"] = serde_json::json!([1]);
    let error = fresh.restore(&wrong).unwrap_err().to_string();
    assert!(error.contains("1 start counts and 2 arms for 2 optimizers"), "{error}");
    assert!(fresh.restore(&serde_json::Value::Null).is_err());
}
