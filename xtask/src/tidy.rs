//! Tidy checks: the crate graph invariant and hygiene rules, run by `cargo xtask tidy`, by
//! `cargo xtask ci`, and as a test.

use std::path::Path;

/// Which glompo crates each crate may depend on (normal and dev dependencies alike).
const ALLOWED: &[(&str, &[&str])] = &[
    ("glompo-core", &[]),
    ("glompo-backends", &["glompo-core"]),
    ("glompo-optimizers", &["glompo-core"]),
    ("glompo-cli", &["glompo-core", "glompo-backends", "glompo-optimizers"]),
    ("xtask", &[]),
];

/// Checks the workspace at `root`; returns every problem found.
pub(crate) fn check(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (krate, allowed) in ALLOWED {
        let manifest = root.join(krate).join("Cargo.toml");
        match std::fs::read_to_string(&manifest) {
            Ok(text) => problems.extend(check_manifest(krate, allowed, &text)),
            Err(e) => problems.push(format!("{}: cannot read: {e}", manifest.display())),
        }
        walk(&root.join(krate).join("src"), &mut |path, text| problems.extend(check_source(path, text)));
    }
    problems.extend(check_readme_example(root));
    match std::fs::read_to_string(root.join("Cargo.toml")) {
        Ok(text) => problems.extend(check_workspace(&text)),
        Err(e) => problems.push(format!("Cargo.toml: cannot read: {e}")),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// The README's Rust example must be the code of `glompo-cli/examples/library.rs`, which CI compiles.
fn check_readme_example(root: &Path) -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("{p}: cannot read: {e}"));
    let (readme, example) = match (read("README.md"), read("glompo-cli/examples/library.rs")) {
        (Ok(r), Ok(e)) => (r, e),
        (r, e) => return r.err().into_iter().chain(e.err()).collect(),
    };
    let block = readme.split("```rust\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap_or("");
    if block.is_empty() || !example.ends_with(block) {
        return vec!["README.md: the ```rust block differs from glompo-cli/examples/library.rs".into()];
    }
    Vec::new()
}

/// The glompo crates a manifest names as dependencies, in any dependency table.
fn glompo_deps(text: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.contains("dependencies");
            continue;
        }
        if in_deps {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("glompo") {
                deps.push(name.to_owned());
            }
        }
    }
    deps
}

fn check_manifest(krate: &str, allowed: &[&str], text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for dep in glompo_deps(text) {
        if !allowed.contains(&dep.as_str()) {
            problems.push(format!("{krate} depends on {dep}: the crate graph allows only {allowed:?}"));
        }
    }
    if !text.contains("[lints]\nworkspace = true") {
        problems.push(format!("{krate}/Cargo.toml: missing `[lints] workspace = true`"));
    }
    problems
}

fn check_workspace(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("glompo-") && l.contains("path =") && !l.contains("version ="))
        .map(|l| format!("Cargo.toml: internal dependency without a version: {l}"))
        .collect()
}

fn check_source(path: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = strip_strings(line.split("//").next().unwrap_or(""));
        if code.contains("dbg!(") {
            problems.push(format!("{}:{}: dbg! left in", path.display(), i + 1));
        }
        if code.contains("unsafe ") && !safety_comment_before(text, i) {
            problems.push(format!(
                "{}:{}: unsafe without a `// SAFETY:` comment right before it",
                path.display(),
                i + 1
            ));
        }
    }
    problems
}

/// Whether the comment block right above line `i` (0-based) has a `SAFETY:` paragraph.
fn safety_comment_before(text: &str, i: usize) -> bool {
    let lines: Vec<&str> = text.lines().take(i).collect();
    lines.iter().rev().take_while(|l| l.trim_start().starts_with("//")).any(|l| l.contains("SAFETY:"))
}

/// The line with the contents of its string literals removed.
fn strip_strings(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in code.chars() {
        match (in_string, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, true, _) => escaped = false,
            (_, _, '"') => {
                in_string = !in_string;
                out.push('"');
            }
            (false, _, c) => out.push(c),
            (true, false, _) => {}
        }
    }
    out
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, &str)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, visit);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            visit(&path, &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        if let Err(problems) = check(root) {
            panic!("tidy found problems:\n{}", problems.join("\n"));
        }
    }

    #[test]
    fn the_graph_check_catches_a_forbidden_edge() {
        let manifest = "[package]\nname = \"glompo-core\"\n[dependencies]\nglompo-optimizers.workspace = true\nserde = \"1\"\n[dev-dependencies]\nglompo-backends = { path = \"../glompo-backends\" }\n[lints]\nworkspace = true\n";
        let problems = check_manifest("glompo-core", &[], manifest);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("glompo-core depends on glompo-optimizers"));
        assert!(problems[1].contains("glompo-core depends on glompo-backends"));
        assert!(
            check_manifest(
                "glompo-cli",
                &["glompo-core"],
                "[dependencies]\nglompo-core.workspace = true\n[lints]\nworkspace = true"
            )
            .is_empty()
        );
    }

    #[test]
    fn hygiene_rules() {
        let p = Path::new("x.rs");
        assert_eq!(check_source(p, "fn f() { dbg!(1); }").len(), 1);
        assert_eq!(check_source(p, "// dbg!(1) in a comment").len(), 0);
        assert_eq!(check_source(p, "let x = unsafe { f() };").len(), 1);
        assert_eq!(check_source(p, "// SAFETY: f has no preconditions.\nlet x = unsafe { f() };").len(), 0);
        assert_eq!(
            check_source(p, "// SAFETY: f has no\n// preconditions.\nlet x = unsafe { f() };").len(),
            0
        );
        assert_eq!(check_source(p, "// SAFETY: f is fine.\nlet y = 1;\nlet x = unsafe { f() };").len(), 1);
        assert_eq!(check_source(p, "let s = \"unsafe { dbg!(2) }\";").len(), 0);
        assert_eq!(check_workspace("glompo-core = { path = \"glompo-core\" }").len(), 1);
    }
}
