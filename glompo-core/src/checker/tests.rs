//! Unit tests of the checkers: their answers, saved states and expression builder.

use super::*;

fn check(c: &mut CheckerExpr, run: &RunState) -> bool {
    c.check(run)
}

#[test]
fn target_cost_edges() {
    let at = |fx: f64| RunState { best_fx: Some(fx), ..RunState::default() };
    // The original's cases: TargetCost(0.9e-6) is true at fx = 0 (within atol); TargetCost(-2e-6) is false.
    assert!(check(&mut parse("target_cost(0.9e-6)").unwrap(), &at(0.0)));
    assert!(!check(&mut parse("target_cost(-2e-6)").unwrap(), &at(0.0)));
    assert!(check(&mut target_cost(1.0, 0.0), &at(1.0)));
    assert!(!check(&mut target_cost(1.0, 0.0), &at(1.0 + 1e-12)));
    assert!(!check(&mut target_cost(1.0, 0.0), &RunState::default()));
}

#[test]
fn counters_and_time() {
    let run = RunState {
        evaluations: 100,
        session_seconds: 5.0,
        overall_seconds: 12.0,
        optimizers_converged: 2,
        ..RunState::default()
    };
    assert!(check(&mut max_evals(100), &run));
    assert!(!check(&mut max_evals(101), &run));
    assert!(check(&mut max_seconds(5.0), &run));
    assert!(!check(&mut max_seconds(6.0), &run));
    assert!(check(&mut parse("max_seconds(overall=10)").unwrap(), &run));
    assert!(check(&mut n_converged(2), &run));
    assert!(!check(&mut n_converged(3), &run));
}

#[test]
fn kills_after_convergence_latches() {
    // The original's sequence for KillsAfterConvergence(4, 2).
    let mut c = parse("kills_after_convergence(4, 2)").unwrap();
    let at = |converged: u64, killed: u64| RunState {
        optimizers_converged: converged,
        optimizers_killed: killed,
        ..RunState::default()
    };
    assert!(!c.check(&at(0, 0)));
    assert!(!c.check(&at(1, 5)));
    assert!(!c.check(&at(2, 6)), "latches at 6 kills");
    assert!(!c.check(&at(2, 9)));
    assert!(c.check(&at(2, 10)));
    assert!(c.check(&at(3, 10)));
    let mut default = kills_after_convergence(0, 1);
    assert!(!default.check(&at(0, 3)));
    assert!(default.check(&at(1, 3)));
}

#[test]
fn kill_and_start_counts() {
    let run = RunState { optimizers_killed: 3, optimizers_started: 7, ..RunState::default() };
    assert!(check(&mut max_kills(3), &run));
    assert!(!check(&mut max_kills(4), &run));
    assert!(check(&mut max_optimizers_started(7), &run));
    assert!(!check(&mut parse("max_optimizers_started(8)").unwrap(), &run));
}

#[test]
fn strings_round_trip() {
    for text in [
        "max_evals(100000) | target_cost(0, 1e-6)",
        "max_seconds(overall=60) & n_converged(3)",
        "max_seconds(session=2.5)",
    ] {
        assert_eq!(parse(text).unwrap().to_string(), text);
    }
    let err = parse("max_seconds()").unwrap_err();
    assert_eq!(err.message, "max_seconds takes one of `session` or `overall`");
    let err = parse("max_evals(10) | max_evalz(3)").unwrap_err();
    assert_eq!(err.column, 17);
    assert!(
        err.message
            .starts_with("unknown checker `max_evalz`; did you mean `max_evals`? expected one of max_evals,"),
        "{}",
        err.message
    );
}

#[test]
fn the_kills_after_convergence_latch_survives_a_restore() {
    const EXPR: &str = "max_evals(1000) | kills_after_convergence(2, 1) & max_seconds(session=60)";
    let at = |converged: u64, killed: u64| RunState {
        optimizers_converged: converged,
        optimizers_killed: killed,
        session_seconds: 100.0,
        ..RunState::default()
    };
    let mut original = parse(EXPR).unwrap();
    assert!(!original.check(&at(0, 1)));
    assert!(!original.check(&at(1, 3)), "latches at 3 kills");
    let saved: Value = serde_json::from_str(&original.save().to_string()).unwrap();
    assert_eq!(saved, serde_json::json!([null, {"kills_at_convergence": 3}, null]));
    let mut resumed = parse(EXPR).unwrap();
    resumed.restore(&saved).unwrap();
    for (converged, killed, expected) in [(1, 4, false), (2, 5, true)] {
        assert_eq!(original.check(&at(converged, killed)), expected);
        assert_eq!(resumed.check(&at(converged, killed)), expected);
    }
    // Without the state a fresh checker latches late and does not stop.
    assert!(!parse(EXPR).unwrap().check(&at(2, 5)));
    // Before the convergences the latch is empty, and that is saved too.
    let fresh = parse("kills_after_convergence(2, 1)").unwrap();
    assert_eq!(fresh.save(), serde_json::json!([{"kills_at_convergence": null}]));
}

#[test]
fn checker_states_of_another_shape_are_refused_with_the_leaf_named() {
    let mut c = parse("max_evals(10) | kills_after_convergence(0, 1)").unwrap();
    let mut err = |state: Value| c.restore(&state).unwrap_err().to_string();
    assert_eq!(
        err(serde_json::json!({"kills_at_convergence": 1})),
        "cannot restore the state of checker expression `max_evals(10) | kills_after_convergence(0, 1)`: \
         expected a list of 2 states, one per condition, found {\"kills_at_convergence\":1}"
    );
    assert_eq!(
        err(serde_json::json!([3, null])),
        "cannot restore the state of checker max_evals(10) (condition 1 of 2): it holds no state; expected \
         null, found 3"
    );
    assert_eq!(
        err(serde_json::json!([null, null])),
        "cannot restore the state of checker kills_after_convergence(0, 1) (condition 2 of 2): found null; \
         this component saves a state of its own"
    );
    assert!(err(serde_json::json!([null, {}])).contains("missing field `kills_at_convergence`"));
    assert!(
        err(serde_json::json!([null, {"kills_at_convergence": -1}])).contains("invalid value: integer `-1`")
    );
}

#[test]
fn every_listed_checker_builds_and_an_unknown_one_is_refused_with_a_suggestion() {
    let value = |param: &str| match param {
        "max" | "n" | "n_killed" | "n_converged" => "4",
        "target" => "-1.5",
        "atol" | "session" => "0.25",
        other => panic!("no test value for the parameter `{other}`"),
    };
    for sig in CHECKERS {
        // `max_seconds` takes one of its two parameters.
        let params = if sig.name == "max_seconds" { &sig.params[..1] } else { sig.params };
        let args: Vec<String> = params.iter().map(|p| format!("{p}={}", value(p))).collect();
        let text = format!("{}({})", sig.name, args.join(", "));
        let c = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(c.to_string().starts_with(&format!("{}(", sig.name)), "{text} built {c}");
    }
    let err = parse("max_kill(3)").unwrap_err();
    assert!(err.message.starts_with("unknown checker `max_kill`; did you mean `max_kills`?"), "{err}");
}
