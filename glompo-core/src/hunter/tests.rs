//! Unit tests of the hunters: their verdicts, saved states and expression builder.

use super::*;

fn record(id: u64, values: &[f64], xs: &[f64]) -> OptimizerRecord {
    let mut r = OptimizerRecord::new(id, "t", 1, 100);
    for (fx, x) in values.iter().zip(xs.iter().cycle()) {
        r.record(&[*x, 0.0], *fx);
    }
    r
}

fn verdict(h: &mut HunterExpr, hunter: &OptimizerRecord, victim: &OptimizerRecord) -> bool {
    let bounds = Bounds::uniform(2, 0.0, 10.0).unwrap();
    let all = [hunter.clone(), victim.clone()];
    let ctx = HuntContext { hunter, victim, optimizers: &all, bounds: &bounds };
    h.hunt(&ctx)
}

#[test]
fn best_unmoving_truth_table() {
    // The original's case: [10]*10 + [1]*10 + [0.9]*10.
    let vals: Vec<f64> = std::iter::repeat_n(10.0, 10)
        .chain(std::iter::repeat_n(1.0, 10))
        .chain(std::iter::repeat_n(0.9, 10))
        .collect();
    let victim = record(2, &vals, &[1.0]);
    let hunter = record(1, &[0.0], &[1.0]);
    for (calls, tol, expected) in
        [(12, 0.0, false), (8, 0.0, true), (11, 0.1, true), (12, 0.91, true), (30, 0.0, false)]
    {
        assert_eq!(
            verdict(&mut best_unmoving(calls, tol), &hunter, &victim),
            expected,
            "calls {calls} tol {tol}"
        );
    }
}

#[test]
fn min_evals_and_distance() {
    let hunter = record(1, &[0.0], &[5.0]);
    let near = record(2, &[1.0, 2.0, 3.0], &[5.5]);
    let far = record(3, &[1.0, 2.0, 3.0], &[9.0]);
    assert!(verdict(&mut min_evals(3), &hunter, &near));
    assert!(!verdict(&mut min_evals(4), &hunter, &near));
    // The diagonal of [0, 10]^2 is 14.14; 0.05 of it is 0.707.
    assert!(verdict(&mut parameter_distance(0.05), &hunter, &near));
    assert!(!verdict(&mut parameter_distance(0.05), &hunter, &far));
    assert!(verdict(&mut parameter_distance(0.3), &hunter, &far));
}

#[test]
fn evaluations_unmoving_and_invalid_points() {
    let hunter = record(1, &[0.0], &[1.0]);
    let flat = record(2, &[9.0, 5.0, 5.0, 5.0], &[1.0]);
    let spread = record(3, &[1.0, 2.0, 3.0], &[1.0]);
    assert!(verdict(&mut evaluations_unmoving(3, 0.0), &hunter, &flat));
    assert!(!verdict(&mut evaluations_unmoving(4, 0.0), &hunter, &flat));
    // The standard deviation of 1, 2, 3 is 0.816; the last value is 3.
    assert!(!verdict(&mut evaluations_unmoving(3, 0.2), &hunter, &spread));
    assert!(verdict(&mut evaluations_unmoving(3, 0.3), &hunter, &spread));
    assert!(!verdict(&mut evaluations_unmoving(5, 0.3), &hunter, &spread));
    let nan = f64::NAN;
    let invalid = record(4, &[1.0, nan, nan, nan, nan], &[1.0]);
    assert!(verdict(&mut last_points_invalid(4), &hunter, &invalid));
    assert!(!verdict(&mut last_points_invalid(5), &hunter, &invalid));
    let recovered = record(5, &[nan, nan, nan, nan, nan, 2.0], &[1.0]);
    assert!(!verdict(&mut last_points_invalid(1), &hunter, &recovered));
}

