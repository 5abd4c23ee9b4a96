//! Unit tests of the generators: their points, saved states and config builder.

use super::*;

fn record(id: u64, x: &[f64], fx: f64) -> OptimizerRecord {
    let mut r = OptimizerRecord::new(id, "t", 1, 0);
    r.record(x, fx);
    r
}

fn ctx<'a>(
    bounds: &'a Bounds,
    best: Option<&'a Evaluation>,
    opts: &'a [OptimizerRecord],
    evals: u64,
) -> GenerateContext<'a> {
    GenerateContext { bounds, best, optimizers: opts, evaluations: evals }
}

#[test]
fn single_point_and_incumbent() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    let mut g = SinglePointGenerator::new(Some(vec![0.25, 0.5]), &bounds, 0).unwrap();
    assert_eq!(g.generate(&ctx(&bounds, None, &[], 0)), vec![0.25, 0.5]);
    let mut g = SinglePointGenerator::new(None, &bounds, 7).unwrap();
    let first = g.generate(&ctx(&bounds, None, &[], 0));
    assert!(bounds.contains(&first));
    assert_eq!(g.generate(&ctx(&bounds, None, &[], 9)), first);
    assert!(SinglePointGenerator::new(Some(vec![2.0, 0.0]), &bounds, 0).is_err());
    let best = Evaluation { x: vec![0.1, 0.9], fx: -1.0 };
    let mut g = IncumbentGenerator::new(1);
    assert_eq!(g.generate(&ctx(&bounds, Some(&best), &[], 0)), best.x);
    assert!(bounds.contains(&g.generate(&ctx(&bounds, None, &[], 0))));
}

#[test]
fn exploit_explore_moves_from_random_to_the_best_minima() {
    let bounds = Bounds::uniform(2, -10.0, 10.0).unwrap();
    let opts = [record(1, &[1.0, 1.0], 0.0), record(2, &[-5.0, 5.0], 10.0)];
    let mut g = ExploitExploreGenerator::new(1000, 1.0, 3).unwrap();
    // At the budget α = 1: only the better minimum has weight (the worse one's is 0).
    for _ in 0..20 {
        assert_eq!(g.generate(&ctx(&bounds, None, &opts, 1000)), vec![1.0, 1.0]);
    }
    // Half way, a point is half the best plus half a random point: within 5 of it per coordinate.
    for _ in 0..50 {
        let x = g.generate(&ctx(&bounds, None, &opts, 500));
        assert!(x.iter().all(|v| (v - 1.0).abs() <= 5.5), "{x:?}");
    }
    // Equal weights (a single optimizer) and no data give random points.
    let one = [record(1, &[1.0, 1.0], 0.0)];
    assert_ne!(g.generate(&ctx(&bounds, None, &one, 1000)), vec![1.0, 1.0]);
    assert!(bounds.contains(&g.generate(&ctx(&bounds, None, &[], 1000))));
    assert!(ExploitExploreGenerator::new(1, 1.0, 0).is_err());
    assert!(ExploitExploreGenerator::new(10, 0.0, 0).is_err());
}

#[test]
fn perturbation_is_a_truncated_normal_around_x0() {
    let bounds = Bounds::new([(0.0, 1.0), (-100.0, 100.0)]).unwrap();
    let mut g = PerturbationGenerator::new(vec![0.95, 3.0], vec![0.2, 1.0], &bounds, 5).unwrap();
    let xs: Vec<Vec<f64>> = (0..2000).map(|_| g.generate(&ctx(&bounds, None, &[], 0))).collect();
    assert!(xs.iter().all(|x| bounds.contains(x)));
    let mean1 = xs.iter().map(|x| x[1]).sum::<f64>() / xs.len() as f64;
    assert!((mean1 - 3.0).abs() < 0.1, "{mean1}");
    // Truncated at 1 just above x0, the first coordinate's mean falls below 0.95.
    let mean0 = xs.iter().map(|x| x[0]).sum::<f64>() / xs.len() as f64;
    assert!(mean0 < 0.9, "{mean0}");
    assert!(PerturbationGenerator::new(vec![0.5, 0.0], vec![0.0], &bounds, 0).is_err());
    assert!(PerturbationGenerator::new(vec![0.5, 0.0], vec![1.0, 1.0, 1.0], &bounds, 0).is_err());
}

