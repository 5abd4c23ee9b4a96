//! Tests that every function shares: the stated minimum is reached and never beaten, `build` rejects
//! bad input with a message that names the field, the delay is honoured, and randomised functions are
//! reproducible.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::*;
use crate::rng::SeededRng;

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The tolerance on a minimum: 1e-6 relative, or 1e-6 absolute below 1.
fn tol(min_fx: f64) -> f64 {
    1e-6 * min_fx.abs().max(1.0)
}

/// Fills `x` with a uniform point in `bounds`. Each 64-bit draw gives two coordinates of 32 random bits,
/// which halves the cost of the generator (slow in debug builds) and is fine enough for sampling.
fn fill_uniform(rng: &mut SeededRng, bounds: &Bounds, x: &mut [f64]) {
    let mut bits = 0u64;
    for (i, (v, (lo, hi))) in x.iter_mut().zip(bounds.pairs()).enumerate() {
        if i % 2 == 0 {
            bits = rng.next_u64();
        } else {
            bits >>= 32;
        }
        let u = ((bits & 0xFFFF_FFFF) as f64 + 0.5) / 4_294_967_296.0;
        *v = lo + (hi - lo) * u;
    }
}

/// Checks the stated minimum of `f`: `f(min_x)` equals `min_fx`, and neither 20 000 uniform samples in
/// the bounds nor 3 000 samples from Gaussian clouds of three sizes around `min_x` (clipped to the
/// bounds) go below it.
fn check_minimum(f: &Benchmark, seed: u64) {
    let label = format!("{} (dim {})", f.name(), f.dim());
    let Some(min_fx) = f.min_fx() else { return };
    let bounds = f.bounds();
    let t = tol(min_fx);
    if let Some(x) = f.min_x() {
        assert!(bounds.contains(&x), "{label}: min_x {x:?} is outside the bounds");
        let v = f.value(&x);
        assert!((v - min_fx).abs() <= t, "{label}: f(min_x) = {v}, min_fx = {min_fx}");
    }
    let mut rng = SeededRng::new(seed);
    let mut x = vec![0.0; f.dim()];
    for _ in 0..20_000 {
        fill_uniform(&mut rng, &bounds, &mut x);
        let v = f.value(&x);
        assert!(v >= min_fx - t, "{label}: f({x:?}) = {v} is below min_fx = {min_fx}");
    }
    let Some(centre) = f.min_x() else { return };
    for scale in [1e-2, 1e-4, 1e-6] {
        for _ in 0..1_000 {
            rng.fill_normal(&mut x);
            for ((v, c), (lo, hi)) in x.iter_mut().zip(&centre).zip(bounds.pairs()) {
                *v = c + scale * (hi - lo) * *v;
            }
            bounds.clip(&mut x);
            let v = f.value(&x);
            assert!(v >= min_fx - t, "{label}: f({x:?}) = {v} near min_x is below min_fx = {min_fx}");
        }
    }
}

/// Builds `name` with `p` in each of `dims` and checks its minimum, which must be known.
fn check_dims(name: &str, dims: &[usize], p: Value) {
    for &dim in dims {
        let f = build(name, dim, &params(p.clone())).unwrap_or_else(|e| panic!("{name} dim {dim}: {e}"));
        assert!(f.min_fx().is_some(), "{name} dim {dim} {p}: no minimum");
        check_minimum(&f, dim as u64);
    }
}

/// One test per function and parameter set: `test_name: "function", [dims], {params};`.
macro_rules! minimum_tests {
    ($($test:ident: $name:literal, $dims:expr, $params:tt;)*) => {$(
        #[test]
        fn $test() {
            check_dims($name, &$dims, json!($params));
        }
    )*};
}

