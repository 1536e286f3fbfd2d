//! The Amazon States Language model and its parser, plus `DefinitionSubstitutions`.
//!
//! Parsing is strict: unknown fields, wrong types and unsupported query languages are rejected
//! with the state and field named. Structural rules (targets, reachability, ...) live in
//! [`crate::validate`].

pub use crate::assign::Assign;
use crate::choice::{self, ChoiceRule};
use crate::io::{OptPath, Template};
use crate::jsonata::JsonataValue;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A parse failure, naming the state and field where possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ParseError {
    /// State name (None for top-level fields).
    pub state: Option<String>,
    /// Field name, if any.
    pub field: Option<String>,
    /// Message.
    pub message: String,
}

impl ParseError {
    fn render(&self) -> String {
        match (&self.state, &self.field) {
            (Some(s), Some(f)) => format!("state \"{s}\", field \"{f}\": {}", self.message),
            (Some(s), None) => format!("state \"{s}\": {}", self.message),
            (None, Some(f)) => format!("field \"{f}\": {}", self.message),
            (None, None) => self.message.clone(),
        }
    }
}

/// The type of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateType {
    /// `Pass`
    Pass,
    /// `Task`
    Task,
    /// `Choice`
    Choice,
    /// `Wait`
    Wait,
    /// `Succeed`
    Succeed,
    /// `Fail`
    Fail,
    /// `Parallel`
    Parallel,
    /// `Map`
    Map,
}

impl StateType {
    /// The ASL name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }

    /// The fields a state of this type may have, in groups (Assign, Output, Arguments and
    /// Items depend on more than the type: see `parse_state`).
    fn allowed_fields(self) -> &'static [&'static [&'static str]] {
        match self {
            StateType::Pass => &[
                EVERY_STATE,
                MOVES_ON,
                FILTERS,
                &["ResultPath", "Parameters", "Result"],
            ],
            StateType::Task => &[
                EVERY_STATE,
                MOVES_ON,
                FILTERS,
                ACTING,
                &[
                    "Resource",
                    "TimeoutSeconds",
                    "TimeoutSecondsPath",
                    "HeartbeatSeconds",
                    "HeartbeatSecondsPath",
                    "Credentials",
                ],
            ],
            StateType::Choice => &[EVERY_STATE, FILTERS, &["Choices", "Default"]],
            StateType::Wait => &[
                EVERY_STATE,
                MOVES_ON,
                FILTERS,
                &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"],
            ],
            StateType::Succeed => &[EVERY_STATE, FILTERS],
            StateType::Fail => &[EVERY_STATE, &["Error", "Cause", "ErrorPath", "CausePath"]],
            StateType::Parallel => &[EVERY_STATE, MOVES_ON, FILTERS, ACTING, &["Branches"]],
            StateType::Map => &[
                EVERY_STATE,
                MOVES_ON,
                FILTERS,
                ACTING,
                &[
                    "ItemSelector",
                    "ItemsPath",
                    "ItemProcessor",
                    "Iterator",
                    "MaxConcurrency",
                    "MaxConcurrencyPath",
                    "ItemReader",
                    "ItemBatcher",
                    "ResultWriter",
                    "Label",
                    "ToleratedFailurePercentage",
                    "ToleratedFailureCount",
                    "ToleratedFailurePercentagePath",
                    "ToleratedFailureCountPath",
                ],
            ],
        }
    }
}

/// Fields every state type has.
const EVERY_STATE: &[&str] = &["Type", "Comment", "QueryLanguage"];
/// Fields of the types that move on by themselves (all but Choice, Succeed and Fail).
const MOVES_ON: &[&str] = &["Next", "End"];
/// `InputPath` / `OutputPath` (all but Fail).
const FILTERS: &[&str] = &["InputPath", "OutputPath"];
/// Fields of the acting types (Task, Parallel, Map): see [`Acting`]. A Map's `Parameters` is
/// the legacy name of its `ItemSelector`.
const ACTING: &[&str] = &[
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
];

/// `QueryLanguage` of a state (its own, or the definition's top-level one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// `JSONPath` (the default): InputPath, Parameters, ResultSelector, ResultPath, OutputPath.
    #[default]
    JsonPath,
    /// `JSONata`: Arguments and Output with `{% … %}` expressions.
    Jsonata,
}

impl QueryLanguage {
    fn parse(v: &Value) -> Option<QueryLanguage> {
        match v.as_str() {
            Some("JSONPath") => Some(QueryLanguage::JsonPath),
            Some("JSONata") => Some(QueryLanguage::Jsonata),
            _ => None,
        }
    }
}

/// Fields only JSONPath states have (refused in JSONata states, with the state and field).
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
    "Iterator",
];

/// Fields only JSONata states have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

/// `JitterStrategy` of a retrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// No jitter (default).
    #[default]
    None,
    /// Full jitter: uniform in `[0, delay]`.
    Full,
}

/// A `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3; 0 = never retry).
    pub max_attempts: u64,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds` cap.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy`.
    pub jitter: Jitter,
}

/// A `Catch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    /// `ErrorEquals`
    pub error_equals: Vec<String>,
    /// `Next`
    pub next: String,
    /// `ResultPath` (default `$`).
    pub result_path: OptPath,
    /// `Assign` (evaluated with the error output as `$` / `$states.errorOutput`).
    pub assign: Option<Assign>,
    /// JSONata `Output` (default: the error output).
    pub output: Option<JsonataValue>,
}

/// What every state has.
#[derive(Debug, Clone)]
pub struct Common {
    /// `Comment`
    pub comment: Option<String>,
    /// The state's query language (its own `QueryLanguage` or the definition's).
    pub query_language: QueryLanguage,
    /// How much of the context object the state's JSONata expressions read.
    pub context_use: crate::jsonata::ContextUse,
    /// Which host functions the state's JSONata expressions call.
    pub host_fns: crate::jsonata::HostFns,
}

/// `Next` / `End` of a state that moves on by itself (Task, Pass, Wait, Parallel, Map).
/// Both or neither are a validation error, so both are kept as written.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    /// `Next`
    pub next: Option<String>,
    /// `End`
    pub end: bool,
}

/// `InputPath` and `OutputPath` (every state but Fail; JSONPath only).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `InputPath`
    pub input_path: OptPath,
    /// `OutputPath`
    pub output_path: OptPath,
}

/// How a Task, Parallel or Map state places its result: `ResultSelector`, then `ResultPath`.
#[derive(Debug, Clone, Default)]
pub struct ResultShaping {
    /// `ResultSelector`
    pub result_selector: Option<Template>,
    /// `ResultPath`
    pub result_path: OptPath,
}

/// `Retry` and `Catch` (Task, Parallel, Map).
#[derive(Debug, Clone, Default)]
pub struct ErrorHandling {
    /// `Retry`
    pub retry: Vec<Retrier>,
    /// `Catch`
    pub catch: Vec<Catcher>,
}

/// `Assign` and the JSONata `Output` (every state but Succeed, which has only `Output`, and
/// Fail, which has neither).
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// `Assign`
    pub assign: Option<Assign>,
    /// JSONata `Output`
    pub output: Option<JsonataValue>,
}

