//! JSONata for `QueryLanguage: "JSONata"` states: field values that hold `{% expression %}`
//! strings anywhere inside, evaluated by `jsonata-core` with `$states` and the workflow
//! variables bound, Step Functions' own functions added (`$partition`, `$range`, `$hash`,
//! `$random`, `$uuid`, `$parse`), `$eval` refused, and `$now()`/`$millis()` on the engine's
//! virtual clock. Evaluation failures raise `States.QueryEvaluationError`.

use chrono::{DateTime, SecondsFormat, Utc};
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError};
use jsonata_core::value::{JMap, JValue};
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use sha2::Digest;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::errors::{self, StateError};

/// How much of the context object a state's expressions read: building it (with the
/// execution input, which can be large) for every evaluation made a 1,000-item JSONata Map
/// quadratic, so a state gets only what its expressions mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum ContextUse {
    /// No `$states.context` anywhere.
    #[default]
    None,
    /// `$states.context.<member>` without the execution input.
    WithoutInput,
    /// The whole context object, or `$states.context.Execution(.Input)`.
    Full,
}

impl ContextUse {
    /// What `texts` (expressions) need.
    pub fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> ContextUse {
        let mut need = ContextUse::None;
        for text in texts {
            for (at, m) in text.match_indices("$states.context") {
                let rest = &text[at + m.len()..];
                let member = rest.strip_prefix('.');
                let full = match member {
                    None => true,
                    Some(member) => match member.strip_prefix("Execution") {
                        Some(after) => !after.starts_with('.') || after.starts_with(".Input"),
                        None => false,
                    },
                };
                need = need.max(if full {
                    ContextUse::Full
                } else {
                    ContextUse::WithoutInput
                });
            }
        }
        need
    }
}

/// The host functions (Step Functions' own and the engine's overrides of `$now`, `$millis`,
/// `$random` and `$eval`) a state's expressions can call, found by name in their text:
/// registering all nine for every state cost more than evaluating most expressions. A name
/// that only looks like one (a variable `$hashes`) registers a function that is not called,
/// which is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostFns(u16);

const HOST_FN_NAMES: [&str; 9] = [
    "now",
    "millis",
    "eval",
    "random",
    "partition",
    "range",
    "hash",
    "uuid",
    "parse",
];

impl HostFns {
    /// Every host function (the unit tests' evaluator).
    pub const ALL: HostFns = HostFns((1 << HOST_FN_NAMES.len()) - 1);

    /// The host functions `texts` (expressions) name.
    pub fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> HostFns {
        let mut mask = 0;
        for text in texts {
            for (i, name) in HOST_FN_NAMES.iter().enumerate() {
                if text.contains(&format!("${name}")) {
                    mask |= 1 << i;
                }
            }
        }
        HostFns(mask)
    }

    /// Both sets.
    pub fn union(self, other: HostFns) -> HostFns {
        HostFns(self.0 | other.0)
    }

