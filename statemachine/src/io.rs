//! Input and output processing: InputPath → Parameters → work → ResultSelector → ResultPath →
//! OutputPath, payload templates (`.$` keys), and the context object (`$$`).

use crate::errors::{self, StateError};
use crate::intrinsics;
use crate::path::{self, PathError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// A path field that distinguishes "absent" (default `$`) from an explicit `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OptPath {
    /// Field absent: behaves like `$`.
    #[default]
    Default,
    /// Field is `null`.
    Null,
    /// A path.
    Path(String),
}

impl OptPath {
    /// The explicit path, if any.
    pub fn as_path(&self) -> Option<&str> {
        match self {
            OptPath::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// A compiled payload template (Parameters, ResultSelector, ItemSelector).
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A constant value.
    Const(Value),
    /// An object whose members are templates.
    Object(Vec<(String, Template)>),
    /// An array whose elements are templates.
    Array(Vec<Template>),
    /// A `.$` field with a path (`$.x` or `$$.x`).
    Path {
        /// Field name (without `.$`).
        field: String,
        /// The path.
        path: String,
        /// The path's segments when it is a reference path into the input (parsed once here,
        /// not on every evaluation).
        reference: Option<Vec<path::Segment>>,
    },
    /// A `.$` field with an intrinsic call.
    Intrinsic {
        /// Field name (without `.$`).
        field: String,
        /// Parsed call.
        call: Box<intrinsics::Call>,
    },
    /// A `.$` field whose value could not be compiled; fails at runtime, reported by validation.
    Invalid {
        /// Field name including `.$`.
        field: String,
        /// Why.
        message: String,
    },
}

impl Template {
    /// Compiles a raw template value.
    pub fn compile(v: &Value) -> Template {
        match v {
            Value::Object(m) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, val) in m {
                    if let Some(field) = k.strip_suffix(".$") {
                        let t = match val {
                            Value::String(s) if s.starts_with('$') => match path::check_syntax(s) {
                                Ok(()) => Template::Path {
                                    field: field.to_string(),
                                    path: s.clone(),
                                    reference: if s.starts_with("$$") {
                                        None
                                    } else {
                                        path::parse_reference(s)
                                    },
                                },
                                Err(e) => Template::Invalid {
                                    field: k.clone(),
                                    message: e.to_string(),
                                },
                            },
                            Value::String(s) if s.trim_start().starts_with("States.") => {
                                match intrinsics::parse(s) {
                                    Ok(call) => Template::Intrinsic {
                                        field: field.to_string(),
                                        call: Box::new(call),
                                    },
                                    Err(message) => Template::Invalid {
                                        field: k.clone(),
                                        message: format!("invalid intrinsic function: {message}"),
                                    },
                                }
                            }
                            other => Template::Invalid {
                                field: k.clone(),
                                message: format!(
                                    "the value of a field ending in '.$' must be a JSONPath or an intrinsic function, got {other}"
                                ),
                            },
                        };
                        out.push((field.to_string(), t));
                    } else {
                        out.push((k.clone(), Template::compile(val)));
                    }
                }
                Template::Object(out)
            }
            Value::Array(a) => Template::Array(a.iter().map(Template::compile).collect()),
            other => Template::Const(other.clone()),
        }
    }