/// A field that may be given as a literal, as a JSONPath `…Path` field or as a JSONata
/// `{% … %}` expression (e.g. `TimeoutSeconds` / `TimeoutSecondsPath`). Parsing keeps what was
/// written; validation refuses more than one.
#[derive(Debug, Clone)]
pub struct FieldValue<T> {
    /// The literal (`TimeoutSeconds: 5`).
    pub literal: Option<T>,
    /// The `…Path` field (JSONPath states).
    pub path: Option<String>,
    /// The `{% … %}` expression (JSONata states).
    pub expr: Option<JsonataValue>,
}

impl<T> FieldValue<T> {
    fn new(literal: Option<T>, path: Option<String>, expr: Option<JsonataValue>) -> Self {
        FieldValue {
            literal,
            path,
            expr,
        }
    }
}

impl<T> Default for FieldValue<T> {
    fn default() -> Self {
        FieldValue::new(None, None, None)
    }
}

/// What every state that acts and produces a result has: Task, Parallel and Map (the
/// "acting" states). Each of them embeds it, so a field they share is declared, parsed and
/// read in one place, while a field only one of them has stays in that type's own struct.
#[derive(Debug, Clone)]
pub struct Acting {
    /// Comment, query language, context use.
    pub common: Common,
    /// `Next` / `End`
    pub transition: Transition,
    /// `InputPath` / `OutputPath`
    pub filters: Filters,
    /// `ResultSelector` / `ResultPath`
    pub result: ResultShaping,
    /// `Retry` / `Catch`
    pub errors: ErrorHandling,
    /// `Assign` / `Output`
    pub effects: Effects,
    /// JSONata `Arguments` (a Task's input, every Parallel branch's input; a Map accepts and
    /// checks it but does not use it at run time).
    pub arguments: Option<JsonataValue>,
}

/// A `Task` state.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// What Task, Parallel and Map share.
    pub acting: Acting,
    /// `Parameters`
    pub parameters: Option<Template>,
    /// `Resource` (required: its absence is a validation error).
    pub resource: Option<String>,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`
    pub timeout_seconds: FieldValue<u64>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`
    pub heartbeat_seconds: FieldValue<u64>,
}

/// A `Pass` state.
#[derive(Debug, Clone)]
pub struct PassState {
    /// Comment, query language, context use.
    pub common: Common,
    /// `Next` / `End`
    pub transition: Transition,
    /// `InputPath` / `OutputPath`
    pub filters: Filters,
    /// `Parameters`
    pub parameters: Option<Template>,
    /// `Result`
    pub result: Option<Value>,
    /// `ResultPath`
    pub result_path: OptPath,
    /// `Assign` / `Output`
    pub effects: Effects,
}

/// A `Choice` state.
#[derive(Debug, Clone)]
pub struct ChoiceState {
    /// Comment, query language, context use.
    pub common: Common,
    /// `InputPath` / `OutputPath`
    pub filters: Filters,
    /// `Choices` (None when absent, a validation error).
    pub choices: Option<Vec<ChoiceRule>>,
    /// `Default`
    pub default: Option<String>,
    /// `Assign` / `Output` (used when the matching rule has none).
    pub effects: Effects,
}

/// A `Wait` state.
#[derive(Debug, Clone)]
pub struct WaitState {
    /// Comment, query language, context use.
    pub common: Common,
    /// `Next` / `End`
    pub transition: Transition,
    /// `InputPath` / `OutputPath`
    pub filters: Filters,
    /// `Seconds` / `SecondsPath`
    pub seconds: FieldValue<u64>,
    /// `Timestamp` / `TimestampPath`
    pub timestamp: FieldValue<String>,
    /// `Assign` / `Output`
    pub effects: Effects,
}

/// A `Succeed` state.
#[derive(Debug, Clone)]
pub struct SucceedState {
    /// Comment, query language, context use.
    pub common: Common,
    /// `InputPath` / `OutputPath`
    pub filters: Filters,
    /// JSONata `Output`
    pub output: Option<JsonataValue>,
}

/// A `Fail` state.
#[derive(Debug, Clone)]
pub struct FailState {
    /// Comment, query language, context use.
    pub common: Common,
    /// `Error` / `ErrorPath`
    pub error: FieldValue<String>,
    /// `Cause` / `CausePath`
    pub cause: FieldValue<String>,
}

/// A `Parallel` state.
#[derive(Debug, Clone)]
pub struct ParallelState {
    /// What Task, Parallel and Map share.
    pub acting: Acting,
    /// `Parameters`
    pub parameters: Option<Template>,
    /// `Branches` (None when absent, a validation error).
    pub branches: Option<Vec<Definition>>,
}

/// A `Map` state.
#[derive(Debug, Clone)]
pub struct MapState {
    /// What Task, Parallel and Map share.
    pub acting: Acting,
    /// `ItemProcessor` (or legacy `Iterator`; None when absent, a validation error).
    pub item_processor: Option<Box<Definition>>,
    /// `ItemsPath` (JSONPath)
    pub items_path: Option<String>,
    /// JSONata `Items` (default: the state input, which must be an array).
    pub items: Option<JsonataValue>,
    /// `ItemSelector` (or legacy `Parameters`; JSONPath).
    pub item_selector: Option<Template>,
    /// JSONata `ItemSelector` (with `$states.context.Map.Item`).
    pub item_selector_jsonata: Option<JsonataValue>,
    /// `MaxConcurrency` / `MaxConcurrencyPath` (0 = unlimited).
    pub max_concurrency: FieldValue<u64>,
    /// `ToleratedFailurePercentage` / `ToleratedFailurePercentagePath`
    pub tolerated_failure_percentage: FieldValue<f64>,
    /// `ToleratedFailureCount` / `ToleratedFailureCountPath`
    pub tolerated_failure_count: FieldValue<u64>,
    /// `ItemReader` (accepted, not supported at run time).
    pub item_reader: Option<Value>,
}

/// One state: each type holds only the fields ASL gives it.
///
/// The variants differ in size (a Task or Map carries many optional fields), but states are
/// built once when a definition is parsed and only borrowed afterwards: boxing them would add
/// a pointer chase to every step for no saving that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum State {
    /// `Task`
    Task(TaskState),
    /// `Pass`
    Pass(PassState),
    /// `Choice`
    Choice(ChoiceState),
    /// `Wait`
    Wait(WaitState),
    /// `Succeed`
    Succeed(SucceedState),
    /// `Fail`
    Fail(FailState),
    /// `Parallel`
    Parallel(ParallelState),
    /// `Map`
    Map(MapState),
}

impl State {
    /// The state's type.
    pub fn kind(&self) -> StateType {
        match self {
            State::Task(_) => StateType::Task,
            State::Pass(_) => StateType::Pass,
            State::Choice(_) => StateType::Choice,
            State::Wait(_) => StateType::Wait,
            State::Succeed(_) => StateType::Succeed,
            State::Fail(_) => StateType::Fail,
            State::Parallel(_) => StateType::Parallel,
            State::Map(_) => StateType::Map,
        }
    }

