//! JSON Schema validation by the `jsonschema` crate, its errors re-worded to name the path
//! the user typed and to say what is wanted (`colors.primary: must be #RRGGBB, a colour like
//! #1A2B3C`, `specs[2].value: is required`).

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::path::{display, parse_path, schema_at, Segment};
use super::{ArtifactType, ExtraCheck};
use crate::error::FieldError;

/// Every violation of `instance` against `schema`, paths prefixed with `prefix` (the path of
/// `instance` inside the artifact). `artifact` says whether the type's hints speak about
/// these paths (they describe the artifact, not the subject).
pub(super) fn against(
    artifact_type: &ArtifactType,
    schema: &Value,
    instance: &Value,
    prefix: &str,
    artifact: bool,
) -> Vec<FieldError> {
    let validator = match jsonschema::draft202012::new(schema) {
        Ok(v) => v,
        Err(e) => {
            return vec![FieldError::new(
                "$schema",
                format!("the type's schema is invalid: {e}"),
            )]
        }
    };
    let base: Vec<Segment> = if prefix.is_empty() {
        Vec::new()
    } else {
        parse_path(prefix).unwrap_or_default()
    };
    let mut errors: Vec<FieldError> = Vec::new();
    for error in validator.iter_errors(instance) {
        let mut segments = base.clone();
        let mut relative = Vec::new();
        for segment in error.instance_path() {
            let s = match segment {
                LocationSegment::Property(p) => Segment::Key(p.to_string()),
                LocationSegment::Index(i) => Segment::Index(Some(i)),
            };
            relative.push(s.clone());
            segments.push(s);
        }
        let here = schema_at(schema, &relative).ok();
        let hint = |path: &str| {
            artifact
                .then(|| artifact_type.hint(path))
                .flatten()
                .and_then(|h| h.message.clone())
        };
        let path = display(&segments);
        let value = error.instance();
        let (field, message) = match error.kind() {
            ValidationErrorKind::Required { property } => {
                let mut child = segments.clone();
                child.push(Segment::Key(
                    property.as_str().unwrap_or_default().to_owned(),
                ));
                (display(&child), "is required".to_owned())
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let mut child = segments.clone();
                    child.push(Segment::Key(key.clone()));
                    errors.push(FieldError::new(
                        display(&child),
                        format!("is not part of the schema (unknown field `{key}`)"),
                    ));
                }
                continue;
            }
            ValidationErrorKind::MinLength { .. } | ValidationErrorKind::MaxLength { .. } => {
                let len = value.as_str().map(|s| s.chars().count()).unwrap_or(0);
                let min = here
                    .and_then(|s| s.get("minLength"))
                    .and_then(Value::as_u64);
                let max = here
                    .and_then(|s| s.get("maxLength"))
                    .and_then(Value::as_u64);
                let wanted = match (min, max) {
                    (Some(a), Some(b)) => format!("{a}..={b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => "of another length:".to_owned(),
                };
                (
                    path.clone(),
                    format!("must be {wanted} characters, got {len}"),
                )
            }
            ValidationErrorKind::MinItems { .. } | ValidationErrorKind::MaxItems { .. } => {
                let len = value.as_array().map(Vec::len).unwrap_or(0);
                let min = here.and_then(|s| s.get("minItems")).and_then(Value::as_u64);
                let max = here.and_then(|s| s.get("maxItems")).and_then(Value::as_u64);
                let wanted = match (min, max) {
                    (Some(a), Some(b)) => format!("{a}..={b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => "another number of".to_owned(),
                };
                (
                    path.clone(),
                    format!("must have {wanted} entries, got {len}"),
                )
            }
            ValidationErrorKind::UniqueItems => {
                (path.clone(), "must not repeat entries".to_owned())
            }
            ValidationErrorKind::Enum { options } => {
                let list = options
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .map(|v| {
                                v.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| v.to_string())
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                (path.clone(), format!("{value} is not one of {list}"))
            }
            ValidationErrorKind::Type { kind } => {
                let wanted = format!("{kind:?}").to_lowercase();
                let wanted = wanted
                    .trim_start_matches("single(")
                    .trim_start_matches("multiple(")
                    .trim_end_matches(')')
                    .to_owned();
                (path.clone(), format!("must be {}", with_article(&wanted)))
            }
            ValidationErrorKind::Pattern { pattern } => (
                path.clone(),
                hint(&path).unwrap_or_else(|| format!("must match the pattern {pattern}")),
            ),
            ValidationErrorKind::Format { format } => (
                path.clone(),
                hint(&path).unwrap_or_else(|| format!("must be a valid {format}")),
            ),
            _ => (
                path.clone(),
                hint(&path).unwrap_or_else(|| error.to_string()),
            ),
        };
        let field = if field.is_empty() {
            "$".to_owned()
        } else {
            field
        };
        if !errors
            .iter()
            .any(|e| e.field == field && e.message == message)
        {
            errors.push(FieldError::new(field, message));
        }
    }
    // The validator's order follows the schema's maps, whose iteration order is not fixed:
    // answers list the fields in path order, the same every time.
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors
}

fn with_article(kind: &str) -> String {
    match kind {
        "object" | "array" | "integer" => format!("an {kind}"),
        "null" => "null".to_owned(),
        other => format!("a {other}"),
    }
}

/// The named checks of the type's hints that JSON Schema cannot express.
pub(super) fn extra_checks(artifact_type: &ArtifactType, content: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (path, check) in &artifact_type.hints.checks {
        let Some(value) = super::path::lookup(content, path) else {
            continue;
        };
        match check {
            ExtraCheck::UniqueIgnoringCase => {
                let Some(list) = value.as_array() else {
                    continue;
                };
                let mut seen: Vec<String> = list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect();
                let count = seen.len();
                seen.sort();
                seen.dedup();
                if seen.len() != count {
                    errors.push(FieldError::new(
                        path.clone(),
                        "must not repeat entries (ignoring case)",
                    ));
                }
            }
        }
    }
    errors
}
