//! The lines of the worker protocol: requests out, answers in.

use std::path::Path;

use glompo_core::exact;
use glompo_core::{EvalContext, EvalOutput};
use serde_json::Value;

use super::Failure;

/// The point as a JSON list, every value in its shortest round-trip form, a non-finite one (which
/// bounds rule out) as its name (`"nan"`, `"inf"`, `"-inf"`).
pub(super) fn point_json(x: &[f64]) -> Result<String, serde_json::Error> {
    let mut text = Vec::with_capacity(24 * x.len() + 2);
    exact::vec::serialize(x, &mut serde_json::Serializer::new(&mut text))?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// The request line for `x` in `ctx`, newline included: `{"x":[...],"opt_id":3,"eval_id":12}`, with
/// `"call_id"` where it is known and `"scratch"` where the evaluation has one.
pub(super) fn request_line(x: &[f64], ctx: &EvalContext, scratch: Option<&Path>) -> Result<Vec<u8>, String> {
    let point = point_json(x).map_err(|e| format!("cannot encode the request: {e}"))?;
    let mut line = Vec::with_capacity(64 + point.len());
    line.extend_from_slice(b"{\"x\":");
    line.extend_from_slice(point.as_bytes());
    line.extend_from_slice(format!(",\"opt_id\":{},\"eval_id\":{}", ctx.opt_id, ctx.eval).as_bytes());
    if let Some(call_id) = ctx.call_id {
        line.extend_from_slice(format!(",\"call_id\":{call_id}").as_bytes());
    }
    if let Some(dir) = scratch {
        let path = serde_json::to_string(&dir.to_string_lossy())
            .map_err(|e| format!("cannot encode the request: {e}"))?;
        line.extend_from_slice(format!(",\"scratch\":{path}").as_bytes());
    }
    line.extend_from_slice(b"}\n");
    Ok(line)
}

/// Reads an answer line: `{"fx": v}` (with `"extras"` optionally) or `{"error": "why"}`.
///
/// `v` is a number (read back to the same bits), `null` (a non-finite value of unknown sign: NaN), or
/// the name of a non-finite value in any case (`"nan"`, `"inf"`, `"-inf"`, `"infinity"`, …). Python's
/// `json.dumps` writes non-finite floats as the bare tokens `NaN`, `Infinity` and `-Infinity`, which are
/// not JSON: outside string literals they are read as those names, in `fx` and in `extras` alike.
pub(super) fn parse_answer(text: &str) -> Result<EvalOutput, Failure> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            python_tokens(text).and_then(|fixed| serde_json::from_str(&fixed).ok()).ok_or_else(|| {
                Failure::Broken(format!("the worker answered {text:?}, which is not JSON: {e}"))
            })?
        }
    };
    if let Some(error) = value.get("error") {
        let message = error.as_str().map_or_else(|| error.to_string(), str::to_owned);
        return Err(Failure::Answered(message));
    }
    let fx = match value.get("fx") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::Null) => Some(f64::NAN),
        Some(Value::String(name)) => exact::parse_nonfinite(name),
        _ => None,
    };
    let Some(fx) = fx else {
        return Err(Failure::Broken(format!(
            "the worker answered {text:?}, with no number `fx` and no `error`"
        )));
    };
    Ok(EvalOutput { fx, extras: value.get("extras").cloned() })
}

