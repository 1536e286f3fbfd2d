//! The brand-metadata artifact: its schema check, canonical hash, correction application and
//! the deterministic local generator that stands in for a model ([`LocalGenerator`], in
//! `local.rs`; it reads comments with [`listen`] and writes with [`grammar`]).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::FieldError;
use crate::model::Correction;

pub mod grammar;
pub mod listen;
mod local;

pub use local::{LocalGenerator, GENERATOR_NAME};

/// Tones the schema accepts.
pub const TONES: [&str; 5] = ["friendly", "premium", "playful", "professional", "bold"];

/// Fields a reviewer may correct (dotted paths).
pub const CORRECTABLE_FIELDS: [&str; 8] = [
    "name",
    "tagline",
    "description",
    "category",
    "tone",
    "target_audience",
    "colors.primary",
    "colors.secondary",
];

/// Largest accepted artifact, in bytes of compact JSON.
pub const MAX_ARTIFACT_BYTES: usize = 16 * 1024;

fn is_hex_color(value: &str) -> bool {
    value.len() == 7
        && value.starts_with('#')
        && value.chars().skip(1).all(|c| c.is_ascii_hexdigit())
}

fn text(
    errors: &mut Vec<FieldError>,
    object: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<usize>,
) {
    match object.get(field) {
        Some(Value::String(s)) => {
            let len = s.chars().count();
            if !range.contains(&len) {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "must be {}..={} characters, got {len}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        Some(_) => errors.push(FieldError::new(field, "must be a string")),
        None => errors.push(FieldError::new(field, "is required")),
    }
}

/// Validates a draft against the brand-metadata schema; returns every violation.
///
/// Schema: `name` (1..=120 chars), `tagline` (1..=160), `description` (20..=2000),
/// `category` (1..=60), `tone` (one of [`TONES`]), `target_audience` (1..=200),
/// `keywords` (3..=15 unique non-empty strings), `colors.primary` and optional
/// `colors.secondary` (`#RRGGBB`). No other top-level fields.
pub fn validate(content: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(object) = content.as_object() else {
        return vec![FieldError::new("$", "artifact must be a JSON object")];
    };
    let size = serde_json::to_vec(content).map(|v| v.len()).unwrap_or(0);
    if size > MAX_ARTIFACT_BYTES {
        errors.push(FieldError::new(
            "$",
            format!("artifact is {size} bytes; at most {MAX_ARTIFACT_BYTES} allowed"),
        ));
    }
    text(&mut errors, object, "name", 1..=120);
    text(&mut errors, object, "tagline", 1..=160);
    text(&mut errors, object, "description", 20..=2000);
    text(&mut errors, object, "category", 1..=60);
    text(&mut errors, object, "target_audience", 1..=200);
    match object.get("tone").and_then(Value::as_str) {
        Some(t) if TONES.contains(&t) => {}
        Some(t) => errors.push(FieldError::new(
            "tone",
            format!("{t:?} is not one of {}", TONES.join(", ")),
        )),
        None => errors.push(FieldError::new("tone", "is required and must be a string")),
    }
    match object.get("keywords").and_then(Value::as_array) {
        Some(list) => {
            let words: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            if words.len() != list.len() || words.iter().any(|w| w.trim().is_empty()) {
                errors.push(FieldError::new(
                    "keywords",
                    "must contain only non-empty strings",
                ));
            }
            if !(3..=15).contains(&list.len()) {
                errors.push(FieldError::new(
                    "keywords",
                    format!("must have 3..=15 entries, got {}", list.len()),
                ));
            }
            let mut unique: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
            unique.sort();
            unique.dedup();
            if unique.len() != words.len() {
                errors.push(FieldError::new("keywords", "must not repeat entries"));
            }
        }
        None => errors.push(FieldError::new(
            "keywords",
            "is required and must be an array",
        )),
    }
    match object.get("colors").and_then(Value::as_object) {
        Some(colors) => {
            match colors.get("primary").and_then(Value::as_str) {
                Some(c) if is_hex_color(c) => {}
                _ => errors.push(FieldError::new("colors.primary", "must be #RRGGBB")),
            }
            if let Some(secondary) = colors.get("secondary") {
                if !secondary.as_str().is_some_and(is_hex_color) {
                    errors.push(FieldError::new("colors.secondary", "must be #RRGGBB"));
                }
            }
        }
        None => errors.push(FieldError::new(
            "colors",
            "is required and must be an object",
        )),
    }
    let known = [
        "name",
        "tagline",
        "description",
        "category",
        "tone",
        "target_audience",
        "keywords",
        "colors",
    ];
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            errors.push(FieldError::new(key.clone(), "is not part of the schema"));
        }
    }
    errors
}

