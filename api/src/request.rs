//! Parsing of the feedback body into the shared [`FeedbackRequest`], with field-level errors
//! instead of serde's first-error-only messages. Validation and the rules stay in
//! [`hitl_domain::feedback`]: [`parse_and_validate`] only adds the JSON shape checks and
//! merges them with the shared validator's findings.

use hitl_domain::error::FieldError;
use hitl_domain::feedback::{self, FeedbackRequest, ResolutionRequest, Reviewer, ValidFeedback};
use hitl_domain::model::Correction;
use serde_json::Value;

/// Name of the idempotency header, also used as the field name in 400 answers.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
const KNOWN_FIELDS: &str = "iteration, decision, comments, corrections";
const DUPLICATE_KEY_MESSAGE: &str = "appears more than once in the body; send each field once";

/// A field name fit for an error: bounded, and never empty (an empty key shows as `""`).
fn short(name: &str) -> String {
    if name.is_empty() {
        "\"\"".to_owned()
    } else if name.chars().count() > 64 {
        format!("{}…", name.chars().take(64).collect::<String>())
    } else {
        name.to_owned()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_field(
    object: &serde_json::Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(name) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(FieldError::new(
                name,
                format!("must be a string, got {}", kind(other)),
            ));
            None
        }
    }
}

/// The `iteration` member: an integral JSON number in range, else the error that says so.
fn iteration_field(
    object: &serde_json::Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    match object.get("iteration") {
        None => None,
        Some(Value::Number(n)) => match feedback::iteration_from_number(n) {
            Ok(i) => Some(i),
            Err(message) => {
                errors.push(FieldError::new("iteration", message));
                None
            }
        },
        Some(other) => {
            errors.push(FieldError::new(
                "iteration",
                feedback::iteration_range_error(kind(other)),
            ));
            None
        }
    }
}

fn corrections(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Vec<Correction> {
    let list = match value {
        None => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(other) => {
            errors.push(FieldError::new(
                "corrections",
                format!("must be an array, got {}", kind(other)),
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let Some(object) = item.as_object() else {
            errors.push(FieldError::new(
                format!("corrections[{i}]"),
                format!("must be an object {{field, value}}, got {}", kind(item)),
            ));
            continue;
        };
        for key in object
            .keys()
            .filter(|k| !matches!(k.as_str(), "field" | "value"))
        {
            errors.push(FieldError::new(
                format!("corrections[{i}].{}", short(key)),
                "is not a known field; expected field and value",
            ));
        }
        let mut text = |name: &str| match object.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            None => {
                errors.push(FieldError::new(
                    format!("corrections[{i}].{name}"),
                    "is required",
                ));
                None
            }
            Some(other) => {
                errors.push(FieldError::new(
                    format!("corrections[{i}].{name}"),
                    format!("must be a string, got {}", kind(other)),
                ));
                None
            }
        };
        if let (Some(field), Some(value)) = (text("field"), text("value")) {
            out.push(Correction { field, value });
        }
    }
    out
}

/// Parses a body into a [`FeedbackRequest`]. Shape errors are listed per field; the request
/// returned alongside holds every field that did parse (so the shared validator can report
/// the rest).
pub fn parse_feedback(body: &[u8]) -> (FeedbackRequest, Vec<FieldError>) {
    let mut errors = Vec::new();
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            errors.push(FieldError::new("body", format!("is not valid JSON: {e}")));
            return (FeedbackRequest::default(), errors);
        }
    };
    if let Some(key) = feedback::duplicate_key(body) {
        errors.push(FieldError::new(short(&key), DUPLICATE_KEY_MESSAGE));
        return (FeedbackRequest::default(), errors);
    }
    let Value::Object(object) = value else {
        errors.push(FieldError::new(
            "body",
            format!("must be a JSON object, got {}", kind(&value)),
        ));
        return (FeedbackRequest::default(), errors);
    };
    for key in object.keys().filter(|k| {
        !matches!(
            k.as_str(),
            "iteration" | "decision" | "comments" | "corrections"
        )
    }) {
        errors.push(FieldError::new(
            short(key),
            format!("is not a known field; expected {KNOWN_FIELDS}"),
        ));
    }
    let iteration = iteration_field(&object, &mut errors);
    let request = FeedbackRequest {
        iteration,
        decision: string_field(&object, "decision", &mut errors),
        comments: string_field(&object, "comments", &mut errors),
        corrections: corrections(object.get("corrections"), &mut errors),
    };
    (request, errors)
}

/// Parses the optional body of a claim: nothing, `{}` or `{"iteration": n}` (the iteration the
/// reviewer is looking at, so a stale page cannot claim a newer draft).
pub fn parse_claim(body: &[u8]) -> Result<Option<u32>, Vec<FieldError>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Err(vec![FieldError::new(
                "body",
                format!("is not valid JSON: {e}"),
            )])
        }
    };
    if let Some(key) = feedback::duplicate_key(body) {
        return Err(vec![FieldError::new(short(&key), DUPLICATE_KEY_MESSAGE)]);
    }
    let Value::Object(object) = value else {
        return Err(vec![FieldError::new(
            "body",
            format!("must be a JSON object, got {}", kind(&value)),
        )]);
    };
    for key in object.keys().filter(|k| k.as_str() != "iteration") {
        errors.push(FieldError::new(
            short(key),
            "is not a known field; expected iteration",
        ));
    }
    let iteration = iteration_field(&object, &mut errors);
    if errors.is_empty() {
        Ok(iteration.and_then(|i| u32::try_from(i).ok()))
    } else {
        Err(errors)
    }
}

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
    // When the body did not parse, "iteration is required" would only add noise: `merge`
    // keeps only the header's and the path's findings then.
    merge(
        errors,
        feedback::validate(workflow_id, &request, key, reviewer),
        idempotency_key.is_none(),
    )
}

