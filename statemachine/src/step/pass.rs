//! The `Pass` state: its input (or `Result`) passed on, through the usual input and output
//! processing.

use super::runner::Runner;
use crate::definition::{PassState, QueryLanguage, StateType};
use crate::errors::StateError;
use crate::io;
use crate::state::Frame;
use serde_json::Value;

impl Runner {
    pub(super) fn run_pass(&mut self, st: &PassState, frame: &mut Frame) -> Result<(), StateError> {
        let next = st.transition.next.clone();
        if st.common.query_language == QueryLanguage::Jsonata {
            let env = self.env(&st.common, frame, None, None);
            let out = self.jsonata_output(
                st.effects.output.as_ref(),
                frame,
                &env,
                Value::clone(&frame.input),
            )?;
            let vars =
                self.assigned(frame, st.effects.assign.as_ref(), &Value::Null, Some(&env))?;
            self.exit_with(StateType::Pass, frame, out, vars, next);
            return Ok(());
        }
        let parameters = st.parameters.as_ref();
        let result = match &st.result {
            // `Result` replaces the effective input; InputPath and Parameters can still fail.
            Some(r) => {
                if !io::keeps_whole(&st.filters.input_path) || parameters.is_some() {
                    self.effective_input(&st.filters, parameters, frame, None)?;
                }
                r.clone()
            }
            None => self.effective_input(&st.filters, parameters, frame, None)?,
        };
        let vars = self.assigned(frame, st.effects.assign.as_ref(), &result, None)?;
        let out = self.finish_output(&st.filters, &st.result_path, frame, result)?;
        self.exit_with(StateType::Pass, frame, out, vars, next);
        Ok(())
    }
}