#[test]
fn step_size_and_type() {
    let hunter = record(1, &[0.0], &[1.0]);
    // Steps of 0.01 in a box whose diagonal is 14.14: 0.0007 of it.
    let creeping = record(2, &[3.0; 6], &[1.0, 1.01, 1.02, 1.03, 1.04, 1.05]);
    let jumping = record(3, &[3.0; 6], &[1.0, 5.0]);
    assert!(verdict(&mut step_size(5, 0.001), &hunter, &creeping));
    assert!(!verdict(&mut step_size(5, 0.0005), &hunter, &creeping));
    assert!(!verdict(&mut step_size(7, 0.001), &hunter, &creeping), "needs 7 evaluations");
    assert!(!verdict(&mut step_size(5, 0.05), &hunter, &jumping));
    let mut nm = OptimizerRecord::new(4, "nelder-mead", 1, 0);
    nm.record(&[1.0, 1.0], 1.0);
    assert!(verdict(&mut parse("type_hunter(nelder_mead)", 1).unwrap(), &hunter, &nm));
    assert!(!verdict(&mut type_hunter("cma-es"), &hunter, &nm));
    assert_eq!(type_hunter("Nelder_Mead").to_string(), "type_hunter(\"nelder-mead\")");
    let h = parse("type_hunter(bfgs) | min_evals(3) & type_hunter(\"Nelder-Mead\")", 0).unwrap();
    assert_eq!(h.optimizer_types(), ["bfgs", "nelder_mead"]);
    assert!(min_evals(3).optimizer_types().is_empty());
}

/// How often `h` kills `victim` over `n` hunts.
fn kill_rate(h: &mut HunterExpr, hunter: &OptimizerRecord, victim: &OptimizerRecord, n: usize) -> f64 {
    (0..n).filter(|_| verdict(h, hunter, victim)).count() as f64 / n as f64
}

#[test]
fn annealing_hunters_kill_at_their_rates_reproducibly() {
    let short = record(1, &[1.0; 10], &[1.0]);
    let long = record(2, &[2.0; 40], &[1.0]);
    // time_annealing(1): kill when U(0, 1) > 10 / 40.
    let rate = kill_rate(&mut parse("time_annealing()", 3).unwrap(), &short, &long, 4000);
    assert!((rate - 0.75).abs() < 0.03, "{rate}");
    assert_eq!(kill_rate(&mut parse("time_annealing(1)", 3).unwrap(), &long, &short, 500), 0.0);
    // value_annealing(0.5): the victim's best (2) is twice the hunter's (1), so it dies half the time.
    let rate = kill_rate(&mut parse("value_annealing(0.5)", 3).unwrap(), &short, &long, 4000);
    assert!((rate - 0.5).abs() < 0.03, "{rate}");
    assert_eq!(kill_rate(&mut parse("value_annealing(0.5)", 3).unwrap(), &long, &short, 500), 0.0);
    let zero = record(3, &[0.0], &[1.0]);
    assert_eq!(kill_rate(&mut parse("value_annealing(0.5)", 3).unwrap(), &zero, &long, 500), 0.0);
    // The same seed gives the same verdicts; another seed other ones.
    let seq = |seed: u64| -> Vec<bool> {
        let mut h = parse("time_annealing(2)", seed).unwrap();
        (0..64).map(|_| verdict(&mut h, &short, &long)).collect()
    };
    assert_eq!(seq(5), seq(5));
    assert_ne!(seq(5), seq(6));
    let err = parse("value_annealing(1.5)", 1).unwrap_err();
    assert_eq!(err.message, "`med_kill_chance` of value_annealing must be in (0, 1)");
}

#[test]
fn the_window_is_the_longest_leaf_window() {
    let h = parse("min_evals(5) & (best_unmoving(300) | evaluations_unmoving(40, 0.1) | step_size(70))", 0)
        .unwrap();
    assert_eq!(h.window(), 300);
    assert_eq!(min_evals(3).window(), 0);
}

#[test]
fn parse_builds_leaves_and_reports_errors() {
    let mut h = parse("min_evals(3) & (best-unmoving(calls=8) | parameter_distance(0.05, test_all=true))", 1)
        .unwrap();
    assert_eq!(
        h.to_string(),
        "min_evals(3) & (best_unmoving(8, 0) | parameter_distance(0.05, test_all=true))"
    );
    let vals = [5.0; 12];
    let victim = record(2, &vals, &[9.0]);
    let hunter = record(1, &[0.0], &[1.0]);
    assert!(verdict(&mut h, &hunter, &victim));
    assert_eq!(
        h.with_values().to_string(),
        "[min_evals(3) = true & [best_unmoving(8, 0) = true | parameter_distance(0.05, test_all=true) = skipped]]"
    );
    let err = parse("min_evals(3) & best_unmovin(5)", 1).unwrap_err();
    assert_eq!(err.column, 16);
    assert_eq!(
        err.message,
        "unknown hunter `best_unmovin`; did you mean `best_unmoving`? expected one of min_evals, best_unmoving, evaluations_unmoving, \
         explored_basin, last_points_invalid, parameter_distance, step_size, time_annealing, type_hunter, value_annealing"
    );
    let err = parse("parameter_distance(0)", 1).unwrap_err();
    assert_eq!(err.message, "`relative_distance` of parameter_distance must be > 0");
}