minimum_tests! {
    minimum_ackley: "ackley", [1, 2, 5, 10], {};
    minimum_ackley_params: "ackley", [2, 5], {"a": 10, "b": 0.5, "c": 3};
    minimum_alpine01: "alpine01", [1, 2, 5, 10], {};
    minimum_alpine02: "alpine02", [1, 2, 5, 10], {};
    minimum_deceptive: "deceptive", [1, 2, 5, 10], {};
    minimum_deceptive_seed_1: "deceptive", [2, 5], {"seed": 1};
    minimum_deceptive_seed_2: "deceptive", [2, 5], {"seed": 2};
    minimum_deceptive_shifted: "deceptive", [2, 5], {"shift_positive": true, "b": 3.0};
    minimum_easom: "easom", [2], {};
    minimum_easom_shifted: "easom", [2], {"shift_positive": true};
    minimum_ellipsoid: "ellipsoid", [1, 2, 5, 10], {};
    minimum_exp_least_squares_cost: "exp_least_squares_cost", [1, 2, 5], {};
    minimum_exp_least_squares_cost_seed_1: "exp_least_squares_cost", [2, 5], {"seed": 1};
    minimum_exp_least_squares_cost_noisy: "exp_least_squares_cost", [2],
        {"u_train": [1, 3], "n_train": 20, "sigma_eval": 0.2};
    minimum_griewank: "griewank", [1, 2, 5, 10], {};
    minimum_langermann: "langermann", [2], {};
    minimum_langermann_shifted: "langermann", [2], {"shift_positive": true};
    // Only the value is known (no minimiser), so these check that sampling never beats the table.
    minimum_lennard_jones_small: "lennard_jones", [6, 9, 12, 15, 18], {};
    minimum_lennard_jones_13: "lennard_jones", [39], {};
    minimum_lennard_jones_2d: "lennard_jones", [6], {"spatial_dims": 2, "eps": 2.5};
    minimum_levy: "levy", [1, 2, 5, 10], {};
    minimum_michalewicz: "michalewicz", [2, 5, 10], {};
    minimum_qing: "qing", [1, 2, 5, 10], {};
    minimum_rana_small: "rana", [1, 2, 3], {};
    minimum_rana_5_7: "rana", [5, 7], {};
    minimum_rana_8_10: "rana", [8, 10], {};
    minimum_rastrigin: "rastrigin", [1, 2, 5, 10], {};
    minimum_rosenbrock: "rosenbrock", [2, 5, 10], {};
    minimum_schwefel: "schwefel", [1, 2, 5, 10], {};
    minimum_schwefel_shifted: "schwefel", [1, 2, 5], {"shift_positive": true};
    minimum_shekel_5: "shekel", [1, 2, 3, 4], {"m": 5};
    minimum_shekel_7: "shekel", [1, 2, 3, 4], {"m": 7};
    minimum_shekel_10: "shekel", [1, 2, 3, 4], {};
    minimum_shekel_shifted: "shekel", [4], {"shift_positive": true};
    minimum_shubert_1: "shubert", [1, 2, 5], {};
    minimum_shubert_3: "shubert", [1, 2, 5], {"style": 3};
    minimum_shubert_4: "shubert", [1, 2, 5], {"style": 4};
    minimum_shubert_shifted: "shubert", [2], {"style": 3, "shift_positive": true};
    minimum_sphere: "sphere", [1, 2, 5, 10], {};
    minimum_stochastic: "stochastic", [1, 2, 5, 10], {"seed": 7};
    minimum_styblinski_tang: "styblinski_tang", [1, 2, 5, 10], {};
    minimum_trigonometric: "trigonometric", [1, 2, 5, 10], {};
    minimum_vincent: "vincent", [1, 2, 5, 10], {};
    minimum_zero_sum: "zero_sum", [1, 2, 5, 10], {};
}

#[test]
fn unknown_minima_are_none() {
    assert_eq!(build("rana", 11, &Map::new()).unwrap().min_fx(), None);
    assert_eq!(build("michalewicz", 3, &Map::new()).unwrap().min_fx(), None);
    assert_eq!(build("lennard_jones", 48, &Map::new()).unwrap().min_fx(), None);
    assert_eq!(
        build("exp_least_squares_cost", 2, &params(json!({"sigma_fixed": 0.1}))).unwrap().min_fx(),
        None
    );
}

/// A dimension that `spec` supports.
fn example_dim(spec: &Spec) -> usize {
    match spec.dims {
        Dims::Any => 3,
        Dims::AtLeast(n) | Dims::Range(n, _) => n,
        Dims::Custom => 6,
    }
}

