//! The one parser of submissions, for every front door: a request body of the API, the
//! `feedback` member of a queue message or of a Lambda event. It reads the JSON by hand, so
//! that every problem is reported per field (serde's derive stops at the first), in the
//! wording the API documents, and merges those shape errors with the validator's findings
//! ([`validate`](super::validate)) so that a field is never reported twice.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::duplicate::duplicate_key;
use super::request::{
    integral_number, iteration_from_number, iteration_range_error, FeedbackRequest,
    ResolutionRequest, Reviewer,
};
use super::validate::validate;
use crate::error::FieldError;
use crate::model::Correction;

const KNOWN_FIELDS: &str = "iteration, decision, comments, corrections";
/// What a key sent twice in one JSON object is told (after its name).
pub const DUPLICATE_KEY_MESSAGE: &str = "appears more than once in the body; send each field once";

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
    object: &Map<String, Value>,
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
fn iteration_field(object: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<i64> {
    match object.get("iteration") {
        None => None,
        Some(Value::Number(n)) => match iteration_from_number(n) {
            Ok(i) => Some(i),
            Err(message) => {
                errors.push(FieldError::new("iteration", message));
                None
            }
        },
        Some(other) => {
            errors.push(FieldError::new(
                "iteration",
                iteration_range_error(kind(other)),
            ));
            None
        }
    }
}

fn integer_field(
    object: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    match object.get(name) {
        None => None,
        Some(Value::Number(n)) => match integral_number(n) {
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

/// The JSON object of a submission, or the error that names what came instead.
fn object_of(value: &Value) -> Result<&Map<String, Value>, FieldError> {
    value.as_object().ok_or_else(|| {
        FieldError::new(
            "body",
            format!("must be a JSON object, got {}", kind(value)),
        )
    })
}

/// Reads a request body: JSON, with no key twice in one object (JSON parsers differ on which
/// value wins), else the one error that says why it cannot be read.
pub fn parse_body(body: &[u8]) -> Result<Value, FieldError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| FieldError::new("body", format!("is not valid JSON: {e}")))?;
    match duplicate_key(body) {
        Some(key) => Err(FieldError::new(short(&key), DUPLICATE_KEY_MESSAGE)),
        None => Ok(value),
    }
}

/// Reads a decision `{iteration, decision, comments?, corrections?}`. Shape errors are listed
/// per field; the request returned alongside holds every field that did parse (so the
/// validator can report the rest).
pub fn read_feedback(value: &Value) -> (FeedbackRequest, Vec<FieldError>) {
    let object = match object_of(value) {
        Ok(object) => object,
        Err(e) => return (FeedbackRequest::default(), vec![e]),
    };
    let mut errors = Vec::new();
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
    let iteration = iteration_field(object, &mut errors);
    let request = FeedbackRequest {
        iteration,
        decision: string_field(object, "decision", &mut errors),
        comments: string_field(object, "comments", &mut errors),
        corrections: corrections(object.get("corrections"), &mut errors),
    };
    (request, errors)
}

/// Parses a request body into a [`FeedbackRequest`] ([`parse_body`], then [`read_feedback`]).
pub fn parse_feedback(body: &[u8]) -> (FeedbackRequest, Vec<FieldError>) {
    match parse_body(body) {
        Ok(value) => read_feedback(&value),
        Err(e) => (FeedbackRequest::default(), vec![e]),
    }
}

const RESOLUTION_FIELDS: &str =
    "iteration, action, final, corrections, iterations, guidance, reviewer_group, review_timeout_seconds, reason";

/// Reads a resolution of an escalated workflow `{iteration, action, …}` (as
/// [`read_feedback`]: shape errors per field, and every field that did parse).
pub fn read_resolution(value: &Value) -> (ResolutionRequest, Vec<FieldError>) {
    let object = match object_of(value) {
        Ok(object) => object,
        Err(e) => return (ResolutionRequest::default(), vec![e]),
    };
    let mut errors = Vec::new();
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
    let iteration = iteration_field(object, &mut errors);
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
        action: string_field(object, "action", &mut errors),
        final_artifact,
        corrections: corrections(object.get("corrections"), &mut errors),
        iterations: integer_field(object, "iterations", &mut errors),
        guidance: string_field(object, "guidance", &mut errors),
        reviewer_group: string_field(object, "reviewer_group", &mut errors),
        review_timeout_seconds: integer_field(object, "review_timeout_seconds", &mut errors),
        reason: string_field(object, "reason", &mut errors),
    };
    (request, errors)
}

/// Parses a request body into a [`ResolutionRequest`] ([`parse_body`], then
/// [`read_resolution`]).
pub fn parse_resolution(body: &[u8]) -> (ResolutionRequest, Vec<FieldError>) {
    match parse_body(body) {
        Ok(value) => read_resolution(&value),
        Err(e) => (ResolutionRequest::default(), vec![e]),
    }
}

/// Parses the optional body of a claim: nothing, `{}` or `{"iteration": n}` (the iteration the
/// reviewer is looking at, so a stale page cannot claim a newer draft).
pub fn parse_claim(body: &[u8]) -> Result<Option<u32>, Vec<FieldError>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value = parse_body(body).map_err(|e| vec![e])?;
    let object = object_of(&value).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for key in object.keys().filter(|k| k.as_str() != "iteration") {
        errors.push(FieldError::new(
            short(key),
            "is not a known field; expected iteration",
        ));
    }
    let iteration = iteration_field(object, &mut errors);
    if errors.is_empty() {
        Ok(iteration.and_then(|i| u32::try_from(i).ok()))
    } else {
        Err(errors)
    }
}

