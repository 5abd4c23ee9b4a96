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

use crate::state::{self, StateError};

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

    /// The leaves, left to right, to change.
    pub fn leaves_mut(&mut self) -> Vec<&mut T> {
        let mut out = Vec::new();
        self.collect_leaves_mut(&mut out);
        out
    }

    fn collect_leaves_mut<'a>(&'a mut self, out: &mut Vec<&'a mut T>) {
        match self {
            Expr::Leaf(item, _) => out.push(item),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_leaves_mut(out);
                b.collect_leaves_mut(out);
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

impl<T: ?Sized + fmt::Display> Expr<T> {
    /// The leaves' states, made by `save`, as a JSON list in leaf order (`null` for a stateless leaf).
    pub fn save_leaves(&self, save: impl Fn(&T) -> serde_json::Value) -> serde_json::Value {
        serde_json::Value::Array(self.leaves().into_iter().map(save).collect())
    }

    /// Restores every leaf with `restore` from a list made by [`Expr::save_leaves`]. A state that is
    /// not a list of one state per leaf is an error naming the expression (of `kind`, `hunter` or
    /// `checker`); a leaf's error says which leaf it is. The length is checked before any leaf is
    /// restored; after a leaf's error the leaves before it are restored and the others are not, so
    /// an expression whose restore failed should be rebuilt.
    pub fn restore_leaves(
        &mut self,
        kind: &str,
        state: &serde_json::Value,
        restore: &mut dyn FnMut(&mut T, &serde_json::Value) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let n = self.leaves().len();
        let list = match state.as_array() {
            Some(list) if list.len() == n => list,
            other => {
                let found = match other {
                    Some(list) => format!("a list of {}", list.len()),
                    None => state::excerpt(state),
                };
                return Err(StateError::new(
                    format!("{kind} expression `{self}`"),
                    format!("expected a list of {n} states, one per condition, found {found}"),
                ));
            }
        };
        for (i, (leaf, saved)) in self.leaves_mut().into_iter().zip(list).enumerate() {
            restore(leaf, saved).map_err(|e| {
                StateError::new(format!("{} (condition {} of {n})", e.component, i + 1), e.message)
            })?;
        }
        Ok(())
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
///
/// Its `Display` is the column, the message and the expression with a caret under the column; of a
/// long expression it shows only the part around the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ParseError {
    /// Where the problem is, counted in characters from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The whole expression.
    pub source_text: String,
}

/// How many characters of an expression an error shows on either side of its column.
const EXCERPT_HALF_WIDTH: usize = 36;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Control characters (a newline in the expression) would break the caret's alignment.
        let chars: Vec<char> =
            self.source_text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let at = self.column.saturating_sub(1).min(chars.len());
        let start = at.saturating_sub(EXCERPT_HALF_WIDTH);
        let end = (at + EXCERPT_HALF_WIDTH).min(chars.len());
        let (before, after) = (if start > 0 { "…" } else { "" }, if end < chars.len() { "…" } else { "" });
        let excerpt: String = chars[start..end].iter().collect();
        let width = at - start + before.chars().count() + 1;
        write!(f, "column {}: {}\n  {before}{excerpt}{after}\n  {:>width$}", self.column, self.message, "^")
    }
}

/// How deep parentheses may nest in an expression.
pub const MAX_NESTING: usize = 32;

/// How many conditions (leaves) one expression may have.
pub const MAX_LEAVES: usize = 256;

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

/// Names longer than this get no suggestion: they are no typo of a short name, and comparing them
/// would cost time for nothing.
const LONGEST_TYPO: usize = 64;