    /// What every state has.
    pub fn common(&self) -> &Common {
        match self {
            State::Task(s) => &s.acting.common,
            State::Pass(s) => &s.common,
            State::Choice(s) => &s.common,
            State::Wait(s) => &s.common,
            State::Succeed(s) => &s.common,
            State::Fail(s) => &s.common,
            State::Parallel(s) => &s.acting.common,
            State::Map(s) => &s.acting.common,
        }
    }

    /// `Next` / `End` (None for Choice, Succeed and Fail, which have neither).
    pub fn transition(&self) -> Option<&Transition> {
        match self {
            State::Task(s) => Some(&s.acting.transition),
            State::Pass(s) => Some(&s.transition),
            State::Wait(s) => Some(&s.transition),
            State::Parallel(s) => Some(&s.acting.transition),
            State::Map(s) => Some(&s.acting.transition),
            State::Choice(_) | State::Succeed(_) | State::Fail(_) => None,
        }
    }

    /// `InputPath` / `OutputPath` (None for Fail).
    pub fn filters(&self) -> Option<&Filters> {
        match self {
            State::Task(s) => Some(&s.acting.filters),
            State::Pass(s) => Some(&s.filters),
            State::Choice(s) => Some(&s.filters),
            State::Wait(s) => Some(&s.filters),
            State::Succeed(s) => Some(&s.filters),
            State::Parallel(s) => Some(&s.acting.filters),
            State::Map(s) => Some(&s.acting.filters),
            State::Fail(_) => None,
        }
    }

    /// What Task, Parallel and Map share (None for the other types).
    pub fn acting(&self) -> Option<&Acting> {
        match self {
            State::Task(s) => Some(&s.acting),
            State::Parallel(s) => Some(&s.acting),
            State::Map(s) => Some(&s.acting),
            _ => None,
        }
    }

    /// `Retry` / `Catch` (only Task, Parallel and Map handle errors).
    pub fn error_handling(&self) -> Option<&ErrorHandling> {
        self.acting().map(|a| &a.errors)
    }

    /// The states this one may move to: `Next`, `Default`, each choice rule's `Next` and
    /// each catcher's `Next`.
    pub fn successors(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(n) = self.transition().and_then(|t| t.next.as_deref()) {
            out.push(n);
        }
        if let State::Choice(c) = self {
            if let Some(d) = &c.default {
                out.push(d);
            }
            for r in c.choices.iter().flatten() {
                if let Some(n) = &r.next {
                    out.push(n);
                }
            }
        }
        for c in self.error_handling().map_or(&[][..], |e| &e.catch) {
            out.push(&c.next);
        }
        out
    }
}

/// A state machine (the top-level definition, a Parallel branch or a Map processor).
#[derive(Debug, Clone)]
pub struct Definition {
    /// `Comment`
    pub comment: Option<String>,
    /// `StartAt`
    pub start_at: String,
    /// `States`
    pub states: BTreeMap<String, State>,
    /// Top-level `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `Version`
    pub version: Option<String>,
    /// Top-level `QueryLanguage` (what states without their own use).
    pub query_language: QueryLanguage,
}

impl Definition {
    /// Every Task state's name and `Resource`, in this definition and in the Parallel branches
    /// and Map processors it holds.
    pub fn task_resources(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for (name, state) in &self.states {
            match state {
                State::Task(t) => {
                    if let Some(r) = &t.resource {
                        out.push((name.as_str(), r.as_str()));
                    }
                }
                State::Parallel(p) => {
                    for b in p.branches.iter().flatten() {
                        out.extend(b.task_resources());
                    }
                }
                State::Map(m) => {
                    if let Some(p) = &m.item_processor {
                        out.extend(p.task_resources());
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Parses a definition from JSON text.
    pub fn parse(text: &str) -> Result<Definition, ParseError> {
        let v: Value = serde_json::from_str(text).map_err(|e| ParseError {
            state: None,
            field: None,
            message: format!("invalid JSON: {e}"),
        })?;
        Self::from_value(&v)
    }

    /// Parses a definition from a JSON value.
    pub fn from_value(v: &Value) -> Result<Definition, ParseError> {
        parse_machine(v, true, None, QueryLanguage::JsonPath)
    }

    /// Looks up a state.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }
}

fn top_err(field: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        state: None,
        field: Some(field.to_string()),
        message: message.into(),
    }
}

fn parse_machine(
    v: &Value,
    top: bool,
    owner: Option<&str>,
    inherited: QueryLanguage,
) -> Result<Definition, ParseError> {
    let obj = v.as_object().ok_or_else(|| ParseError {
        state: owner.map(str::to_string),
        field: None,
        message: "a state machine must be a JSON object".into(),
    })?;
    let allowed: &[&str] = if top {
        &[
            "Comment",
            "StartAt",
            "States",
            "TimeoutSeconds",
            "Version",
            "QueryLanguage",
        ]
    } else {
        &[
            "Comment",
            "StartAt",
            "States",
            "ProcessorConfig",
            "QueryLanguage",
        ]
    };
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(ParseError {
                state: owner.map(str::to_string),
                field: Some(k.clone()),
                message: format!("unknown field \"{k}\""),
            });
        }
    }
    let query_language = match obj.get("QueryLanguage") {
        None => inherited,
        Some(q) => QueryLanguage::parse(q).ok_or_else(|| ParseError {
            state: owner.map(str::to_string),
            field: Some("QueryLanguage".into()),
            message: format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", got {q}"),
        })?,
    };
    let start_at = match obj.get("StartAt") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(top_err("StartAt", "must be a string")),
        None => {
            return Err(ParseError {
                state: owner.map(str::to_string),
                field: Some("StartAt".into()),
                message: "missing required field \"StartAt\"".into(),
            })
        }
    };
    let states_v = obj
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| ParseError {
            state: owner.map(str::to_string),
            field: Some("States".into()),
            message: "missing or non-object field \"States\"".into(),
        })?;
    let mut states = BTreeMap::new();
    for (name, sv) in states_v {
        states.insert(name.clone(), parse_state(name, sv, query_language)?);
    }
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(t) => Some(
            t.as_u64()
                .ok_or_else(|| top_err("TimeoutSeconds", "must be a non-negative integer"))?,
        ),
    };
    if let Some(pc) = obj.get("ProcessorConfig") {
        let mode = pc.get("Mode").and_then(Value::as_str).unwrap_or("INLINE");
        if mode != "INLINE" && mode != "DISTRIBUTED" {
            return Err(ParseError {
                state: owner.map(str::to_string),
                field: Some("ProcessorConfig".into()),
                message: format!("unknown Mode \"{mode}\""),
            });
        }
    }
    Ok(Definition {
        comment: obj
            .get("Comment")
            .and_then(Value::as_str)
            .map(str::to_string),
        start_at,
        states,
        timeout_seconds,
        version: obj
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_string),
        query_language,
    })
}

