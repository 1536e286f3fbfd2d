//! The `Map` state: one iteration input per item (`ItemsPath` or JSONata `Items`, shaped by
//! `ItemSelector`), with `MaxConcurrency` and the tolerated failures; [`super::fanout`] runs
//! the iterations.

use super::fanout::Tolerance;
use super::runner::Runner;
use crate::definition::{MapState, QueryLanguage};
use crate::errors::{self, StateError};
use crate::io;
use crate::path;
use crate::state::Frame;
use serde_json::Value;

impl Runner {
    pub(super) fn run_map(&mut self, st: &MapState, frame: &mut Frame) -> Result<(), StateError> {
        if st.item_reader.is_some() {
            return Err(StateError::new(
                errors::ITEM_READER_FAILED,
                "ItemReader (Distributed Map reading from S3) is not supported by the local engine",
            ));
        }
        let (inputs, max_concurrency, tolerated) =
            if st.acting.common.query_language == QueryLanguage::Jsonata {
                let (inputs, max) = self.map_inputs_jsonata(st, frame)?;
                (inputs, max, self.tolerance_jsonata(st, frame)?)
            } else {
                self.map_inputs_jsonpath(st, frame)?
            };
        self.begin_fanout(true, inputs, max_concurrency, tolerated, frame);
        Ok(())
    }

    /// A JSONPath Map's iteration inputs (`ItemsPath` of the effective input, each through
    /// `ItemSelector` with `$$.Map.Item`), `MaxConcurrency` and tolerated failures.
    fn map_inputs_jsonpath(
        &self,
        st: &MapState,
        frame: &Frame,
    ) -> Result<(Vec<Value>, usize, Tolerance), StateError> {
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(
            &frame.input,
            &st.acting.filters.input_path,
            "InputPath",
            &ctx,
        )?;
        let items = match &st.items_path {
            Some(p) => path::select(&eff, p, &ctx)
                .map_err(|e| StateError::runtime(format!("ItemsPath: {e}")))?,
            None => eff.clone(),
        };
        let Value::Array(items) = items else {
            return Err(StateError::runtime(format!(
                "ItemsPath '{}' must select an array, got {}",
                st.items_path.as_deref().unwrap_or("$"),
                path::type_name(&items)
            )));
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            inputs.push(match &st.item_selector {
                Some(sel) => {
                    let ictx = |p: &str| self.ctx_value(p, frame, None, Some((i, &item)));
                    sel.eval(&eff, &ictx)?
                }
                None => item,
            });
        }
        let mc = match (&st.max_concurrency.literal, &st.max_concurrency.path) {
            (Some(m), _) => *m,
            (None, Some(p)) => {
                let v = path::select(&eff, p, &ctx)
                    .map_err(|e| StateError::runtime(format!("MaxConcurrencyPath: {e}")))?;
                v.as_u64().ok_or_else(|| {
                    StateError::runtime(format!(
                        "MaxConcurrencyPath must select a non-negative integer, got {v}"
                    ))
                })?
            }
            (None, None) => 0,
        };
        let tolerated = tolerance_jsonpath(st, &eff, &ctx)?;
        Ok((inputs, usize::try_from(mc).unwrap_or(0), tolerated))
    }

    /// A JSONata Map's iteration inputs (`Items`, default the state input; `ItemSelector` per
    /// item with `$states.context.Map.Item`) and `MaxConcurrency`.
    fn map_inputs_jsonata(
        &self,
        st: &MapState,
        frame: &Frame,
    ) -> Result<(Vec<Value>, usize), StateError> {
        let env = self.env(&st.acting.common, frame, None, None);
        let items = match &st.items {
            Some(items) => items.eval("Items", &env)?,
            None => Value::clone(&frame.input),
        };
        let Value::Array(items) = items else {
            return Err(StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("Items must be an array, got {}", path::type_name(&items)),
            ));
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            inputs.push(match &st.item_selector_jsonata {
                // The Map's input is converted once (in `env`); each item only swaps the
                // context, which carries `Map.Item`.
                Some(sel) => {
                    let context =
                        self.jsonata_context(&st.acting.common, frame, None, Some((i, &item)));
                    let item_env = match context {
                        Some(context) => env.with_member("context", context),
                        None => env.with_member("context", Value::Null),
                    };
                    sel.eval("ItemSelector", &item_env)?
                }
                None => item,
            });
        }
        let max = match (&st.max_concurrency.expr, st.max_concurrency.literal) {
            (Some(e), _) => {
                let v = e.eval("MaxConcurrency", &env)?;
                v.as_u64().ok_or_else(|| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("MaxConcurrency must evaluate to a non-negative integer, got {v}"),
                    )
                })?
            }
            (None, Some(m)) => m,
            (None, None) => 0,
        };
        Ok((inputs, usize::try_from(max).unwrap_or(0)))
    }

    /// A JSONata Map's `ToleratedFailureCount` and `ToleratedFailurePercentage`, literals or
    /// expressions evaluated against the state's input.
    fn tolerance_jsonata(&self, st: &MapState, frame: &Frame) -> Result<Tolerance, StateError> {
        let (count, percentage) = (
            &st.tolerated_failure_count,
            &st.tolerated_failure_percentage,
        );
        if count.expr.is_none() && percentage.expr.is_none() {
            return Ok((count.literal, percentage.literal));
        }
        let env = self.env(&st.acting.common, frame, None, None);
        let jsonata_error = |field: &str, msg: String| {
            StateError::new(errors::QUERY_EVALUATION_ERROR, format!("{field} {msg}"))
        };
        let count = match &count.expr {
            Some(e) => Some(
                tolerated_count(e.eval("ToleratedFailureCount", &env)?)
                    .map_err(|msg| jsonata_error("ToleratedFailureCount", msg))?,
            ),
            None => count.literal,
        };
        let percentage = match &percentage.expr {
            Some(e) => Some(
                tolerated_percentage(e.eval("ToleratedFailurePercentage", &env)?)
                    .map_err(|msg| jsonata_error("ToleratedFailurePercentage", msg))?,
            ),
            None => percentage.literal,
        };
        Ok((count, percentage))
    }
}

fn tolerated_count(v: Value) -> Result<u64, String> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|x| *x >= 0.0 && x.fract() == 0.0)
                .map(|x| x as u64)
        })
        .ok_or_else(|| format!("must be a non-negative integer, got {v}"))
}

fn tolerated_percentage(v: Value) -> Result<f64, String> {
    v.as_f64()
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| format!("must be a number between 0 and 100, got {v}"))
}

/// A JSONPath Map's tolerated failures: the literals, or the values its
/// `ToleratedFailureCountPath`/`ToleratedFailurePercentagePath` select from the effective input.
fn tolerance_jsonpath(
    st: &MapState,
    eff: &Value,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<Tolerance, StateError> {
    let select = |field: &str, p: &str| {
        path::select(eff, p, ctx).map_err(|e| StateError::runtime(format!("{field}: {e}")))
    };
    let count = match &st.tolerated_failure_count.path {
        Some(p) => Some(
            tolerated_count(select("ToleratedFailureCountPath", p)?)
                .map_err(|m| StateError::runtime(format!("ToleratedFailureCountPath {m}")))?,
        ),
        None => st.tolerated_failure_count.literal,
    };
    let percentage = match &st.tolerated_failure_percentage.path {
        Some(p) => Some(
            tolerated_percentage(select("ToleratedFailurePercentagePath", p)?)
                .map_err(|m| StateError::runtime(format!("ToleratedFailurePercentagePath {m}")))?,
        ),
        None => st.tolerated_failure_percentage.literal,
    };
    Ok((count, percentage))
}
