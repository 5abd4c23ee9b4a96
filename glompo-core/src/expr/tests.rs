//! Unit tests of the expression trees, their language, binding and name suggestions.

use super::*;

/// A leaf that returns a fixed value and counts its calls.
struct Fixed(&'static str, bool);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn leaf(name: &'static str, v: bool) -> Expr<Fixed> {
    Expr::leaf(Box::new(Fixed(name, v)))
}

fn run(e: &mut Expr<Fixed>) -> (bool, Vec<&'static str>) {
    let mut called = Vec::new();
    let v = e.eval(&mut |leaf: &mut Fixed| {
        called.push(leaf.0);
        leaf.1
    });
    (v, called)
}

#[test]
fn truth_table_and_short_circuit() {
    // F | F&T | T&(T|F) is true.
    let mut e = leaf("a", false)
        .or(leaf("b", false).and(leaf("c", true)))
        .or(leaf("d", true).and(leaf("e", true).or(leaf("f", false))));
    let (v, called) = run(&mut e);
    assert!(v);
    assert_eq!(called, ["a", "b", "d", "e"]);
    assert_eq!(
        e.with_values().to_string(),
        "[[a = false | [b = false & c = skipped]] | [d = true & [e = true | f = skipped]]]"
    );
    // T | x never calls x; F & x never calls x.
    let (v, called) = run(&mut leaf("t", true).or(leaf("x", false)));
    assert!(v);
    assert_eq!(called, ["t"]);
    let (v, called) = run(&mut leaf("f", false).and(leaf("x", true)));
    assert!(!v);
    assert_eq!(called, ["f"]);
}

#[test]
fn reevaluation_forgets_old_values() {
    let mut e = leaf("a", true).or(leaf("b", true));
    if let Expr::Or(a, _) = &mut e
        && let Expr::Leaf(item, _) = a.as_mut()
    {
        item.1 = false;
    }
    run(&mut e);
    assert_eq!(e.leaf_values(), [Some(false), Some(true)]);
    if let Expr::Or(a, _) = &mut e
        && let Expr::Leaf(item, _) = a.as_mut()
    {
        item.1 = true;
    }
    run(&mut e);
    assert_eq!(e.leaf_values(), [Some(true), None]);
    e.reset();
    assert_eq!(e.leaf_values(), [None, None]);
}

fn build_fixed(call: &Call) -> Result<Box<Fixed>, (usize, String)> {
    let name: &'static str = Box::leak(call.name.clone().into_boxed_str());
    Ok(Box::new(Fixed(name, true)))
}

#[test]
fn precedence_and_parentheses() {
    let e: Expr<Fixed> = parse("a | b & c", &mut build_fixed).unwrap();
    assert!(matches!(&e, Expr::Or(_, r) if matches!(**r, Expr::And(..))));
    assert_eq!(e.to_string(), "a | b & c");
    let e: Expr<Fixed> = parse("(a | b) & c", &mut build_fixed).unwrap();
    assert!(matches!(&e, Expr::And(l, _) if matches!(**l, Expr::Or(..))));
    assert_eq!(e.to_string(), "(a | b) & c");
    // The printed form parses back to the same tree.
    let again: Expr<Fixed> = parse(&e.to_string(), &mut build_fixed).unwrap();
    assert_eq!(again.to_string(), e.to_string());
}

#[test]
fn arguments_and_names() {
    let ast = parse_ast("Best-Unmoving(2000, tol = 1e-2) & type_hunter(\"nelder-mead\")").unwrap();
    let Ast::And(a, b) = ast else { panic!("expected &") };
    let Ast::Call(a) = *a else { panic!("expected a call") };
    assert_eq!(a.name, "best_unmoving");
    assert_eq!(a.args[0].value, Value::Num(2000.0));
    assert_eq!(a.args[1].name.as_deref(), Some("tol"));
    assert_eq!(a.args[1].value, Value::Num(0.01));
    let Ast::Call(b) = *b else { panic!("expected a call") };
    assert_eq!(b.args[0].value, Value::Str("nelder-mead".into()));
    let Ast::Call(c) = parse_ast("type_hunter(nelder-mead)").unwrap() else { panic!() };
    assert_eq!(c.args[0].value, Value::Str("nelder-mead".into()));
}

#[test]
fn errors_point_at_the_column() {
    let err = parse_ast("a & (b | c").unwrap_err();
    assert_eq!((err.column, err.message.as_str()), (11, "expected `)`"));
    let err = parse_ast("a & | b").unwrap_err();
    assert_eq!((err.column, err.message.as_str()), (5, "expected a name, found `|`"));
    let err = parse_ast("a(1, 2x)").unwrap_err();
    assert_eq!((err.column, err.message.as_str()), (6, "`2x` is not a number"));
    let err = parse_ast("a b").unwrap_err();
    assert_eq!(err.column, 3);
    assert_eq!(err.to_string(), "column 3: unexpected `b`; expected `&`, `|` or the end\n  a b\n    ^");
    let err = parse_ast("").unwrap_err();
    assert_eq!(err.message, "expected a name, found the end");
}

