//! Optimistic concurrency over the [`WorkflowStore`] port: read, change, write on the version
//! read, and re-apply on a conflict.

use crate::error::HandlerError;
use crate::model::Workflow;
use crate::store::{StoreError, WorkflowStore};

/// Attempts [`mutate`] makes before reporting a conflict.
const MUTATE_ATTEMPTS: usize = 8;

/// Read-modify-write with optimistic concurrency: loads the workflow, applies `change`
/// (which returns the next record, or `None` for "nothing to write", plus a value), writes it
/// with the version precondition, and on a conflict re-reads and re-applies.
/// Returns the record as stored afterwards and the value.
pub async fn mutate<T, F>(
    store: &dyn WorkflowStore,
    workflow_id: &str,
    mut change: F,
) -> Result<(Workflow, T), HandlerError>
where
    F: FnMut(&Workflow) -> Result<(Option<Workflow>, T), HandlerError> + Send,
    T: Send,
{
    for _ in 0..MUTATE_ATTEMPTS {
        let current = store
            .get_workflow(workflow_id)
            .await?
            .ok_or_else(|| HandlerError::WorkflowNotFound(workflow_id.to_owned()))?;
        let (next, value) = change(&current)?;
        let Some(next) = next else {
            return Ok((current, value));
        };
        match store.update_workflow(&next, current.version).await {
            Ok(()) => return Ok((next, value)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(HandlerError::Conflict(workflow_id.to_owned()))
}
