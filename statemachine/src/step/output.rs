//! Input and output processing the state types share: the effective input (InputPath →
//! Parameters), a result placed into the output (ResultSelector → Assign → ResultPath →
//! OutputPath, or JSONata's `Output`/`Assign`) and the payload size limit.

use super::env::Vars;
use super::runner::Runner;
use crate::definition::{Acting, Filters, QueryLanguage};
use crate::errors::StateError;
use crate::io::{self, OptPath, Template};
use crate::jsonata::{Env, JsonataValue};
use crate::state::Frame;
use serde_json::Value;

/// Step Functions' limit on a state's input and output: 256 KiB of UTF-8 JSON.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Fails with `States.DataLimitExceeded`, as the service does, when `output` is larger than
/// [`MAX_PAYLOAD_BYTES`].
pub(super) fn check_payload_size(state: &str, output: &Value) -> Result<(), StateError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, output);
    if count.0 > MAX_PAYLOAD_BYTES {
        return Err(StateError::new(
            "States.DataLimitExceeded",
            format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit ({} bytes > {MAX_PAYLOAD_BYTES}).",
                count.0
            ),
        ));
    }
    Ok(())
}

impl Runner {
    /// A JSONata `Output` (or `default` when absent), with `$states` as `env` gives.
    pub(super) fn jsonata_output(
        &self,
        output: Option<&JsonataValue>,
        frame: &Frame,
        env: &Env,
        default: Value,
    ) -> Result<Value, StateError> {
        let out = match output {
            Some(o) => o.eval("Output", env)?,
            None => default,
        };
        check_payload_size(&frame.state, &out)?;
        Ok(out)
    }

    /// InputPath → Parameters (JSONPath).
    pub(super) fn effective_input(
        &self,
        filters: &Filters,
        parameters: Option<&Template>,
        frame: &Frame,
        token: Option<&str>,
    ) -> Result<Value, StateError> {
        let ctx = |p: &str| self.ctx_value(p, frame, token, None);
        let v = io::filter_path(&frame.input, &filters.input_path, "InputPath", &ctx)?;
        match parameters {
            Some(p) => p.eval(&v, &ctx),
            None => Ok(v.into_owned()),
        }
    }

    /// ResultPath → OutputPath (a task's ResultSelector is applied before, in
    /// [`Self::result_output`], because `Assign` sees the selected result).
    pub(super) fn finish_output(
        &self,
        filters: &Filters,
        result_path: &OptPath,
        frame: &Frame,
        result: Value,
    ) -> Result<Value, StateError> {
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        // ResultPath absent discards the raw input: no need to copy it.
        let combined = match result_path {
            OptPath::Default => result,
            p => io::apply_result_path(Value::clone(&frame.input), p, result)?,
        };
        let output =
            io::apply_filter_path_owned(combined, &filters.output_path, "OutputPath", &ctx)?;
        check_payload_size(&frame.state, &output)?;
        Ok(output)
    }

    /// A task's (or a Map's or Parallel's) output and the variables it assigns. JSONata:
    /// `Output` and `Assign` with `$states.result`; JSONPath: ResultSelector, then `Assign`
    /// against the selected result, then ResultPath and OutputPath.
    pub(super) fn result_output(
        &self,
        st: &Acting,
        frame: &Frame,
        result: Value,
    ) -> Result<(Value, Option<Vars>), StateError> {
        if st.common.query_language == QueryLanguage::Jsonata {
            let env = self.env(&st.common, frame, None, Some(("result", result.clone())));
            let out = self.jsonata_output(st.effects.output.as_ref(), frame, &env, result)?;
            let vars =
                self.assigned(frame, st.effects.assign.as_ref(), &Value::Null, Some(&env))?;
            return Ok((out, vars));
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let selected = match &st.result.result_selector {
            Some(sel) => sel.eval(&result, &ctx)?,
            None => result,
        };
        let vars = self.assigned(frame, st.effects.assign.as_ref(), &selected, None)?;
        Ok((
            self.finish_output(&st.filters, &st.result.result_path, frame, selected)?,
            vars,
        ))
    }
}