#[test]
fn random_hunters_continue_exactly_after_a_restore() {
    const EXPR: &str = "min_evals(1) & (time_annealing(2) | value_annealing(0.3))";
    let hunter = record(1, &[1.0; 10], &[1.0]);
    let victims = [record(2, &[2.0; 40], &[1.0]), record(3, &[3.0; 15], &[2.0])];
    let hunts = |h: &mut HunterExpr, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                verdict(h, &hunter, &victims[i % 2]);
                h.with_values().to_string()
            })
            .collect()
    };
    let mut original = parse(EXPR, 5).unwrap();
    hunts(&mut original, 25);
    let saved: Value = serde_json::from_str(&original.save().to_string()).unwrap();
    // One state per leaf, in leaf order; each random leaf's RNG has the seed of its leaf.
    assert_eq!(saved.as_array().map(Vec::len), Some(3));
    assert!(saved[0].is_null());
    let seeds = RunSeeds::new(5);
    assert_eq!(saved[1]["rng"]["seed"], seeds.hunter_leaf(1));
    assert_eq!(saved[2]["rng"]["seed"], seeds.hunter_leaf(2));
    let mut resumed = parse(EXPR, 5).unwrap();
    resumed.restore(&saved).unwrap();
    let after = hunts(&mut original, 60);
    assert_eq!(hunts(&mut resumed, 60), after);
    assert!(after.iter().any(|v| v.contains("time_annealing(2) = true")), "{after:?}");
    assert!(after.iter().any(|v| v.contains("value_annealing(0.3) = true")), "{after:?}");
    assert_ne!(hunts(&mut parse(EXPR, 5).unwrap(), 60), after, "the state matters");
}

#[test]
fn hunter_states_of_another_shape_are_refused_with_the_leaf_named() {
    let mut h = parse("min_evals(1) & time_annealing(2)", 5).unwrap();
    let rng = serde_json::json!({"rng": {"seed": 1, "stream": 0, "word_pos": "0"}});
    let mut err = |state: Value| h.restore(&state).unwrap_err().to_string();
    assert_eq!(
        err(Value::Null),
        "cannot restore the state of hunter expression `min_evals(1) & time_annealing(2)`: expected a list of \
         2 states, one per condition, found null"
    );
    assert_eq!(
        err(serde_json::json!([null])),
        "cannot restore the state of hunter expression `min_evals(1) & time_annealing(2)`: expected a list of \
         2 states, one per condition, found a list of 1"
    );
    assert_eq!(
        err(serde_json::json!([rng, rng])),
        "cannot restore the state of hunter min_evals(1) (condition 1 of 2): it holds no state; expected \
         null, found {\"rng\":{\"seed\":1,\"stream\":0,\"word_pos\":\"0\"}}"
    );
    assert_eq!(
        err(serde_json::json!([null, null])),
        "cannot restore the state of hunter time_annealing(2) (condition 2 of 2): found null; this component \
         saves a state of its own"
    );
    assert!(err(serde_json::json!([null, {"rng": 3}])).starts_with(
        "cannot restore the state of hunter time_annealing(2) (condition 2 of 2): invalid type: integer `3`"
    ));
    assert_eq!(h.restore(&serde_json::json!([null, rng])), Ok(()));
}

#[test]
fn every_listed_hunter_builds_and_an_unknown_one_is_refused_with_a_suggestion() {
    let value = |param: &str| match param {
        "min" | "calls" | "n" => "4",
        "test_all" => "true",
        "type" => "cma-es",
        "med_kill_chance" | "tol" | "relative_distance" | "relative_tol" | "relative_step" => "0.25",
        "crit_ratio" | "factor" => "1.5",
        other => panic!("no test value for the parameter `{other}`"),
    };
    for sig in HUNTERS {
        let args: Vec<String> = sig.params.iter().map(|p| format!("{p}={}", value(p))).collect();
        let text = format!("{}({})", sig.name, args.join(", "));
        let h = parse(&text, 1).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(h.to_string().starts_with(&format!("{}(", sig.name)), "{text} built {h}");
    }
    let err = parse("time_anealing(1)", 1).unwrap_err();
    assert!(
        err.message.starts_with("unknown hunter `time_anealing`; did you mean `time_annealing`?"),
        "{err}"
    );
}

