//! `POST /workflows/{id}/feedback` and `POST /workflows/{id}/resolution`: a decision or a
//! resolution through the feedback processor, and its receipt as an answer.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hitl_domain::feedback::{FeedbackError, FeedbackReceipt, Reviewer};
use hitl_domain::model::FeedbackOutcome;
use tracing::warn;

use super::{is_json, not_found, read_body, reviewer_of, store_error};
use crate::error::{self, ApiError};
use crate::state::WorkflowPost;
use crate::{request, views};

/// Header set on answers that replay an earlier submission with the same key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The answer for a receipt: 200 for an applied decision, 409 for a rule rejection. Built only from the stored entry, so a replay gets the
/// same status and body; replays also carry `Idempotent-Replayed: true`.
fn receipt_response(receipt: &FeedbackReceipt) -> Response {
    let mut response = match &receipt.outcome {
        FeedbackOutcome::Applied { status } => (
            StatusCode::OK,
            Json(views::FeedbackAccepted::new(receipt, *status)),
        )
            .into_response(),
        // Entries recorded before non-members' attempts were kept out of the trail.
        FeedbackOutcome::Rejected { reason, .. } if reason == "not_authorized" => {
            not_found(&receipt.workflow_id).into_response()
        }
        FeedbackOutcome::Rejected { reason, message } => ApiError::Conflict {
            reason: reason.clone(),
            message: message.clone(),
        }
        .into_response(),
    };
    if receipt.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

pub(crate) async fn submit_feedback(post: WorkflowPost) -> Response {
    submit(post, DECISION).await
}

/// `POST /workflows/{id}/resolution`: resolve, extend, reassign or abandon an escalated
/// workflow. The same processor, audit trail, idempotency and delivery as a decision; only
/// the workflow's escalation group (and `admin`) may; anyone else gets the unknown-workflow
/// answer.
pub(crate) async fn submit_resolution(post: WorkflowPost) -> Response {
    submit(post, RESOLUTION).await
}

type Validate = fn(
    &str,
    &[u8],
    Option<&str>,
    &Reviewer,
) -> Result<hitl_domain::feedback::ValidFeedback, Vec<hitl_domain::FieldError>>;

/// What kind of submission a POST carries: how its body is validated, and its rate-limit
/// bucket (decisions and resolutions are limited separately per caller, so resolving
/// escalations is not blocked by one's own review decisions).
struct Submission {
    validate: Validate,
    bucket: &'static str,
}

const DECISION: Submission = Submission {
    validate: request::parse_and_validate,
    bucket: "decisions",
};

const RESOLUTION: Submission = Submission {
    validate: request::parse_and_validate_resolution,
    bucket: "resolutions",
};

async fn submit(post: WorkflowPost, kind: Submission) -> Response {
    let WorkflowPost {
        state,
        caller,
        path,
        headers,
        body,
    } = post;
    let Path(workflow_id) = match path {
        Ok(p) => p,
        Err(_) => return not_found("(unreadable id)").into_response(),
    };
    if let Err(seconds) = state
        .rate_limit
        .check(&format!("{}\u{0}{}", kind.bucket, caller.name))
    {
        warn!(reviewer = %caller.name, "decision submissions rate-limited");
        return ApiError::TooManyRequests(seconds).into_response();
    }
    if !is_json(&headers) {
        return ApiError::UnsupportedMediaType.into_response();
    }
    let body = match read_body(body) {
        Ok(b) => b,
        Err(refused) => return refused.into_response(),
    };
    let key = match headers
        .get(request::IDEMPOTENCY_KEY_HEADER)
        .map(|v| v.to_str())
    {
        None => None,
        Some(Ok(k)) => Some(k.trim()),
        Some(Err(_)) => Some(""),
    };
    let reviewer = reviewer_of(&caller);
    let valid = match (kind.validate)(&workflow_id, &body, key, &reviewer) {
        Ok(v) => v,
        Err(errors) => {
            if errors.iter().any(|e| e.field == "workflow_id") {
                return not_found(&workflow_id.chars().take(64).collect::<String>())
                    .into_response();
            }
            return ApiError::Invalid(errors).into_response();
        }
    };
    let processor = state.ports.decisions();
    match processor.process(&valid, &reviewer).await {
        Ok(receipt) => receipt_response(&receipt),
        Err(FeedbackError::Invalid(errors)) => ApiError::Invalid(errors).into_response(),
        Err(FeedbackError::NotFound(id)) => not_found(&id).into_response(),
        // Same answer as an unknown workflow: a non-member learns nothing.
        Err(FeedbackError::Forbidden { .. }) => not_found(&workflow_id).into_response(),
        Err(FeedbackError::KeyReused(_)) => ApiError::Conflict {
            reason: crate::routes::KEY_REUSED_REASON.into(),
            message: "this Idempotency-Key was already used for a different submission; use a fresh key for a new decision".into(),
        }
        .into_response(),
        Err(FeedbackError::ResumeFailed(detail)) => {
            warn!(workflow_id = %workflow_id, detail = %error::scrub(&detail),
                "decision recorded but the execution could not be resumed");
            ApiError::Unavailable(
                "the decision is recorded but the workflow could not be resumed yet; retry with the same Idempotency-Key".into(),
            )
            .into_response()
        }
        Err(FeedbackError::Store(e)) => store_error(e).into_response(),
    }
}