struct Fields<'a> {
    state: &'a str,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn err(&self, field: &str, message: impl Into<String>) -> ParseError {
        ParseError {
            state: Some(self.state.to_string()),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    fn string(&self, f: &str) -> Result<Option<String>, ParseError> {
        match self.obj.get(f) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err(f, "must be a string")),
        }
    }

    fn uint(&self, f: &str) -> Result<Option<u64>, ParseError> {
        match self.obj.get(f) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|x| *x >= 0.0 && x.fract() == 0.0)
                        .map(|x| x as u64)
                })
                .map(Some)
                .ok_or_else(|| self.err(f, "must be a non-negative integer")),
        }
    }

    fn opt_path(&self, f: &str) -> Result<OptPath, ParseError> {
        match self.obj.get(f) {
            None => Ok(OptPath::Default),
            Some(Value::Null) => Ok(OptPath::Null),
            Some(Value::String(s)) => Ok(OptPath::Path(s.clone())),
            Some(_) => Err(self.err(f, "must be a path string or null")),
        }
    }

    fn template(&self, f: &str) -> Option<Template> {
        self.obj.get(f).map(Template::compile)
    }

    fn jsonata(&self, f: &str) -> Result<Option<JsonataValue>, ParseError> {
        self.obj
            .get(f)
            .map(|v| JsonataValue::compile(v).map_err(|m| self.err(f, m)))
            .transpose()
    }

    /// A JSONata field that may be a literal of the JSONPath kind (checked by `literal`) or a
    /// `{% … %}` string: `(literal, expression)`.
    fn maybe_expr<T>(
        &self,
        f: &str,
        literal: impl Fn(&Self, &str) -> Result<Option<T>, ParseError>,
    ) -> Result<(Option<T>, Option<JsonataValue>), ParseError> {
        match self.obj.get(f) {
            Some(Value::String(s)) if crate::jsonata::expression_of(s).is_some() => {
                Ok((None, self.jsonata(f)?))
            }
            _ => Ok((literal(self, f)?, None)),
        }
    }

    fn assign(&self, lang: QueryLanguage) -> Result<Option<Assign>, ParseError> {
        self.assign_in(self.obj, lang, "Assign")
    }

    fn assign_in(
        &self,
        obj: &Map<String, Value>,
        lang: QueryLanguage,
        label: &str,
    ) -> Result<Option<Assign>, ParseError> {
        let Some(v) = obj.get("Assign") else {
            return Ok(None);
        };
        let members = v
            .as_object()
            .ok_or_else(|| self.err(label, "Assign must be a JSON object"))?;
        for name in members.keys() {
            let bare = name.strip_suffix(".$").unwrap_or(name);
            let valid = bare
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && bare.len() <= 80;
            if !valid || bare == "states" {
                return Err(self.err(
                    label,
                    format!("invalid variable name \"{bare}\": letters, digits and _, starting with a letter or _, at most 80 characters, not \"states\""),
                ));
            }
            if lang == QueryLanguage::Jsonata && name.ends_with(".$") {
                return Err(self.err(
                    label,
                    format!("\"{name}\": a JSONata state assigns with {{% … %}} expressions, not \".$\" fields"),
                ));
            }
        }
        Ok(Some(match lang {
            QueryLanguage::JsonPath => {
                let t = Template::compile(v);
                if let Some((field, message)) = t.problems().into_iter().next() {
                    return Err(self.err(label, format!("{field}: {message}")));
                }
                Assign::JsonPath(t)
            }
            QueryLanguage::Jsonata => {
                Assign::Jsonata(JsonataValue::compile(v).map_err(|m| self.err(label, m))?)
            }
        }))
    }

    fn error_equals(&self, f: &str, entry: &Map<String, Value>) -> Result<Vec<String>, ParseError> {
        match entry.get("ErrorEquals") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| self.err(f, "ErrorEquals entries must be strings"))
                })
                .collect(),
            Some(_) => Err(self.err(f, "ErrorEquals must be an array of strings")),
            None => Err(self.err(f, "each entry requires ErrorEquals")),
        }
    }
}

