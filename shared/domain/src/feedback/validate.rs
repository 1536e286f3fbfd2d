//! Field validation of decisions and resolutions: every bad field listed, nothing stored.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::keys::*;
use super::request::*;
use crate::error::FieldError;
use crate::metadata;
use crate::model::{
    Correction, Decision, ResolutionDetails, MAX_ITERATIONS_RANGE, REVIEW_TIMEOUT_RANGE,
};
use crate::rules::Submission;

pub(super) fn valid_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// Validates a request; lists every bad field.
pub fn validate(
    workflow_id: &str,
    request: &FeedbackRequest,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let mut errors = Vec::new();
    let iteration = check_common(
        &mut errors,
        workflow_id,
        request.iteration,
        idempotency_key,
        reviewer,
    );
    let decision = match request.decision.as_deref() {
        Some("approve") => Some(Decision::Approve),
        Some("request_changes") => Some(Decision::RequestChanges),
        Some("reject") => Some(Decision::Reject),
        Some(other) => {
            errors.push(FieldError::new(
                "decision",
                format!("must be \"approve\", \"request_changes\" or \"reject\", got {other:?}"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new("decision", "is required"));
            None
        }
    };
    let comments = request.comments.clone().unwrap_or_default();
    if comments.chars().count() > MAX_COMMENT_CHARS {
        errors.push(FieldError::new(
            "comments",
            format!("must be at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    if decision == Some(Decision::Reject) && metadata::is_blank(&comments) {
        errors.push(FieldError::new(
            "comments",
            "is required when rejecting: say why the loop stops",
        ));
    }
    if decision == Some(Decision::Reject) && !request.corrections.is_empty() {
        errors.push(FieldError::new(
            "corrections",
            "a rejection stops the loop; corrections need request_changes",
        ));
    }
    if decision == Some(Decision::RequestChanges)
        && metadata::is_blank(&comments)
        && request.corrections.is_empty()
    {
        errors.push(FieldError::new(
            "comments",
            "is required when requesting changes (say what to change, or give corrections)",
        ));
    }
    check_corrections(&mut errors, &request.corrections);
    // An approval with corrections is an edit-and-approve: the corrected draft is final (the
    // processor applies them to the draft and checks the result against the schema).
    let resolution = (decision == Some(Decision::Approve) && !request.corrections.is_empty())
        .then(ResolutionDetails::default);
    match (errors.is_empty(), decision) {
        (true, Some(decision)) => Ok(accepted(
            workflow_id,
            request,
            idempotency_key,
            reviewer,
            Submission {
                iteration,
                decision,
                reviewer: String::new(),
                reviewer_id: String::new(),
                comments,
                corrections: request.corrections.clone(),
                idempotency_key: String::new(),
                resolution,
            },
        )),
        _ => Err(errors),
    }
}

/// The checks every submission shares (path, key, submitter, iteration); the iteration as a
/// number (0 when invalid, with the error recorded).
pub(super) fn check_common(
    errors: &mut Vec<FieldError>,
    workflow_id: &str,
    iteration: Option<i64>,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> u32 {
    if workflow_id.is_empty() || workflow_id.len() > 64 {
        errors.push(FieldError::new("workflow_id", "must be 1..=64 characters"));
    }
    if !valid_key(idempotency_key) {
        errors.push(FieldError::new(
            "idempotency_key",
            "must be 1..=128 characters of letters, digits, '-', '_', ':' or '.'",
        ));
    }
    if let Err(why) = reviewer.identity() {
        errors.push(FieldError::new("reviewer", why.to_string()));
    }
    match iteration {
        None => {
            errors.push(FieldError::new("iteration", "is required"));
            0
        }
        Some(i) if ITERATION_RANGE.contains(&i) => u32::try_from(i).unwrap_or(0),
        Some(i) => {
            errors.push(FieldError::new("iteration", iteration_range_error(i)));
            0
        }
    }
}

/// A valid submission: its fingerprint (hash of the path and the body, to detect a reused
/// key) and its key scoped to the submitter.
pub(super) fn accepted<T: Serialize>(
    workflow_id: &str,
    request: &T,
    idempotency_key: &str,
    reviewer: &Reviewer,
    mut submission: Submission,
) -> ValidFeedback {
    let body = serde_json::to_vec(request).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(workflow_id.as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    // Validation has checked the identity; a failure here cannot happen and leaves the
    // submission's identity empty, which the rules never match.
    let (id, label) = reviewer.identity().unwrap_or_default();
    submission.idempotency_key = scoped_key(reviewer.channel, &id, idempotency_key);
    submission.reviewer = label;
    submission.reviewer_id = id;
    ValidFeedback {
        workflow_id: workflow_id.to_owned(),
        fingerprint: hex::encode(hasher.finalize()),
        submission,
    }
}

/// Validates a resolution request; lists every bad field. The final artifact of a `resolve`
/// by corrections is checked against the draft when the request is processed.
pub fn validate_resolution(
    workflow_id: &str,
    request: &ResolutionRequest,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let mut errors = Vec::new();
    let iteration = check_common(
        &mut errors,
        workflow_id,
        request.iteration,
        idempotency_key,
        reviewer,
    );
    let decision = match request.action.as_deref() {
        Some("resolve") => Some(Decision::Resolve),
        Some("extend") => Some(Decision::Extend),
        Some("reassign") => Some(Decision::Reassign),
        Some("abandon") => Some(Decision::Abandon),
        Some(other) => {
            errors.push(FieldError::new(
                "action",
                format!(
                    "must be one of {}, got {other:?}",
                    RESOLUTION_ACTIONS.map(|a| format!("\"{a}\"")).join(", ")
                ),
            ));
            None
        }
        None => {
            errors.push(FieldError::new("action", "is required"));
            None
        }
    };
    // Fields that belong to another action are refused, so a misplaced one is not ignored.
    let only = |errors: &mut Vec<FieldError>, present: bool, field: &str, action: Decision| {
        if present && decision.is_some() && decision != Some(action) {
            errors.push(FieldError::new(
                field,
                format!("only applies to action \"{}\"", action.as_str()),
            ));
        }
    };
    only(
        &mut errors,
        request.final_artifact.is_some(),
        "final",
        Decision::Resolve,
    );
    only(
        &mut errors,
        !request.corrections.is_empty(),
        "corrections",
        Decision::Resolve,
    );
    only(
        &mut errors,
        request.iterations.is_some(),
        "iterations",
        Decision::Extend,
    );
    only(
        &mut errors,
        request.guidance.is_some(),
        "guidance",
        Decision::Extend,
    );
    only(
        &mut errors,
        request.reviewer_group.is_some(),
        "reviewer_group",
        Decision::Reassign,
    );
    only(
        &mut errors,
        request.review_timeout_seconds.is_some(),
        "review_timeout_seconds",
        Decision::Reassign,
    );
    if request.reason.is_some() && matches!(decision, Some(Decision::Extend | Decision::Reassign)) {
        errors.push(FieldError::new(
            "reason",
            "only applies to actions \"abandon\" and \"resolve\" (extend takes `guidance`)",
        ));
    }
    let text = |errors: &mut Vec<FieldError>, field: &str, value: &Option<String>| {
        let value = value.clone().unwrap_or_default();
        if value.chars().count() > MAX_COMMENT_CHARS {
            errors.push(FieldError::new(
                field,
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        value
    };
    let mut details = ResolutionDetails::default();
    let comments = match decision {
        Some(Decision::Resolve) => {
            match (&request.final_artifact, request.corrections.is_empty()) {
                (Some(_), false) => errors.push(FieldError::new(
                    "final",
                    "give either the full artifact (`final`) or `corrections` to the newest draft, not both",
                )),
                (None, true) => errors.push(FieldError::new(
                    "final",
                    "is required for \"resolve\": the full artifact, or `corrections` to the newest draft",
                )),
                (Some(content), true) => {
                    // Checked against the workflow's type when the request is processed.
                    if !content.is_object() {
                        errors.push(FieldError::new("final", "must be a JSON object"));
                    }
                }
                (None, false) => {}
            }
            check_corrections(&mut errors, &request.corrections);
            details.final_artifact = request.final_artifact.clone();
            details.final_hash = request.final_artifact.as_ref().map(metadata::content_hash);
            text(&mut errors, "reason", &request.reason)
        }
        Some(Decision::Extend) => {
            let max = i64::from(*MAX_ITERATIONS_RANGE.end()) - 1;
            match request.iterations {
                Some(n) if (1..=max).contains(&n) => {
                    details.extra_iterations = u32::try_from(n).ok();
                }
                Some(n) => errors.push(FieldError::new(
                    "iterations",
                    format!("must be an integer from 1 to {max}, got {n}"),
                )),
                None => errors.push(FieldError::new("iterations", "is required for \"extend\"")),
            }
            text(&mut errors, "guidance", &request.guidance)
        }
        Some(Decision::Reassign) => {
            match &request.reviewer_group {
                Some(group) if crate::contracts::valid_id(group) => {
                    details.reviewer_group = Some(group.clone());
                }
                Some(_) => errors.push(FieldError::new(
                    "reviewer_group",
                    "must be 1..=64 characters of letters, digits, '-' or '_'",
                )),
                None => errors.push(FieldError::new(
                    "reviewer_group",
                    "is required for \"reassign\"",
                )),
            }
            if let Some(t) = request.review_timeout_seconds {
                let range = i64::try_from(*REVIEW_TIMEOUT_RANGE.start()).unwrap_or(60)
                    ..=i64::try_from(*REVIEW_TIMEOUT_RANGE.end()).unwrap_or(31_536_000);
                if range.contains(&t) {
                    details.review_timeout_seconds = u64::try_from(t).ok();
                } else {
                    errors.push(FieldError::new(
                        "review_timeout_seconds",
                        format!(
                            "must be an integer from {} to {}, got {t}",
                            range.start(),
                            range.end()
                        ),
                    ));
                }
            }
            String::new()
        }
        Some(Decision::Abandon) => {
            let reason = text(&mut errors, "reason", &request.reason);
            if metadata::is_blank(&reason) {
                errors.push(FieldError::new(
                    "reason",
                    "is required for \"abandon\": say why the workflow stops",
                ));
            }
            reason
        }
        _ => String::new(),
    };
    match (errors.is_empty(), decision) {
        (true, Some(decision)) => Ok(accepted(
            workflow_id,
            request,
            idempotency_key,
            reviewer,
            Submission {
                iteration,
                decision,
                reviewer: String::new(),
                reviewer_id: String::new(),
                comments,
                corrections: request.corrections.clone(),
                idempotency_key: String::new(),
                resolution: Some(details),
            },
        )),
        _ => Err(errors),
    }
}

pub(super) fn check_corrections(errors: &mut Vec<FieldError>, corrections: &[Correction]) {
    if corrections.len() > MAX_CORRECTIONS {
        errors.push(FieldError::new(
            "corrections",
            format!("at most {MAX_CORRECTIONS} corrections"),
        ));
    }
    for (i, correction) in corrections.iter().enumerate() {
        if correction.value.chars().count() > MAX_CORRECTION_CHARS {
            errors.push(FieldError::new(
                format!("corrections[{i}].value"),
                format!("must be at most {MAX_CORRECTION_CHARS} characters"),
            ));
            continue;
        }
        // The path's syntax here; whether the workflow's type lets it be corrected, and
        // whether the value fits its schema, once the workflow (and so its type) is known.
        if let Err(e) = crate::types::parse_path(&correction.field) {
            errors.push(FieldError::new(
                format!("corrections[{i}].field"),
                e.to_string(),
            ));
        } else if metadata::is_blank(&correction.value) {
            errors.push(FieldError::new(
                format!("corrections[{i}].value"),
                "must not be empty",
            ));
        }
    }
}

/// The checks of a submission that depend on the workflow's artifact type: every correction
/// (path correctable, value valid at that path) and a `resolve`'s full final version (the
/// type's schema, and its bound fields equal to the subject's).
pub fn check_by_type(
    artifact_type: &crate::types::ArtifactType,
    subject: &serde_json::Value,
    submission: &Submission,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, correction) in submission.corrections.iter().enumerate() {
        match metadata::check_correction_for(artifact_type, correction) {
            Ok(()) => {}
            Err(metadata::CorrectionProblem::Field(message)) => {
                errors.push(FieldError::new(format!("corrections[{i}].field"), message));
            }
            Err(metadata::CorrectionProblem::Value(message)) => {
                errors.push(FieldError::new(format!("corrections[{i}].value"), message));
            }
        }
    }
    if submission.decision == Decision::Resolve && submission.corrections.is_empty() {
        if let Some(content) = submission
            .resolution
            .as_ref()
            .and_then(|r| r.final_artifact.as_ref())
        {
            for e in artifact_type.validate_final(content, subject) {
                let field = if e.field == "$" {
                    "final".to_owned()
                } else {
                    format!("final.{}", e.field)
                };
                errors.push(FieldError::new(field, e.message));
            }
        }
    }
    errors
}
