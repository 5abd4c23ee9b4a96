//! Combinable conditions: the `|` / `&` trees that hunters and checkers form, and the small expression
//! language configs write them in.
//!
//! One tree type, [`Expr`], serves both hunters and checkers. Evaluation is short-circuit and records
//! each leaf's value, so [`Expr::with_values`] prints why a run ended or why an optimizer was killed:
//! `[max_evals(100000) = false | target_cost(0, 1e-6) = true]`. Leaves skipped by the short circuit print
//! as `= skipped`.
//!
//! The language: `&` binds tighter than `|`, parentheses group, and a leaf is a name with optional
//! arguments, positional or named: `min_evals(500) & (best_unmoving(2000, tol=0.01) | parameter_distance(0.05))`.
//! Names are case-insensitive and `-` and `_` are interchangeable.

use std::fmt;

/// A tree of leaves of type `T` combined with `&` and `|`.
pub enum Expr<T: ?Sized> {
    /// One condition, with the value it had at the last evaluation (`None`: skipped or never evaluated).
    Leaf(Box<T>, Option<bool>),
    /// Both must hold; the right side is not evaluated when the left is false.
    And(Box<Expr<T>>, Box<Expr<T>>),
    /// Either must hold; the right side is not evaluated when the left is true.
    Or(Box<Expr<T>>, Box<Expr<T>>),
}

impl<T: ?Sized> Expr<T> {
    /// A single leaf.
    pub fn leaf(item: Box<T>) -> Self {
        Expr::Leaf(item, None)
    }

    /// `self & other`.
    pub fn and(self, other: Self) -> Self {
        Expr::And(Box::new(self), Box::new(other))
    }

    /// `self | other`.
    pub fn or(self, other: Self) -> Self {
        Expr::Or(Box::new(self), Box::new(other))
    }

    /// Evaluates the tree with `test` applied to the leaves it reaches, after forgetting every leaf's
    /// previous value.
    pub fn eval(&mut self, test: &mut dyn FnMut(&mut T) -> bool) -> bool {
        self.reset();
        self.eval_inner(test)
    }

    fn eval_inner(&mut self, test: &mut dyn FnMut(&mut T) -> bool) -> bool {
        match self {
            Expr::Leaf(item, last) => {
                let v = test(item);
                *last = Some(v);
                v
            }
            Expr::And(a, b) => a.eval_inner(test) && b.eval_inner(test),
            Expr::Or(a, b) => a.eval_inner(test) || b.eval_inner(test),
        }
    }

    /// Forgets every leaf's last value.
    pub fn reset(&mut self) {
        match self {
            Expr::Leaf(_, last) => *last = None,
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.reset();
                b.reset();
            }
        }
    }

    /// The leaves, left to right.
    pub fn leaves(&self) -> Vec<&T> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a T>) {
        match self {
            Expr::Leaf(item, _) => out.push(item),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_leaves(out);
                b.collect_leaves(out);
            }
        }
    }

    /// The leaves' last values, left to right (`None`: skipped).
    pub fn leaf_values(&self) -> Vec<Option<bool>> {
        match self {
            Expr::Leaf(_, last) => vec![*last],
            Expr::And(a, b) | Expr::Or(a, b) => {
                let mut v = a.leaf_values();
                v.extend(b.leaf_values());
                v
            }
        }
    }

    /// Displays the tree with each leaf's last value: `[a = true | b = skipped]`.
    pub fn with_values(&self) -> WithValues<'_, T> {
        WithValues(self)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Expr<T> {
    /// The expression in the config language, with parentheses only where `|` sits under `&`, so that
    /// parsing the output gives the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Leaf(item, _) => write!(f, "{item}"),
            Expr::Or(a, b) => write!(f, "{a} | {b}"),
            Expr::And(a, b) => {
                for (i, side) in [a, b].into_iter().enumerate() {
                    if i == 1 {
                        f.write_str(" & ")?;
                    }
                    if matches!(**side, Expr::Or(..)) { write!(f, "({side})")? } else { write!(f, "{side}")? }
                }
                Ok(())
            }
        }
    }
}

impl<T: ?Sized + fmt::Display> fmt::Debug for Expr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.with_values())
    }
}