fn parse_state(name: &str, v: &Value, inherited: QueryLanguage) -> Result<State, ParseError> {
    let obj = v.as_object().ok_or_else(|| ParseError {
        state: Some(name.to_string()),
        field: None,
        message: "a state must be a JSON object".into(),
    })?;
    let f = Fields { state: name, obj };
    let kind = match obj.get("Type").and_then(Value::as_str) {
        Some("Pass") => StateType::Pass,
        Some("Task") => StateType::Task,
        Some("Choice") => StateType::Choice,
        Some("Wait") => StateType::Wait,
        Some("Succeed") => StateType::Succeed,
        Some("Fail") => StateType::Fail,
        Some("Parallel") => StateType::Parallel,
        Some("Map") => StateType::Map,
        Some(other) => return Err(f.err("Type", format!("unknown state type \"{other}\""))),
        None => return Err(f.err("Type", "missing required field \"Type\"")),
    };
    let lang = match obj.get("QueryLanguage") {
        None => inherited,
        Some(q) => QueryLanguage::parse(q).ok_or_else(|| {
            f.err(
                "QueryLanguage",
                format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", got {q}"),
            )
        })?,
    };
    if inherited == QueryLanguage::Jsonata && lang == QueryLanguage::JsonPath {
        return Err(f.err(
            "QueryLanguage",
            "a JSONPath state cannot be nested in a JSONata state machine (AWS allows only the other way round)",
        ));
    }
    let assignable = !matches!(kind, StateType::Succeed | StateType::Fail);
    let allowed = kind.allowed_fields();
    for k in obj.keys() {
        let key = k.as_str();
        match lang {
            QueryLanguage::Jsonata if JSONPATH_ONLY.contains(&key) => {
                return Err(f.err(
                    k,
                    format!("\"{k}\" is a JSONPath field; a JSONata state uses Arguments, Output and Assign with {{% … %}} expressions"),
                ))
            }
            QueryLanguage::JsonPath if JSONATA_ONLY.contains(&key) => {
                return Err(f.err(
                    k,
                    format!("\"{k}\" needs \"QueryLanguage\": \"JSONata\" (this state uses JSONPath)"),
                ))
            }
            _ => {}
        }
        let extra = match key {
            "Assign" => assignable,
            "Output" => kind != StateType::Fail,
            "Arguments" => matches!(kind, StateType::Task | StateType::Parallel | StateType::Map),
            "Items" => kind == StateType::Map,
            _ => false,
        };
        if !allowed.iter().any(|group| group.contains(&key)) && !extra {
            return Err(f.err(
                k,
                format!("unknown field \"{k}\" for a {} state", kind.as_str()),
            ));
        }
    }

    let end = match obj.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(f.err("End", "must be a boolean")),
    };
    let mut retry = Vec::new();
    if let Some(r) = obj.get("Retry") {
        let arr = r
            .as_array()
            .ok_or_else(|| f.err("Retry", "must be an array"))?;
        for e in arr {
            let m = e
                .as_object()
                .ok_or_else(|| f.err("Retry", "entries must be objects"))?;
            for k in m.keys() {
                if !matches!(
                    k.as_str(),
                    "ErrorEquals"
                        | "IntervalSeconds"
                        | "MaxAttempts"
                        | "BackoffRate"
                        | "MaxDelaySeconds"
                        | "JitterStrategy"
                        | "Comment"
                ) {
                    return Err(f.err("Retry", format!("unknown field \"{k}\" in a retrier")));
                }
            }
            let sub = Fields {
                state: name,
                obj: m,
            };
            let interval_seconds = sub.uint("IntervalSeconds")?.unwrap_or(1);
            let max_attempts = sub.uint("MaxAttempts")?.unwrap_or(3);
            let backoff_rate = match m.get("BackoffRate") {
                None => 2.0,
                Some(b) => b
                    .as_f64()
                    .ok_or_else(|| f.err("Retry", "BackoffRate must be a number"))?,
            };
            let jitter = match m.get("JitterStrategy").map(Value::as_str) {
                None | Some(Some("NONE")) => Jitter::None,
                Some(Some("FULL")) => Jitter::Full,
                _ => return Err(f.err("Retry", "JitterStrategy must be \"FULL\" or \"NONE\"")),
            };
            retry.push(Retrier {
                error_equals: f.error_equals("Retry", m)?,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds: sub.uint("MaxDelaySeconds")?,
                jitter,
            });
        }
    }
    let mut catch = Vec::new();
    if let Some(c) = obj.get("Catch") {
        let arr = c
            .as_array()
            .ok_or_else(|| f.err("Catch", "must be an array"))?;
        for e in arr {
            let m = e
                .as_object()
                .ok_or_else(|| f.err("Catch", "entries must be objects"))?;
            for k in m.keys() {
                let known = match lang {
                    QueryLanguage::JsonPath => {
                        matches!(
                            k.as_str(),
                            "ErrorEquals" | "Next" | "ResultPath" | "Assign" | "Comment"
                        )
                    }
                    QueryLanguage::Jsonata => {
                        matches!(
                            k.as_str(),
                            "ErrorEquals" | "Next" | "Output" | "Assign" | "Comment"
                        )
                    }
                };
                if !known {
                    return Err(f.err(
                        "Catch",
                        format!(
                            "unknown field \"{k}\" in a catcher of a {} state",
                            match lang {
                                QueryLanguage::JsonPath => "JSONPath",
                                QueryLanguage::Jsonata => "JSONata",
                            }
                        ),
                    ));
                }
            }
            let sub = Fields {
                state: name,
                obj: m,
            };
            let next = m
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| f.err("Catch", "each catcher requires a string \"Next\""))?;
            let output = match m.get("Output") {
                Some(o) => Some(JsonataValue::compile(o).map_err(|e| f.err("Catch", e))?),
                None => None,
            };
            catch.push(Catcher {
                error_equals: f.error_equals("Catch", m)?,
                next: next.to_string(),
                result_path: sub.opt_path("ResultPath")?,
                assign: f.assign_in(m, lang, "Catch")?,
                output,
            });
        }
    }
    let choices = match obj.get("Choices") {
        None => None,
        Some(Value::Array(a)) if lang == QueryLanguage::Jsonata => Some(
            a.iter()
                .map(|r| jsonata_rule(&f, r))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|r| {
                    let rule =
                        choice::parse_rule_with_assign(r).map_err(|m| f.err("Choices", m))?;
                    let assign = match r.as_object() {
                        Some(m) => f.assign_in(m, lang, "Choices")?,
                        None => None,
                    };
                    Ok(choice::ChoiceRule { assign, ..rule })
                })
                .collect::<Result<Vec<_>, ParseError>>()?,
        ),
        Some(_) => return Err(f.err("Choices", "must be an array")),
    };
    let branches = match obj.get("Branches") {
        None => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|b| parse_machine(b, false, Some(name), lang))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(f.err("Branches", "must be an array")),
    };
    let processor_v = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
        (Some(_), Some(_)) => {
            return Err(f.err(
                "ItemProcessor",
                "use either ItemProcessor or Iterator, not both",
            ))
        }
        (Some(p), None) | (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    let item_processor = processor_v
        .map(|p| parse_machine(p, false, Some(name), lang).map(Box::new))
        .transpose()?;
    let (parameters, item_selector) = if lang == QueryLanguage::Jsonata {
        (None, None)
    } else if kind == StateType::Map {
        if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
            return Err(f.err(
                "ItemSelector",
                "use either ItemSelector or Parameters, not both",
            ));
        }
        (
            None,
            f.template("ItemSelector")
                .or_else(|| f.template("Parameters")),
        )
    } else {
        (f.template("Parameters"), None)
    };
    let percentage = |f: &Fields, k: &str| match f.obj.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|p| (0.0..=100.0).contains(p))
            .map(Some)
            .ok_or_else(|| f.err(k, "must be a number 0-100")),
    };
    let (tolerated_failure_percentage, tolerated_failure_percentage_expr) =
        f.maybe_expr("ToleratedFailurePercentage", percentage)?;
    let (tolerated_failure_count, tolerated_failure_count_expr) =
        f.maybe_expr("ToleratedFailureCount", Fields::uint)?;
    let (seconds, seconds_expr) = f.maybe_expr("Seconds", Fields::uint)?;
    let (timestamp, timestamp_expr) = f.maybe_expr("Timestamp", Fields::string)?;
    let (error, error_expr) = f.maybe_expr("Error", Fields::string)?;
    let (cause, cause_expr) = f.maybe_expr("Cause", Fields::string)?;
    let (max_concurrency, max_concurrency_expr) = f.maybe_expr("MaxConcurrency", Fields::uint)?;
    let (timeout_seconds, timeout_seconds_expr) = f.maybe_expr("TimeoutSeconds", Fields::uint)?;
    let (heartbeat_seconds, heartbeat_seconds_expr) =
        f.maybe_expr("HeartbeatSeconds", Fields::uint)?;
    let (items, item_selector_jsonata) = if lang == QueryLanguage::Jsonata {
        (f.jsonata("Items")?, f.jsonata("ItemSelector")?)
    } else {
        (None, None)
    };
    if lang == QueryLanguage::JsonPath
        && [
            &seconds_expr,
            &timestamp_expr,
            &error_expr,
            &cause_expr,
            &max_concurrency_expr,
            &timeout_seconds_expr,
            &heartbeat_seconds_expr,
            &tolerated_failure_percentage_expr,
            &tolerated_failure_count_expr,
        ]
        .iter()
        .any(|e| e.is_some())
    {
        let field = [
            "Seconds",
            "Timestamp",
            "Error",
            "Cause",
            "MaxConcurrency",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
        ]
        .into_iter()
        .find(|k| {
            obj.get(*k)
                .and_then(Value::as_str)
                .and_then(crate::jsonata::expression_of)
                .is_some()
        })
        .unwrap_or("Seconds");
        return Err(f.err(
            field,
            "{% … %} expressions need \"QueryLanguage\": \"JSONata\"",
        ));
    }
    let comment = f.string("Comment")?;
    let next = f.string("Next")?;
    let filters = Filters {
        input_path: f.opt_path("InputPath")?,
        output_path: f.opt_path("OutputPath")?,
    };
    let result_path = f.opt_path("ResultPath")?;
    let result_selector = f.template("ResultSelector");
    let resource = f.string("Resource")?;
    let timeout_seconds_path = f.string("TimeoutSecondsPath")?;
    let heartbeat_seconds_path = f.string("HeartbeatSecondsPath")?;
    let default = f.string("Default")?;
    let seconds_path = f.string("SecondsPath")?;
    let timestamp_path = f.string("TimestampPath")?;
    let error_path = f.string("ErrorPath")?;
    let cause_path = f.string("CausePath")?;
    let items_path = f.string("ItemsPath")?;
    let max_concurrency_path = f.string("MaxConcurrencyPath")?;
    let tolerated_failure_percentage_path = f.string("ToleratedFailurePercentagePath")?;
    let tolerated_failure_count_path = f.string("ToleratedFailureCountPath")?;
    let assign = f.assign(lang)?;
    let arguments = f.jsonata("Arguments")?;
    let effects = Effects {
        assign,
        output: f.jsonata("Output")?,
    };

    let (context_use, host_fns) = check_states_references(
        &f,
        kind,
        &effects,
        &[
            ("Arguments", &arguments),
            ("Items", &items),
            ("ItemSelector", &item_selector_jsonata),
            ("Seconds", &seconds_expr),
            ("Timestamp", &timestamp_expr),
            ("Error", &error_expr),
            ("Cause", &cause_expr),
            ("MaxConcurrency", &max_concurrency_expr),
            ("TimeoutSeconds", &timeout_seconds_expr),
            ("HeartbeatSeconds", &heartbeat_seconds_expr),
            (
                "ToleratedFailurePercentage",
                &tolerated_failure_percentage_expr,
            ),
            ("ToleratedFailureCount", &tolerated_failure_count_expr),
        ],
        &catch,
        choices.as_deref().unwrap_or(&[]),
    )?;
    let common = Common {
        comment,
        query_language: lang,
        context_use,
        host_fns,
    };
    // Fields another type would have were refused above as unknown, so what is not moved into
    // the state's own struct is absent. What Task, Parallel and Map share is gathered once;
    // the other types take the parts of it they have.
    let acting = Acting {
        common,
        transition: Transition { next, end },
        filters,
        result: ResultShaping {
            result_selector,
            result_path,
        },
        errors: ErrorHandling { retry, catch },
        effects,
        arguments,
    };
    Ok(match kind {
        StateType::Task => State::Task(TaskState {
            acting,
            parameters,
            resource,
            timeout_seconds: FieldValue::new(
                timeout_seconds,
                timeout_seconds_path,
                timeout_seconds_expr,
            ),
            heartbeat_seconds: FieldValue::new(
                heartbeat_seconds,
                heartbeat_seconds_path,
                heartbeat_seconds_expr,
            ),
        }),
        StateType::Pass => State::Pass(PassState {
            common: acting.common,
            transition: acting.transition,
            filters: acting.filters,
            parameters,
            result: obj.get("Result").cloned(),
            result_path: acting.result.result_path,
            effects: acting.effects,
        }),
        StateType::Choice => State::Choice(ChoiceState {
            common: acting.common,
            filters: acting.filters,
            choices,
            default,
            effects: acting.effects,
        }),
        StateType::Wait => State::Wait(WaitState {
            common: acting.common,
            transition: acting.transition,
            filters: acting.filters,
            seconds: FieldValue::new(seconds, seconds_path, seconds_expr),
            timestamp: FieldValue::new(timestamp, timestamp_path, timestamp_expr),
            effects: acting.effects,
        }),
        StateType::Succeed => State::Succeed(SucceedState {
            common: acting.common,
            filters: acting.filters,
            output: acting.effects.output,
        }),
        StateType::Fail => State::Fail(FailState {
            common: acting.common,
            error: FieldValue::new(error, error_path, error_expr),
            cause: FieldValue::new(cause, cause_path, cause_expr),
        }),
        StateType::Parallel => State::Parallel(ParallelState {
            acting,
            parameters,
            branches,
        }),
        StateType::Map => State::Map(MapState {
            acting,
            item_processor,
            items_path,
            items,
            item_selector,
            item_selector_jsonata,
            max_concurrency: FieldValue::new(
                max_concurrency,
                max_concurrency_path,
                max_concurrency_expr,
            ),
            tolerated_failure_percentage: FieldValue::new(
                tolerated_failure_percentage,
                tolerated_failure_percentage_path,
                tolerated_failure_percentage_expr,
            ),
            tolerated_failure_count: FieldValue::new(
                tolerated_failure_count,
                tolerated_failure_count_path,
                tolerated_failure_count_expr,
            ),
            item_reader: obj.get("ItemReader").cloned(),
        }),
    })
}

