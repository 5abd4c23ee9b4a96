//! Helpers shared by the optimizers: ranking of failed values, the best-so-far record, checks of the
//! start context and of `tell`, option parsing that names the offending option, and exact serde of
//! floating-point state.

use glompo_core::{Evaluation, OptimizerError, StartContext};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The value an optimizer ranks: finite values as they are, anything else (a failed evaluation arrives as
/// NaN) as `+inf`, so that it ranks worst and never poisons arithmetic with NaN.
pub(crate) fn rank_value(fx: f64) -> f64 {
    if fx.is_finite() { fx } else { f64::INFINITY }
}

/// Keeps the best finite evaluation seen so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct BestRecord {
    #[serde(with = "exact::opt_eval")]
    best: Option<Evaluation>,
}

impl BestRecord {
    /// Records `(x, fx)` if `fx` is finite and better than the best so far; says whether it was.
    pub(crate) fn offer(&mut self, x: &[f64], fx: f64) -> bool {
        if !fx.is_finite() || self.best.as_ref().is_some_and(|b| b.fx <= fx) {
            return false;
        }
        self.best = Some(Evaluation { x: x.to_vec(), fx });
        true
    }

    /// The best evaluation, if any finite value was seen.
    pub(crate) fn get(&self) -> Option<&Evaluation> {
        self.best.as_ref()
    }
}

/// Checks that `x0` fits the bounds of a start context.
pub(crate) fn check_start(ctx: &StartContext<'_>) -> Result<(), OptimizerError> {
    let dim = ctx.bounds.dim();
    if ctx.x0.len() != dim {
        return Err(OptimizerError::invalid_option(
            "x0",
            format!("has {} coordinates but the bounds have {dim} dimensions", ctx.x0.len()),
        ));
    }
    if let Some(i) = ctx.x0.iter().position(|v| !v.is_finite()) {
        return Err(OptimizerError::invalid_option("x0", format!("x0[{i}] = {} is not finite", ctx.x0[i])));
    }
    if !ctx.bounds.contains(ctx.x0) {
        let i =
            ctx.bounds.pairs().zip(ctx.x0).position(|((lo, hi), &v)| v < lo || v > hi).unwrap_or_default();
        let (lo, hi) = (ctx.bounds.lower()[i], ctx.bounds.upper()[i]);
        return Err(OptimizerError::invalid_option(
            "x0",
            format!("x0[{i}] = {} lies outside the bounds [{lo}, {hi}]", ctx.x0[i]),
        ));
    }
    Ok(())
}

/// The most numbers the state of one optimizer may hold: 2^27 `f64`s, 1 GiB. A population or a
/// dimension far beyond it is a typo, and allocating it would abort the whole run.
const MAX_STATE_NUMBERS: f64 = (1u64 << 27) as f64;

/// Refuses a state of `numbers` numbers (`what` says which, in words) beyond [`MAX_STATE_NUMBERS`], as
/// an invalid `option`.
pub(crate) fn check_state_size(option: &str, numbers: f64, what: &str) -> Result<(), OptimizerError> {
    if numbers <= MAX_STATE_NUMBERS {
        return Ok(());
    }
    let gib = numbers * 8.0 / f64::from(1u32 << 30);
    Err(OptimizerError::invalid_option(
        option,
        format!("{what}: about {gib:.0} GiB of memory, more than the 1 GiB an optimizer may use"),
    ))
}

/// Checks that `evals` answers the batch `asked`: same length and same dimension.
pub(crate) fn check_tell(asked: Option<&[Vec<f64>]>, evals: &[Evaluation]) -> Result<(), OptimizerError> {
    let Some(asked) = asked else {
        return Err(OptimizerError::Protocol("tell was called without a pending ask".into()));
    };
    if asked.len() != evals.len() {
        return Err(OptimizerError::Protocol(format!(
            "{} points were asked but {} evaluations were told",
            asked.len(),
            evals.len()
        )));
    }
    if let Some((i, e)) = evals.iter().enumerate().find(|(i, e)| e.x.len() != asked[*i].len()) {
        return Err(OptimizerError::Protocol(format!(
            "evaluation {i} has {} coordinates but {} were asked",
            e.x.len(),
            asked[i].len()
        )));
    }
    Ok(())
}