/// SHA-256 (hex) of the RFC 8785 canonical JSON of `content` (JCS: keys sorted, no white
/// space, numbers as ECMAScript writes them), so a consumer recomputes it with any JCS library.
/// Not `serde_json::to_vec`: its key order is insertion order whenever the `preserve_order`
/// feature is on, which the AWS SDK turns on in every binary that links it.
pub fn content_hash(content: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(content)))
}

/// The RFC 8785 canonical JSON of `value`.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    // A `Value` always serializes (string keys, finite numbers).
    serde_json_canonicalizer::to_vec(value).unwrap_or_default()
}

/// Whether a text has nothing but white space: Unicode `White_Space` and the byte-order mark
/// U+FEFF. `api/openapi.yaml` states the same set as a pattern, so clients and the server
/// agree on what "blank" means.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || c == '\u{feff}')
}

/// Where a correction went wrong: the field it names, or the value it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrectionProblem {
    /// `field` is not one of [`CORRECTABLE_FIELDS`].
    Field(String),
    /// `value` is empty or breaks the schema rule of its field.
    Value(String),
}

/// A draft that passes [`validate`], used to check a correction's value against the schema
/// on its own: the value goes in, the same schema check the generator's output passes runs,
/// and only the errors of that field count. So a correction is refused at the door exactly
/// when it would make any otherwise valid draft invalid.
fn valid_baseline() -> Value {
    json!({
        "name": "Baseline",
        "tagline": "A tagline",
        "description": "A description long enough for the schema.",
        "category": "general",
        "tone": "friendly",
        "target_audience": "everyone",
        "keywords": ["one", "two", "three"],
        "colors": {"primary": "#000000", "secondary": "#FFFFFF"}
    })
}

/// Checks a correction: its field must be correctable and its value must satisfy that
/// field's schema rule (lengths, `#RRGGBB`, one of [`TONES`]).
pub fn check_correction(correction: &Correction) -> Result<(), CorrectionProblem> {
    if !CORRECTABLE_FIELDS.contains(&correction.field.as_str()) {
        return Err(CorrectionProblem::Field(format!(
            "{:?} cannot be corrected; correctable fields: {}",
            correction.field,
            CORRECTABLE_FIELDS.join(", ")
        )));
    }
    if is_blank(&correction.value) {
        return Err(CorrectionProblem::Value("must not be empty".into()));
    }
    let mut draft = valid_baseline();
    apply_correction(&mut draft, correction);
    let messages: Vec<String> = validate(&draft)
        .into_iter()
        .filter(|e| e.field == correction.field)
        .map(|e| e.message)
        .collect();
    if messages.is_empty() {
        Ok(())
    } else {
        Err(CorrectionProblem::Value(messages.join("; ")))
    }
}

/// Sets `field` (a dotted path) to `value` in `content`, creating objects on the way.
pub fn apply_correction(content: &mut Value, correction: &Correction) {
    let mut target = content;
    let mut parts = correction.field.split('.').peekable();
    while let Some(part) = parts.next() {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let Some(object) = target.as_object_mut() else {
            return;
        };
        if parts.peek().is_none() {
            object.insert(part.to_owned(), Value::String(correction.value.clone()));
            return;
        }
        target = object
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}