/// The JSONata value of an `Assign`, if it is one.
fn jsonata_assign(a: &Option<Assign>) -> Option<&JsonataValue> {
    match a {
        Some(Assign::Jsonata(v)) => Some(v),
        _ => None,
    }
}

/// `$states.result` exists only in the `Output` and `Assign` of Task, Map and Parallel
/// states, `$states.errorOutput` only in a catcher's: elsewhere they are refused when the
/// definition is parsed, with the state and field. Returns how much of the context object the
/// state's expressions read, and which host functions they call.
fn check_states_references(
    f: &Fields<'_>,
    kind: StateType,
    effects: &Effects,
    expressions: &[(&str, &Option<JsonataValue>)],
    catch: &[Catcher],
    choices: &[ChoiceRule],
) -> Result<(crate::jsonata::ContextUse, crate::jsonata::HostFns), ParseError> {
    let produces_result = matches!(kind, StateType::Task | StateType::Map | StateType::Parallel);
    // (field, value, may read $states.result, may read $states.errorOutput)
    let mut fields: Vec<(&str, Option<&JsonataValue>, bool, bool)> = vec![
        ("Output", effects.output.as_ref(), produces_result, false),
        (
            "Assign",
            jsonata_assign(&effects.assign),
            produces_result,
            false,
        ),
    ];
    for (field, value) in expressions {
        fields.push((field, value.as_ref(), false, false));
    }
    for c in catch {
        fields.push(("Catch", c.output.as_ref(), false, true));
        fields.push(("Catch", jsonata_assign(&c.assign), false, true));
    }
    for rule in choices {
        if let choice::Condition::Jsonata(v) = &rule.condition {
            fields.push(("Choices", Some(v), false, false));
        }
        fields.push(("Choices", rule.output.as_ref(), false, false));
        fields.push(("Choices", jsonata_assign(&rule.assign), false, false));
    }
    let mut context = crate::jsonata::ContextUse::None;
    let mut host_fns = crate::jsonata::HostFns::default();
    for (field, value, result_ok, error_ok) in fields {
        let Some(value) = value else { continue };
        let text = value.expressions().join(" ");
        context = context.max(crate::jsonata::ContextUse::of([text.as_str()]));
        host_fns = host_fns.union(crate::jsonata::HostFns::of([text.as_str()]));
        if !result_ok && text.contains("$states.result") {
            return Err(f.err(
                field,
                "$states.result is only available in the Output and Assign of Task, Map and Parallel states",
            ));
        }
        if !error_ok && text.contains("$states.errorOutput") {
            return Err(f.err(
                field,
                "$states.errorOutput is only available in the Output and Assign of a catcher",
            ));
        }
    }
    Ok((context, host_fns))
}

