//! The `Parallel` state: every branch starts with the same input (the effective input, or
//! JSONata's `Arguments`); [`super::fanout`] runs them.

use super::runner::Runner;
use crate::definition::{ParallelState, QueryLanguage};
use crate::errors::StateError;
use crate::state::Frame;
use serde_json::Value;

impl Runner {
    pub(super) fn run_parallel(
        &mut self,
        st: &ParallelState,
        frame: &mut Frame,
    ) -> Result<(), StateError> {
        let input = if st.acting.common.query_language == QueryLanguage::Jsonata {
            match &st.acting.arguments {
                Some(a) => a.eval("Arguments", &self.env(&st.acting.common, frame, None, None))?,
                None => Value::clone(&frame.input),
            }
        } else {
            self.effective_input(&st.acting.filters, st.parameters.as_ref(), frame, None)?
        };
        let n = st.branches.as_ref().map_or(0, Vec::len);
        self.begin_fanout(false, vec![input; n], 0, (None, None), frame);
        Ok(())
    }
}
