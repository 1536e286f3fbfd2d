//! The terminal states: `Succeed` ends its scope with its (filtered) input, `Fail` with an
//! error and cause.

use super::runner::Runner;
use crate::definition::{FailState, FieldValue, QueryLanguage, StateType, SucceedState};
use crate::errors::{self, StateError};
use crate::intrinsics;
use crate::io;
use crate::jsonata::Env;
use crate::path;
use crate::state::{Frame, Phase};
use serde_json::Value;

impl Runner {
    pub(super) fn run_succeed(
        &mut self,
        st: &SucceedState,
        frame: &mut Frame,
    ) -> Result<(), StateError> {
        if st.common.query_language == QueryLanguage::Jsonata {
            let env = self.env(&st.common, frame, None, None);
            let out =
                self.jsonata_output(st.output.as_ref(), frame, &env, Value::clone(&frame.input))?;
            self.exit_state(StateType::Succeed, frame, out, None);
            return Ok(());
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(&frame.input, &st.filters.input_path, "InputPath", &ctx)?;
        let out = io::apply_filter_path_owned(eff, &st.filters.output_path, "OutputPath", &ctx)?;
        self.exit_state(StateType::Succeed, frame, out, None);
        Ok(())
    }

    pub(super) fn run_fail(&mut self, st: &FailState, frame: &mut Frame) -> Result<(), StateError> {
        let (error, cause) = if st.common.query_language == QueryLanguage::Jsonata {
            let env = self.env(&st.common, frame, None, None);
            (
                jsonata_text(&st.error, &env, "Error")?,
                jsonata_text(&st.cause, &env, "Cause")?,
            )
        } else {
            (
                self.jsonpath_text(&st.error, frame, "ErrorPath")?,
                self.jsonpath_text(&st.cause, frame, "CausePath")?,
            )
        };
        frame.phase = Phase::Failed {
            error: StateError::new(error, cause),
        };
        Ok(())
    }

    /// A JSONPath Fail's `Error`/`Cause`: the literal, else what the `…Path` (a path or an
    /// intrinsic function) gives from the state input, else empty.
    fn jsonpath_text(
        &self,
        field: &FieldValue<String>,
        frame: &Frame,
        path_field: &str,
    ) -> Result<String, StateError> {
        if let Some(l) = &field.literal {
            return Ok(l.clone());
        }
        let Some(p) = &field.path else {
            return Ok(String::new());
        };
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let v = if intrinsics::looks_like_call(p) {
            intrinsics::eval_str(p, &frame.input, &ctx)?
        } else {
            path::select(&frame.input, p, &ctx)
                .map_err(|e| StateError::runtime(format!("{path_field}: {e}")))?
        };
        match v {
            Value::String(s) => Ok(s),
            other => Err(StateError::runtime(format!(
                "{path_field} must resolve to a string, got {other}"
            ))),
        }
    }
}

/// A JSONata Fail's `Error`/`Cause`: the literal, else the expression's string, else empty.
fn jsonata_text(field: &FieldValue<String>, env: &Env, name: &str) -> Result<String, StateError> {
    match (&field.literal, &field.expr) {
        (Some(l), _) => Ok(l.clone()),
        (None, Some(e)) => match e.eval(name, env)? {
            Value::String(s) => Ok(s),
            other => Err(StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("{name} must evaluate to a string, got {other}"),
            )),
        },
        (None, None) => Ok(String::new()),
    }
}