#[test]
fn catalogue_lists_every_function_once_and_each_builds() {
    let cat = catalogue();
    assert_eq!(cat.len(), 25);
    assert!(cat.windows(2).all(|w| w[0].name < w[1].name), "the catalogue is not in alphabetical order");
    let mut names: Vec<&str> = cat.iter().map(|i| i.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 25, "duplicate names");
    for spec in &SPECS {
        let dim = example_dim(spec);
        let info = spec.info;
        let f = build(info.name, dim, &Map::new()).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(f.name(), info.name);
        assert_eq!(f.dim(), dim);
        assert_eq!(f.bounds().dim(), dim);
        assert!(info.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert!(!info.summary.is_empty() && !info.dims.is_empty() && !info.params.is_empty());
        for p in spec.params {
            assert!(info.params.contains(p), "{}: parameter {p} is not documented", info.name);
        }
        // Another spelling of the name builds the same function.
        let shouted = info.name.to_uppercase().replace('_', "-");
        assert_eq!(build(&shouted, dim, &Map::new()).unwrap().name(), info.name);
        assert_eq!(catalogue().iter().filter(|i| i.name == info.name).count(), 1);
    }
    for alias in ["Styblinski-Tang", "styblinski_tang", "styblinskitang", "STYBLINSKI-TANG"] {
        assert_eq!(build(alias, 2, &Map::new()).unwrap().name(), "styblinski_tang");
    }
    assert_eq!(build("ZeroSum", 2, &Map::new()).unwrap().name(), "zero_sum");
    assert_eq!(build("LennardJones", 6, &Map::new()).unwrap().name(), "lennard_jones");
}

/// The error of `build`, as `(field, message)`.
fn build_error(name: &str, dim: usize, p: Value) -> (String, String) {
    match build(name, dim, &params(p)) {
        Ok(f) => panic!("{name} dim {dim} built: {f:?}"),
        Err(CoreError::Config { field, message }) => (field, message),
        Err(e) => panic!("not a config error: {e}"),
    }
}

#[test]
fn build_errors_name_the_field_and_list_what_is_valid() {
    let (field, message) = build_error("rastrigen", 2, json!({}));
    assert_eq!(field, "objective.function");
    assert!(message.starts_with("unknown function `rastrigen`; did you mean `rastrigin`?"), "{message}");
    assert!(message.contains("rastrigin, rosenbrock"), "{message}");
    assert!(message.contains("ackley") && message.contains("zero_sum"), "{message}");

    let (field, message) = build_error("rastrigin", 2, json!({"shift_positive": true}));
    assert_eq!(field, "objective.shift_positive");
    assert!(message.contains("expected one of delay_s"), "{message}");
    let (field, message) = build_error("shubert", 2, json!({"styel": 3}));
    assert_eq!(field, "objective.styel");
    assert!(message.contains("did you mean `style`?"), "{message}");
    assert!(
        message.contains("delay_s, shift, shift_seed, rotate, rotate_seed, style, shift_positive"),
        "{message}"
    );

    let (field, message) = build_error("easom", 3, json!({}));
    assert_eq!(field, "objective.dim");
    assert!(message.contains("exactly 2") && message.contains("got 3"), "{message}");
    let (field, message) = build_error("shekel", 5, json!({}));
    assert_eq!(field, "objective.dim");
    assert!(message.contains("1 to 4"), "{message}");
    assert_eq!(build_error("rosenbrock", 1, json!({})).0, "objective.dim");
    assert_eq!(build_error("sphere", 0, json!({})).0, "objective.dim");

    let (field, message) =
        build_error("exp_least_squares_cost", 2, json!({"n_train": 1_000_000_000_000_u64}));
    assert_eq!(field, "objective.n_train");
    assert!(message.contains("at most 1000000"), "{message}");

    let (field, message) = build_error("sphere", 2, json!({"delay_s": -0.5}));
    assert_eq!(field, "objective.delay_s");
    assert!(message.contains("at least 0"), "{message}");
    assert_eq!(build_error("sphere", 2, json!({"delay_s": "1s"})).0, "objective.delay_s");
    assert_eq!(build_error("sphere", 2, json!({"delay_s": 1e300})).0, "objective.delay_s");

    let (field, message) = build_error("shekel", 4, json!({"m": 6}));
    assert_eq!(field, "objective.m");
    assert!(message.contains("5, 7, 10"), "{message}");
    let (field, message) = build_error("shubert", 2, json!({"style": 2}));
    assert_eq!(field, "objective.style");
    assert!(message.contains("1, 3, 4"), "{message}");
    assert_eq!(build_error("schwefel", 2, json!({"shift_positive": 1})).0, "objective.shift_positive");
    assert_eq!(build_error("stochastic", 2, json!({"seed": -1})).0, "objective.seed");
    assert_eq!(build_error("stochastic", 2, json!({"seed": 1.5})).0, "objective.seed");
    assert_eq!(build_error("michalewicz", 2, json!({"m": 0})).0, "objective.m");
    assert_eq!(build_error("deceptive", 2, json!({"b": -1})).0, "objective.b");
    assert_eq!(build_error("ackley", 2, json!({"a": null})).0, "objective.a");
}

#[test]
fn delay_is_slept_on_every_evaluation() {
    let f = build("sphere", 2, &params(json!({"delay_s": 0.02}))).unwrap();
    assert_eq!(f.delay_s(), 0.02);
    for _ in 0..2 {
        let start = Instant::now();
        assert_eq!(f.evaluate(&[1.0, 2.0]).unwrap(), 5.0);
        assert!(start.elapsed() >= Duration::from_millis(20), "{:?}", start.elapsed());
    }
    let start = Instant::now();
    assert_eq!(f.evaluate_detailed(&[1.0, 2.0]).unwrap().fx, 5.0);
    assert!(start.elapsed() >= Duration::from_millis(20));
    // The delay works for a function that the original did not delay as well.
    let f = build("lennard_jones", 6, &params(json!({"delay_s": 0.02}))).unwrap();
    let start = Instant::now();
    f.evaluate(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn wrong_length_is_an_error_not_a_panic() {
    for spec in &SPECS {
        let dim = example_dim(spec);
        let f = build(spec.info.name, dim, &Map::new()).unwrap();
        for len in [0, dim - 1, dim + 1] {
            let x = vec![0.5; len];
            let err = f.evaluate(&x).unwrap_err();
            assert!(err.message().contains(&format!("got {len}")), "{}", err.message());
            assert!(f.evaluate_detailed(&x).is_err());
            // `value` does not check the length, but it must not panic either.
            let _ = f.value(&x);
        }
        assert!(f.evaluate(&vec![0.5; dim]).is_ok());
    }
}

/// `n` values of `f` at a fixed point.
fn values(name: &str, seed: u64, n: usize) -> Vec<f64> {
    let f = build(name, 3, &params(json!({"seed": seed}))).unwrap();
    (0..n).map(|_| f.evaluate(&[0.3, 0.6, 0.2]).unwrap()).collect()
}

#[test]
fn randomised_functions_are_reproducible_per_seed() {
    for name in ["deceptive", "stochastic", "exp_least_squares_cost"] {
        let min_x = |seed: u64| build(name, 3, &params(json!({"seed": seed}))).unwrap().min_x();
        assert_eq!(values(name, 3, 5), values(name, 3, 5), "{name}");
        assert_ne!(values(name, 3, 5), values(name, 4, 5), "{name}");
        assert_eq!(min_x(3), min_x(3));
        if name != "stochastic" {
            assert_ne!(min_x(3), min_x(4), "{name}");
        }
    }
    // Stochastic draws fresh noise at every call.
    let v = values("stochastic", 0, 3);
    assert!(v[0] != v[1] && v[1] != v[2], "{v:?}");
    let noisy = |seed: u64| {
        let f =
            build("exp_least_squares_cost", 2, &params(json!({"seed": seed, "sigma_eval": 0.5}))).unwrap();
        (0..4).map(|_| f.value(&[0.1, 0.2])).collect::<Vec<f64>>()
    };
    assert_eq!(noisy(1), noisy(1));
    assert_ne!(noisy(1), noisy(2));
}

#[test]
fn benchmark_is_send_and_sync_and_usable_as_a_dyn_objective() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Benchmark>();
    let f: Box<dyn Objective> = Box::new(build("stochastic", 2, &Map::new()).unwrap());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..100 {
                    assert!(f.evaluate(&[0.0, 0.0]).unwrap() >= 0.0);
                }
            });
        }
    });
}

