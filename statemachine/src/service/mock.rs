//! Task results from a Step Functions Local mock configuration file, in the JSON format the
//! Step Functions developer guide documents for Step Functions Local ("Using mocked service
//! integrations"):
//!
//! ```json
//! {"StateMachines": {"<machine name>": {"TestCases": {"<case>": {"<state>": "<response name>"}}}},
//!  "MockedResponses": {"<response name>": {"0": {"Return": {...}},
//!                                          "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}
//! ```
//!
//! An execution uses a test case when `StartExecution` names the machine as
//! `<state machine ARN>#<case>`. Within it, a Task state listed in the case is answered by its
//! mocked response instead of its handler: the n-th invocation of that state in the execution
//! (counting from 0, retries included) gets the response whose key is `n` or a range `a-b`
//! holding `n`; `Return` is the task's result as is, `Throw` fails it with `Error` and `Cause`.
//! States the case does not list run their handlers.

use crate::task::{TaskContext, TaskFailure, TaskOverride};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A mock configuration that did not load: the file, its JSON or a field, named.
#[derive(Debug, thiserror::Error)]
#[error("mock configuration {path}: {message}")]
pub struct MockConfigError {
    /// The file (or `<text>`).
    pub path: String,
    /// What is wrong, naming the field (`MockedResponses.X."1-2"`, ...).
    pub message: String,
}

/// One answer of a mocked response.
#[derive(Debug, Clone, PartialEq)]
pub enum MockAnswer {
    /// `Return`: the task's result.
    Return(Value),
    /// `Throw`: the task fails with this error and cause.
    Throw {
        /// `Error`
        error: String,
        /// `Cause` (empty when absent)
        cause: String,
    },
}

/// A loaded, checked mock configuration.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// machine name → test case → state name → mocked response name
    cases: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// response name → (first invocation, last invocation, answer), in order
    responses: BTreeMap<String, Vec<(u32, u32, MockAnswer)>>,
}

impl MockConfig {
    /// Reads and checks a mock configuration file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, MockConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| MockConfigError {
            path: path.display().to_string(),
            message: format!("cannot be read: {e}"),
        })?;
        Self::parse(&text).map_err(|mut e| {
            e.path = path.display().to_string();
            e
        })
    }

    /// Checks a mock configuration given as JSON text.
    pub fn parse(text: &str) -> Result<Self, MockConfigError> {
        let err = |message: String| MockConfigError {
            path: "<text>".into(),
            message,
        };
        let root: Value =
            serde_json::from_str(text).map_err(|e| err(format!("is not valid JSON: {e}")))?;
        let root = object(&root, "the top level").map_err(err)?;
        let mut config = MockConfig::default();
        if let Some(responses) = root.get("MockedResponses") {
            for (name, answers) in object(responses, "MockedResponses").map_err(err)? {
                let field = format!("MockedResponses.{name}");
                let parsed = parse_response(&field, answers).map_err(err)?;
                config.responses.insert(name.clone(), parsed);
            }
        }
        if let Some(machines) = root.get("StateMachines") {
            for (machine, body) in object(machines, "StateMachines").map_err(err)? {
                let field = format!("StateMachines.{machine}");
                let body = object(body, &field).map_err(err)?;
                let Some(cases) = body.get("TestCases") else {
                    return Err(err(format!("{field}.TestCases is missing")));
                };
                let mut by_case = BTreeMap::new();
                for (case, states) in object(cases, &format!("{field}.TestCases")).map_err(err)? {
                    let case_field = format!("{field}.TestCases.{case}");
                    let mut by_state = BTreeMap::new();
                    for (state, response) in object(states, &case_field).map_err(err)? {
                        let Some(response) = response.as_str() else {
                            return Err(err(format!(
                                "{case_field}.{state} must be the name of a mocked response (a string)"
                            )));
                        };
                        if !config.responses.contains_key(response) {
                            return Err(err(format!(
                                "{case_field}.{state} names the mocked response \"{response}\", which MockedResponses does not define"
                            )));
                        }
                        by_state.insert(state.clone(), response.to_string());
                    }
                    by_case.insert(case.clone(), by_state);
                }
                config.cases.insert(machine.clone(), by_case);
            }
        }
        Ok(config)
    }

    /// Whether the configuration has test case `case` for the machine named `machine`.
    pub fn has_test_case(&self, machine: &str, case: &str) -> bool {
        self.cases
            .get(machine)
            .is_some_and(|c| c.contains_key(case))
    }

    /// The answer for the `invocation`-th call (from 0) of `state` under a test case: `None`
    /// when the case does not list the state; `Some(None)` when the response has no answer
    /// for that invocation.
    pub fn answer(
        &self,
        machine: &str,
        case: &str,
        state: &str,
        invocation: u32,
    ) -> Option<(&str, Option<&MockAnswer>)> {
        let response = self.cases.get(machine)?.get(case)?.get(state)?;
        let answer = self.responses.get(response).and_then(|answers| {
            answers
                .iter()
                .find(|(a, b, _)| (*a..=*b).contains(&invocation))
                .map(|(_, _, answer)| answer)
        });
        Some((response.as_str(), answer))
    }
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{field} must be a JSON object"))
}