const RESOLUTION_FIELDS: &str =
    "iteration, action, final, corrections, iterations, guidance, reviewer_group, review_timeout_seconds, reason";

fn integer_field(
    object: &serde_json::Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    match object.get(name) {
        None => None,
        Some(Value::Number(n)) => match feedback::integral_number(n) {
            Ok(i) => Some(i),
            Err(message) => {
                errors.push(FieldError::new(name, message));
                None
            }
        },
        Some(other) => {
            errors.push(FieldError::new(
                name,
                format!("must be an integer, got {}", kind(other)),
            ));
            None
        }
    }
}

/// Parses a resolution body (`POST /workflows/{id}/resolution`) into a
/// [`ResolutionRequest`], with shape errors per field (as [`parse_feedback`]).
pub fn parse_resolution(body: &[u8]) -> (ResolutionRequest, Vec<FieldError>) {
    let mut errors = Vec::new();
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            errors.push(FieldError::new("body", format!("is not valid JSON: {e}")));
            return (ResolutionRequest::default(), errors);
        }
    };
    if let Some(key) = feedback::duplicate_key(body) {
        errors.push(FieldError::new(short(&key), DUPLICATE_KEY_MESSAGE));
        return (ResolutionRequest::default(), errors);
    }
    let Value::Object(object) = value else {
        errors.push(FieldError::new(
            "body",
            format!("must be a JSON object, got {}", kind(&value)),
        ));
        return (ResolutionRequest::default(), errors);
    };
    for key in object.keys().filter(|k| {
        !matches!(
            k.as_str(),
            "iteration"
                | "action"
                | "final"
                | "corrections"
                | "iterations"
                | "guidance"
                | "reviewer_group"
                | "review_timeout_seconds"
                | "reason"
        )
    }) {
        errors.push(FieldError::new(
            short(key),
            format!("is not a known field; expected {RESOLUTION_FIELDS}"),
        ));
    }
    let iteration = iteration_field(&object, &mut errors);
    let final_artifact = match object.get("final") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(other) => {
            errors.push(FieldError::new(
                "final",
                format!("must be an object (the artifact), got {}", kind(other)),
            ));
            None
        }
    };
    let request = ResolutionRequest {
        iteration,
        action: string_field(&object, "action", &mut errors),
        final_artifact,
        corrections: corrections(object.get("corrections"), &mut errors),
        iterations: integer_field(&object, "iterations", &mut errors),
        guidance: string_field(&object, "guidance", &mut errors),
        reviewer_group: string_field(&object, "reviewer_group", &mut errors),
        review_timeout_seconds: integer_field(&object, "review_timeout_seconds", &mut errors),
        reason: string_field(&object, "reason", &mut errors),
    };
    (request, errors)
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

/// Merges shape errors with the shared validator's answer: a field with a shape error is not
/// reported twice; the header's name replaces `idempotency_key`.
fn merge(
    mut errors: Vec<FieldError>,
    validated: Result<ValidFeedback, Vec<FieldError>>,
    key_missing: bool,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let body_unusable = errors
        .iter()
        .any(|e| e.field == "body" || e.message.starts_with(DUPLICATE_KEY_MESSAGE));
    match validated {
        Ok(valid) if errors.is_empty() => return Ok(valid),
        Ok(_) => {}
        Err(found) => {
            for mut e in found {
                if e.field == "idempotency_key" {
                    e.field = IDEMPOTENCY_KEY_HEADER.to_owned();
                    if key_missing {
                        e.message = "header is required: a fresh random value per decision, reused when retrying it".into();
                    }
                } else if body_unusable && e.field != "workflow_id" && e.field != "reviewer" {
                    continue;
                }
                let prefix = format!("{}.", e.field);
                let seen = errors.iter().any(|x| {
                    x.field == e.field
                        || x.field.starts_with(&prefix)
                        || e.field.starts_with(&format!("{}.", x.field))
                        || e.field.starts_with(&format!("{}[", x.field))
                });
                if !seen {
                    errors.push(e);
                }
            }
        }
    }
    Err(errors)
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
        let body = br#"{"iteration":2,"action":"resolve","final":{"name":"x"}}"#;
        let got = fields(parse_and_validate_resolution(
            "wf-1",
            body,
            Some("k"),
            &reviewer(),
        ));
        assert!(got.contains(&"final.tagline".to_owned()), "{got:?}");
    }

    #[test]
    fn request_changes_needs_comments_or_corrections() {
        let body = br#"{"iteration":1,"decision":"request_changes","comments":"  "}"#;
        let got = fields(parse_and_validate("wf-1", body, Some("k"), &reviewer()));
        assert_eq!(got, ["comments"]);
    }
}
