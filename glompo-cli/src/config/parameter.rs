//! `parameters`: named parameters with their bounds, the alternative to `bounds`
//! (`[{"name": "k_bond", "bounds": [0, 5]}, …]`). The names head the columns of `glompo export --csv`
//! and name the values of the printed result, the report and the summary, so they must be unique
//! plain CSV headers that no fixed column has.

use glompo_core::fields::{Fields, found};
use glompo_core::{Bounds, CoreError};
use serde_json::Value;

use super::resolve::pair;

/// The columns of `glompo export --csv` besides the parameters: no parameter may be called so.
pub const RESERVED_NAMES: &[&str] = &["call_id", "opt_id", "t", "fx", "error"];

/// The longest parameter name, in characters.
const MAX_NAME: usize = 200;

/// `parameters`, `entries` of which there must be `dim`: the bounds and the names.
pub(super) fn parameters(entries: &Value, dim: usize) -> Result<(Bounds, Vec<String>), CoreError> {
    let Value::Array(entries) = entries else {
        return Err(CoreError::config(
            "parameters",
            format!(
                "expected a list of {{\"name\": …, \"bounds\": [lo, hi]}} objects, found {}",
                found(entries)
            ),
        ));
    };
    if entries.len() != dim {
        return Err(CoreError::config(
            "parameters",
            format!("{} parameters for a {dim}-dimensional objective; give one per dimension", entries.len()),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(dim);
    let mut pairs = Vec::with_capacity(dim);
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("parameters[{i}]");
        let Value::Object(map) = entry else {
            return Err(CoreError::config(
                at,
                format!(
                    "expected an object such as {{\"name\": \"k\", \"bounds\": [0, 1]}}, found {}",
                    found(entry)
                ),
            ));
        };
        let mut f = Fields::new(&at, map.clone());
        f.only(&["name", "bounds"])?;
        let name = f.string("name")?.ok_or_else(|| f.error("name", "missing; give the parameter a name"))?;
        check_name(&name).map_err(|message| f.error("name", message))?;
        if let Some(first) = names.iter().position(|n| *n == name) {
            return Err(f.error("name", format!("`{name}` is the name of parameters[{first}] too")));
        }
        let bounds = f.take("bounds").ok_or_else(|| f.error("bounds", "missing; give a [lo, hi] pair"))?;
        let path = f.path("bounds");
        let lo_hi = pair(&bounds, &path)?;
        // The checks of one interval (finite, lo < hi), said of this parameter.
        Bounds::new([lo_hi]).map_err(|e| match e {
            CoreError::Config { message, .. } => CoreError::config(path.clone(), message),
            other => other,
        })?;
        f.finish()?;
        names.push(name);
        pairs.push(lo_hi);
    }
    let bounds = Bounds::new(pairs).map_err(|e| match e {
        CoreError::Config { message, .. } => CoreError::config("parameters", message),
        other => other,
    })?;
    Ok((bounds, names))
}

/// What is wrong with `name` as a parameter's name, if anything.
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("empty; give the parameter a name".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("longer than {MAX_NAME} characters"));
    }
    if name.trim() != name {
        return Err(format!("{name:?} starts or ends with a space"));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, ',' | '"' | '\'') || c.is_control()) {
        return Err(format!(
            "{name:?} holds {c:?}; a name is a CSV column header, without commas, quotes or line breaks"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "`{name}` is a column of the exported evaluations; choose another name (not one of {})",
            RESERVED_NAMES.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(entries: Value, dim: usize) -> String {
        parameters(&entries, dim).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn names_and_bounds_are_read_in_order() {
        let entries = json!([{"name": "k_bond", "bounds": [0, 5]}, {"name": "r0", "bounds": [-1, 1.5]}]);
        let (bounds, names) = parameters(&entries, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names, ["k_bond", "r0"]);
        assert_eq!((bounds.lower(), bounds.upper()), (&[0.0, -1.0][..], &[5.0, 1.5][..]));
    }

    #[test]
    fn each_error_names_its_entry() {
        let cases = [
            (
                json!([{"name": "a", "bounds": [0, 1]}, {"name": "", "bounds": [0, 1]}]),
                "parameters[1].name: empty",
            ),
            (
                json!([{"name": "a", "bounds": [0, 1]}, {"name": "a", "bounds": [0, 1]}]),
                "parameters[1].name: `a` is the name of parameters[0] too",
            ),
            (
                json!([{"name": "a,b", "bounds": [0, 1]}, {"name": "c", "bounds": [0, 1]}]),
                "parameters[0].name: \"a,b\" holds ','",
            ),
            (
                json!([{"name": "a\nb", "bounds": [0, 1]}, {"name": "c", "bounds": [0, 1]}]),
                "parameters[0].name: \"a\\nb\" holds '\\n'",
            ),
            (
                json!([{"name": "fx", "bounds": [0, 1]}, {"name": "c", "bounds": [0, 1]}]),
                "parameters[0].name: `fx` is a column",
            ),
            (
                json!([{"name": "a", "bounds": [1, 0]}, {"name": "c", "bounds": [0, 1]}]),
                "parameters[0].bounds: lower bound 1 is not below",
            ),
            (
                json!([{"name": "a", "bounds": [0]}, {"name": "c", "bounds": [0, 1]}]),
                "parameters[0].bounds: expected a [lo, hi] pair",
            ),
            (json!([{"name": "a"}, {"name": "c", "bounds": [0, 1]}]), "parameters[0].bounds: missing"),
            (json!([{"bounds": [0, 1]}, {"name": "c", "bounds": [0, 1]}]), "parameters[0].name: missing"),
            (
                json!([{"name": "a", "bounds": [0, 1], "unit": "nm"}, {"name": "c", "bounds": [0, 1]}]),
                "parameters[0].unit: unknown option",
            ),
            (
                json!([{"name": "a", "bounds": [0, 1]}]),
                "parameters: 1 parameters for a 2-dimensional objective",
            ),
            (json!(["a", "b"]), "parameters[0]: expected an object"),
        ];
        for (entries, expected) in cases {
            let message = error(entries.clone(), 2);
            assert!(message.starts_with(expected), "{entries}: {message}");
        }
    }
}