#[test]
fn basin_hopping_stays_in_the_box_and_near_minima() {
    let bounds = Bounds::uniform(2, 0.0, 10.0).unwrap();
    let opts = [record(1, &[0.0, 0.0], 0.0), record(2, &[9.0, 9.0], 50.0)];
    let best = opts[0].best().cloned();
    let mut g = BasinHoppingGenerator::new(1.0, 0.1, 0.5, 5, 0.9, 2).unwrap();
    for _ in 0..200 {
        let x = g.generate(&ctx(&bounds, best.as_ref(), &opts, 0));
        assert!(bounds.contains(&x), "{x:?}");
        // A hop to the far minimum is accepted with probability e^-50: never in practice.
        assert!(x.iter().all(|v| *v <= 1.0 + 1e-12), "{x:?}");
    }
    assert!(g.step < 0.1, "no hop accepted, so the step shrank: {}", g.step);
    assert!(BasinHoppingGenerator::new(1.0, 1.5, 0.5, 5, 0.9, 0).is_err());
}

#[test]
fn configs_build_generators_and_name_bad_fields() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    for name in GENERATORS {
        let config = match *name {
            "perturbation" => {
                serde_json::json!({"type": "perturbation", "x0": [0.5, 0.5], "scale": [0.1]})
            }
            "exploit_explore" => serde_json::json!({"type": "exploit-explore", "max_evals": 100}),
            other => serde_json::json!(other),
        };
        let mut g = from_config(&config, &bounds, 1, None).unwrap();
        assert_eq!(g.name(), *name);
        assert!(bounds.contains(&g.generate(&ctx(&bounds, None, &[], 0))));
    }
    let err = |v: serde_json::Value| from_config(&v, &bounds, 1, None).unwrap_err().to_string();
    assert!(
        err(serde_json::json!("sobol"))
            .starts_with("generator: unknown generator `sobol`; expected one of random,")
    );
    assert!(err(serde_json::json!({"type": "basin_hoping"})).starts_with(
        "generator.type: unknown generator `basin_hoping`; did you mean `basin_hopping`? expected one of"
    ));
    assert_eq!(
        err(serde_json::json!({"type": "exploit_explore", "max_evals": 10, "focus": 0})),
        "generator.focus: must be > 0"
    );
    assert_eq!(
        err(serde_json::json!({"type": "random", "focus": 2})),
        "generator.focus: unknown option; `generator` takes none"
    );
    assert_eq!(err(serde_json::json!({"focus": 2})), "generator.type: missing");
}

#[test]
fn exploit_explore_takes_the_run_budget_without_max_evals() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    let config = serde_json::json!({"type": "exploit_explore", "focus": 2});
    let g = from_config(&config, &bounds, 1, Some(5000)).unwrap();
    assert!(format!("{g:?}").contains("max_evals: 5000"), "{g:?}");
    // Its own max_evals wins over the budget.
    let own = serde_json::json!({"type": "exploit_explore", "max_evals": 70});
    assert!(format!("{:?}", from_config(&own, &bounds, 1, Some(5000)).unwrap()).contains("max_evals: 70"));
    assert_eq!(
        from_config(&config, &bounds, 1, None).unwrap_err().to_string(),
        "generator.max_evals: missing, and the run has no evaluation budget to take it from; give it, or \
         end the run with max_evals(N) in `convergence`"
    );
}

#[test]
fn random_points_are_inside_and_reproducible() {
    let bounds = Bounds::new([(-1.0, 1.0), (100.0, 100.5)]).unwrap();
    let ctx = GenerateContext { bounds: &bounds, best: None, optimizers: &[], evaluations: 0 };
    let mut a = RandomGenerator::new(3);
    let mut b = RandomGenerator::new(3);
    for _ in 0..1000 {
        let x = a.generate(&ctx);
        assert!(bounds.contains(&x));
        assert_eq!(x, b.generate(&ctx));
    }
    assert_ne!(RandomGenerator::new(4).generate(&ctx), RandomGenerator::new(3).generate(&ctx));
}

/// The config of every generator, as in a run of `bounds` = [0, 1]².
fn config_of(name: &str) -> serde_json::Value {
    match name {
        "perturbation" => serde_json::json!({"type": "perturbation", "x0": [0.5, 0.5], "scale": [0.1]}),
        "exploit_explore" => serde_json::json!({"type": "exploit_explore", "max_evals": 100}),
        "basin_hopping" => serde_json::json!({"type": "basin_hopping", "interval": 2}),
        other => serde_json::json!(other),
    }
}