/// `f` built with `shift` beside its unshifted self.
fn with_and_without_shift(name: &str, dim: usize, shift: Value) -> (Benchmark, Benchmark) {
    let plain = build(name, dim, &Map::new()).unwrap();
    let moved = build(name, dim, &params(shift)).unwrap();
    (plain, moved)
}

#[test]
fn shift_moves_the_minimiser_and_keeps_the_minimum() {
    let mut rng = SeededRng::new(11);
    for name in ["ackley", "griewank", "levy", "rastrigin", "rosenbrock", "schwefel", "alpine02", "vincent"] {
        for dim in [2, 5] {
            let (plain, moved) = with_and_without_shift(name, dim, json!({"shift": 0.4, "shift_seed": 3}));
            let s = moved.shift().unwrap().to_vec();
            let (m0, m1) = (plain.min_x().unwrap(), moved.min_x().unwrap());
            for (i, (lo, hi)) in plain.bounds().pairs().enumerate() {
                assert!(s[i].abs() <= 0.4 * (hi - lo) / 2.0, "{name}: s[{i}] = {}", s[i]);
                assert_eq!(m1[i], m0[i] + s[i], "{name}: the minimiser moves by s");
            }
            assert!(plain.bounds().contains(&m1), "{name}: moved minimiser {m1:?} leaves the box");
            assert_eq!(moved.bounds(), plain.bounds(), "{name}: the box is unchanged");
            assert_eq!(moved.min_fx(), plain.min_fx());
            check_minimum(&moved, 5);
            // Wherever x − s is inside the box, the value is f(x − s), for folded functions too.
            let mut x = vec![0.0; dim];
            let mut checked = 0;
            for _ in 0..200 {
                fill_uniform(&mut rng, &moved.bounds(), &mut x);
                let y: Vec<f64> = x.iter().zip(&s).map(|(x, s)| x - s).collect();
                if plain.bounds().contains(&y) {
                    assert_eq!(moved.value(&x), plain.value(&y), "{name} at {x:?}");
                    checked += 1;
                }
            }
            assert!(checked > 20, "{name}: only {checked} points checked");
        }
    }
}