#[test]
fn binding_checks_parameters() {
    const SIG: Signature = Signature { name: "best_unmoving", params: &["calls", "tol"], required: 1 };
    let call = |text: &str| match parse_ast(text).unwrap() {
        Ast::Call(c) => c,
        _ => panic!("expected a call"),
    };
    let c = call("best_unmoving(10, tol=0.5)");
    let b = SIG.bind(&c).unwrap();
    assert_eq!(b.count("calls", 0).unwrap(), 10);
    assert_eq!(b.num("tol", 0.0, NON_NEGATIVE).unwrap(), 0.5);
    let c = call("best_unmoving(tol=0.5)");
    assert_eq!(SIG.bind(&c).unwrap_err().1, "missing parameter `calls`; expected best_unmoving(calls, tol)");
    let c = call("best_unmoving(1, 2, 3)");
    assert_eq!(
        SIG.bind(&c).unwrap_err(),
        (21, "too many arguments; expected best_unmoving(calls, tol)".into())
    );
    let c = call("best_unmoving(1, tolerance=2)");
    assert!(SIG.bind(&c).unwrap_err().1.starts_with("unknown parameter `tolerance`"));
    let c = call("best_unmoving(-1)");
    assert_eq!(
        SIG.bind(&c).unwrap().count("calls", 0).unwrap_err().1,
        "`calls` of best_unmoving must be a whole number ≥ 0"
    );
    let c = call("best_unmoving(1, tol=-2)");
    assert_eq!(
        SIG.bind(&c).unwrap().num("tol", 0.0, NON_NEGATIVE).unwrap_err().1,
        "`tol` of best_unmoving must be ≥ 0"
    );
}

#[test]
fn deep_nesting_and_long_chains_are_errors_not_stack_overflows() {
    let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let err = parse_ast(&deep).unwrap_err();
    assert_eq!(err.column, MAX_NESTING + 1);
    assert_eq!(err.message, format!("parentheses nest deeper than {MAX_NESTING} levels"));
    let ok = format!("{}a{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    assert!(parse_ast(&ok).is_ok());
    let chain = vec!["a"; 10_000].join(" | ");
    let err = parse_ast(&chain).unwrap_err();
    assert_eq!(err.message, format!("more than {MAX_LEAVES} conditions in one expression"));
    assert_eq!(err.column, 4 * MAX_LEAVES + 1);
    assert!(parse_ast(&vec!["a"; MAX_LEAVES].join(" & ")).is_ok());
}

#[test]
fn errors_in_long_expressions_show_the_part_around_the_column() {
    let err = parse_ast(&format!("{}(a", "(".repeat(MAX_NESTING))).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("  (((") && lines[1].len() < 100, "{text}");
    // The caret stands under the `(` that nests too deep.
    let caret = lines[2].chars().count() - 1;
    assert_eq!(lines[1].chars().nth(caret), Some('('));
    let long = format!("{} & b c", vec!["a"; 100].join(" & "));
    let text = parse_ast(&long).unwrap_err().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("  …") && lines[1].ends_with("b c"), "{text}");
    let caret = lines[2].chars().count() - 1;
    assert_eq!(lines[1].chars().nth(caret), Some('c'), "{text}");
}

#[test]
fn closest_suggests_likely_typos_only() {
    let names = ["min_evals", "best_unmoving", "evaluations_unmoving", "type_hunter"];
    assert_eq!(closest("best_unmovin", &names), Some("best_unmoving"));
    assert_eq!(closest("Best-Unmoving", &names), Some("best_unmoving"));
    assert_eq!(closest("tpye_hunter", &names), Some("type_hunter"));
    assert_eq!(closest("min_eval", &names), Some("min_evals"));
    assert_eq!(closest("kill", &names), None);
    assert_eq!(closest("", &names), None);
    assert_eq!(closest(&"x".repeat(1000), &names), None);
    // A prefix counts when only one candidate has it.
    assert_eq!(closest("evaluations", &names), Some("evaluations_unmoving"));
    assert_eq!(closest("max", &["max_evals", "max_kills"]), None);
    assert_eq!(edit_distance(&['a', 'b'], &['b', 'a']), 1);
    assert_eq!(edit_distance(&[], &['a', 'b']), 2);
    let Ast::Call(call) = parse_ast("a(tols=1)").unwrap() else { panic!("expected a call") };
    let sig = Signature { name: "a", params: &["calls", "tol"], required: 0 };
    assert_eq!(
        sig.bind(&call).unwrap_err(),
        (8, "unknown parameter `tols`; did you mean `tol`? expected a(calls, tol)".into())
    );
}

#[test]
fn numbers_print_back_exactly() {
    for v in [1e-6, 0.01, 100000.0, 2.5, 0.0, -3.0, 1e20] {
        assert_eq!(fmt_num(v).parse::<f64>().unwrap(), v);
    }
    assert_eq!(fmt_num(1e-6), "1e-6");
    assert_eq!(fmt_num(100000.0), "100000");
}