/// Starts `n` optimizers as the manager does: the generator's own evaluations first (of a bowl
/// at (0.3, 0.6)), then the start point, which becomes a record whose best the next starts see.
fn starts(g: &mut dyn Generator, opts: &mut Vec<OptimizerRecord>, n: usize) -> Vec<Vec<f64>> {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    let f = |x: &[f64]| (x[0] - 0.3).powi(2) + (x[1] - 0.6).powi(2);
    (0..n)
        .map(|_| {
            let best = opts.iter().filter_map(|o| o.best()).min_by(|a, b| a.fx.total_cmp(&b.fx)).cloned();
            let evaluations = 10 * opts.len() as u64;
            let ctx = GenerateContext { bounds: &bounds, best: best.as_ref(), optimizers: opts, evaluations };
            loop {
                let points = g.wants(&ctx);
                if points.is_empty() {
                    break;
                }
                let evals: Vec<Evaluation> =
                    points.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
                g.tell(&evals);
            }
            let x = g.generate(&ctx);
            opts.push(record(opts.len() as u64 + 1, &x, f(&x)));
            x
        })
        .collect()
}

#[test]
fn every_generator_continues_exactly_after_a_restore() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    for name in GENERATORS {
        let build = || from_config(&config_of(name), &bounds, 17, None).unwrap();
        let mut original = build();
        let mut opts = Vec::new();
        starts(original.as_mut(), &mut opts, 7);
        // As a checkpoint carries it: JSON text, read back.
        let saved: serde_json::Value = serde_json::from_str(&original.save().to_string()).unwrap();
        assert_eq!(saved.is_null(), *name == "single_point", "{name}: {saved}");
        let mut resumed = build();
        resumed.restore(&saved).unwrap();
        let mut resumed_opts = opts.clone();
        let after = starts(original.as_mut(), &mut opts, 12);
        assert_eq!(starts(resumed.as_mut(), &mut resumed_opts, 12), after, "{name}");
        assert_eq!(resumed.save(), original.save(), "{name}");
        // The incumbent generator draws only before there is a best point.
        if !["single_point", "incumbent"].contains(name) {
            let mut fresh_opts = resumed_opts[..7].to_vec();
            assert_ne!(starts(build().as_mut(), &mut fresh_opts, 12), after, "{name}: the state matters");
        }
    }
}

#[test]
fn basin_hopping_saves_its_adapted_step_exactly() {
    let mut g = BasinHoppingGenerator::new(1.0, 0.1, 0.5, 2, 0.7, 2).unwrap();
    starts(&mut g, &mut Vec::new(), 9);
    assert_eq!((g.trials, g.step == 0.1), (7, false), "three adaptations changed the step");
    let saved: serde_json::Value = serde_json::from_str(&g.save().to_string()).unwrap();
    let mut resumed = BasinHoppingGenerator::new(1.0, 0.1, 0.5, 2, 0.7, 2).unwrap();
    resumed.restore(&saved).unwrap();
    assert_eq!(resumed.step.to_bits(), g.step.to_bits());
    assert_eq!((resumed.trials, resumed.accepted), (g.trials, g.accepted));
}

#[test]
fn generator_states_of_another_shape_are_refused_with_the_generator_named() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    let err = |name: &str, state: serde_json::Value| {
        let mut g = from_config(&config_of(name), &bounds, 1, None).unwrap();
        g.restore(&state).unwrap_err().to_string()
    };
    assert_eq!(
        err("random", serde_json::Value::Null),
        "cannot restore the state of generator random: found null; this component saves a state of its own"
    );
    assert!(
        err("incumbent", serde_json::json!({"rng": {"seed": 1}}))
            .starts_with("cannot restore the state of generator incumbent: missing field `stream`"),
    );
    assert_eq!(
        err("perturbation", serde_json::json!({"rng": {"seed": 1, "stream": 0, "word_pos": "x"}})),
        "cannot restore the state of generator perturbation: rng: word_pos \"x\" is not an integer"
    );
    let rng = serde_json::json!({"seed": 1, "stream": 0, "word_pos": "0"});
    assert_eq!(
        err("basin_hopping", serde_json::json!({"step": 2, "trials": 0, "accepted": 0, "rng": rng})),
        "cannot restore the state of generator basin_hopping: step = 2 is not in (0, 1]"
    );
    assert_eq!(
        err("single_point", serde_json::json!({"rng": rng})),
        "cannot restore the state of generator single_point: it holds no state; expected null, found \
         {\"rng\":{\"seed\":1,\"stream\":0,\"word_pos\":\"0\"}}"
    );
    assert!(err("exploit_explore", serde_json::json!([1])).contains("generator exploit_explore"));
    assert!(
        err("annealing", serde_json::json!({"rng": rng, "current": null, "chain_best": null, "k": 0, "visits": 0, "pending": null}))
            .contains("generator annealing: missing field `chain_done`")
    );
    assert_eq!(
        err(
            "annealing",
            serde_json::json!({"rng": rng, "current": null, "chain_best": null, "k": 0, "visits": 3, "pending": null, "chain_done": false})
        ),
        "cannot restore the state of generator annealing: 3 visits without a current state"
    );
    assert!(
        err("annealing", serde_json::json!({"rng": rng, "chain_best": null, "k": 0, "visits": 0, "pending": null, "chain_done": false}))
            .contains("generator annealing: missing field `current`"),
        "a missing point is not taken for none"
    );
}