/// `{"0": {...}, "1-2": {...}}`: the keys are invocation numbers or ranges that do not overlap.
fn parse_response(field: &str, v: &Value) -> Result<Vec<(u32, u32, MockAnswer)>, String> {
    let mut out: Vec<(u32, u32, MockAnswer)> = Vec::new();
    let answers = object(v, field)?;
    if answers.is_empty() {
        return Err(format!("{field} has no responses"));
    }
    for (key, body) in answers {
        let key_field = format!("{field}.\"{key}\"");
        let number = |s: &str| {
            s.trim().parse::<u32>().map_err(|_| {
                format!("{key_field}: the key must be an invocation number (\"0\") or a range (\"1-2\")")
            })
        };
        let (first, last) = match key.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(key)?;
                (n, n)
            }
        };
        if first > last {
            return Err(format!("{key_field}: the range ends before it starts"));
        }
        if let Some((a, b, _)) = out.iter().find(|(a, b, _)| first <= *b && *a <= last) {
            return Err(format!(
                "{key_field} overlaps the invocations {a}-{b} of another key"
            ));
        }
        let body = object(body, &key_field)?;
        let answer = match (body.get("Return"), body.get("Throw")) {
            (Some(r), None) => MockAnswer::Return(r.clone()),
            (None, Some(t)) => {
                let t = object(t, &format!("{key_field}.Throw"))?;
                let text = |name: &str| match t.get(name) {
                    None => Ok(String::new()),
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err(format!("{key_field}.Throw.{name} must be a string")),
                };
                let error = text("Error")?;
                if error.is_empty() {
                    return Err(format!("{key_field}.Throw.Error is required"));
                }
                MockAnswer::Throw {
                    error,
                    cause: text("Cause")?,
                }
            }
            _ => {
                return Err(format!(
                    "{key_field} must have exactly one of Return and Throw"
                ))
            }
        };
        out.push((first, last, answer));
    }
    out.sort_by_key(|(a, _, _)| *a);
    Ok(out)
}

/// A [`MockConfig`] in use by an engine: which executions run which test case, and how often
/// each of their mocked states has been invoked (kept in memory: lost when the process ends).
pub struct MockRuntime {
    config: MockConfig,
    /// execution ARN → (machine name, test case)
    selected: Mutex<HashMap<String, (String, String)>>,
    /// (execution ARN, state name) → invocations so far
    counts: Mutex<HashMap<(String, String), u32>>,
}

