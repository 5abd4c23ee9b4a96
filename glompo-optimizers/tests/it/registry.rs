//! The registry: names, options and their errors.

use glompo_core::{Bounds, OptimizerError};
use glompo_optimizers::{NAMES, factory};
use serde_json::{Map, Value, json};

use crate::common::ctx;

fn options(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn option_error(name: &str, opts: Value) -> (String, String) {
    match factory(name, &options(opts)) {
        Err(OptimizerError::InvalidOption { option, message }) => (option, message),
        other => panic!("expected an invalid option, got {other:?}"),
    }
}

#[test]
fn names_are_canonical_case_insensitive_and_accept_underscores() {
    for name in NAMES {
        let f = factory(name, &Map::new()).unwrap();
        assert_eq!(f.name(), *name);
        let variant = name.to_uppercase().replace('-', "_");
        assert_eq!(factory(&variant, &Map::new()).unwrap().name(), *name);
        assert!(f.settings().is_object());
    }
}

#[test]
fn unknown_type_names_itself_and_the_choices() {
    let (option, message) = option_error("bfgs", json!({}));
    assert_eq!(option, "type");
    assert_eq!(
        message,
        "unknown optimizer `bfgs`; expected one of cma-es, coordinate-search, differential-evolution, nelder-mead, random-search"
    );
}

#[test]
fn unknown_and_ill_typed_options_are_named() {
    let (option, message) = option_error("cma-es", json!({"sigma0": 1.0, "sigma": 1.0}));
    assert_eq!(option, "sigma");
    assert!(message.contains("sigma0"), "{message}");
    assert_eq!(
        option_error("cma-es", json!({"popsize": "ten"})),
        ("popsize".into(), "expected a whole number ≥ 0, found \"ten\"".into())
    );
    assert_eq!(
        option_error("cma-es", json!({"popsiz": 4})),
        ("popsiz".into(), "unknown option; did you mean `popsize`? expected one of sigma0, sigma0_factor, popsize, popsize_factor, active, tolfun, tolfunhist, tolx, tolstagnation, tolconditioncov, tolupsigma, tolfacupx, tolflatfitness, maxiter".into())
    );
    assert_eq!(option_error("cma-es", json!({"sigma0": "big"})).1, "expected a number, found \"big\"");
    assert_eq!(option_error("nelder-mead", json!({"adaptive": 1})).1, "expected true or false, found 1");
    assert_eq!(
        option_error("differential-evolution", json!({"strategy": "best2exp"})).1,
        "expected `best1bin` or `rand1bin`, found \"best2exp\""
    );
    assert_eq!(
        option_error("differential-evolution", json!({"mutation": "x"})).1,
        "expected a number or a [lo, hi] pair of numbers, found \"x\""
    );
    assert_eq!(
        option_error("random-search", json!({"iters": -3})).1,
        "expected a whole number ≥ 0, found -3"
    );
    let (option, message) = option_error("nelder_maed", json!({}));
    assert_eq!(option, "type");
    assert!(message.starts_with("unknown optimizer `nelder_maed`; did you mean `nelder-mead`?"), "{message}");
    assert_eq!(option_error("nelder-mead", json!({"adaptive": 1})).0, "adaptive");
    assert_eq!(option_error("random-search", json!({"iters": -3})).0, "iters");
    assert_eq!(option_error("differential-evolution", json!({"strategy": "best2exp"})).0, "strategy");
    assert_eq!(option_error("differential-evolution", json!({"mutation": [0.5]})).0, "mutation");
    assert_eq!(option_error("differential-evolution", json!({"polish": true})).0, "polish");
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        ("cma-es", json!({"sigma0": 0.0}), "sigma0"),
        ("cma-es", json!({"sigma0": -1.0}), "sigma0"),
        ("cma-es", json!({"popsize": 1}), "popsize"),
        ("cma-es", json!({"tolfun": -1.0}), "tolfun"),
        ("cma-es", json!({"maxiter": 0}), "maxiter"),
        ("cma-es", json!({"popsize_factor": 0.0}), "popsize_factor"),
        ("nelder-mead", json!({"xatol": -1e-3}), "xatol"),
        ("nelder-mead", json!({"fatol": -1.0}), "fatol"),
        ("nelder-mead", json!({"initial_step": 1.5}), "initial_step"),
        ("nelder-mead", json!({"max_iters": 0}), "max_iters"),
        ("random-search", json!({"iters": 0}), "iters"),
        ("differential-evolution", json!({"popsize": 0}), "popsize"),
        ("differential-evolution", json!({"mutation": 2.5}), "mutation"),
        ("differential-evolution", json!({"mutation": [1.0, 0.5]}), "mutation"),
        ("differential-evolution", json!({"recombination": -0.1}), "recombination"),
        ("differential-evolution", json!({"tol": -1.0}), "tol"),
        ("differential-evolution", json!({"maxiter": 0}), "maxiter"),
        ("random-search", json!({"batch": 0}), "batch"),
    ];
    for (name, opts, expected) in cases {
        assert_eq!(option_error(name, opts.clone()).0, expected, "{name} {opts}");
    }
}

