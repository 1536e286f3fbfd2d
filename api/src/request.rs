//! The API's side of reading a submission: the body is parsed by the one parser every front
//! door shares ([`hitl_domain::feedback::parse_feedback`] and its siblings, field-level errors
//! instead of serde's first-error-only messages) and validated by
//! [`hitl_domain::feedback::validate`]; this module only names the idempotency key as the API
//! takes it, from a header.

use hitl_domain::error::FieldError;
use hitl_domain::feedback::{self, Reviewer, ValidFeedback};

pub use hitl_domain::feedback::{parse_claim, parse_feedback, parse_resolution};

/// Name of the idempotency header, also used as the field name in 400 answers.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Parses the body and validates it with [`hitl_domain::feedback::validate`]. All problems
/// are reported together; a field with a shape error is not reported twice.
/// `idempotency_key` is `None` when the header is missing.
pub fn parse_and_validate(
    workflow_id: &str,
    body: &[u8],
    idempotency_key: Option<&str>,
    reviewer: &Reviewer,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let (request, errors) = parse_feedback(body);
    let key = idempotency_key.unwrap_or("");
    // When the body did not parse, "iteration is required" would only add noise: the merge
    // keeps only the header's and the path's findings then.
    merge(
        errors,
        feedback::validate(workflow_id, &request, key, reviewer),
        idempotency_key.is_none(),
    )
}

/// Parses and validates a resolution body with
/// [`hitl_domain::feedback::validate_resolution`], all problems together (as
/// [`parse_and_validate`]).
pub fn parse_and_validate_resolution(
    workflow_id: &str,
    body: &[u8],
    idempotency_key: Option<&str>,
    reviewer: &Reviewer,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let (request, errors) = parse_resolution(body);
    merge(
        errors,
        feedback::validate_resolution(
            workflow_id,
            &request,
            idempotency_key.unwrap_or(""),
            reviewer,
        ),
        idempotency_key.is_none(),
    )
}

/// Merges shape errors with the shared validator's answer
/// ([`hitl_domain::feedback::merge_findings`]); the header's name replaces `idempotency_key`.
fn merge(
    errors: Vec<FieldError>,
    validated: Result<ValidFeedback, Vec<FieldError>>,
    key_missing: bool,
) -> Result<ValidFeedback, Vec<FieldError>> {
    match validated {
        Ok(valid) if errors.is_empty() => Ok(valid),
        Ok(_) => Err(errors),
        Err(found) => Err(feedback::merge_findings(errors, found, |mut e| {
            e.field = IDEMPOTENCY_KEY_HEADER.to_owned();
            if key_missing {
                e.message = "header is required: a fresh random value per decision, reused when retrying it".into();
            }
            e
        })),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reviewer() -> Reviewer {
        Reviewer::declared(
            "rita",
            Some(vec!["reviewers".into()]),
            hitl_domain::model::Channel::Api,
        )
    }

    fn fields(result: Result<ValidFeedback, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_body_is_accepted() {
        let body = br#"{"iteration":1,"decision":"request_changes","comments":"warmer","corrections":[{"field":"tagline","value":"Hi"}]}"#;
        let valid = parse_and_validate("wf-1", body, Some("k-1"), &reviewer()).unwrap();
        assert_eq!(valid.submission.iteration, 1);
        assert_eq!(valid.submission.corrections.len(), 1);
    }

    #[test]
    fn every_bad_field_is_listed_once() {
        let body = br#"{"iteration":"one","decision":"maybe","corrections":[{"field":"id","value":3},7],"extra":true}"#;
        let got = fields(parse_and_validate("wf-1", body, None, &reviewer()));
        assert_eq!(
            got,
            [
                "extra",
                "iteration",
                "corrections[0].value",
                "corrections[1]",
                "Idempotency-Key",
                "decision",
            ]
        );
    }

    #[test]
    fn malformed_json_is_one_body_error_plus_header_errors() {
        let got = fields(parse_and_validate("wf-1", b"{nope", None, &reviewer()));
        assert_eq!(got, ["body", "Idempotency-Key"]);
        let got = fields(parse_and_validate("wf-1", b"[1]", Some("k"), &reviewer()));
        assert_eq!(got, ["body"]);
    }

    /// Issue 14: with a duplicate key the last value won and was applied.
    #[test]
    fn a_duplicate_key_is_refused_with_its_name() {
        let body = br#"{"iteration":1,"decision":"request_changes","decision":"approve"}"#;
        let got = fields(parse_and_validate("wf-1", body, Some("k"), &reviewer()));
        assert_eq!(got, ["decision"]);
        let nested = br#"{"iteration":1,"decision":"request_changes","comments":"x","corrections":[{"field":"tagline","value":"a","value":"b"}]}"#;
        let got = fields(parse_and_validate("wf-1", nested, Some("k"), &reviewer()));
        assert_eq!(got, ["value"]);
    }

    #[test]
    fn a_resolution_body_is_parsed_and_misplaced_fields_are_named() {
        let body = br#"{"iteration":2,"action":"extend","iterations":2,"guidance":"bolder"}"#;
        let valid = parse_and_validate_resolution("wf-1", body, Some("k-1"), &reviewer()).unwrap();
        assert_eq!(valid.submission.decision.as_str(), "extend");
        let body = br#"{"iteration":2,"action":"abandon","iterations":2,"final":[1],"colour":1}"#;
        let got = fields(parse_and_validate_resolution(
            "wf-1",
            body,
            Some("k"),
            &reviewer(),
        ));
        assert_eq!(got, ["colour", "final", "iterations", "reason"]);
        // The final version is checked against the workflow's artifact type once the workflow
        // is loaded (issue 28), not at parsing: here it passes the door.
        let body = br#"{"iteration":2,"action":"resolve","final":{"name":"x"}}"#;
        assert!(parse_and_validate_resolution("wf-1", body, Some("k"), &reviewer()).is_ok());
    }

    #[test]
    fn request_changes_needs_comments_or_corrections() {
        let body = br#"{"iteration":1,"decision":"request_changes","comments":"  "}"#;
        let got = fields(parse_and_validate("wf-1", body, Some("k"), &reviewer()));
        assert_eq!(got, ["comments"]);
    }
}