/// The candidate that `name` is most likely a typo of, if any: the one at the smallest edit distance
/// (insertions, deletions, substitutions and swaps of neighbours, after normalising both names with
/// [`normalise_name`]) within a third of the name's length, or else the only candidate that starts
/// with a name of three characters or more. The first of equally near candidates wins.
///
/// Every "unknown name" message of glompo suggests a name with this function, through
/// [`expected_one_of`].
///
/// ```
/// use glompo_core::expr::closest;
/// assert_eq!(closest("max_job", &["max_jobs", "max_evals"]), Some("max_jobs"));
/// assert_eq!(closest("Nelder_Maed", &["cma-es", "nelder-mead"]), Some("nelder-mead"));
/// assert_eq!(closest("cma", &["cma-es", "nelder-mead"]), Some("cma-es"));
/// assert_eq!(closest("bfgs", &["cma-es", "nelder-mead"]), None);
/// ```
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let name: Vec<char> = normalise_name(name).chars().collect();
    if name.is_empty() || name.len() > LONGEST_TYPO {
        return None;
    }
    let normalised: Vec<Vec<char>> = candidates.iter().map(|c| normalise_name(c).chars().collect()).collect();
    let limit = name.len().max(3) / 3;
    let nearest = normalised
        .iter()
        .map(|c| edit_distance(&name, c))
        .enumerate()
        .filter(|&(_, d)| d <= limit)
        .min_by_key(|&(_, d)| d)
        .map(|(i, _)| candidates[i]);
    nearest.or_else(|| {
        let mut prefixed =
            normalised.iter().enumerate().filter(|(_, c)| name.len() >= 3 && c.starts_with(&name));
        match (prefixed.next(), prefixed.next()) {
            (Some((i, _)), None) => Some(candidates[i]),
            _ => None,
        }
    })
}

/// The optimal string alignment distance between `a` and `b`: the fewest insertions, deletions,
/// substitutions and swaps of neighbours that turn one into the other.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // Three rows of the dynamic programme: the one two above, the one above and the current one.
    let mut two_up: Vec<usize> = vec![0; b.len() + 1];
    let mut up: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (up[j] + 1).min(row[j - 1] + 1).min(up[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(two_up[j - 2] + 1);
            }
        }
        std::mem::swap(&mut two_up, &mut up);
        std::mem::swap(&mut up, &mut row);
    }
    up[b.len()]
}

/// The end of an "unknown name" message: a suggestion when `name` is likely a typo of one of `valid`
/// ([`closest`]), then the valid names.
///
/// ```
/// use glompo_core::expr::expected_one_of;
/// assert_eq!(expected_one_of("sphear", &["sphere", "rastrigin"]), "did you mean `sphere`? expected one of sphere, rastrigin");
/// assert_eq!(expected_one_of("bfgs", &["cma-es"]), "expected one of cma-es");
/// ```
pub fn expected_one_of(name: &str, valid: &[&str]) -> String {
    match closest(name, valid) {
        Some(near) => format!("did you mean `{near}`? expected one of {}", valid.join(", ")),
        None => format!("expected one of {}", valid.join(", ")),
    }
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
    let mut p = Parser { chars: text.chars().collect(), pos: 0, depth: 0, leaves: 0 };
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
    /// How many parentheses are open: the parser recurses once per level, so the depth is limited
    /// ([`MAX_NESTING`]) instead of overflowing the stack.
    depth: usize,
    /// The leaves parsed so far: every tree function recurses along `&` and `|` chains, so their
    /// number is limited ([`MAX_LEAVES`]).
    leaves: usize,
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
            self.depth += 1;
            if self.depth > MAX_NESTING {
                // The column of the `(` just read.
                return Err((self.pos, format!("parentheses nest deeper than {MAX_NESTING} levels")));
            }
            let inner = self.expr()?;
            if !self.eat(')') {
                return Err(self.err("expected `)`".into()));
            }
            self.depth -= 1;
            return Ok(inner);
        }
        let column = self.column();
        self.leaves += 1;
        if self.leaves > MAX_LEAVES {
            return Err(self.err(format!("more than {MAX_LEAVES} conditions in one expression")));
        }
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
        if let Value::Str(word) = &value
            && self.eat('=')
        {
            self.skip_ws();
            let value_column = self.column();
            let value = self.value()?;
            return Ok(Arg { name: Some(normalise_name(word)), value, column: value_column });
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
                        let hint = closest(name, self.params)
                            .map_or_else(String::new, |near| format!("did you mean `{near}`? "));
                        (arg.column, format!("unknown parameter `{name}`; {hint}expected {}", self.usage()))
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
    (call.column, format!("unknown {kind} `{}`; {}", call.name, expected_one_of(&call.name, &names)))
}

#[cfg(test)]
mod tests;