    fn has(self, name: &str) -> bool {
        HOST_FN_NAMES
            .iter()
            .position(|n| *n == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// A field value of a JSONata state: JSON in which every string of the form `{% … %}` is an
/// expression. Compiled (syntax-checked) when the definition is parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonataValue {
    /// Nothing to evaluate.
    Literal(Value),
    /// A whole-string expression (the text between `{%` and `%}`), parsed once.
    Expr(Expr),
    /// An object with at least one expression inside.
    Object(Vec<(String, JsonataValue)>),
    /// An array with at least one expression inside.
    Array(Vec<JsonataValue>),
}

/// A parsed JSONata expression and its text (parsing on every evaluation cost a JSONata
/// Map-heavy run more than evaluating).
#[derive(Debug, Clone)]
pub struct Expr {
    text: String,
    ast: Arc<AstNode>,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Expr {
    /// Parses and checks `text` (see [`check_expression`]).
    pub fn parse(text: &str) -> Result<Expr, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the JSONata expression is empty".into());
        }
        let ast = jsonata_core::parser::parse(text)
            .map_err(|e| format!("invalid JSONata expression: {e}"))?;
        if refers_to_eval(text) {
            return Err("the JSONata function $eval is not supported by Step Functions".into());
        }
        Ok(Expr {
            text: text.to_string(),
            ast: Arc::new(ast),
        })
    }

    /// The expression's text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The expression of a `{% … %}` string, if it is one.
pub fn expression_of(text: &str) -> Option<&str> {
    text.trim()
        .strip_prefix("{%")
        .and_then(|rest| rest.strip_suffix("%}"))
}

/// Checks an expression's syntax and what Step Functions refuses (`$eval`).
pub fn check_expression(expr: &str) -> Result<(), String> {
    Expr::parse(expr).map(|_| ())
}

/// `$eval` used as a name (not `$evaluate` or inside a string literal is good enough: a string
/// literal holding "$eval" is rare and refusing it only costs a rename).
fn refers_to_eval(expr: &str) -> bool {
    expr.match_indices("$eval").any(|(at, m)| {
        !expr[at + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

impl JsonataValue {
    /// Compiles a field value; the error names the problem (the caller adds state and field).
    pub fn compile(v: &Value) -> Result<JsonataValue, String> {
        Ok(match v {
            Value::String(s) => match expression_of(s) {
                Some(expr) => JsonataValue::Expr(Expr::parse(expr)?),
                None => JsonataValue::Literal(v.clone()),
            },
            Value::Object(m) => {
                let members = m
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), JsonataValue::compile(v)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                if members
                    .iter()
                    .all(|(_, v)| matches!(v, JsonataValue::Literal(_)))
                {
                    JsonataValue::Literal(v.clone())
                } else {
                    JsonataValue::Object(members)
                }
            }
            Value::Array(a) => {
                let items = a
                    .iter()
                    .map(JsonataValue::compile)
                    .collect::<Result<Vec<_>, String>>()?;
                if items.iter().all(|v| matches!(v, JsonataValue::Literal(_))) {
                    JsonataValue::Literal(v.clone())
                } else {
                    JsonataValue::Array(items)
                }
            }
            other => JsonataValue::Literal(other.clone()),
        })
    }

    /// The text of every expression inside.
    pub fn expressions(&self) -> Vec<&str> {
        match self {
            JsonataValue::Literal(_) => Vec::new(),
            JsonataValue::Expr(e) => vec![e.text()],
            JsonataValue::Object(members) => {
                members.iter().flat_map(|(_, v)| v.expressions()).collect()
            }
            JsonataValue::Array(items) => {
                items.iter().flat_map(JsonataValue::expressions).collect()
            }
        }
    }

    /// Evaluates the value for `field` (named in errors).
    pub fn eval(&self, field: &str, env: &Env) -> Result<Value, StateError> {
        if let JsonataValue::Literal(v) = self {
            return Ok(v.clone());
        }
        env.with_evaluator(|ev| self.eval_with(field, ev))
    }

    fn eval_with(&self, field: &str, ev: &mut Evaluator) -> Result<Value, StateError> {
        match self {
            JsonataValue::Literal(v) => Ok(v.clone()),
            JsonataValue::Expr(expr) => evaluate(ev, expr, field),
            JsonataValue::Object(members) => {
                let mut out = Map::with_capacity(members.len());
                for (k, v) in members {
                    out.insert(k.clone(), v.eval_with(field, ev)?);
                }
                Ok(Value::Object(out))
            }
            JsonataValue::Array(items) => items
                .iter()
                .map(|v| v.eval_with(field, ev))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

/// What an expression sees: `$states` and the variables, at the engine's time. Both are
/// converted to JSONata values once per Env (and shared by [`Env::with_member`]), not once
/// per expression: a Map's `ItemSelector` would otherwise convert the whole Map input for
/// every item.
pub struct Env {
    states: Rc<JMap>,
    vars: Rc<Vec<(String, JValue)>>,
    now: DateTime<Utc>,
    host_fns: HostFns,
    /// Built on first use and kept for the state's other fields (Output and Assign share it).
    evaluator: RefCell<Option<Evaluator>>,
}

fn query_error(cause: String) -> StateError {
    StateError::new(errors::QUERY_EVALUATION_ERROR, cause)
}

fn host_error(message: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(message.into())
}

/// JSONata numbers are doubles; integral ones are written as integers (`2`, not `2.0`), as
/// Step Functions writes them.
fn to_json(v: &JValue) -> Value {
    // One pass (jsonata-core's conversion followed by `integral` rebuilt every object twice).
    match v {
        JValue::Number(n) => integral_number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        JValue::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        other => Value::from(other),
    }
}

/// A JSONata number as JSON: integral values within 2^53 as integers, NaN and infinities as
/// `null` (as jsonata-core writes them).
fn integral_number(x: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() <= EXACT {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn from_json(v: Value) -> JValue {
    JValue::from(v)
}

/// [`from_json`] from a borrowed value: converting a state's input without cloning it first
/// saves one allocation per string and object (as jsonata-core's own conversion does).
fn from_json_ref(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::from(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(jsonata_core::value::JArray::new_flat(
                items.iter().map(from_json_ref).collect(),
                flat,
            ))
        }
        Value::Object(m) => JValue::Object(Rc::new(
            m.iter()
                .map(|(k, v)| (k.clone(), from_json_ref(v)))
                .collect::<JMap>(),
        )),
    }
}

impl Env {
    /// `$states` (`input`, `context`, and `result` or `errorOutput` where AWS provides them)
    /// and the variables in scope (as they were when the state started).
    pub fn new(
        states: Map<String, Value>,
        vars: &Map<String, Value>,
        now: DateTime<Utc>,
        host_fns: HostFns,
    ) -> Env {
        Env::with_input(None, states, vars, now, host_fns)
    }

    /// [`Env::new`] with `$states.input` converted from a borrowed value.
    pub fn with_input(
        input: Option<&Value>,
        states: Map<String, Value>,
        vars: &Map<String, Value>,
        now: DateTime<Utc>,
        host_fns: HostFns,
    ) -> Env {
        let input = input.map(|v| ("input".to_string(), from_json_ref(v)));
        Env {
            host_fns,
            states: Rc::new(
                input
                    .into_iter()
                    .chain(states.into_iter().map(|(k, v)| (k, from_json(v))))
                    .collect(),
            ),
            vars: Rc::new(
                vars.iter()
                    .map(|(k, v)| (k.clone(), from_json_ref(v)))
                    .collect(),
            ),
            now,
            evaluator: RefCell::new(None),
        }
    }

    /// The same `$states` with one member set (e.g. the `context` of one Map item), sharing
    /// everything else.
    pub fn with_member(&self, name: &str, value: Value) -> Env {
        let mut states = JMap::clone(&self.states);
        states.insert(name.to_string(), from_json(value));
        Env {
            states: Rc::new(states),
            vars: Rc::clone(&self.vars),
            now: self.now,
            host_fns: self.host_fns,
            evaluator: RefCell::new(None),
        }
    }

    /// Runs `f` with this Env's evaluator (created, with the bindings and Step Functions'
    /// functions, on first use).
    fn with_evaluator<R>(
        &self,
        f: impl FnOnce(&mut Evaluator) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        let mut slot = self.evaluator.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.evaluator()?);
        }
        match slot.as_mut() {
            Some(ev) => f(ev),
            None => Err(query_error(
                "the JSONata evaluator could not be created".into(),
            )),
        }
    }

    fn evaluator(&self) -> Result<Evaluator, StateError> {
        let mut context = Context::new();
        for (name, value) in self.vars.iter() {
            context.bind(name.clone(), value.clone());
        }
        context.bind("states".into(), JValue::Object(Rc::clone(&self.states)));
        let mut ev = Evaluator::with_context(context);
        let now = self.now;
        let setup = |e: EvaluatorError| query_error(format!("JSONata setup failed: {e}"));
        let fns = self.host_fns;
        if fns.has("now") {
            ev.register_fn_override("now", move |_: &[JValue]| {
                Ok(JValue::from(
                    now.to_rfc3339_opts(SecondsFormat::Millis, true),
                ))
            })
            .map_err(setup)?;
        }
        if fns.has("millis") {
            ev.register_fn_override("millis", move |_: &[JValue]| {
                Ok(JValue::from(now.timestamp_millis() as f64))
            })
            .map_err(setup)?;
        }
        if fns.has("eval") {
            ev.register_fn_override("eval", |_: &[JValue]| {
                Err(host_error(
                    "The JSONata function $eval is not supported by Step Functions",
                ))
            })
            .map_err(setup)?;
        }
        if fns.has("random") {
            ev.register_fn_override("random", |args: &[JValue]| random(args))
                .map_err(setup)?;
        }
        if fns.has("partition") {
            ev.register_fn("partition", |args: &[JValue]| partition(args))
                .map_err(setup)?;
        }
        if fns.has("range") {
            ev.register_fn("range", |args: &[JValue]| range(args))
                .map_err(setup)?;
        }
        if fns.has("hash") {
            ev.register_fn("hash", |args: &[JValue]| hash(args))
                .map_err(setup)?;
        }
        if fns.has("uuid") {
            ev.register_fn("uuid", |_: &[JValue]| {
                Ok(JValue::from(uuid::Uuid::new_v4().to_string()))
            })
            .map_err(setup)?;
        }
        if fns.has("parse") {
            ev.register_fn("parse", |args: &[JValue]| parse(args))
                .map_err(setup)?;
        }
        Ok(ev)
    }

    /// Evaluates one expression (without `{% %}`), for `field` (the unit tests' entry).
    #[cfg(test)]
    fn eval_expr(&self, expr: &str, field: &str) -> Result<Value, StateError> {
        let parsed = Expr::parse(expr).map_err(|e| {
            query_error(format!(
                "The JSONata expression '{expr}' specified for the field '{field}' is invalid: {e}"
            ))
        })?;
        self.with_evaluator(|ev| evaluate(ev, &parsed, field))
    }
}

fn evaluate(ev: &mut Evaluator, parsed: &Expr, field: &str) -> Result<Value, StateError> {
    let expr = parsed.text();
    let result = ev.evaluate(&parsed.ast, &JValue::Null).map_err(|e| {
        query_error(format!(
            "An error occurred while evaluating the JSONata expression '{expr}' specified for the field '{field}': {}",
            e.message()
        ))
    })?;
    if result.is_undefined() {
        return Err(query_error(format!(
            "The JSONata expression '{expr}' specified for the field '{field}' returned nothing (undefined)."
        )));
    }
    Ok(to_json(&result))
}

fn number_arg(args: &[JValue], i: usize, function: &str) -> Result<f64, EvaluatorError> {
    args.get(i)
        .and_then(JValue::as_f64)
        .ok_or_else(|| host_error(format!("${function}: argument {} must be a number", i + 1)))
}

/// `$partition(array, size)`: the array in chunks of `size`.
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let items = args
        .first()
        .and_then(JValue::as_array)
        .ok_or_else(|| host_error("$partition: argument 1 must be an array"))?;
    let size = number_arg(args, 1, "partition")?;
    if size < 1.0 || size.fract() != 0.0 {
        return Err(host_error(
            "$partition: the chunk size must be a positive integer",
        ));
    }
    let chunks: Vec<Value> = items
        .chunks(size as usize)
        .map(|chunk| Value::Array(chunk.iter().map(to_json).collect()))
        .collect();
    Ok(from_json(Value::Array(chunks)))
}

/// `$range(start, end, step)`: numbers from `start` to `end` (inclusive) by `step`.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let start = number_arg(args, 0, "range")?;
    let end = number_arg(args, 1, "range")?;
    let step = number_arg(args, 2, "range")?;
    if step == 0.0 {
        return Err(host_error("$range: the step must not be 0"));
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x <= end) || (step < 0.0 && x >= end) {
        out.push(Value::from(x));
        if out.len() > 1000 {
            return Err(host_error("$range: at most 1000 items"));
        }
        x += step;
    }
    Ok(from_json(Value::Array(out)))
}

/// `$hash(value, algorithm)`: hex digest with MD5, SHA-1, SHA-256, SHA-384 or SHA-512.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = match args.first() {
        Some(v) => match v.as_str() {
            Some(s) => s.to_string(),
            None => to_json(v).to_string(),
        },
        None => return Err(host_error("$hash: argument 1 is required")),
    };
    let algorithm = args
        .get(1)
        .and_then(JValue::as_str)
        .ok_or_else(|| host_error("$hash: argument 2 must be the algorithm name"))?;
    let bytes = text.as_bytes();
    let digest = match algorithm {
        "MD5" => hex::encode(md5::Md5::digest(bytes)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(bytes)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(bytes)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(bytes)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(bytes)),
        other => {
            return Err(host_error(format!(
                "$hash: unsupported algorithm \"{other}\" (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
            )))
        }
    };
    Ok(JValue::from(digest))
}

/// `$random([seed])`: a number in [0, 1); the same seed gives the same number.
fn random(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let x: f64 = match args.first() {
        None => rand::thread_rng().gen(),
        Some(seed) => {
            let seed = seed
                .as_f64()
                .ok_or_else(|| host_error("$random: the seed must be a number"))?;
            rand::rngs::StdRng::seed_from_u64(seed.to_bits()).gen()
        }
    };
    Ok(JValue::from(x))
}

/// `$parse(text)`: the JSON value a string holds.
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = args
        .first()
        .and_then(JValue::as_str)
        .ok_or_else(|| host_error("$parse: argument 1 must be a string"))?;
    serde_json::from_str::<Value>(text)
        .map(from_json)
        .map_err(|e| host_error(format!("$parse: not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(vars: &Map<String, Value>) -> Env {
        let states = json!({"input": {"a": [1, 2, 3, 4, 5], "name": "x"}, "context": {}});
        Env::new(
            states.as_object().cloned().unwrap_or_default(),
            vars,
            DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
            HostFns::ALL,
        )
    }

    fn eval(expr: &str) -> Result<Value, StateError> {
        let vars = Map::from_iter([("count".to_string(), json!(41))]);
        env(&vars).eval_expr(expr, "Output")
    }

    #[test]
    fn states_and_variables_are_bound() {
        assert_eq!(eval("$states.input.name").ok(), Some(json!("x")));
        assert_eq!(eval("$count + 1").ok(), Some(json!(42)));
        assert_eq!(eval("$sum($states.input.a)").ok(), Some(json!(15)));
    }

    #[test]
    fn step_functions_functions() {
        assert_eq!(
            eval("$partition([1,2,3,4], 2)").ok(),
            Some(json!([[1, 2], [3, 4]]))
        );
        assert_eq!(eval("$range(0, 10, 5)").ok(), Some(json!([0, 5, 10])));
        // Hand-derived: sha256("input data").
        assert_eq!(
            eval("$hash('input data', 'SHA-256')").ok(),
            Some(json!(
                "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
            ))
        );
        assert_eq!(eval("$parse('{\"k\": [1]}')").ok(), Some(json!({"k": [1]})));
        assert_eq!(eval("$random(7) = $random(7)").ok(), Some(json!(true)));
        assert_eq!(
            eval("$length($uuid())").ok(),
            Some(json!(36)),
            "a v4 UUID in its 36-character form"
        );
    }

    #[test]
    fn the_clock_is_the_engines() {
        assert_eq!(eval("$now()").ok(), Some(json!("2026-03-02T09:00:00.000Z")));
        assert_eq!(eval("$millis()").ok(), Some(json!(1_772_442_000_000_i64)));
    }

    #[test]
    fn refusals_and_errors() {
        assert!(check_expression("$eval('1+1')").is_err());
        assert!(check_expression("$evaluate").is_ok());
        assert!(check_expression("1 +").is_err());
        let undefined = eval("$states.input.missing").err();
        assert_eq!(
            undefined.as_ref().map(|e| e.error.as_str()),
            Some(errors::QUERY_EVALUATION_ERROR)
        );
        assert!(undefined.is_some_and(|e| e.cause.contains("returned nothing (undefined)")));
    }

    #[test]
    fn the_context_is_built_only_as_far_as_expressions_read_it() {
        assert_eq!(ContextUse::of(["$states.input.a"]), ContextUse::None);
        assert_eq!(
            ContextUse::of(["$states.context.Map.Item.Value", "$x"]),
            ContextUse::WithoutInput
        );
        assert_eq!(
            ContextUse::of(["$states.context.Execution.Name"]),
            ContextUse::WithoutInput
        );
        assert_eq!(
            ContextUse::of(["$states.context.Execution.Input.id"]),
            ContextUse::Full
        );
        assert_eq!(
            ContextUse::of(["$states.context.Execution"]),
            ContextUse::Full
        );
        assert_eq!(ContextUse::of(["$keys($states.context)"]), ContextUse::Full);
    }

    #[test]
    fn templates_evaluate_only_expressions() {
        let t = JsonataValue::compile(
            &json!({"a": "{% $count %}", "b": "plain {% x", "c": [1, "{% 2 * 3 %}"]}),
        );
        let vars = Map::from_iter([("count".to_string(), json!(1))]);
        let value = t.and_then(|t| t.eval("Output", &env(&vars)).map_err(|e| e.cause));
        assert_eq!(
            value.ok(),
            Some(json!({"a": 1, "b": "plain {% x", "c": [1, 6]}))
        );
    }
}
