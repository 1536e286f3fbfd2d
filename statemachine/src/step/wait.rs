//! The `Wait` state: computes when it ends (`Seconds`, `Timestamp`, their `…Path` or JSONata
//! forms), then, once the clock has passed it, leaves with its input.

use super::runner::{Runner, Step};
use crate::definition::{QueryLanguage, StateType, WaitState};
use crate::errors::{self, StateError};
use crate::io;
use crate::path;
use crate::state::{Frame, Phase, Wake};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

fn after_seconds(now: DateTime<Utc>, s: u64) -> DateTime<Utc> {
    now + Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
}

impl Runner {
    pub(super) fn run_wait(&mut self, st: &WaitState, frame: &mut Frame) -> Result<(), StateError> {
        let (seconds, timestamp) = (&st.seconds, &st.timestamp);
        if st.common.query_language == QueryLanguage::Jsonata {
            let env = self.env(&st.common, frame, None, None);
            let until = if let Some(e) = &seconds.expr {
                let v = e.eval("Seconds", &env)?;
                let s = v.as_u64().ok_or_else(|| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("Seconds must evaluate to a non-negative integer, got {v}"),
                    )
                })?;
                after_seconds(self.now, s)
            } else if let Some(e) = &timestamp.expr {
                let v = e.eval("Timestamp", &env)?;
                let t = v.as_str().ok_or_else(|| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("Timestamp must evaluate to a timestamp string, got {v}"),
                    )
                })?;
                parse_timestamp(t)?
            } else if let Some(s) = seconds.literal {
                after_seconds(self.now, s)
            } else if let Some(t) = &timestamp.literal {
                parse_timestamp(t)?
            } else {
                return Err(StateError::runtime(
                    "Wait state has no Seconds or Timestamp",
                ));
            };
            frame.phase = Phase::Wait { until };
            return Ok(());
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(&frame.input, &st.filters.input_path, "InputPath", &ctx)?;
        let until = if let Some(s) = seconds.literal {
            after_seconds(self.now, s)
        } else if let Some(t) = &timestamp.literal {
            parse_timestamp(t)?
        } else if let Some(p) = &seconds.path {
            let v = path::select(&eff, p, &ctx)
                .map_err(|e| StateError::runtime(format!("SecondsPath: {e}")))?;
            let s = v.as_u64().ok_or_else(|| {
                StateError::runtime(format!(
                    "SecondsPath '{p}' must select a non-negative integer, got {v}"
                ))
            })?;
            after_seconds(self.now, s)
        } else if let Some(p) = &timestamp.path {
            let v = path::select(&eff, p, &ctx)
                .map_err(|e| StateError::runtime(format!("TimestampPath: {e}")))?;
            let s = v.as_str().ok_or_else(|| {
                StateError::runtime(format!(
                    "TimestampPath '{p}' must select a timestamp string, got {v}"
                ))
            })?;
            parse_timestamp(s)?
        } else {
            return Err(StateError::runtime(
                "Wait state has no Seconds, Timestamp, SecondsPath or TimestampPath",
            ));
        };
        frame.phase = Phase::Wait { until };
        Ok(())
    }

    /// A waiting Wait state: idle until `until`, then it leaves with its (filtered) input and
    /// the variables it assigns.
    pub(super) fn step_wait(
        &mut self,
        st: &WaitState,
        frame: &mut Frame,
        until: DateTime<Utc>,
    ) -> Step {
        if until > self.now {
            return Step::Idle(Wake {
                timer: Some(until),
                deadline: None,
            });
        }
        let out = if st.common.query_language == QueryLanguage::Jsonata {
            let env = self.env(&st.common, frame, None, None);
            self.jsonata_output(
                st.effects.output.as_ref(),
                frame,
                &env,
                Value::clone(&frame.input),
            )
            .and_then(|o| {
                Ok((
                    o,
                    self.assigned(frame, st.effects.assign.as_ref(), &Value::Null, Some(&env))?,
                ))
            })
        } else {
            let ctx = |p: &str| self.ctx_value(p, frame, None, None);
            io::apply_filter_path(&frame.input, &st.filters.input_path, "InputPath", &ctx).and_then(
                |eff| {
                    let vars = self.assigned(frame, st.effects.assign.as_ref(), &eff, None)?;
                    Ok((
                        io::apply_filter_path_owned(
                            eff,
                            &st.filters.output_path,
                            "OutputPath",
                            &ctx,
                        )?,
                        vars,
                    ))
                },
            )
        };
        match out {
            Ok((o, vars)) => {
                self.exit_with(StateType::Wait, frame, o, vars, st.transition.next.clone())
            }
            // A Wait state neither retries nor catches.
            Err(e) => frame.phase = Phase::Failed { error: e },
        }
        Step::Progress
    }
}

/// An RFC 3339 timestamp with the `T` separator (the service refuses `2016-12-05 21:29:29Z`,
/// which chrono's RFC 3339 parser would take).
fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, StateError> {
    if s.get(10..11)
        .is_none_or(|sep| !sep.eq_ignore_ascii_case("t"))
    {
        return Err(StateError::runtime(format!(
            "invalid timestamp '{s}': expected an ISO 8601 / RFC 3339 timestamp such as 2016-03-14T01:59:00Z"
        )));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StateError::runtime(format!("invalid timestamp '{s}': {e}")))
}