/// Parses an options object into a config struct. An unknown key, or a value of the wrong type, is an
/// [`OptimizerError::InvalidOption`] naming the key, with the likeliest option for an unknown one and
/// the expected value in words (`expected a whole number ≥ 0, found -3`).
pub(crate) fn parse_options<T: DeserializeOwned>(
    options: &serde_json::Map<String, serde_json::Value>,
    known: &[&str],
) -> Result<T, OptimizerError> {
    if let Some(key) = options.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(OptimizerError::invalid_option(
            key.as_str(),
            format!("unknown option; {}", glompo_core::expr::expected_one_of(key, known)),
        ));
    }
    match serde_json::from_value(serde_json::Value::Object(options.clone())) {
        Ok(config) => Ok(config),
        Err(whole) => {
            // Find the key whose value alone does not parse, so that the error can name it.
            for (key, value) in options {
                let mut single = serde_json::Map::new();
                single.insert(key.clone(), value.clone());
                if let Err(e) = serde_json::from_value::<T>(serde_json::Value::Object(single)) {
                    return Err(OptimizerError::invalid_option(key.as_str(), in_words(&e, value)));
                }
            }
            Err(OptimizerError::invalid_option("options", whole.to_string()))
        }
    }
}

/// What serde says of a value that does not parse, in the words of a config rather than of Rust
/// types: `invalid value: integer `-3`, expected usize` becomes `expected a whole number ≥ 0, found -3`.
fn in_words(e: &serde_json::Error, value: &serde_json::Value) -> String {
    let text = e.to_string();
    let expected = text.rsplit_once(", expected ").map_or(text.as_str(), |(_, expected)| expected);
    let expected = match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number ≥ 0",
        "isize" | "i64" | "i32" | "i16" | "i8" => "a whole number",
        "f64" | "f32" => "a number",
        "a boolean" => "true or false",
        other => other,
    };
    format!("expected {expected}, found {}", glompo_core::fields::found(value))
}

/// The saved state of an optimizer whose state is its RNG and one state struct.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Saved<S> {
    pub(crate) rng: glompo_core::RngState,
    pub(crate) state: S,
}

/// Serialises a state struct, tagged with the optimizer's name and a format version.
pub(crate) fn save_state<T: Serialize>(name: &str, state: &T) -> Result<serde_json::Value, OptimizerError> {
    let body = serde_json::to_value(state)
        .map_err(|e| OptimizerError::Internal(format!("cannot serialise {name} state: {e}")))?;
    Ok(serde_json::json!({ "optimizer": name, "version": STATE_VERSION, "state": body }))
}

/// Reads a state made by [`save_state`] for the optimizer `name`; anything else is a
/// [`OptimizerError::BadState`].
pub(crate) fn load_state<T: DeserializeOwned>(
    name: &str,
    value: &serde_json::Value,
) -> Result<T, OptimizerError> {
    let bad = |message: String| OptimizerError::BadState { optimizer: name.to_owned(), message };
    let obj = value.as_object().ok_or_else(|| bad("the state is not a JSON object".into()))?;
    match obj.get("optimizer").and_then(|v| v.as_str()) {
        Some(n) if n == name => {}
        Some(other) => return Err(bad(format!("the state was saved by `{other}`"))),
        None => return Err(bad("the state has no `optimizer` tag".into())),
    }
    match obj.get("version").and_then(|v| v.as_u64()) {
        Some(STATE_VERSION) => {}
        other => return Err(bad(format!("unsupported state version {other:?}; expected {STATE_VERSION}"))),
    }
    let body = obj.get("state").ok_or_else(|| bad("the state has no `state` field".into()))?;
    serde_json::from_value(body.clone()).map_err(|e| bad(e.to_string()))
}

/// The format version of saved states (2: floats are JSON numbers, not decimal strings).
const STATE_VERSION: u64 = 2;