/// See [`Expr::with_values`].
pub struct WithValues<'a, T: ?Sized>(&'a Expr<T>);

impl<T: ?Sized + fmt::Display> fmt::Debug for WithValues<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for WithValues<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Expr::Leaf(item, Some(v)) => write!(f, "{item} = {v}"),
            Expr::Leaf(item, None) => write!(f, "{item} = skipped"),
            Expr::And(a, b) => write!(f, "[{} & {}]", a.with_values(), b.with_values()),
            Expr::Or(a, b) => write!(f, "[{} | {}]", a.with_values(), b.with_values()),
        }
    }
}

/// Formats a number for an expression so that it parses back to the same value.
pub fn fmt_num(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-4 || v.abs() >= 1e16) { format!("{v:e}") } else { format!("{v}") }
}

/// A parse or build error in an expression, pointing at a column (1-based, in characters).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}\n  {source_text}\n  {caret:>width$}", caret = "^", width = column)]
pub struct ParseError {
    /// Where the problem is, counted in characters from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The whole expression.
    pub source_text: String,
}

/// An argument value in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// A quoted string or a bare word (`"nelder-mead"`, `nelder-mead`, `true`).
    Str(String),
}

/// One argument of a call, positional or named.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The name, for `name=value` arguments.
    pub name: Option<String>,
    /// The value.
    pub value: Value,
    /// Its column.
    pub column: usize,
}

/// A leaf as written: a normalised name (lowercase, `_` for `-`) and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The normalised name.
    pub name: String,
    /// The arguments in order.
    pub args: Vec<Arg>,
    /// The column of the name.
    pub column: usize,
}

/// A parsed expression before its leaves are built.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// A leaf.
    Call(Call),
    /// `a & b`.
    And(Box<Ast>, Box<Ast>),
    /// `a | b`.
    Or(Box<Ast>, Box<Ast>),
}

/// The result of building or binding a leaf: an error is a column and a message.
pub type LeafResult<T> = Result<T, (usize, String)>;