    /// Every compile problem as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_problems(&mut out);
        out
    }

    fn collect_problems(&self, out: &mut Vec<(String, String)>) {
        match self {
            Template::Invalid { field, message } => out.push((field.clone(), message.clone())),
            Template::Object(m) => m.iter().for_each(|(_, t)| t.collect_problems(out)),
            Template::Array(a) => a.iter().for_each(|t| t.collect_problems(out)),
            _ => {}
        }
    }

    /// Evaluates the template against `input`.
    pub fn eval(&self, input: &Value, ctx: &dyn Fn(&str) -> Value) -> Result<Value, StateError> {
        match self {
            Template::Const(v) => Ok(v.clone()),
            Template::Array(a) => a
                .iter()
                .map(|t| t.eval(input, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(m) => {
                let mut out = Map::with_capacity(m.len());
                for (k, t) in m {
                    out.insert(k.clone(), t.eval(input, ctx)?);
                }
                Ok(Value::Object(out))
            }
            Template::Path {
                field,
                path: p,
                reference: Some(segments),
            } => path::walk(input, segments).cloned().ok_or_else(|| {
                StateError::runtime(format!(
                    "The JSONPath '{p}' specified for the field '{field}.$' could not be found in the input: {}",
                    PathError::NoMatch { path: p.clone() }
                ))
            }),
            Template::Path { field, path: p, .. } => path::select(input, p, ctx).map_err(|e| {
                StateError::runtime(format!(
                    "The JSONPath '{p}' specified for the field '{field}.$' could not be found in the input: {e}"
                ))
            }),
            Template::Intrinsic { call, .. } => intrinsics::evaluate(call, input, ctx),
            Template::Invalid { field, message } => Err(StateError::runtime(format!(
                "invalid field '{field}': {message}"
            ))),
        }
    }
}

fn path_err(field: &str, e: PathError) -> StateError {
    StateError::runtime(format!("Invalid path for {field}: {e}"))
}

/// Applies InputPath (or OutputPath) to a value: default keeps it, `null` yields `{}`.
pub fn apply_filter_path(
    value: &Value,
    p: &OptPath,
    field: &str,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<Value, StateError> {
    filter_path(value, p, field, ctx).map(Cow::into_owned)
}

/// Like [`apply_filter_path`] but borrows the value when the path keeps it whole (`$` or
/// absent), so the common case copies nothing.
pub fn filter_path<'v>(
    value: &'v Value,
    p: &OptPath,
    field: &str,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<Cow<'v, Value>, StateError> {
    match p {
        OptPath::Default => Ok(Cow::Borrowed(value)),
        OptPath::Null => Ok(Cow::Owned(json!({}))),
        OptPath::Path(s) if s == "$" => Ok(Cow::Borrowed(value)),
        OptPath::Path(s) => path::select(value, s, ctx)
            .map(Cow::Owned)
            .map_err(|e| path_err(field, e)),
    }
}

/// Whether a path keeps its value whole (absent or `$`).
pub fn keeps_whole(p: &OptPath) -> bool {
    match p {
        OptPath::Default => true,
        OptPath::Path(s) => s == "$",
        OptPath::Null => false,
    }
}

/// Like [`apply_filter_path`] but consumes the value (avoids a clone for `$`).
pub fn apply_filter_path_owned(
    value: Value,
    p: &OptPath,
    field: &str,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<Value, StateError> {
    match p {
        OptPath::Default => Ok(value),
        OptPath::Path(s) if s == "$" => Ok(value),
        _ => apply_filter_path(&value, p, field, ctx),
    }
}

/// Applies ResultPath: combines the raw state input with the result.
pub fn apply_result_path(
    raw_input: Value,
    p: &OptPath,
    result: Value,
) -> Result<Value, StateError> {
    match p {
        OptPath::Default => Ok(result),
        OptPath::Null => Ok(raw_input),
        OptPath::Path(s) => path::set(raw_input, s, result)
            .map_err(|e| StateError::new(errors::RESULT_PATH_MATCH_FAILURE, e.to_string())),
    }
}

/// Static facts about an execution used to build the context object.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    /// Execution ARN.
    pub id: String,
    /// Execution name.
    pub name: String,
    /// Execution input.
    pub input: Value,
    /// Start time.
    pub start_time: DateTime<Utc>,
    /// Role ARN (a fixed local value).
    pub role_arn: String,
    /// State machine ARN.
    pub state_machine_id: String,
    /// State machine name.
    pub state_machine_name: String,
    /// How often the execution was redriven.
    pub redrive_count: u32,
}

/// Per-state facts for the context object.
#[derive(Debug, Clone, Copy)]
pub struct StateInfo<'a> {
    /// State name.
    pub name: &'a str,
    /// When the state was entered.
    pub entered_time: DateTime<Utc>,
    /// Retries so far.
    pub retry_count: u32,
    /// Task token, for callback tasks.
    pub task_token: Option<&'a str>,
    /// `$$.Map.Item` (index, value) while evaluating an ItemSelector.
    pub map_item: Option<(usize, &'a Value)>,
}

/// Formats a timestamp the way Step Functions does (`2024-01-01T00:00:00.000Z`).
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Builds the part of the context object `path` can reach: only the `Map`, `State`, `Task`,
/// `StateMachine` or `Execution` member it names (and `Execution.Input`, a potentially large
/// copy, only when the path can reach it). A Map's ItemSelector evaluates `$$.Map.Item.*` once
/// per item, so building the whole object each time was a measurable share of a Map step.
pub fn context_object_for(path: &str, exec: &ExecutionInfo, state: &StateInfo<'_>) -> Value {
    let member = path
        .strip_prefix("$$.")
        .map(|rest| rest.split(['.', '[']).next().unwrap_or(""));
    match member {
        Some(name @ ("Map" | "State" | "Task" | "StateMachine" | "Execution")) => {
            let with_input = !matches!(
                path,
                "$$.Execution.Id"
                    | "$$.Execution.Name"
                    | "$$.Execution.StartTime"
                    | "$$.Execution.RoleArn"
                    | "$$.Execution.RedriveCount"
            );
            let mut ctx = Map::new();
            insert_member(&mut ctx, name, exec, state, with_input);
            Value::Object(ctx)
        }
        _ => context_object(exec, state, true),
    }
}

/// Builds the context object; without `with_input`, `Execution.Input` is null (the input can
/// be large and most readers do not need it).
pub fn context_object(exec: &ExecutionInfo, state: &StateInfo<'_>, with_input: bool) -> Value {
    let mut ctx = Map::new();
    for name in ["Execution", "State", "StateMachine", "Task", "Map"] {
        insert_member(&mut ctx, name, exec, state, with_input);
    }
    Value::Object(ctx)
}

/// Inserts the context member `name` (`Task` and `Map` only when the state has them).
fn insert_member(
    ctx: &mut Map<String, Value>,
    name: &str,
    exec: &ExecutionInfo,
    state: &StateInfo<'_>,
    with_input: bool,
) {
    let value = match name {
        "Execution" => execution_member(exec, with_input),
        "State" => state_member(state),
        "StateMachine" => state_machine_member(exec),
        "Task" => match state.task_token {
            Some(t) => json!({ "Token": t }),
            None => return,
        },
        "Map" => match state.map_item {
            Some((i, v)) => json!({ "Item": { "Index": i, "Value": v } }),
            None => return,
        },
        _ => return,
    };
    ctx.insert(name.to_owned(), value);
}

fn execution_member(exec: &ExecutionInfo, with_input: bool) -> Value {
    json!({
        "Id": exec.id,
        "Name": exec.name,
        "Input": if with_input { exec.input.clone() } else { Value::Null },
        "StartTime": fmt_time(exec.start_time),
        "RoleArn": exec.role_arn,
        "RedriveCount": exec.redrive_count,
    })
}

fn state_member(state: &StateInfo<'_>) -> Value {
    json!({
        "Name": state.name,
        "EnteredTime": fmt_time(state.entered_time),
        "RetryCount": state.retry_count,
    })
}

fn state_machine_member(exec: &ExecutionInfo) -> Value {
    json!({
        "Id": exec.state_machine_id,
        "Name": exec.state_machine_name,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ctx(_: &str) -> Value {
        json!({"Execution": {"Id": "arn:exec"}, "Task": {"Token": "tok"}})
    }

    /// The developer guide's worked example for InputPath, Parameters, ResultSelector,
    /// ResultPath and OutputPath.
    #[test]
    fn io_ordering_docs_example() {
        let raw = json!({
            "comment": "Example for InputPath",
            "dataset1": {"val1": 1, "val2": 2, "val3": 3},
            "dataset2": {"val1": "a", "val2": "b", "val3": "c"}
        });
        let effective =
            apply_filter_path(&raw, &OptPath::Path("$.dataset2".into()), "InputPath", &ctx)
                .unwrap();
        assert_eq!(effective, json!({"val1": "a", "val2": "b", "val3": "c"}));
        let params = Template::compile(
            &json!({"comment": "x", "MyDetails": {"size.$": "$.val1"}, "exec.$": "$$.Execution.Id"}),
        );
        let p = params.eval(&effective, &ctx).unwrap();
        assert_eq!(
            p,
            json!({"comment": "x", "MyDetails": {"size": "a"}, "exec": "arn:exec"})
        );
        let task_result = json!({"resourceType": "elasticmapreduce", "ClusterId": "AKIAI", "SdkHttpMetadata": {"x": 1}});
        let selector = Template::compile(
            &json!({"ClusterId.$": "$.ClusterId", "ResourceType.$": "$.resourceType"}),
        );
        let selected = selector.eval(&task_result, &ctx).unwrap();
        assert_eq!(
            selected,
            json!({"ClusterId": "AKIAI", "ResourceType": "elasticmapreduce"})
        );
        let combined = apply_result_path(
            raw.clone(),
            &OptPath::Path("$.taskresult".into()),
            selected.clone(),
        )
        .unwrap();
        assert_eq!(combined["taskresult"], selected);
        assert_eq!(combined["dataset1"], raw["dataset1"]);
        let out = apply_filter_path(
            &combined,
            &OptPath::Path("$.taskresult".into()),
            "OutputPath",
            &ctx,
        )
        .unwrap();
        assert_eq!(out, selected);
    }

    #[test]
    fn partial_context_answers_every_path_like_the_full_one() {
        let exec = ExecutionInfo {
            id: "arn:aws:states:us-east-1:1:execution:sm:e1".into(),
            name: "e1".into(),
            input: json!({"big": [1, 2, 3]}),
            start_time: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
                .unwrap()
                .with_timezone(&Utc),
            role_arn: "arn:aws:iam::1:role/r".into(),
            state_machine_id: "arn:aws:states:us-east-1:1:stateMachine:sm".into(),
            state_machine_name: "sm".into(),
            redrive_count: 0,
        };
        let item = json!({"id": 7, "tags": ["a"]});
        let state = StateInfo {
            name: "Fan",
            entered_time: exec.start_time,
            retry_count: 2,
            task_token: Some("tok"),
            map_item: Some((3, &item)),
        };
        let full = context_object(&exec, &state, true);
        for p in [
            "$$",
            "$$.Map.Item.Value",
            "$$.Map.Item.Value.tags[0]",
            "$$.Map.Item.Index",
            "$$.State.EnteredTime",
            "$$.State.RetryCount",
            "$$.Task.Token",
            "$$.StateMachine.Name",
            "$$.Execution.Id",
            "$$.Execution.StartTime",
            "$$.Execution.Input.big[2]",
            "$$.Execution",
        ] {
            let rest = &p[1..];
            let partial = context_object_for(p, &exec, &state);
            assert_eq!(
                path::select_in(&partial, rest).unwrap(),
                path::select_in(&full, rest).unwrap(),
                "{p}"
            );
        }
        let no_map = StateInfo {
            map_item: None,
            task_token: None,
            ..state
        };
        for p in ["$$.Map.Item.Value", "$$.Task.Token", "$$.Nope"] {
            assert!(path::select_in(&context_object_for(p, &exec, &no_map), &p[1..]).is_err());
        }
    }

    #[test]
    fn null_paths() {
        let v = json!({"a": 1});
        assert_eq!(
            apply_filter_path(&v, &OptPath::Null, "InputPath", &ctx).unwrap(),
            json!({})
        );
        assert_eq!(
            apply_result_path(v.clone(), &OptPath::Null, json!(5)).unwrap(),
            v
        );
        assert_eq!(
            apply_result_path(v.clone(), &OptPath::Default, json!(5)).unwrap(),
            json!(5)
        );
    }

    #[test]
    fn missing_paths_are_runtime_errors() {
        let v = json!({"a": 1});
        let e = apply_filter_path(&v, &OptPath::Path("$.b".into()), "InputPath", &ctx).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        let t = Template::compile(&json!({"x.$": "$.nope"}));
        assert_eq!(t.eval(&v, &ctx).unwrap_err().error, "States.Runtime");
        let e = apply_result_path(json!("s"), &OptPath::Path("$.x".into()), json!(1)).unwrap_err();
        assert_eq!(e.error, "States.ResultPathMatchFailure");
    }

    #[test]
    fn templates_with_intrinsics_and_arrays() {
        let t = Template::compile(&json!({
            "greeting.$": "States.Format('hi {}', $.name)",
            "list": [{"v.$": "$.name"}, 3],
            "token.$": "$$.Task.Token"
        }));
        assert!(t.problems().is_empty());
        assert_eq!(
            t.eval(&json!({"name": "bo"}), &ctx).unwrap(),
            json!({"greeting": "hi bo", "list": [{"v": "bo"}, 3], "token": "tok"})
        );
        let bad =
            Template::compile(&json!({"a.$": "nope", "b": {"c.$": "States.Bogus()"}, "d.$": 5}));
        let problems = bad.problems();
        assert_eq!(problems.len(), 3);
        assert!(problems.iter().any(|(f, _)| f == "c.$"));
    }
}
