//! The handlers, one module per concern, and what several of them share: the caller as a
//! submitter, reading bodies and query integers, the 404 a non-member gets, and store errors
//! as answers.

pub mod analytics;
pub mod claims;
pub mod queue;
pub mod submit;
pub mod types;
pub mod web;
pub mod workflow;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use hitl_domain::feedback::Reviewer;
use hitl_domain::model::Channel;
use hitl_domain::store::StoreError;
use tracing::{error, warn};

use crate::error::{self, ApiError};
use crate::identity::{self, Identity};
use crate::state::AppState;

/// `channel` recorded in the audit trail for decisions made over HTTP.
pub const CHANNEL: Channel = Channel::Api;

pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(id) => ApiError::NotFound(format!("workflow {id} not found")),
        StoreError::Corrupt { key, .. } => {
            error!(item = %key, "stored item could not be decoded");
            ApiError::Internal
        }
        StoreError::Conflict(_) => {
            ApiError::Unavailable("the workflow is busy; retry shortly".into())
        }
        other => {
            warn!(error = %error::scrub(&other.to_string()), "store unavailable");
            ApiError::Unavailable("the store is unavailable; retry shortly".into())
        }
    }
}

pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("workflow {id} not found"))
}

/// The workflow `id` if the caller may see it; a non-member gets the same 404 as for an
/// unknown id, so they learn nothing, not even that it exists.
pub(crate) async fn visible_workflow(
    state: &AppState,
    caller: &identity::Identity,
    id: &str,
) -> Result<hitl_domain::model::Workflow, ApiError> {
    if id.is_empty() || id.len() > 64 {
        return Err(not_found(&id.chars().take(64).collect::<String>()));
    }
    let workflow = state
        .ports
        .store
        .get_workflow(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(id))?;
    // Its reviewers, and its escalation group (who resolve it when it escalates).
    if !caller.may_review(&workflow.config.reviewer_group)
        && !caller.may_review(&workflow.config.escalation_group)
    {
        return Err(not_found(id));
    }
    Ok(workflow)
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The body as read, or why not: 413 past the size limit, 400 otherwise.
pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::field("body", "could not be read")
        }
    })
}

/// The caller as the domain's submitter of decisions and claims (channel `api`).
pub(crate) fn reviewer_of(caller: &Identity) -> Reviewer {
    Reviewer {
        name: caller.name.clone(),
        id: Some(caller.id.clone()),
        groups: Some(caller.groups.clone()),
        channel: CHANNEL,
    }
}

/// A non-negative integer query value exactly as the description states it: ASCII digits only
/// (no sign, no spaces, no fraction), so what the server accepts is what the schema says.
pub(crate) fn query_integer(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}