/// Normalises a component name: lowercase, with `_` for `-`.
pub fn normalise_name(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// Parses `text` and builds each leaf with `build`; errors carry the column and the whole text.
pub fn parse<T: ?Sized>(
    text: &str,
    build: &mut dyn FnMut(&Call) -> LeafResult<Box<T>>,
) -> Result<Expr<T>, ParseError> {
    let ast = parse_ast(text)?;
    build_expr(&ast, build).map_err(|(column, message)| ParseError {
        column,
        message,
        source_text: text.to_owned(),
    })
}

fn build_expr<T: ?Sized>(
    ast: &Ast,
    build: &mut dyn FnMut(&Call) -> LeafResult<Box<T>>,
) -> LeafResult<Expr<T>> {
    Ok(match ast {
        Ast::Call(call) => Expr::leaf(build(call)?),
        Ast::And(a, b) => build_expr(a, build)?.and(build_expr(b, build)?),
        Ast::Or(a, b) => build_expr(a, build)?.or(build_expr(b, build)?),
    })
}

/// Parses `text` into an [`Ast`].
pub fn parse_ast(text: &str) -> Result<Ast, ParseError> {
    let mut p = Parser { chars: text.chars().collect(), pos: 0 };
    let result = p.expr().and_then(|ast| {
        p.skip_ws();
        match p.peek() {
            None => Ok(ast),
            Some(c) => Err(p.err(format!("unexpected `{c}`; expected `&`, `|` or the end"))),
        }
    });
    result.map_err(|(column, message)| ParseError { column, message, source_text: text.to_owned() })
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

type PResult<T> = Result<T, (usize, String)>;

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn column(&self) -> usize {
        self.pos + 1
    }

    fn err(&self, message: String) -> (usize, String) {
        (self.column(), message)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> PResult<Ast> {
        let mut left = self.term()?;
        while self.eat('|') {
            left = Ast::Or(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> PResult<Ast> {
        let mut left = self.factor()?;
        while self.eat('&') {
            left = Ast::And(Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> PResult<Ast> {
        self.skip_ws();
        if self.eat('(') {
            let inner = self.expr()?;
            if !self.eat(')') {
                return Err(self.err("expected `)`".into()));
            }
            return Ok(inner);
        }
        let column = self.column();
        let name = self.word();
        if name.is_empty() {
            return Err(match self.peek() {
                None => self.err("expected a name, found the end".into()),
                Some(c) => self.err(format!("expected a name, found `{c}`")),
            });
        }
        let mut args = Vec::new();
        if self.eat('(') && !self.eat(')') {
            loop {
                args.push(self.arg()?);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(self.err("expected `,` or `)`".into()));
                }
            }
        }
        Ok(Ast::Call(Call { name: normalise_name(&name), args, column }))
    }

    /// A run of name characters: letters, digits, `_`, `-`, `.`, `+`.
    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || "_-.+".contains(c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn arg(&mut self) -> PResult<Arg> {
        self.skip_ws();
        let column = self.column();
        let value = self.value()?;
        if let Value::Str(word) = &value {
            if self.eat('=') {
                self.skip_ws();
                let value_column = self.column();
                let value = self.value()?;
                return Ok(Arg { name: Some(normalise_name(word)), value, column: value_column });
            }
        }
        Ok(Arg { name: None, value, column })
    }

    fn value(&mut self) -> PResult<Value> {
        self.skip_ws();
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(|c| c != q) {
                    self.pos += 1;
                }
                if self.peek().is_none() {
                    return Err((start, "unterminated string".into()));
                }
                let s: String = self.chars[start..self.pos].iter().collect();
                self.pos += 1;
                Ok(Value::Str(s))
            }
            _ => {
                let start = self.pos;
                let word = self.word();
                if word.is_empty() {
                    self.pos = start;
                    return Err(match self.peek() {
                        None => self.err("expected a value, found the end".into()),
                        Some(c) => self.err(format!("expected a value, found `{c}`")),
                    });
                }
                let numeric = word.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c));
                match word.parse::<f64>() {
                    Ok(v) if numeric => Ok(Value::Num(v)),
                    _ if numeric => Err((start + 1, format!("`{word}` is not a number"))),
                    _ => Ok(Value::Str(word)),
                }
            }
        }
    }
}

/// A range check for a number parameter: the test and how the valid range reads in a message.
pub type Check = (fn(f64) -> bool, &'static str);

/// Any finite number.
pub const ANY: Check = (|_| true, "a finite number");
/// A number ≥ 0.
pub const NON_NEGATIVE: Check = (|v| v >= 0.0, "≥ 0");
/// A number > 0.
pub const POSITIVE: Check = (|v| v > 0.0, "> 0");
/// A number strictly between 0 and 1.
pub const FRACTION: Check = (|v| v > 0.0 && v < 1.0, "in (0, 1)");

/// The declared parameters of a leaf kind, used to bind a [`Call`]'s arguments.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    /// The leaf's name, as written in configs.
    pub name: &'static str,
    /// Parameter names in positional order.
    pub params: &'static [&'static str],
    /// How many leading parameters are required.
    pub required: usize,
}

/// Arguments bound to a [`Signature`]'s parameters.
#[derive(Debug)]
pub struct Bound<'a> {
    call: &'a Call,
    sig: Signature,
    values: Vec<Option<&'a Arg>>,
}

impl Signature {
    /// The usage string, `best_unmoving(calls, tol)`.
    pub fn usage(&self) -> String {
        format!("{}({})", self.name, self.params.join(", "))
    }

    /// Binds `call`'s positional and named arguments to the parameters.
    pub fn bind<'a>(&self, call: &'a Call) -> Result<Bound<'a>, (usize, String)> {
        let mut values: Vec<Option<&Arg>> = vec![None; self.params.len()];
        let mut named_seen = false;
        for (i, arg) in call.args.iter().enumerate() {
            let slot = match &arg.name {
                None if named_seen => {
                    return Err((
                        arg.column,
                        format!("positional argument after a named one in {}", self.usage()),
                    ));
                }
                None if i >= self.params.len() => {
                    return Err((arg.column, format!("too many arguments; expected {}", self.usage())));
                }
                None => i,
                Some(name) => {
                    named_seen = true;
                    self.params.iter().position(|p| p == name).ok_or_else(|| {
                        (arg.column, format!("unknown parameter `{name}`; expected {}", self.usage()))
                    })?
                }
            };
            if values[slot].is_some() {
                return Err((arg.column, format!("`{}` given twice", self.params[slot])));
            }
            values[slot] = Some(arg);
        }
        if let Some(missing) = (0..self.required).find(|&i| values[i].is_none()) {
            return Err((
                call.column,
                format!("missing parameter `{}`; expected {}", self.params[missing], self.usage()),
            ));
        }
        Ok(Bound { call, sig: *self, values })
    }
}

