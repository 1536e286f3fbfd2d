//! The `Choice` state: the first rule that matches names the next state (else `Default`).

use super::runner::Runner;
use crate::choice;
use crate::definition::{ChoiceState, QueryLanguage, StateType};
use crate::errors::{self, StateError};
use crate::io;
use crate::state::Frame;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

impl Runner {
    pub(super) fn run_choice(
        &mut self,
        st: &ChoiceState,
        frame: &mut Frame,
    ) -> Result<(), StateError> {
        if st.common.query_language == QueryLanguage::Jsonata {
            return self.run_choice_jsonata(st, frame);
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::filter_path(&frame.input, &st.filters.input_path, "InputPath", &ctx)?;
        let rules = st.choices.as_deref().unwrap_or(&[]);
        let (next, rule) = choice::choose_rule(rules, st.default.as_deref(), &eff, &ctx)?;
        let next = next.to_string();
        let assign = rule
            .and_then(|r| r.assign.as_ref())
            .or(st.effects.assign.as_ref());
        let vars = self.assigned(frame, assign, &eff, None)?;
        let out = match eff {
            // The common Choice passes its input through unchanged: share it, copy nothing.
            Cow::Borrowed(_) if io::keeps_whole(&st.filters.output_path) => None,
            eff => Some(io::apply_filter_path_owned(
                eff.into_owned(),
                &st.filters.output_path,
                "OutputPath",
                &ctx,
            )?),
        };
        let out = out.map_or_else(|| frame.input.clone(), Arc::new);
        // Assigned values are visible from the next state on, not in this state's own fields.
        if let Some(vars) = vars {
            frame.vars = vars;
        }
        self.exit_state_shared(StateType::Choice, frame, out, Some(next));
        Ok(())
    }

    /// A JSONata Choice: the first rule whose `Condition` is true; its `Output`/`Assign` (else
    /// the state's) are evaluated against the state's input and the variables at its start.
    fn run_choice_jsonata(
        &mut self,
        st: &ChoiceState,
        frame: &mut Frame,
    ) -> Result<(), StateError> {
        let env = self.env(&st.common, frame, None, None);
        let mut matched = None;
        for rule in st.choices.as_deref().unwrap_or(&[]) {
            let choice::Condition::Jsonata(condition) = &rule.condition else {
                continue;
            };
            match condition.eval("Condition", &env)? {
                Value::Bool(true) => {
                    matched = Some(rule);
                    break;
                }
                Value::Bool(false) => {}
                other => {
                    return Err(StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!(
                            "The Condition of a choice rule must evaluate to a boolean, got {other}"
                        ),
                    ))
                }
            }
        }
        let next = match matched.and_then(|r| r.next.as_deref()) {
            Some(next) => next.to_string(),
            None => choice::no_match(st.default.as_deref())?.to_string(),
        };
        let output = matched
            .and_then(|r| r.output.as_ref())
            .or(st.effects.output.as_ref());
        let assign = matched
            .and_then(|r| r.assign.as_ref())
            .or(st.effects.assign.as_ref());
        let out = self.jsonata_output(output, frame, &env, Value::clone(&frame.input))?;
        let vars = self.assigned(frame, assign, &Value::Null, Some(&env))?;
        self.exit_with(StateType::Choice, frame, out, vars, Some(next));
        Ok(())
    }
}