#[test]
fn shift_of_griewank_is_the_documented_draw() {
    let f = build("griewank", 5, &params(json!({"shift": 0.4, "shift_seed": 3}))).unwrap();
    let mut rng = SeededRng::new(3);
    let expected: Vec<f64> = (0..5).map(|_| -240.0 + 480.0 * rng.uniform()).collect();
    assert_eq!(f.shift().unwrap(), expected.as_slice());
    assert_eq!(f.value(&expected), 0.0);
    let other = build("griewank", 5, &params(json!({"shift": 0.4, "shift_seed": 4}))).unwrap();
    assert_ne!(other.shift(), f.shift(), "another seed draws another shift");
    let unseeded = build("griewank", 5, &params(json!({"shift": 0.4}))).unwrap();
    let seeded0 = build("griewank", 5, &params(json!({"shift": 0.4, "shift_seed": 0}))).unwrap();
    assert_eq!(unseeded.shift(), seeded0.shift(), "shift_seed defaults to 0");
    let none = build("griewank", 5, &params(json!({"shift": 0.0}))).unwrap();
    assert_eq!(none.shift().unwrap(), [0.0; 5].as_slice());
}

#[test]
fn shift_narrows_the_draw_to_keep_an_off_centre_minimiser_inside() {
    // Schwefel's minimiser is at 420.97 of ±500: a shift above 79.03 would move it out.
    for seed in 0..20 {
        let f = build("schwefel", 3, &params(json!({"shift": 1.0, "shift_seed": seed}))).unwrap();
        for &s in f.shift().unwrap() {
            assert!((-500.0..=500.0 - classic::SCHWEFEL_X).contains(&s), "seed {seed}: s = {s}");
        }
        assert!(f.bounds().contains(&f.min_x().unwrap()));
    }
    // Beyond its box Schwefel goes below its minimum; the folded shifted function does not.
    let f = build("schwefel", 1, &params(json!({"shift": [-70.0]}))).unwrap();
    let plain = build("schwefel", 1, &Map::new()).unwrap();
    assert!(plain.value(&[700.0]) < plain.min_fx().unwrap());
    assert_eq!(f.value(&[500.0]), plain.value(&[430.0]));
    assert_eq!(f.value(&[-490.0]), plain.value(&[-420.0]), "-490 + 70 = -420 stays inside");
    assert_eq!(f.value(&[-460.0]), plain.value(&[-390.0]));
    let g = build("schwefel", 1, &params(json!({"shift": [70.0]}))).unwrap();
    assert_eq!(g.value(&[-460.0]), plain.value(&[-470.0]), "-530 is mirrored to -470");
}

