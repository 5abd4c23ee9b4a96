//! `f64` values in JSON, exactly, the non-finite ones included.
//!
//! JSON has no NaN or infinities, and `serde_json` writes them as `null`, which it cannot read back
//! into an `f64`. Every value that crosses a process boundary (a runner's pipe, a worker's answer, a
//! checkpoint) goes through this module instead: a finite value is a number in its shortest
//! round-trip form (so it reads back to the same bits), and a non-finite one is the string `"nan"`,
//! `"inf"` or `"-inf"`.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Value {
//!     #[serde(with = "glompo_core::exact")]
//!     fx: f64,
//! }
//! let text = serde_json::to_string(&Value { fx: f64::NEG_INFINITY }).unwrap();
//! assert_eq!(text, r#"{"fx":"-inf"}"#);
//! let back: Value = serde_json::from_str(&text).unwrap();
//! assert_eq!(back.fx, f64::NEG_INFINITY);
//! assert!(serde_json::from_str::<Value>(r#"{"fx":null}"#).is_err());
//! ```

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serializer};

/// The name of a non-finite value: `"nan"`, `"inf"` or `"-inf"`; `None` for a finite one.
pub fn nonfinite_name(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("nan")
    } else if v == f64::INFINITY {
        Some("inf")
    } else if v == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// Reads the name of a non-finite value, in any case: `nan`, `inf`, `-inf`, `+inf`, `infinity`,
/// `-infinity` (Python writes `NaN`, `Infinity` and `-Infinity`).
pub fn parse_nonfinite(name: &str) -> Option<f64> {
    match name.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Serializes `v` as a number, or as its name when it is not finite.
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match nonfinite_name(*v) {
        Some(name) => s.serialize_str(name),
        None => s.serialize_f64(*v),
    }
}

/// Reads a number, or the name of a non-finite value; anything else (`null` included) is an error.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(Exact)
}

struct Exact;

impl Visitor<'_> for Exact {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a number, "nan", "inf" or "-inf""#)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse_nonfinite(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// The same encoding for every element of a `Vec<f64>`.
pub mod vec {
    use super::*;

    /// Serializes every element with [`super::serialize`].
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        struct One(f64);
        impl serde::Serialize for One {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                super::serialize(&self.0, s)
            }
        }
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for &x in v {
            seq.serialize_element(&One(x))?;
        }
        seq.end()
    }

    /// Reads a list whose every element [`super::deserialize`] reads.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        d.deserialize_seq(List)
    }

    struct List;

    struct One(f64);

    impl<'de> serde::Deserialize<'de> for One {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            super::deserialize(d).map(One)
        }
    }

    impl<'de> Visitor<'de> for List {
        type Value = Vec<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"a list of numbers, "nan", "inf" or "-inf""#)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(One(x)) = seq.next_element()? {
                out.push(x);
            }
            Ok(out)
        }
    }
}

/// The same encoding for every element of a `VecDeque<f64>` (a record's history windows).
pub mod deque {
    use std::collections::VecDeque;

    use super::*;

    /// Serializes every element, front first, with [`super::serialize`].
    pub fn serialize<S: Serializer>(v: &VecDeque<f64>, s: S) -> Result<S::Ok, S::Error> {
        let (a, b) = v.as_slices();
        if b.is_empty() {
            return super::vec::serialize(a, s);
        }
        super::vec::serialize(&v.iter().copied().collect::<Vec<f64>>(), s)
    }

    /// Reads a list whose every element [`super::deserialize`] reads.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<f64>, D::Error> {
        super::vec::deserialize(d).map(VecDeque::from)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "super")]
        one: f64,
        #[serde(with = "super::vec")]
        many: Vec<f64>,
    }

    #[test]
    fn every_value_reads_back_to_the_same_bits() {
        let values = [
            0.1 + 0.2,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            -1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.0,
        ];
        for &v in &values {
            let text = serde_json::to_string(&Both { one: v, many: values.to_vec() }).unwrap();
            let back: Both = serde_json::from_str(&text).unwrap();
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(same(back.one, v), "{v} -> {text}");
            assert!(back.many.iter().zip(&values).all(|(a, b)| same(*a, *b)), "{text}");
        }
    }

    #[test]
    fn names_are_read_in_any_case_and_everything_else_is_refused() {
        for (text, v) in [("NaN", f64::NAN), ("Infinity", f64::INFINITY), ("-INF", f64::NEG_INFINITY)] {
            let parsed = super::parse_nonfinite(text).unwrap();
            assert!(parsed.to_bits() == v.to_bits() || (parsed.is_nan() && v.is_nan()), "{text}");
        }
        for bad in [r#"{"one":null,"many":[]}"#, r#"{"one":"big","many":[]}"#, r#"{"one":1,"many":[null]}"#] {
            assert!(serde_json::from_str::<Both>(bad).is_err(), "{bad}");
        }
    }
}