/// A record of an optimizer that walked through `xs` (2-D points) with values `fx`, ended if `ended`.
fn walked(id: u64, points: &[([f64; 2], f64)], ended: bool) -> OptimizerRecord {
    let mut r = OptimizerRecord::new(id, "t", 1, 100);
    for (x, fx) in points {
        r.record(x, *fx);
    }
    if ended {
        r.retire();
    }
    r
}

fn explored_verdict(victim: &OptimizerRecord, hunter: &OptimizerRecord, others: &[OptimizerRecord]) -> bool {
    let bounds = Bounds::uniform(2, 0.0, 10.0).unwrap();
    let mut all = vec![hunter.clone(), victim.clone()];
    all.extend_from_slice(others);
    let ctx = HuntContext { hunter, victim, optimizers: &all, bounds: &bounds };
    parse("explored_basin(4)", 1).unwrap().hunt(&ctx)
}

#[test]
fn explored_basin_kills_only_a_settled_victim_inside_an_explored_basin() {
    // Two basins explored: end points at (2, 2) (f = 1) and (8, 8) (f = 0, the hunter's).
    let ended = walked(3, &[([2.0, 2.0], 1.0)], true);
    let hunter = walked(1, &[([8.0, 8.0], 0.0)], false);
    // Settled at (2.03, 2.0) with steps of 0.04: inside the basin of (2, 2), closer than a step... no:
    // 0.03 < 0.04, and the step is far below half the spacing of the basins (4.2).
    let settled: Vec<([f64; 2], f64)> = (0..6).map(|i| ([2.03 + 0.04 * (i % 2) as f64, 2.0], 1.5)).collect();
    assert!(explored_verdict(&walked(2, &settled, false), &hunter, std::slice::from_ref(&ended)));
    // The same points with a better value than the explored end point: a better minimum, kept.
    let better: Vec<([f64; 2], f64)> = settled.iter().map(|(x, _)| (*x, 0.5)).collect();
    assert!(!explored_verdict(&walked(2, &better, false), &hunter, std::slice::from_ref(&ended)));
    // Still exploring: steps of 3 around (2.5, 2): close to (2, 2), but its step is above 1 % of the
    // diagonal and above half the spacing.
    let wide: Vec<([f64; 2], f64)> = (0..6).map(|i| ([1.0 + 3.0 * (i % 2) as f64, 2.0], 1.5)).collect();
    assert!(!explored_verdict(&walked(2, &wide, false), &hunter, std::slice::from_ref(&ended)));
    // Settled, but in a basin nobody explored (5, 5).
    let elsewhere: Vec<([f64; 2], f64)> = (0..6).map(|i| ([5.0 + 0.04 * (i % 2) as f64, 5.0], 1.5)).collect();
    assert!(!explored_verdict(&walked(2, &elsewhere, false), &hunter, std::slice::from_ref(&ended)));
    // The incumbent's basin counts too: settled next to the hunter's (8, 8).
    let by_hunter: Vec<([f64; 2], f64)> =
        (0..6).map(|i| ([8.0, 8.02 + 0.04 * (i % 2) as f64], 0.1)).collect();
    assert!(explored_verdict(&walked(2, &by_hunter, false), &hunter, &[]));
    // An optimizer still running is no explored basin: (2, 2) belongs to a live one here.
    let live = walked(3, &[([2.0, 2.0], 1.0)], false);
    assert!(!explored_verdict(&walked(2, &settled, false), &hunter, &[live]));
    // Fewer evaluations than the window: no verdict.
    assert!(!explored_verdict(&walked(2, &settled[..2], false), &hunter, std::slice::from_ref(&ended)));
    assert_eq!(parse("explored_basin()", 1).unwrap().to_string(), "explored_basin(50, 1, 0.01)");
    assert!(parse("explored_basin(10, 0)", 1).is_err());
}