/// A choice rule of a JSONata Choice state: `Condition`, `Next`, optional `Assign`/`Output`.
fn jsonata_rule(f: &Fields<'_>, r: &Value) -> Result<choice::ChoiceRule, ParseError> {
    let m = r
        .as_object()
        .ok_or_else(|| f.err("Choices", "each choice rule must be an object"))?;
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "Condition" | "Next" | "Assign" | "Output" | "Comment"
        ) {
            return Err(f.err(
                "Choices",
                format!("\"{k}\" is not a field of a JSONata choice rule (Condition, Next, Assign, Output, Comment)"),
            ));
        }
    }
    let condition = match m.get("Condition") {
        Some(Value::Bool(b)) => JsonataValue::Literal(Value::Bool(*b)),
        Some(Value::String(s)) if crate::jsonata::expression_of(s).is_some() => {
            JsonataValue::compile(&Value::String(s.clone())).map_err(|e| f.err("Choices", e))?
        }
        Some(_) => {
            return Err(f.err(
                "Choices",
                "Condition must be a {% … %} expression or a boolean",
            ))
        }
        None => return Err(f.err("Choices", "each JSONata choice rule requires \"Condition\"")),
    };
    let output = match m.get("Output") {
        Some(o) => Some(JsonataValue::compile(o).map_err(|e| f.err("Choices", e))?),
        None => None,
    };
    Ok(choice::ChoiceRule {
        condition: choice::Condition::Jsonata(condition),
        next: m.get("Next").and_then(Value::as_str).map(str::to_string),
        assign: f.assign_in(m, QueryLanguage::Jsonata, "Choices")?,
        output,
    })
}

/// A `DefinitionSubstitutions` failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstitutionError {
    /// `${Name}` has no value.
    #[error("no value for definition substitution ${{{0}}}")]
    Unknown(String),
    /// `${` without a closing `}`.
    #[error("unterminated definition substitution starting at byte {0}")]
    Unterminated(usize),
}