#[test]
fn explicit_shift_is_used_as_given() {
    let (plain, moved) = with_and_without_shift("rastrigin", 2, json!({"shift": [1.0, -2.0]}));
    assert_eq!(moved.shift().unwrap(), [1.0, -2.0].as_slice());
    assert_eq!(moved.min_x().unwrap(), vec![1.0, -2.0]);
    assert_eq!(moved.value(&[1.0, -2.0]), 0.0);
    assert_eq!(moved.value(&[1.5, 0.25]), plain.value(&[0.5, 2.25]));
    // Outside the box of the unshifted function, a rastrigin is still f(x − s), not folded.
    assert_eq!(moved.value(&[-5.0, 4.0]), plain.value(&[-6.0, 6.0]));
    assert_eq!(moved.evaluate(&[1.0, -2.0]).unwrap(), 0.0);
}

#[test]
fn rotate_keeps_the_minimum_and_couples_the_coordinates() {
    let mut rng = SeededRng::new(5);
    for name in ["rastrigin", "schwefel", "griewank", "rosenbrock"] {
        for extra in [json!({}), json!({"shift": 0.4, "shift_seed": 2})] {
            let mut p = extra.clone();
            p["rotate"] = json!(true);
            p["rotate_seed"] = json!(9);
            let plain = build(name, 4, &params(extra)).unwrap();
            let rotated = build(name, 4, &params(p)).unwrap();
            assert_eq!(rotated.min_x(), plain.min_x(), "{name}: the minimiser stays");
            check_minimum(&rotated, 5);
            // Never below the minimum, in the whole box (folded for schwefel).
            let mut x = vec![0.0; 4];
            for _ in 0..500 {
                fill_uniform(&mut rng, &rotated.bounds(), &mut x);
                assert!(rotated.value(&x) >= rotated.min_fx().unwrap() - 1e-9, "{name} at {x:?}");
            }
            // Moving one coordinate of the minimiser moves the point the function sees in all.
            let mut y = rotated.min_x().unwrap();
            y[0] += 0.01 * (rotated.bounds().upper()[0] - rotated.bounds().lower()[0]);
            assert_ne!(rotated.value(&y), plain.value(&y), "{name}");
        }
    }
    let (field, message) = build_error("rastrigin", 2, json!({"rotate_seed": 1}));
    assert_eq!(
        (field.as_str(), message.contains("only used with `rotate`")),
        ("objective.rotate_seed", true)
    );
    let (field, message) = build_error("lennard_jones", 6, json!({"rotate": true}));
    assert_eq!((field.as_str(), message.contains("no known minimiser")), ("objective.rotate", true));
    let (field, _) = build_error("rastrigin", 2, json!({"rotate": 1}));
    assert_eq!(field, "objective.rotate");
}

#[test]
fn shift_errors_name_the_field() {
    let cases = [
        ("rastrigin", 2, json!({"shift": [1.0]}), "objective.shift", "expected 2 numbers"),
        ("rastrigin", 2, json!({"shift": [1.0, "a"]}), "objective.shift", "element 1"),
        ("rastrigin", 2, json!({"shift": [6.0, 0.0]}), "objective.shift", "coordinate 0"),
        ("schwefel", 1, json!({"shift": [100.0]}), "objective.shift", "out of its bounds"),
        ("rastrigin", 2, json!({"shift": 1.5}), "objective.shift", "at most 1"),
        ("rastrigin", 2, json!({"shift": -0.1}), "objective.shift", "at least 0"),
        ("rastrigin", 2, json!({"shift": "big"}), "objective.shift", "finite number"),
        ("rastrigin", 2, json!({"shift_seed": 3}), "objective.shift_seed", "only used with `shift`"),
        ("rastrigin", 2, json!({"shift": 0.4, "shift_seed": -1}), "objective.shift_seed", "non-negative"),
        ("lennard_jones", 6, json!({"shift": 0.1}), "objective.shift", "no known minimiser"),
    ];
    for (name, dim, p, want_field, want) in cases {
        let (field, message) = build_error(name, dim, p.clone());
        assert_eq!(field, want_field, "{name} {p}");
        assert!(message.contains(want), "{name} {p}: {message}");
    }
}