/// Merges shape errors with the validator's findings: a field with a shape error is not
/// reported twice, and when the body could not be read at all (`body`, or a key sent twice)
/// only the findings about what lies outside it (`workflow_id`, `reviewer`, the idempotency
/// key) are kept. `key_error` names the idempotency key's finding as the front door knows it
/// (the API: its header).
pub fn merge_findings(
    mut shape: Vec<FieldError>,
    found: Vec<FieldError>,
    key_error: impl Fn(FieldError) -> FieldError,
) -> Vec<FieldError> {
    let body_unusable = shape
        .iter()
        .any(|e| e.field == "body" || e.message.starts_with(DUPLICATE_KEY_MESSAGE));
    for mut e in found {
        if e.field == "idempotency_key" {
            e = key_error(e);
        } else if body_unusable && e.field != "workflow_id" && e.field != "reviewer" {
            continue;
        }
        let prefix = format!("{}.", e.field);
        let seen = shape.iter().any(|x| {
            x.field == e.field
                || x.field.starts_with(&prefix)
                || e.field.starts_with(&format!("{}.", x.field))
                || e.field.starts_with(&format!("{}[", x.field))
        });
        if !seen {
            shape.push(e);
        }
    }
    shape
}

/// The decision a message carries (the `feedback` member of a queue message or of a Lambda
/// event), ready for [`FeedbackProcessor::submit`](super::FeedbackProcessor::submit); when its
/// shape is wrong, every problem of the message, worded as the API words them (a `feedback`
/// that is not an object is named `feedback`).
pub fn feedback_of_message(
    workflow_id: &str,
    feedback: &Value,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> Result<FeedbackRequest, Vec<FieldError>> {
    let (request, shape) = read_feedback(feedback);
    if shape.is_empty() {
        // The processor validates it (and reports the rest) as for every front door.
        return Ok(request);
    }
    let found = validate(workflow_id, &request, idempotency_key, reviewer)
        .err()
        .unwrap_or_default();
    Err(merge_findings(shape, found, |e| e)
        .into_iter()
        .map(|mut e| {
            if e.field == "body" {
                e.field = "feedback".into();
            }
            e
        })
        .collect())
}

/// A JSON value read as it arrived, for the parts of a message that [`read_feedback`] reads
/// (so that every problem is reported per field, not serde's first). A key twice in one
/// object is refused while reading, as [`parse_body`] refuses it: serde_json would silently
/// keep the last value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct StrictJson(pub Value);

impl From<Value> for StrictJson {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Strict.deserialize(deserializer).map(StrictJson)
    }
}

/// Builds a [`Value`], failing on the first key seen twice in one object.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "{}: {DUPLICATE_KEY_MESSAGE}",
                    short(&key)
                )));
            }
            let value = map.next_value_seed(Strict)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn reviewer() -> Reviewer {
        Reviewer::declared("rita", None, crate::model::Channel::Sqs)
    }

    fn described(errors: &[FieldError]) -> Vec<String> {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn a_message_with_two_bad_fields_reports_both_in_the_apis_words() {
        let feedback = json!({"iteration": "one", "decision": "maybe"});
        let errors = feedback_of_message("wf-1", &feedback, "k-1", &reviewer()).unwrap_err();
        assert_eq!(
            described(&errors),
            [
                "iteration: must be an integer from 1 to 50, got a string",
                "decision: must be \"approve\", \"request_changes\" or \"reject\", got \"maybe\"",
            ]
        );
    }

    #[test]
    fn a_message_parses_as_the_same_body_does() {
        for body in [
            json!({"iteration": 1.0, "decision": "approve"}),
            json!({"iteration": 0, "decision": 3, "corrections": [{"field": "x"}], "extra": 1}),
            json!([1]),
        ] {
            let from_body = parse_feedback(body.to_string().as_bytes());
            assert_eq!(read_feedback(&body), from_body, "{body}");
        }
    }

    #[test]
    fn a_shapeless_feedback_member_is_named_and_the_envelope_still_checked() {
        let errors =
            feedback_of_message("wf-1", &json!("approve"), "bad key!", &reviewer()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["feedback", "idempotency_key"]);
    }

    #[test]
    fn a_well_shaped_decision_is_left_to_the_processor_to_validate() {
        let request =
            feedback_of_message("wf-1", &json!({"decision": "maybe"}), "k", &reviewer()).unwrap();
        assert_eq!(request.decision.as_deref(), Some("maybe"));
    }

    #[test]
    fn strict_json_refuses_a_key_twice_and_reads_everything_else() {
        let err = serde_json::from_str::<StrictJson>(
            r#"{"iteration":1,"corrections":[{"field":"a","value":"b","value":"c"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("value: appears more than once in the body; send each field once"),
            "{err}"
        );
        let text = r#"{"a":[1,-2,1.5,"x",null,true,{"b":{}}]}"#;
        let read: StrictJson = serde_json::from_str(text).unwrap();
        assert_eq!(read.0, serde_json::from_str::<Value>(text).unwrap());
        let via_value: StrictJson = serde_json::from_value(json!({"k": [1, {"v": null}]})).unwrap();
        assert_eq!(via_value.0, json!({"k": [1, {"v": null}]}));
        assert_eq!(serde_json::to_value(&read).unwrap(), read.0);
    }
}