/// Every `${Name}` placeholder in `raw`.
pub fn substitution_names(raw: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = raw;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                out.insert(after[..j].to_string());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Replaces every `${Name}` in `raw` with `values[Name]`; unknown names are errors.
pub fn substitute(
    raw: &str,
    values: &HashMap<String, String>,
) -> Result<String, SubstitutionError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut offset = 0;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after
            .find('}')
            .ok_or(SubstitutionError::Unterminated(offset + i))?;
        let name = &after[..j];
        let v = values
            .get(name)
            .ok_or_else(|| SubstitutionError::Unknown(name.to_string()))?;
        out.push_str(v);
        let consumed = i + 2 + j + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal() {
        let d = Definition::parse(
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}}"#,
        )
        .unwrap();
        assert_eq!(d.start_at, "A");
        assert_eq!(d.states["A"].kind(), StateType::Pass);
        assert!(d.states["A"].transition().unwrap().end);
    }

    #[test]
    fn unknown_field_names_state_and_field() {
        let e = Definition::parse(
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Bogus":1,"End":true}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.state.as_deref(), Some("A"));
        assert_eq!(e.field.as_deref(), Some("Bogus"));
        assert!(e.to_string().contains("state \"A\""), "{e}");
        let e = Definition::parse(
            r#"{"StartAt":"A","States":{"A":{"Type":"Choice","Result":1,"Choices":[]}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Result"));
        let e = Definition::parse(r#"{"StartAt":"A","Extra":1,"States":{}}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Extra"));
        let e = Definition::parse(
            r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","TimeoutSeconds":"5","End":true}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("TimeoutSeconds"));
        let e = Definition::parse(r#"{"StartAt":"A","QueryLanguage":"JSONPathX","States":{}}"#)
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("QueryLanguage"));
        assert!(e.message.contains("\"JSONPath\" or \"JSONata\""), "{e}");
    }

    #[test]
    fn retry_defaults() {
        let d = Definition::parse(
            r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","End":true,
              "Retry":[{"ErrorEquals":["X"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"A"}]}}}"#,
        )
        .unwrap();
        let errors = d.states["A"].error_handling().unwrap();
        let r = &errors.retry[0];
        assert_eq!(
            (r.interval_seconds, r.max_attempts, r.backoff_rate),
            (1, 3, 2.0)
        );
        assert_eq!(r.jitter, Jitter::None);
        assert_eq!(errors.catch[0].result_path, OptPath::Default);
    }

    #[test]
    fn substitutions() {
        let raw = r#"{"F":"${A}","G":"${B}-x"}"#;
        assert_eq!(
            substitution_names(raw).into_iter().collect::<Vec<_>>(),
            vec!["A".to_string(), "B".to_string()]
        );
        let mut m = HashMap::new();
        m.insert("A".to_string(), "one".to_string());
        assert_eq!(
            substitute(raw, &m).unwrap_err(),
            SubstitutionError::Unknown("B".into())
        );
        m.insert("B".to_string(), "two".to_string());
        assert_eq!(substitute(raw, &m).unwrap(), r#"{"F":"one","G":"two-x"}"#);
        assert!(matches!(
            substitute("${oops", &m),
            Err(SubstitutionError::Unterminated(0))
        ));
    }

    fn one_state(state: &str) -> Result<State, ParseError> {
        Definition::parse(&format!(r#"{{"StartAt":"A","States":{{"A":{state}}}}}"#))
            .map(|d| d.states["A"].clone())
    }

    #[test]
    fn task_parallel_and_map_read_their_shared_fields_from_one_acting_struct() {
        // GIVEN the same shared fields (ResultSelector, ResultPath, Retry, Catch, Next) on a
        // Task, a Parallel and a Map
        let shared = r#""ResultSelector":{"r.$":"$.r"},"ResultPath":"$.out","Retry":[{"ErrorEquals":["X"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"B"}],"Next":"B""#;
        let branch = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
        for state in [
            format!(r#"{{"Type":"Task","Resource":"r",{shared}}}"#),
            format!(r#"{{"Type":"Parallel","Branches":[{branch}],{shared}}}"#),
            format!(r#"{{"Type":"Map","ItemProcessor":{branch},{shared}}}"#),
        ] {
            // WHEN each is parsed
            let st = one_state(&state).unwrap();
            // THEN each has them in its `Acting` part, and the accessors read them there
            let acting = st.acting().unwrap_or_else(|| panic!("{state}: no Acting"));
            assert!(acting.result.result_selector.is_some(), "{state}");
            assert_eq!(acting.result.result_path, OptPath::Path("$.out".into()));
            assert_eq!(acting.errors.retry.len(), 1, "{state}");
            assert_eq!(acting.errors.catch.len(), 1, "{state}");
            assert_eq!(acting.transition.next.as_deref(), Some("B"), "{state}");
            assert!(std::ptr::eq(st.error_handling().unwrap(), &acting.errors));
            assert!(std::ptr::eq(st.transition().unwrap(), &acting.transition));
            assert!(std::ptr::eq(st.common(), &acting.common));
        }
        // AND the other types have no Acting part (a Pass has no Retry or ResultSelector)
        for state in [
            r#"{"Type":"Pass","ResultPath":"$.out","Next":"B"}"#,
            r#"{"Type":"Wait","Seconds":1,"Next":"B"}"#,
            r#"{"Type":"Succeed"}"#,
            r#"{"Type":"Fail"}"#,
            r#"{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"B"}]}"#,
        ] {
            assert!(one_state(state).unwrap().acting().is_none(), "{state}");
        }
    }

    #[test]
    fn each_type_parses_into_its_own_struct_with_its_fields() {
        let task = one_state(
            r#"{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","TimeoutSecondsPath":"$.t","HeartbeatSeconds":5,"Parameters":{"a.$":"$.a"},"ResultSelector":{"r.$":"$.r"},"ResultPath":"$.out","Retry":[{"ErrorEquals":["X"]}],"End":true}"#,
        )
        .unwrap();
        let State::Task(t) = &task else {
            panic!("{task:?}")
        };
        assert_eq!(t.timeout_seconds.path.as_deref(), Some("$.t"));
        assert_eq!(t.heartbeat_seconds.literal, Some(5));
        assert!(t.parameters.is_some() && t.acting.result.result_selector.is_some());
        assert_eq!(t.acting.result.result_path, OptPath::Path("$.out".into()));
        assert_eq!(t.acting.errors.retry.len(), 1);
        assert!(t.acting.transition.end);

        let map = one_state(
            r#"{"Type":"Map","ItemsPath":"$.items","Parameters":{"x.$":"$$.Map.Item.Value"},"MaxConcurrencyPath":"$.m","ToleratedFailureCount":2,"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"Next":"B"}"#,
        )
        .unwrap();
        let State::Map(m) = &map else {
            panic!("{map:?}")
        };
        assert_eq!(m.items_path.as_deref(), Some("$.items"));
        // Legacy `Parameters` of a Map is its ItemSelector.
        assert!(m.item_selector.is_some());
        assert_eq!(m.max_concurrency.path.as_deref(), Some("$.m"));
        assert_eq!(m.tolerated_failure_count.literal, Some(2));
        assert_eq!(m.item_processor.as_ref().unwrap().start_at, "P");
        assert_eq!(m.acting.transition.next.as_deref(), Some("B"));

        let wait = one_state(r#"{"Type":"Wait","SecondsPath":"$.s","End":true}"#).unwrap();
        let State::Wait(w) = &wait else {
            panic!("{wait:?}")
        };
        assert_eq!(
            (w.seconds.path.as_deref(), w.seconds.literal),
            (Some("$.s"), None)
        );

        let fail = one_state(r#"{"Type":"Fail","Error":"E","CausePath":"$.c"}"#).unwrap();
        let State::Fail(f) = &fail else {
            panic!("{fail:?}")
        };
        assert_eq!(f.error.literal.as_deref(), Some("E"));
        assert_eq!(f.cause.path.as_deref(), Some("$.c"));
        assert!(fail.transition().is_none() && fail.filters().is_none());

        let choice = one_state(
            r#"{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"X"}],"Default":"Y"}"#,
        )
        .unwrap();
        assert_eq!(choice.kind(), StateType::Choice);
        assert!(choice.transition().is_none() && choice.error_handling().is_none());
        assert_eq!(choice.successors(), vec!["Y", "X"]);

        let parallel = one_state(
            r#"{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Succeed"}}}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true}"#,
        )
        .unwrap();
        let State::Parallel(p) = &parallel else {
            panic!("{parallel:?}")
        };
        assert_eq!(p.branches.as_ref().map(Vec::len), Some(1));
        assert_eq!(parallel.successors(), vec!["C"]);

        let succeed = one_state(
            r#"{"Type":"Succeed","QueryLanguage":"JSONata","Output":"{% $states.input.a %}"}"#,
        )
        .unwrap();
        let State::Succeed(su) = &succeed else {
            panic!("{succeed:?}")
        };
        assert!(su.output.is_some());
        assert_eq!(su.common.query_language, QueryLanguage::Jsonata);
    }

    #[test]
    fn a_field_of_another_state_type_is_refused_naming_state_field_and_type() {
        for (state, field, kind) in [
            (
                r#"{"Type":"Task","Resource":"r","ItemsPath":"$.a","End":true}"#,
                "ItemsPath",
                "Task",
            ),
            (
                r#"{"Type":"Pass","Resource":"r","End":true}"#,
                "Resource",
                "Pass",
            ),
            (
                r#"{"Type":"Pass","ResultSelector":{},"End":true}"#,
                "ResultSelector",
                "Pass",
            ),
            (
                r#"{"Type":"Choice","Choices":[],"Next":"B"}"#,
                "Next",
                "Choice",
            ),
            (
                r#"{"Type":"Wait","Seconds":1,"Retry":[],"End":true}"#,
                "Retry",
                "Wait",
            ),
            (
                r#"{"Type":"Succeed","Assign":{"a":1}}"#,
                "Assign",
                "Succeed",
            ),
            (r#"{"Type":"Fail","InputPath":"$"}"#, "InputPath", "Fail"),
            (
                r#"{"Type":"Fail","QueryLanguage":"JSONata","Output":"{% 1 %}"}"#,
                "Output",
                "Fail",
            ),
            (
                r#"{"Type":"Pass","QueryLanguage":"JSONata","Arguments":{},"End":true}"#,
                "Arguments",
                "Pass",
            ),
            (
                r#"{"Type":"Parallel","ItemProcessor":{},"End":true}"#,
                "ItemProcessor",
                "Parallel",
            ),
            (
                r#"{"Type":"Map","Branches":[],"End":true}"#,
                "Branches",
                "Map",
            ),
        ] {
            let e = one_state(state).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "state \"A\", field \"{field}\": unknown field \"{field}\" for a {kind} state"
                ),
                "{state}"
            );
        }
    }

    #[test]
    fn the_first_bad_field_in_reading_order_is_the_one_named() {
        // Arguments is read before Output: with both broken, Arguments is named.
        let e = one_state(
            r#"{"Type":"Task","QueryLanguage":"JSONata","Resource":"arn:aws:lambda:us-east-1:1:function:f","Arguments":"{% ( %}","Output":"{% ( %}","End":true}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Arguments"), "{e}");
        // Next is read before InputPath, InputPath before ResultPath.
        let e = one_state(r#"{"Type":"Pass","Next":1,"InputPath":2,"ResultPath":3}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Next"), "{e}");
        let e =
            one_state(r#"{"Type":"Pass","InputPath":2,"ResultPath":3,"End":true}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("InputPath"), "{e}");
    }
}
