//! Artifacts: the canonical hash, correction application, the brand-metadata wrappers over the
//! built-in type ([`crate::types`]) and the deterministic local generator that stands in for a model ([`LocalGenerator`], in
//! `local.rs`; it reads comments with [`listen`] and writes with [`grammar`]).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::FieldError;
use crate::model::Correction;
use crate::types::{ArtifactType, CorrectionError};

pub mod grammar;
pub mod listen;
mod local;

pub use local::{LocalGenerator, GENERATOR_NAME};

/// Largest accepted artifact, in bytes of compact JSON.
pub const MAX_ARTIFACT_BYTES: usize = crate::types::MAX_ARTIFACT_BYTES;

/// The built-in brand-metadata type (`shared/domain/types/brand-metadata/`).
pub fn brand_type() -> ArtifactType {
    ArtifactType::default()
}

/// Validates a draft against the built-in brand-metadata type; returns every violation.
/// A thin wrapper kept for the brand-only callers (the OpenAI generator's repair round, the
/// deploy check); everything that knows a workflow validates by its recorded type.
pub fn validate(content: &Value) -> Vec<FieldError> {
    if !content.is_object() {
        return vec![FieldError::new("$", "artifact must be a JSON object")];
    }
    brand_type().validate_artifact(content)
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
    /// `field` is not a correctable path of the type.
    Field(String),
    /// `value` is empty or breaks the schema at its path.
    Value(String),
}

/// Checks a correction against `artifact_type`: its path must be correctable and its value
/// must satisfy the sub-schema at that path (nested paths and array items included).
pub fn check_correction_for(
    artifact_type: &ArtifactType,
    correction: &Correction,
) -> Result<(), CorrectionProblem> {
    if is_blank(&correction.value) && artifact_type.is_correctable(&correction.field) {
        return Err(CorrectionProblem::Value("must not be empty".into()));
    }
    artifact_type
        .check_correction(&correction.field, &correction.value)
        .map(|_| ())
        .map_err(|e| match e {
            CorrectionError::Field(m) => CorrectionProblem::Field(m),
            CorrectionError::Value(m) => CorrectionProblem::Value(m),
        })
}

/// [`check_correction_for`] the built-in brand-metadata type.
pub fn check_correction(correction: &Correction) -> Result<(), CorrectionProblem> {
    check_correction_for(&brand_type(), correction)
}

/// Sets the value at `field` (a path like `colors.primary` or `specs[1].value`) to the
/// correction's text, creating objects on the way. A type that knows the field's JSON type
/// sets a typed value ([`ArtifactType::apply_correction`]).
pub fn apply_correction(content: &mut Value, correction: &Correction) {
    if let Ok(segments) = crate::types::parse_path(&correction.field) {
        crate::types::set_path(content, &segments, Value::String(correction.value.clone()));
    }
}