#[test]
fn settings_show_resolved_options() {
    let f = factory("nelder-mead", &options(json!({"xatol": 1e-6}))).unwrap();
    assert_eq!(
        f.settings(),
        json!({"xatol": 1e-6, "fatol": 1e-4, "adaptive": true, "initial_step": null,
                                    "max_iters": null})
    );
    let f = factory("random-search", &Map::new()).unwrap();
    assert_eq!(f.settings(), json!({"iters": 100, "batch": null}));
    let f = factory("differential-evolution", &options(json!({"strategy": "rand1bin", "mutation": 0.8})));
    assert_eq!(
        f.unwrap().settings(),
        json!({"strategy": "rand1bin", "popsize": 15, "mutation": 0.8, "recombination": 0.7, "tol": 0.01,
               "atol": 0.0, "maxiter": 1000})
    );
    let s = factory("cma-es", &options(json!({"sigma0": 2.5}))).unwrap().settings();
    assert_eq!(
        (s["sigma0"].clone(), s["tolfun"].clone(), s["active"].clone()),
        (json!(2.5), json!(1e-11), json!(true))
    );
}

#[test]
fn build_checks_x0() {
    let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
    for name in NAMES {
        let f = factory(name, &Map::new()).unwrap();
        for x0 in [&[0.0][..], &[0.0, 2.0], &[f64::NAN, 0.0]] {
            match f.build(&ctx(x0, &bounds, 1)) {
                Err(OptimizerError::InvalidOption { option, .. }) => assert_eq!(option, "x0"),
                other => panic!("{name} {x0:?}: {:?}", other.map(|o| o.name().to_owned())),
            }
        }
        assert!(f.build(&ctx(&[1.0, -1.0], &bounds, 1)).is_ok(), "x0 on the bounds is inside");
    }
}

#[test]
fn states_too_large_for_memory_are_refused_at_build() {
    let small = Bounds::uniform(2, -1.0, 1.0).unwrap();
    let large = Bounds::uniform(20_000, -1.0, 1.0).unwrap();
    let cases = [
        ("cma-es", json!({"popsize": 1_000_000_000}), &small, "popsize"),
        ("cma-es", json!({"popsize_factor": 1e12}), &small, "popsize_factor"),
        ("cma-es", json!({}), &large, "type"),
        ("nelder-mead", json!({}), &large, "type"),
        ("differential-evolution", json!({"popsize": 1_000_000_000}), &small, "popsize"),
        ("random-search", json!({"batch": 1_000_000_000, "iters": 1_000_000_000_000_u64}), &small, "batch"),
    ];
    for (name, opts, bounds, expected) in cases {
        let f = factory(name, &options(opts.clone())).unwrap();
        let x0 = vec![0.0; bounds.dim()];
        match f.build(&ctx(&x0, bounds, 1)) {
            Err(OptimizerError::InvalidOption { option, message }) => {
                assert_eq!(option, expected, "{name} {opts}");
                assert!(
                    message.ends_with("GiB of memory, more than the 1 GiB an optimizer may use"),
                    "{message}"
                );
            }
            other => panic!("{name} {opts}: {:?}", other.map(|o| o.name().to_owned())),
        }
    }
    // Random search holds only its batch, and no more points than it has left to evaluate.
    let plain = factory("random-search", &Map::new()).unwrap();
    assert!(plain.build(&ctx(&vec![0.0; 20_000], &large, 1)).is_ok());
    let few = factory("random-search", &options(json!({"batch": 1_000_000_000, "iters": 100}))).unwrap();
    assert!(few.build(&ctx(&[0.0, 0.0], &small, 1)).is_ok());
}

/// Asserts at compile time that each listed type implements the given traits.
macro_rules! test_trait_impl {
    ($($ty:ty: $($bound:path),+;)+) => {
        #[test]
        fn public_types_implement_their_promised_traits() {
            $({
                fn check<T: ?Sized $(+ $bound)+>() {}
                check::<$ty>();
            })+
        }
    };
}

test_trait_impl! {
    glompo_optimizers::CmaEs: Send, std::fmt::Debug;
    glompo_optimizers::NelderMead: Send, std::fmt::Debug;
    glompo_optimizers::RandomSearch: Send, std::fmt::Debug;
    glompo_optimizers::DifferentialEvolution: Send, std::fmt::Debug;
    glompo_optimizers::DifferentialEvolutionFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::DifferentialEvolutionConfig: Send, Sync, Clone, Default;
    glompo_optimizers::CmaEsFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::NelderMeadFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::RandomSearchFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::CmaEsConfig: Send, Sync, Clone, Default;
    glompo_optimizers::NelderMeadConfig: Send, Sync, Clone, Default;
    glompo_optimizers::RandomSearchConfig: Send, Sync, Clone, Default;
}