impl MockRuntime {
    /// Wraps a configuration.
    pub fn new(config: MockConfig) -> Self {
        Self {
            config,
            selected: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// Makes the execution `execution_arn` of the machine named `machine` use test case `case`.
    pub fn select(&self, execution_arn: &str, machine: &str, case: &str) {
        if let Ok(mut g) = self.selected.lock() {
            g.insert(
                execution_arn.to_string(),
                (machine.to_string(), case.to_string()),
            );
        }
    }
}

impl TaskOverride for MockRuntime {
    fn answer(&self, ctx: &TaskContext, _resource: &str) -> Option<Result<Value, TaskFailure>> {
        let (machine, case) = self.selected.lock().ok()?.get(&ctx.execution_arn)?.clone();
        // only states the test case lists are counted and answered
        self.config.answer(&machine, &case, &ctx.state_name, 0)?;
        let invocation = {
            let mut counts = self.counts.lock().ok()?;
            let n = counts
                .entry((ctx.execution_arn.clone(), ctx.state_name.clone()))
                .or_insert(0);
            let this = *n;
            *n += 1;
            this
        };
        let (response, answer) =
            self.config
                .answer(&machine, &case, &ctx.state_name, invocation)?;
        Some(match answer {
            Some(MockAnswer::Return(v)) => Ok(v.clone()),
            Some(MockAnswer::Throw { error, cause }) => {
                Err(TaskFailure::new(error.clone(), cause.clone()))
            }
            None => Err(TaskFailure::new(
                "States.Runtime",
                format!(
                    "the mocked response \"{response}\" (test case \"{case}\", state \"{}\") has no answer for invocation {invocation}",
                    ctx.state_name
                ),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(text: &str) -> String {
        MockConfig::parse(text).unwrap_err().message
    }

    #[test]
    fn bad_configurations_are_refused_naming_the_field() {
        assert!(err("[]").contains("top level"));
        assert!(err("{nope").contains("not valid JSON"));
        let m = err(r#"{"MockedResponses":{"R":{"x":{"Return":1}}}}"#);
        assert!(
            m.contains("MockedResponses.R.\"x\"") && m.contains("invocation number"),
            "{m}"
        );
        let m = err(r#"{"MockedResponses":{"R":{"2-1":{"Return":1}}}}"#);
        assert!(m.contains("ends before it starts"), "{m}");
        let m = err(r#"{"MockedResponses":{"R":{"0-2":{"Return":1},"1":{"Return":2}}}}"#);
        assert!(m.contains("overlaps"), "{m}");
        let m = err(r#"{"MockedResponses":{"R":{"0":{"Return":1,"Throw":{"Error":"E"}}}}}"#);
        assert!(m.contains("exactly one of Return and Throw"), "{m}");
        let m = err(r#"{"MockedResponses":{"R":{"0":{"Throw":{"Cause":"c"}}}}}"#);
        assert!(m.contains("Throw.Error is required"), "{m}");
        let m = err(r#"{"StateMachines":{"M":{"TestCases":{"C":{"S":"Missing"}}}}}"#);
        assert!(
            m.contains("StateMachines.M.TestCases.C.S") && m.contains("\"Missing\""),
            "{m}"
        );
        let m = err(r#"{"StateMachines":{"M":{}}}"#);
        assert!(m.contains("StateMachines.M.TestCases is missing"), "{m}");
    }

    #[test]
    fn answers_follow_the_invocation_number() {
        let c = MockConfig::parse(
            r#"{"StateMachines":{"M":{"TestCases":{"C":{"S":"R"}}}},
                "MockedResponses":{"R":{"0":{"Throw":{"Error":"E0","Cause":"c0"}},
                                        "1-2":{"Return":{"n":12}},"3":{"Return":3}}}}"#,
        )
        .unwrap();
        let at = |n| c.answer("M", "C", "S", n).unwrap().1.cloned();
        assert_eq!(
            at(0),
            Some(MockAnswer::Throw {
                error: "E0".into(),
                cause: "c0".into()
            })
        );
        assert_eq!(at(1), Some(MockAnswer::Return(serde_json::json!({"n":12}))));
        assert_eq!(at(2), at(1));
        assert_eq!(at(3), Some(MockAnswer::Return(serde_json::json!(3))));
        assert_eq!(at(4), None);
        assert!(c.answer("M", "C", "Other", 0).is_none());
        assert!(c.has_test_case("M", "C") && !c.has_test_case("M", "D"));
    }
}