impl Bound<'_> {
    fn get(&self, param: &str) -> Option<&Arg> {
        let i = self.sig.params.iter().position(|p| *p == param)?;
        self.values[i]
    }

    fn wrong(&self, arg: &Arg, what: &str) -> (usize, String) {
        let param = arg.name.clone().unwrap_or_else(|| {
            let i = self.call.args.iter().position(|a| std::ptr::eq(a, arg)).unwrap_or(0);
            self.sig.params.get(i).copied().unwrap_or("?").to_owned()
        });
        (arg.column, format!("`{param}` of {} must be {what}", self.sig.name))
    }

    /// A number parameter, or `default` when it is absent; `check` states the valid range.
    pub fn num(
        &self,
        param: &str,
        default: f64,
        check: (fn(f64) -> bool, &str),
    ) -> Result<f64, (usize, String)> {
        match self.get(param) {
            None => Ok(default),
            Some(arg) => match arg.value {
                Value::Num(v) if v.is_finite() && check.0(v) => Ok(v),
                _ => Err(self.wrong(arg, check.1)),
            },
        }
    }

    /// A non-negative whole-number parameter, or `default` when it is absent.
    pub fn count(&self, param: &str, default: u64) -> Result<u64, (usize, String)> {
        match self.get(param) {
            None => Ok(default),
            Some(arg) => match arg.value {
                Value::Num(v) if v >= 0.0 && v.fract() == 0.0 && v <= 9.0e15 => Ok(v as u64),
                _ => Err(self.wrong(arg, "a whole number ≥ 0")),
            },
        }
    }

    /// A boolean parameter (`true`/`false`), or `default` when it is absent.
    pub fn flag(&self, param: &str, default: bool) -> Result<bool, (usize, String)> {
        match self.get(param) {
            None => Ok(default),
            Some(arg) => match &arg.value {
                Value::Str(s) if s.eq_ignore_ascii_case("true") => Ok(true),
                Value::Str(s) if s.eq_ignore_ascii_case("false") => Ok(false),
                _ => Err(self.wrong(arg, "true or false")),
            },
        }
    }

    /// A string parameter, or `None` when it is absent.
    pub fn text(&self, param: &str) -> Result<Option<String>, (usize, String)> {
        match self.get(param) {
            None => Ok(None),
            Some(arg) => match &arg.value {
                Value::Str(s) => Ok(Some(s.clone())),
                Value::Num(_) => Err(self.wrong(arg, "a name")),
            },
        }
    }
}

/// The error for a leaf name that is not one of `known`.
pub fn unknown_name(kind: &str, call: &Call, known: &[Signature]) -> (usize, String) {
    let names: Vec<&str> = known.iter().map(|s| s.name).collect();
    (call.column, format!("unknown {kind} `{}`; expected one of {}", call.name, names.join(", ")))
}

#[cfg(test)]
mod tests {
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
        if let Expr::Or(a, _) = &mut e {
            if let Expr::Leaf(item, _) = a.as_mut() {
                item.1 = false;
            }
        }
        run(&mut e);
        assert_eq!(e.leaf_values(), [Some(false), Some(true)]);
        if let Expr::Or(a, _) = &mut e {
            if let Expr::Leaf(item, _) = a.as_mut() {
                item.1 = true;
            }
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
        assert_eq!(
            SIG.bind(&c).unwrap_err().1,
            "missing parameter `calls`; expected best_unmoving(calls, tol)"
        );
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
    fn numbers_print_back_exactly() {
        for v in [1e-6, 0.01, 100000.0, 2.5, 0.0, -3.0, 1e20] {
            assert_eq!(fmt_num(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(fmt_num(1e-6), "1e-6");
        assert_eq!(fmt_num(100000.0), "100000");
    }
}