#[test]
fn population_factors_scale_the_population_based_optimizers_only() {
    use glompo_core::{Bounds, StartContext};
    let bounds = Bounds::uniform(10, -5.0, 5.0).unwrap();
    let ctx = StartContext { opt_id: 1, x0: &[0.0; 10], bounds: &bounds, seed: 1, workers: 1 };
    let batch = |f: &dyn glompo_core::OptimizerFactory| f.build(&ctx).unwrap().ask().unwrap().len();
    let empty = serde_json::Map::new();
    let cma = glompo_optimizers::factory("cma-es", &empty).unwrap();
    // The default population in 10-D is 4 + ⌊3 ln 10⌋ = 10; as in pycma, a factor multiplies
    // 4 + 3 ln 10 = 10.9 before rounding down.
    assert_eq!(batch(&*cma), 10);
    assert_eq!(batch(&*cma.with_population_factor(4.0).unwrap()), 43);
    assert_eq!(batch(&*cma.with_population_factor(2.0).unwrap().with_population_factor(2.0).unwrap()), 43);
    // BIPOP's fractional factors: ⌊1.5 · 10.9⌋.
    assert_eq!(batch(&*cma.with_population_factor(1.5).unwrap()), 16);
    let options = serde_json::json!({"popsize": 12});
    let fixed = glompo_optimizers::factory("cma-es", options.as_object().unwrap()).unwrap();
    assert_eq!(batch(&*fixed.with_population_factor(2.0).unwrap()), 24);
    let de = glompo_optimizers::factory("differential-evolution", &empty).unwrap();
    assert_eq!(batch(&*de.with_population_factor(2.0).unwrap()), 2 * batch(&*de));
    assert!(glompo_optimizers::factory("nelder-mead", &empty).unwrap().with_population_factor(2.0).is_none());
    // The factories' own population is the one their optimizers ask.
    for f in [&cma, &cma.with_population_factor(8.0).unwrap(), &fixed, &de] {
        assert_eq!(f.popsize(&bounds, 1), Some(batch(&**f)), "{}", f.settings());
    }
    assert_eq!(glompo_optimizers::factory("nelder-mead", &empty).unwrap().popsize(&bounds, 1), None);
}

#[test]
fn step_factors_scale_sigma0_and_scaled_settings_rebuild_the_same_factory() {
    use glompo_core::Bounds;
    let bounds = Bounds::uniform(4, -5.0, 5.0).unwrap();
    let empty = serde_json::Map::new();
    let cma = glompo_optimizers::factory("cma-es", &empty).unwrap();
    let small = cma.with_population_factor(1.5).unwrap().with_step_factor(0.01).unwrap();
    // A quarter of the width, 2.5, times 0.01.
    assert_eq!(small.resolved_settings(&bounds, 1)["sigma0"], serde_json::json!(0.025));
    assert_eq!(
        small.with_step_factor(2.0).unwrap().resolved_settings(&bounds, 1)["sigma0"],
        serde_json::json!(0.05)
    );
    let rebuilt = cma.with_settings(&small.settings()).unwrap();
    assert_eq!(rebuilt.settings(), small.settings());
    for name in ["differential-evolution", "nelder-mead", "random-search", "coordinate-search"] {
        assert!(glompo_optimizers::factory(name, &empty).unwrap().with_step_factor(0.5).is_none(), "{name}");
    }
    let de = glompo_optimizers::factory("differential-evolution", &empty).unwrap();
    let scaled = de.with_population_factor(3.0).unwrap();
    assert_eq!(de.with_settings(&scaled.settings()).unwrap().settings(), scaled.settings());
    assert!(cma.with_settings(&serde_json::json!({"popsize": "many"})).is_none());
}

#[test]
fn settings_are_options_that_build_the_same_factory() {
    // Process backends rebuild an optimizer in another process from its factory's settings.
    let cases = [
        ("cma-es", serde_json::json!({"sigma0": 0.7, "popsize": 12, "tolfun": 1e-9})),
        ("nelder-mead", serde_json::json!({"xatol": 1e-6, "adaptive": false})),
        ("differential-evolution", serde_json::json!({"strategy": "rand1bin", "mutation": [0.4, 0.9]})),
        ("random-search", serde_json::json!({"iters": 7})),
    ];
    for (name, options) in cases {
        for options in [options, serde_json::json!({})] {
            let first = glompo_optimizers::factory(name, options.as_object().unwrap()).unwrap();
            let settings = first.settings();
            let again = glompo_optimizers::factory(name, settings.as_object().unwrap())
                .unwrap_or_else(|e| panic!("{name}: {settings} does not parse back: {e}"));
            assert_eq!(again.settings(), settings, "{name}");
        }
    }
}

#[test]
fn a_misspelt_type_gets_a_suggestion() {
    let (option, message) = option_error("Nelder_Maed", json!({}));
    assert_eq!(option, "type");
    assert_eq!(
        message,
        "unknown optimizer `Nelder_Maed`; did you mean `nelder-mead`? expected one of cma-es, \
         coordinate-search, differential-evolution, nelder-mead, random-search"
    );
}