#[test]
fn spread_starts_away_from_earlier_starts_and_explored_minima() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    // Two basins explored near (0.1, 0.1) and (0.9, 0.1).
    let explored = [record(1, &[0.1, 0.1], 1.0), record(2, &[0.9, 0.1], 2.0)];
    let mut spread = SpreadGenerator::new(64, 5).unwrap();
    let mut random = RandomGenerator::new(5);
    let c = ctx(&bounds, None, &explored, 0);
    let first = spread.generate(&c);
    let dist = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    // Of 64 draws the one farthest from both lies near the top edge, 0.5 or more from each.
    assert!(explored.iter().all(|o| dist(&o.best().unwrap().x, &first) > 0.5), "{first:?}");
    // Its starts keep their distance from each other: the closest pair of 12 is farther apart than
    // for 12 uniform draws.
    let closest = |points: &[Vec<f64>]| {
        let mut m = f64::INFINITY;
        for (i, a) in points.iter().enumerate() {
            for b in &points[i + 1..] {
                m = m.min(dist(a, b));
            }
        }
        m
    };
    let none: [OptimizerRecord; 0] = [];
    let empty = ctx(&bounds, None, &none, 0);
    let ours: Vec<Vec<f64>> = (0..12).map(|_| spread.generate(&empty)).collect();
    let theirs: Vec<Vec<f64>> = (0..12).map(|_| random.generate(&empty)).collect();
    assert!(closest(&ours) > 2.0 * closest(&theirs), "{} vs {}", closest(&ours), closest(&theirs));
    assert!(ours.iter().all(|x| bounds.contains(x)));
    assert!(SpreadGenerator::new(0, 1).is_err());
    let err =
        from_config(&serde_json::json!({"type": "spread", "candidates": 0}), &bounds, 1, None).unwrap_err();
    assert_eq!(err.to_string(), "generator.candidates: must be at least 1");
}

#[test]
fn a_perturbed_incumbent_starts_near_the_best_point_inside_the_box() {
    let bounds = Bounds::uniform(2, 0.0, 10.0).unwrap();
    let best = Evaluation { x: vec![9.5, 5.0], fx: 0.0 };
    let mut g =
        from_config(&serde_json::json!({"type": "incumbent", "scale": 0.05}), &bounds, 3, None).unwrap();
    let none: [OptimizerRecord; 0] = [];
    let points: Vec<Vec<f64>> = (0..400).map(|_| g.generate(&ctx(&bounds, Some(&best), &none, 0))).collect();
    assert!(points.iter().all(|x| bounds.contains(x)));
    // σ = 0.05 · 10 = 0.5 per coordinate: the mean of x1 is 5, its spread about 0.5; x0 is truncated at 10.
    let mean1 = points.iter().map(|x| x[1]).sum::<f64>() / 400.0;
    let sd1 = (points.iter().map(|x| (x[1] - mean1).powi(2)).sum::<f64>() / 400.0).sqrt();
    assert!((mean1 - 5.0).abs() < 0.1 && (sd1 - 0.5).abs() < 0.1, "{mean1} {sd1}");
    assert!(points.iter().all(|x| x[0] > 7.0) && points.iter().any(|x| x[0] < 9.5));
    assert_ne!(points[0], best.x);
    // Without a best point it draws uniformly, like the plain incumbent generator.
    let first = g.generate(&ctx(&bounds, None, &none, 0));
    assert!(bounds.contains(&first));
    let err =
        from_config(&serde_json::json!({"type": "incumbent", "scale": 0}), &bounds, 3, None).unwrap_err();
    assert_eq!(err.to_string(), "generator.scale: 0 is not a finite value > 0");
}
