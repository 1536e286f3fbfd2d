//! What a state's expressions see — the context object `$$`, JSONata's `$states` and the
//! workflow variables — and how `Assign` changes the variables.

use super::runner::Runner;
use crate::assign::Assign;
use crate::definition::Common;
use crate::errors::{self, StateError};
use crate::io::{self, StateInfo};
use crate::jsonata::{ContextUse, Env};
use crate::state::Frame;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The variables of a scope after an `Assign`.
pub(super) type Vars = Arc<Map<String, Value>>;

/// What all variables of an execution scope may hold together (serialized), as on AWS.
const VARIABLES_LIMIT_BYTES: usize = 10 * 1024 * 1024;

/// What one `Assign` may set (serialized), as on AWS.
const ASSIGN_LIMIT_BYTES: usize = 256 * 1024;

impl Runner {
    /// What a JSONPath `path` starting with `$$` or `$name` selects for the current state.
    pub(super) fn ctx_value(
        &self,
        path: &str,
        frame: &Frame,
        token: Option<&str>,
        map_item: Option<(usize, &Value)>,
    ) -> Value {
        // `$name` (a workflow variable): `[value]`, or `[]` when unassigned (see path::select).
        if let Some(name) = crate::path::variable_name(path) {
            return Value::Array(frame.vars.get(name).cloned().into_iter().collect());
        }
        io::context_object_for(
            path,
            &self.exec,
            &StateInfo {
                name: &frame.state,
                entered_time: frame.entered,
                retry_count: frame.retry_count,
                task_token: token,
                map_item,
            },
        )
    }

    /// What a JSONata expression of the current state sees: `$states.input`, `$states.context`
    /// (with the task token when there is one) and `extra` (`result` or `errorOutput`).
    pub(super) fn env(
        &self,
        st: &Common,
        frame: &Frame,
        token: Option<&str>,
        extra: Option<(&str, Value)>,
    ) -> Env {
        self.env_at(st, frame, token, None, extra)
    }

    /// [`Self::env`] with `$states.context.Map.Item` (a JSONata Map's `ItemSelector`).
    pub(super) fn env_at(
        &self,
        st: &Common,
        frame: &Frame,
        token: Option<&str>,
        map_item: Option<(usize, &Value)>,
        extra: Option<(&str, Value)>,
    ) -> Env {
        let mut states = Map::new();
        if let Some(context) = self.jsonata_context(st, frame, token, map_item) {
            states.insert("context".into(), context);
        }
        if let Some((name, value)) = extra {
            states.insert(name.into(), value);
        }
        Env::with_input(
            Some(&frame.input),
            states,
            &frame.vars,
            self.now,
            st.host_fns,
        )
    }

    /// `$states.context` as far as the state's expressions read it (None: not at all).
    pub(super) fn jsonata_context(
        &self,
        st: &Common,
        frame: &Frame,
        token: Option<&str>,
        map_item: Option<(usize, &Value)>,
    ) -> Option<Value> {
        match st.context_use {
            ContextUse::None => None,
            ContextUse::WithoutInput => {
                let info = StateInfo {
                    name: &frame.state,
                    entered_time: frame.entered,
                    retry_count: frame.retry_count,
                    task_token: token,
                    map_item,
                };
                Some(io::context_object(&self.exec, &info, false))
            }
            ContextUse::Full => Some(self.ctx_value("$$", frame, token, map_item)),
        }
    }

    /// The variables after `assign`, evaluated against the variables as they were when the
    /// state started (JSONPath: `$` is `subject`; JSONata: `env`). None when nothing is assigned.
    pub(super) fn assigned(
        &self,
        frame: &Frame,
        assign: Option<&Assign>,
        subject: &Value,
        env: Option<&Env>,
    ) -> Result<Option<Vars>, StateError> {
        let Some(assign) = assign else {
            return Ok(None);
        };
        let values = match (assign, env) {
            (Assign::Jsonata(v), Some(env)) => v.eval("Assign", env)?,
            (Assign::Jsonata(_), None) => {
                return Err(StateError::runtime(
                    "a JSONata Assign was evaluated without its state's $states",
                ))
            }
            (Assign::JsonPath(t), _) => {
                let ctx = |p: &str| self.ctx_value(p, frame, None, None);
                t.eval(subject, &ctx)?
            }
        };
        let Value::Object(values) = values else {
            return Err(StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                "Assign must produce a JSON object",
            ));
        };
        let size = serde_json::to_vec(&values).map_or(usize::MAX, |b| b.len());
        if size > ASSIGN_LIMIT_BYTES {
            return Err(StateError::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "The variables assigned by state '{}' are {size} bytes, over the {ASSIGN_LIMIT_BYTES}-byte limit",
                    frame.state
                ),
            ));
        }
        let mut vars = Map::clone(&frame.vars);
        vars.extend(values);
        let total = serde_json::to_vec(&vars).map_or(usize::MAX, |b| b.len());
        if total > VARIABLES_LIMIT_BYTES {
            return Err(StateError::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "The variables of this execution would be {total} bytes, over the {VARIABLES_LIMIT_BYTES}-byte limit"
                ),
            ));
        }
        Ok(Some(Arc::new(vars)))
    }
}
