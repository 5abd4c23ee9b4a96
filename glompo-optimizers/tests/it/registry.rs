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
    assert_eq!(message, "unknown optimizer `bfgs`; expected one of cma-es, nelder-mead, random-search");
}

#[test]
fn unknown_and_ill_typed_options_are_named() {
    let (option, message) = option_error("cma-es", json!({"sigma0": 1.0, "sigma": 1.0}));
    assert_eq!(option, "sigma");
    assert!(message.contains("sigma0"), "{message}");
    assert_eq!(option_error("cma-es", json!({"popsize": "ten"})).0, "popsize");
    assert_eq!(option_error("nelder-mead", json!({"adaptive": 1})).0, "adaptive");
    assert_eq!(option_error("random-search", json!({"iters": -3})).0, "iters");
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        ("cma-es", json!({"sigma0": 0.0}), "sigma0"),
        ("cma-es", json!({"sigma0": -1.0}), "sigma0"),
        ("cma-es", json!({"popsize": 1}), "popsize"),
        ("cma-es", json!({"tolfun": -1.0}), "tolfun"),
        ("cma-es", json!({"maxiter": 0}), "maxiter"),
        ("nelder-mead", json!({"xatol": -1e-3}), "xatol"),
        ("nelder-mead", json!({"fatol": -1.0}), "fatol"),
        ("nelder-mead", json!({"initial_step": 1.5}), "initial_step"),
        ("nelder-mead", json!({"max_iters": 0}), "max_iters"),
        ("random-search", json!({"iters": 0}), "iters"),
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
    glompo_optimizers::CmaEsFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::NelderMeadFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::RandomSearchFactory: Send, Sync, Clone, std::fmt::Debug;
    glompo_optimizers::CmaEsConfig: Send, Sync, Clone, Default;
    glompo_optimizers::NelderMeadConfig: Send, Sync, Clone, Default;
    glompo_optimizers::RandomSearchConfig: Send, Sync, Clone, Default;
}