/// `text` with Python's bare `NaN`, `Infinity` and `-Infinity` tokens outside string literals replaced
/// by the strings `"nan"`, `"inf"` and `"-inf"`; `None` if it has none.
fn python_tokens(text: &str) -> Option<String> {
    const TOKENS: [(&[u8], &[u8]); 3] =
        [(b"-Infinity", b"\"-inf\""), (b"Infinity", b"\"inf\""), (b"NaN", b"\"nan\"")];
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut in_string = false;
    let mut changed = false;
    let mut i = 0;
    'scan: while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                // An escape: the next byte is part of the string, even a quote.
                b'\\' => {
                    out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else {
            // A value starts after `[`, `:` or `,` (or at the start); a token ends where no identifier
            // character follows.
            let starts =
                out.iter().rev().find(|c| !c.is_ascii_whitespace()).is_none_or(|c| b"[:,".contains(c));
            for (token, name) in TOKENS {
                let ends =
                    bytes.get(i + token.len()).is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
                if starts && ends && bytes[i..].starts_with(token) {
                    out.extend_from_slice(name);
                    i += token.len();
                    changed = true;
                    continue 'scan;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    // Only ASCII was put in place of ASCII, so the text is still UTF-8.
    changed.then(|| String::from_utf8(out).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fx(text: &str) -> f64 {
        match parse_answer(text) {
            Ok(out) => out.fx,
            Err(Failure::Answered(m) | Failure::Broken(m)) => panic!("{text}: {m}"),
        }
    }

    #[test]
    fn requests_carry_the_ids_and_the_scratch_directory() {
        let line = request_line(&[1.5], &CTX, None).unwrap();
        assert_eq!(line, b"{\"x\":[1.5],\"opt_id\":3,\"eval_id\":12}\n");
        let known = EvalContext { call_id: Some(57), ..CTX };
        let line = request_line(&[1.5], &known, Some(Path::new("/s/\"q\""))).unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"x\":[1.5],\"opt_id\":3,\"eval_id\":12,\"call_id\":57,\"scratch\":\"/s/\\\"q\\\"\"}\n"
        );
    }

    const CTX: EvalContext = EvalContext { opt_id: 3, eval: 12, call_id: None, detailed: false };

    #[test]
    fn finite_values_come_back_bit_exact() {
        for v in [0.1 + 0.2, 5e-324, f64::MAX, f64::MIN_POSITIVE, -0.0, 1.0 / 3.0, 123_456_789.012_345_68] {
            let line = String::from_utf8(request_line(&[v], &CTX, None).unwrap()).unwrap();
            let sent: f64 = serde_json::from_str::<Value>(&line).unwrap()["x"][0].as_f64().unwrap();
            assert_eq!(sent.to_bits(), v.to_bits(), "{line}");
            let answer = serde_json::to_string(&json!({ "fx": v })).unwrap();
            assert_eq!(fx(&answer).to_bits(), v.to_bits(), "{answer}");
        }
        assert_eq!(fx(r#"{"fx": 3}"#), 3.0);
        assert_eq!(point_json(&[1.5, f64::NEG_INFINITY]).unwrap(), "[1.5,\"-inf\"]");
    }

    #[test]
    fn non_finite_values_are_read_from_null_names_and_python_tokens() {
        assert!(fx(r#"{"fx": null}"#).is_nan());
        for (text, want) in [
            (r#"{"fx": "inf"}"#, f64::INFINITY),
            (r#"{"fx": "-inf"}"#, f64::NEG_INFINITY),
            (r#"{"fx": "-Infinity"}"#, f64::NEG_INFINITY),
            (r#"{"fx": "INF"}"#, f64::INFINITY),
            (r#"{"fx": Infinity}"#, f64::INFINITY),
            (r#"{"fx":-Infinity, "extras": {}}"#, f64::NEG_INFINITY),
        ] {
            assert_eq!(fx(text), want, "{text}");
        }
        assert!(fx(r#"{"fx": "NaN"}"#).is_nan());
        assert!(fx(r#"{"fx": NaN}"#).is_nan());
    }

    #[test]
    fn python_tokens_are_replaced_outside_strings_only() {
        // What Python's json.dumps writes for {"fx": inf, "extras": {...}} with such words in strings.
        let text = r#"{"fx": Infinity, "extras": {"note": "NaN, Infinity \" -Infinity", "v": [NaN, -Infinity], "NaN": 1}}"#;
        let out = parse_answer(text).map_err(|_| "not read").unwrap();
        assert_eq!(out.fx, f64::INFINITY);
        assert_eq!(
            out.extras,
            Some(json!({"note": "NaN, Infinity \" -Infinity", "v": ["nan", "-inf"], "NaN": 1}))
        );
        // Tokens glued to other text are not Python's: the line stays garbage.
        for garbage in [r#"{"fx": NaNa}"#, r#"{"fx": xInfinity}"#, "not json"] {
            assert!(
                matches!(parse_answer(garbage), Err(Failure::Broken(m)) if m.contains("not JSON")),
                "{garbage}"
            );
        }
        assert_eq!(python_tokens(r#"{"fx": 1.5}"#), None);
    }

    #[test]
    fn errors_and_answers_without_a_value_are_told_apart() {
        assert!(
            matches!(parse_answer(r#"{"error": "bad point"}"#), Err(Failure::Answered(m)) if m == "bad point")
        );
        assert!(
            matches!(parse_answer(r#"{"error": {"code": 3}}"#), Err(Failure::Answered(m)) if m == r#"{"code":3}"#)
        );
        for text in [r#"{"fx": "1.5"}"#, r#"{"fx": [1]}"#, r#"{"value": 1}"#] {
            assert!(
                matches!(parse_answer(text), Err(Failure::Broken(m)) if m.contains("no number `fx`")),
                "{text}"
            );
        }
    }
}
