//! Structural validation of a parsed definition: targets, reachability, terminal states,
//! paths, retriers/catchers, Task resources and per-type field rules. Every problem names the
//! state and field.

use crate::choice;
use crate::definition::{
    Catcher, Definition, FailState, MapState, QueryLanguage, Retrier, State, TaskState, WaitState,
};
use crate::errors;
use crate::intrinsics;
use crate::io::{OptPath, Template};
use crate::jsonata::JsonataValue;
use crate::path;
use crate::task;
use std::collections::{BTreeSet, VecDeque};

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    /// State name (None for top-level fields).
    pub state: Option<String>,
    /// Field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            Some(s) => write!(
                f,
                "state \"{s}\", field \"{}\": {}",
                self.field, self.message
            ),
            None => write!(f, "field \"{}\": {}", self.field, self.message),
        }
    }
}

/// Validates a definition; an empty list means it is valid.
pub fn validate(def: &Definition) -> Vec<ValidationError> {
    let mut v = Validator { out: Vec::new() };
    v.scope(def, None, "StartAt");
    v.out
}

struct Validator {
    out: Vec<ValidationError>,
}

impl Validator {
    fn err(&mut self, state: Option<&str>, field: &str, message: impl Into<String>) {
        self.out.push(ValidationError {
            state: state.map(str::to_string),
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn scope(&mut self, def: &Definition, owner: Option<&str>, start_field: &str) {
        if !def.states.contains_key(&def.start_at) {
            self.err(
                owner,
                start_field,
                format!("no state named \"{}\"", def.start_at),
            );
        }
        if def.states.is_empty() {
            self.err(
                owner,
                "States",
                "a state machine must have at least one state",
            );
        }
        for (name, st) in &def.states {
            self.state(def, name, st);
        }
        // Reachability from StartAt.
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::new();
        if def.states.contains_key(&def.start_at) {
            queue.push_back(def.start_at.as_str());
        }
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n) {
                continue;
            }
            if let Some(st) = def.states.get(n) {
                for s in st.successors() {
                    if def.states.contains_key(s) && !seen.contains(s) {
                        queue.push_back(s);
                    }
                }
            }
        }
        for name in def.states.keys() {
            if !seen.contains(name.as_str()) && def.states.contains_key(&def.start_at) {
                self.err(
                    Some(name),
                    "States",
                    format!("state \"{name}\" is not reachable from StartAt"),
                );
            }
        }
    }

    fn target(&mut self, def: &Definition, state: &str, field: &str, target: &str) {
        if !def.states.contains_key(target) {
            self.err(Some(state), field, format!("no state named \"{target}\""));
        }
    }

    fn path_field(&mut self, state: &str, field: &str, p: &str) {
        if let Err(e) = path::check_syntax(p) {
            self.err(Some(state), field, e.to_string());
        }
    }

    fn opt_path(&mut self, state: &str, field: &str, p: &OptPath) {
        if let OptPath::Path(s) = p {
            self.path_field(state, field, s);
        }
    }

    fn result_path(&mut self, state: &str, field: &str, p: &OptPath) {
        if let OptPath::Path(s) = p {
            if !path::is_reference(s) {
                self.err(
                    Some(state),
                    field,
                    format!("'{s}' must be a reference path (e.g. $.a.b or $['a'][0]) without wildcards, filters or $$"),
                );
            }
        }
    }

    fn template(&mut self, state: &str, field: &str, t: &Option<Template>) {
        if let Some(t) = t {
            for (f, m) in t.problems() {
                self.err(Some(state), field, format!("field \"{f}\": {m}"));
            }
        }
    }

    fn error_lists(&mut self, state: &str, field: &str, lists: Vec<&Vec<String>>) {
        let n = lists.len();
        for (i, list) in lists.into_iter().enumerate() {
            if list.is_empty() {
                self.err(
                    Some(state),
                    field,
                    format!("entry {i}: ErrorEquals must not be empty"),
                );
            }
            if list.iter().any(|e| e == errors::ALL) {
                if list.len() > 1 {
                    self.err(
                        Some(state),
                        field,
                        format!("entry {i}: \"States.ALL\" must appear alone in ErrorEquals"),
                    );
                }
                if i + 1 != n {
                    self.err(
                        Some(state),
                        field,
                        format!("entry {i}: the entry with \"States.ALL\" must be last"),
                    );
                }
            }
            for e in list {
                if e.starts_with("States.") && !errors::PREDEFINED.contains(&e.as_str()) {
                    self.err(
                        Some(state),
                        field,
                        format!("entry {i}: \"{e}\" is not a predefined error name"),
                    );
                }
            }
        }
    }

    fn retriers(&mut self, name: &str, rs: &[Retrier]) {
        self.error_lists(name, "Retry", rs.iter().map(|r| &r.error_equals).collect());
        for (i, r) in rs.iter().enumerate() {
            if r.interval_seconds == 0 {
                self.err(
                    Some(name),
                    "Retry",
                    format!("entry {i}: IntervalSeconds must be a positive integer"),
                );
            }
            if r.backoff_rate < 1.0 {
                self.err(
                    Some(name),
                    "Retry",
                    format!("entry {i}: BackoffRate must be at least 1.0"),
                );
            }
            if r.max_delay_seconds == Some(0) {
                self.err(
                    Some(name),
                    "Retry",
                    format!("entry {i}: MaxDelaySeconds must be positive"),
                );
            }
        }
    }

    fn catchers(&mut self, def: &Definition, name: &str, cs: &[Catcher]) {
        self.error_lists(name, "Catch", cs.iter().map(|c| &c.error_equals).collect());
        for c in cs {
            self.target(def, name, "Catch.Next", &c.next);
            self.result_path(name, "Catch.ResultPath", &c.result_path);
        }
    }

    fn state(&mut self, def: &Definition, name: &str, st: &State) {
        let n = Some(name);
        if let Some(t) = st.transition() {
            match (&t.next, t.end) {
                (Some(_), true) => self.err(
                    n,
                    "End",
                    "a state cannot have both \"Next\" and \"End\": true",
                ),
                (None, false) => self.err(
                    n,
                    "Next",
                    "a non-terminal state must have \"Next\" or \"End\": true",
                ),
                _ => {}
            }
            if let Some(target) = &t.next {
                self.target(def, name, "Next", target);
            }
        }
        if let Some(filters) = st.filters() {
            self.opt_path(name, "InputPath", &filters.input_path);
            self.opt_path(name, "OutputPath", &filters.output_path);
        }
        let result_path = match st {
            State::Pass(s) => Some(&s.result_path),
            _ => st.acting().map(|a| &a.result.result_path),
        };
        let parameters = match st {
            State::Task(s) => &s.parameters,
            State::Parallel(s) => &s.parameters,
            State::Pass(s) => &s.parameters,
            _ => &None,
        };
        let result_selector = st.acting().map_or(&None, |a| &a.result.result_selector);
        if let Some(p) = result_path {
            self.result_path(name, "ResultPath", p);
        }
        self.template(name, "Parameters", parameters);
        self.template(name, "ResultSelector", result_selector);
        if let Some(errors) = st.error_handling() {
            self.retriers(name, &errors.retry);
            self.catchers(def, name, &errors.catch);
        }
        match st {
            State::Task(t) => self.task(name, t),
            State::Choice(c) => {
                match &c.choices {
                    None => self.err(n, "Choices", "a Choice state requires \"Choices\""),
                    Some(rules) if rules.is_empty() => {
                        self.err(n, "Choices", "\"Choices\" must not be empty")
                    }
                    Some(rules) => {
                        for (i, r) in rules.iter().enumerate() {
                            match &r.next {
                                Some(t) => self.target(def, name, "Choices.Next", t),
                                None => self.err(n, "Choices", format!("rule {i} has no \"Next\"")),
                            }
                            let mut ps = Vec::new();
                            choice::paths(&r.condition, &mut ps);
                            for p in ps {
                                self.path_field(name, "Choices.Variable", &p);
                            }
                        }
                    }
                }
                if let Some(d) = &c.default {
                    self.target(def, name, "Default", d);
                }
            }
            State::Wait(w) => self.wait(name, w),
            State::Fail(f) => self.fail(name, f),
            State::Parallel(p) => match &p.branches {
                None => self.err(n, "Branches", "a Parallel state requires \"Branches\""),
                Some(b) if b.is_empty() => {
                    self.err(n, "Branches", "\"Branches\" must not be empty")
                }
                Some(bs) => {
                    for b in bs {
                        self.scope(b, Some(name), "Branches.StartAt");
                    }
                }
            },
            State::Map(m) => self.map(name, m),
            State::Pass(_) | State::Succeed(_) => {}
        }
    }

    fn wait(&mut self, name: &str, st: &WaitState) {
        let n = Some(name);
        let count = [
            st.seconds.literal.is_some(),
            st.timestamp.literal.is_some(),
            st.seconds.path.is_some(),
            st.timestamp.path.is_some(),
            st.seconds.expr.is_some(),
            st.timestamp.expr.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count != 1 {
            self.err(
                n,
                "Seconds",
                "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
            );
        }
        if let Some(t) = &st.timestamp.literal {
            let has_t = t
                .get(10..11)
                .is_some_and(|sep| sep.eq_ignore_ascii_case("t"));
            if !has_t || chrono::DateTime::parse_from_rfc3339(t).is_err() {
                self.err(
                    n,
                    "Timestamp",
                    format!("'{t}' is not an RFC 3339 timestamp"),
                );
            }
        }
        if let Some(p) = &st.seconds.path {
            self.path_field(name, "SecondsPath", p);
        }
        if let Some(p) = &st.timestamp.path {
            self.path_field(name, "TimestampPath", p);
        }
    }

    fn fail(&mut self, name: &str, st: &FailState) {
        let n = Some(name);
        if st.error.literal.is_some() && st.error.path.is_some() {
            self.err(
                n,
                "ErrorPath",
                "use either \"Error\" or \"ErrorPath\", not both",
            );
        }
        if st.cause.literal.is_some() && st.cause.path.is_some() {
            self.err(
                n,
                "CausePath",
                "use either \"Cause\" or \"CausePath\", not both",
            );
        }
        for (field, p) in [("ErrorPath", &st.error.path), ("CausePath", &st.cause.path)] {
            if let Some(p) = p {
                if intrinsics::looks_like_call(p) {
                    if let Err(m) = intrinsics::parse(p) {
                        self.err(n, field, format!("invalid intrinsic function: {m}"));
                    }
                } else {
                    self.path_field(name, field, p);
                }
            }
        }
    }

    fn map(&mut self, name: &str, st: &MapState) {
        let n = Some(name);
        match &st.item_processor {
            None => self.err(
                n,
                "ItemProcessor",
                "a Map state requires \"ItemProcessor\" (or the legacy \"Iterator\")",
            ),
            Some(p) => self.scope(p, Some(name), "ItemProcessor.StartAt"),
        }
        if let Some(p) = &st.items_path {
            self.path_field(name, "ItemsPath", p);
        }
        if let Some(p) = &st.max_concurrency.path {
            self.path_field(name, "MaxConcurrencyPath", p);
        }
        if st.max_concurrency.literal.is_some() && st.max_concurrency.path.is_some() {
            self.err(
                n,
                "MaxConcurrencyPath",
                "use either \"MaxConcurrency\" or \"MaxConcurrencyPath\", not both",
            );
        }
        for (field, path, literal, literal_field) in [
            (
                "ToleratedFailurePercentagePath",
                &st.tolerated_failure_percentage.path,
                st.tolerated_failure_percentage.literal.is_some(),
                "ToleratedFailurePercentage",
            ),
            (
                "ToleratedFailureCountPath",
                &st.tolerated_failure_count.path,
                st.tolerated_failure_count.literal.is_some(),
                "ToleratedFailureCount",
            ),
        ] {
            let Some(p) = path else { continue };
            self.path_field(name, field, p);
            if literal {
                self.err(
                    n,
                    field,
                    format!("use either \"{literal_field}\" or \"{field}\", not both"),
                );
            }
        }
        self.template(name, "ItemSelector", &st.item_selector);
    }

    fn task(&mut self, name: &str, st: &TaskState) {
        let n = Some(name);
        let Some(resource) = &st.resource else {
            self.err(n, "Resource", "a Task state requires \"Resource\"");
            return;
        };
        let (timeout, heartbeat) = (&st.timeout_seconds, &st.heartbeat_seconds);
        if timeout.literal.is_some() && timeout.path.is_some() {
            self.err(
                n,
                "TimeoutSecondsPath",
                "use either \"TimeoutSeconds\" or \"TimeoutSecondsPath\", not both",
            );
        }
        if heartbeat.literal.is_some() && heartbeat.path.is_some() {
            self.err(
                n,
                "HeartbeatSecondsPath",
                "use either \"HeartbeatSeconds\" or \"HeartbeatSecondsPath\", not both",
            );
        }
        if timeout.literal == Some(0) {
            self.err(n, "TimeoutSeconds", "must be a positive integer");
        }
        if let (Some(h), Some(t)) = (heartbeat.literal, timeout.literal) {
            if h >= t {
                self.err(n, "HeartbeatSeconds", "must be smaller than TimeoutSeconds");
            }
        }
        for (f, p) in [
            ("TimeoutSecondsPath", &timeout.path),
            ("HeartbeatSecondsPath", &heartbeat.path),
        ] {
            if let Some(p) = p {
                self.path_field(name, f, p);
            }
        }
        match task::integration_parts(resource) {
            Some((base, suffix)) => {
                match suffix {
                    "" => {}
                    "waitForTaskToken" => {
                        if !task::WAIT_FOR_TOKEN_SUPPORTED.contains(&base) {
                            self.err(n, "Resource", format!("\"{base}\" does not support the .waitForTaskToken integration pattern"));
                        }
                    }
                    "sync" | "sync:2" => {
                        if !task::SYNC_SUPPORTED.contains(&base) {
                            self.err(
                                n,
                                "Resource",
                                format!(
                                    "\"{base}\" does not support the .sync integration pattern"
                                ),
                            );
                        }
                    }
                    other => self.err(
                        n,
                        "Resource",
                        format!("unknown integration pattern \".{other}\""),
                    ),
                }
                let field = payload_field(st);
                let has_param = |key: &str| has_payload_key(st, key);
                if base == "lambda:invoke" && !has_param("FunctionName") {
                    self.err(
                        n,
                        field,
                        format!("lambda:invoke requires {field}.FunctionName"),
                    );
                }
                if base == "states:startExecution" && !has_param("StateMachineArn") {
                    self.err(
                        n,
                        field,
                        format!("states:startExecution requires {field}.StateMachineArn"),
                    );
                }
            }
            None => {
                if resource.contains(".waitForTaskToken") || resource.ends_with(".sync") {
                    self.err(
                        n,
                        "Resource",
                        format!("\"{resource}\": integration patterns (.waitForTaskToken, .sync) require an arn:aws:states::: service integration, not a function ARN"),
                    );
                } else if !resource.starts_with("arn:") {
                    self.err(n, "Resource", format!("\"{resource}\" is not an ARN"));
                }
            }
        }
    }
}

/// Where a Task's request payload is written: `Parameters` (JSONPath) or `Arguments` (JSONata).
fn payload_field(st: &TaskState) -> &'static str {
    match st.acting.common.query_language {
        QueryLanguage::JsonPath => "Parameters",
        QueryLanguage::Jsonata => "Arguments",
    }
}

/// Whether the payload has `key` (a whole-expression JSONata `Arguments` may produce it at run
/// time, so it counts).
fn has_payload_key(st: &TaskState, key: &str) -> bool {
    match st.acting.common.query_language {
        QueryLanguage::JsonPath => match &st.parameters {
            Some(Template::Object(m)) => m.iter().any(|(k, _)| k == key),
            _ => false,
        },
        QueryLanguage::Jsonata => match &st.acting.arguments {
            Some(JsonataValue::Object(m)) => m.iter().any(|(k, _)| k == key),
            Some(JsonataValue::Literal(serde_json::Value::Object(m))) => m.contains_key(key),
            Some(JsonataValue::Expr(_)) => true,
            _ => false,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn errs(json: &str) -> Vec<String> {
        validate(&Definition::parse(json).unwrap())
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn valid_definition_has_no_errors() {
        assert!(errs(
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Succeed"}}}"#
        )
        .is_empty());
    }

    #[test]
    fn missing_target() {
        let e = errs(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Bar"}}}"#);
        assert_eq!(
            e,
            vec![r#"state "A", field "Next": no state named "Bar""#.to_string()]
        );
    }

    #[test]
    fn display_without_state() {
        let e = errs(r#"{"StartAt":"Nope","States":{"A":{"Type":"Succeed"}}}"#);
        assert!(
            e.contains(&r#"field "StartAt": no state named "Nope""#.to_string()),
            "{e:?}"
        );
    }
}