/// Exact serde of the `f64` values of states, so that a state survives a trip through JSON text bit
/// for bit, non-finite values (`inf`, `NaN`) included: glompo-core's encoding ([`glompo_core::exact`]:
/// numbers, which serde_json writes and reads back bit for bit, and the names of non-finite values) for
/// the shapes optimizer states have.
pub(crate) mod exact {
    use glompo_core::Evaluation;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) use glompo_core::exact::{deserialize, serialize, vec};

    /// One row: a `Vec<f64>` in the exact encoding.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Row(#[serde(with = "glompo_core::exact::vec")] Vec<f64>);

    /// A vector of vectors of `f64` (points, matrices by rows).
    pub(crate) mod vecs {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|row| RowRef(row)))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
            Ok(Vec::<Row>::deserialize(d)?.into_iter().map(|r| r.0).collect())
        }
    }

    /// A borrowed row, written as [`Row`] is.
    struct RowRef<'a>(&'a [f64]);

    impl Serialize for RowRef<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            glompo_core::exact::vec::serialize(self.0, s)
        }
    }

    /// An optional vector of `f64`.
    pub(crate) mod opt_vec {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
            v.as_deref().map(RowRef).serialize(s)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
            Ok(Option::<Row>::deserialize(d)?.map(|r| r.0))
        }
    }

    #[derive(Serialize)]
    struct EvalRef<'a> {
        x: RowRef<'a>,
        #[serde(with = "glompo_core::exact")]
        fx: f64,
    }

    #[derive(Deserialize)]
    struct EvalRepr {
        x: Row,
        #[serde(with = "glompo_core::exact")]
        fx: f64,
    }

    /// An optional [`Evaluation`].
    pub(crate) mod opt_eval {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &Option<Evaluation>, s: S) -> Result<S::Ok, S::Error> {
            v.as_ref().map(|e| EvalRef { x: RowRef(&e.x), fx: e.fx }).serialize(s)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Evaluation>, D::Error> {
            Ok(Option::<EvalRepr>::deserialize(d)?.map(|r| Evaluation { x: r.x.0, fx: r.fx }))
        }
    }
}

/// Defines an optimizer's factory type: a validated config with `new`, `from_options` and `config`.
/// The config type must have `validate()` and an `OPTIONS` list of its option names.
macro_rules! config_factory {
    ($(#[$doc:meta])* $factory:ident, $config:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $factory {
            config: $config,
        }

        impl $factory {
            /// A factory for validated options.
            pub fn new(config: $config) -> Result<Self, OptimizerError> {
                config.validate()?;
                Ok($factory { config })
            }

            /// A factory from a config entry's options (without `type`, `workers` and `evaluator`).
            pub fn from_options(
                options: &serde_json::Map<String, serde_json::Value>,
            ) -> Result<Self, OptimizerError> {
                Self::new($crate::util::parse_options(options, <$config>::OPTIONS)?)
            }

            /// The options this factory builds with.
            pub fn config(&self) -> &$config {
                &self.config
            }
        }
    };
}

pub(crate) use config_factory;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Probe {
        #[serde(with = "exact")]
        a: f64,
        #[serde(with = "exact::vec")]
        v: Vec<f64>,
        #[serde(with = "exact::vecs")]
        m: Vec<Vec<f64>>,
    }

    #[test]
    fn exact_floats_survive_json_text() {
        let tricky = [0.1 + 0.2, 1.0 / 3.0, f64::MIN_POSITIVE, 5e-324, 1.7976931348623157e308, -0.0];
        let p =
            Probe { a: f64::INFINITY, v: tricky.to_vec(), m: vec![tricky.to_vec(), vec![f64::NEG_INFINITY]] };
        let text = serde_json::to_string(&p).unwrap();
        let q: Probe = serde_json::from_str(&text).unwrap();
        assert_eq!(p, q);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.v), bits(&q.v));
        let nan: Probe = serde_json::from_str(r#"{"a": "NaN", "v": [], "m": []}"#).unwrap();
        assert!(nan.a.is_nan());
        assert!(serde_json::from_str::<Probe>(r#"{"a": "x", "v": [], "m": []}"#).is_err());
    }

    #[test]
    fn best_record_ignores_failures() {
        let mut b = BestRecord::default();
        assert!(!b.offer(&[1.0], f64::NAN));
        assert!(b.offer(&[1.0], 3.0));
        assert!(!b.offer(&[2.0], f64::NEG_INFINITY));
        assert!(!b.offer(&[2.0], 3.0));
        assert!(b.offer(&[2.0], 2.0));
        assert_eq!(b.get().unwrap().x, vec![2.0]);
    }

    #[test]
    fn load_state_rejects_foreign_states() {
        let saved = save_state("a", &vec![1u32]).unwrap();
        assert_eq!(load_state::<Vec<u32>>("a", &saved).unwrap(), vec![1]);
        for bad in [serde_json::json!(3), serde_json::json!({}), save_state("b", &vec![1u32]).unwrap()] {
            assert!(matches!(load_state::<Vec<u32>>("a", &bad), Err(OptimizerError::BadState { .. })));
        }
        let mut wrong_version = saved.clone();
        wrong_version["version"] = serde_json::json!(99);
        assert!(load_state::<Vec<u32>>("a", &wrong_version).is_err());
    }
}
