//! `POST` and `DELETE /workflows/{id}/claim`: take, renew and release the claim on the
//! iteration under review.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hitl_domain::claims::{ClaimError, ClaimReceipt};

use super::{is_json, not_found, read_body, reviewer_of, store_error};
use crate::error::ApiError;
use crate::identity::Identity;
use crate::request;
use crate::state::{AppState, Caller, WorkflowPost};

/// `POST /workflows/{id}/claim`: the caller takes (or renews) the claim on the iteration
/// under review; while it is live another reviewer's decision is a 409 `claimed_by_other`.
pub(crate) async fn claim_review(post: WorkflowPost) -> Response {
    let WorkflowPost {
        state,
        caller,
        path,
        headers,
        body,
    } = post;
    let workflow_id = match claim_gate(&state, &caller, path) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let body = match read_body(body) {
        Ok(b) => b,
        Err(refused) => return refused.into_response(),
    };
    if !body.iter().all(u8::is_ascii_whitespace) && !is_json(&headers) {
        return ApiError::UnsupportedMediaType.into_response();
    }
    let iteration = match request::parse_claim(&body) {
        Ok(i) => i,
        Err(errors) => return ApiError::Invalid(errors).into_response(),
    };
    claim_response(
        &workflow_id,
        claims(&state)
            .claim(&workflow_id, iteration, &reviewer_of(&caller))
            .await,
    )
}

/// `DELETE /workflows/{id}/claim`: the holder releases the claim (an admin may release
/// anyone's); releasing when nothing is held is a 200 with `claim: null`.
pub(crate) async fn release_review(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let workflow_id = match claim_gate(&state, &caller, path) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    claim_response(
        &workflow_id,
        claims(&state)
            .release(&workflow_id, &reviewer_of(&caller))
            .await,
    )
}

/// What both claim routes check first: a readable id, and the caller's claim rate limit (a
/// bucket of its own, apart from decisions and resolutions).
fn claim_gate(
    state: &AppState,
    caller: &Identity,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let Ok(Path(workflow_id)) = path else {
        return Err(not_found("(unreadable id)"));
    };
    state
        .rate_limit
        .check(&format!("claims\u{0}{}", caller.name))
        .map_err(ApiError::TooManyRequests)?;
    Ok(workflow_id)
}

fn claims(state: &AppState) -> hitl_app::ports::Claims {
    state.ports.claims()
}

fn claim_response(workflow_id: &str, result: Result<ClaimReceipt, ClaimError>) -> Response {
    match result {
        Ok(receipt) => Json(receipt).into_response(),
        // A non-member learns nothing, not even that the workflow exists.
        Err(ClaimError::NotFound(_) | ClaimError::Forbidden { .. }) => {
            not_found(&workflow_id.chars().take(64).collect::<String>()).into_response()
        }
        Err(ClaimError::Refused(rejection)) => ApiError::Conflict {
            reason: rejection.name().to_owned(),
            message: rejection.to_string(),
        }
        .into_response(),
        // An authenticated caller always has an identity; kept for completeness.
        Err(ClaimError::InvalidReviewer(why)) => ApiError::field("reviewer", why).into_response(),
        Err(ClaimError::Store(e)) => store_error(e).into_response(),
    }
}
