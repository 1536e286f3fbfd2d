//! Artifact types as data (issue 28): a type is a folder of four files — the artifact's JSON
//! Schema (2020-12), the subject's schema, the agent's instructions (a template over the
//! subject) and review hints — and its version is the content hash of those files. Workflows
//! record the `{name, version}` they started with and are judged by exactly that version to
//! the end; a [`TypeRegistry`] holds every version it was given, so changing a type adds a
//! version and never changes one in flight.
//!
//! Validation is the `jsonschema` crate's; errors are re-worded to name the path the user
//! typed (`specs[2].value: is required`). What JSON Schema cannot say lives in a small named
//! check (`unique_ignoring_case`), listed in the hints.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::FieldError;
use crate::metadata::canonical_json;

mod fill;
mod path;
mod validate;

pub use fill::fill_draft;
pub use path::{
    display as display_path, lookup, parse_path, schema_at_pattern, set as set_path, PathError,
    Segment,
};

/// The type every workflow without a recorded type is (brand metadata, the reference case).
pub const DEFAULT_TYPE: &str = "brand-metadata";

/// The four files of a type folder.
pub const FILES: [&str; 4] = [
    "artifact.schema.json",
    "subject.schema.json",
    "instructions.md",
    "hints.json",
];

// `BUILT_IN`: the built-in types (`shared/domain/types/`) and the deployment's bundled ones
// (`<workspace>/types/` or `HITL_TYPES_DIR` at build time), embedded by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/types.rs"));

/// Largest accepted artifact, in bytes of compact JSON (every type).
pub const MAX_ARTIFACT_BYTES: usize = 16 * 1024;

/// Which type (and exact version) a workflow is judged by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TypeRef {
    /// The type's name (its folder's name).
    pub name: String,
    /// The content hash of its files.
    pub version: String,
}

impl Default for TypeRef {
    /// Brand metadata at the built-in version: what workflows stored before types existed are.
    fn default() -> Self {
        builtin(DEFAULT_TYPE)
            .map(|t| t.reference())
            .unwrap_or_else(|| TypeRef {
                name: DEFAULT_TYPE.to_owned(),
                version: String::new(),
            })
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// What a reviewer-facing page needs to know about one field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldHint {
    /// Label shown instead of the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// One line of help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// `colour`, `long_text`, `list`, `enum` or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<Widget>,
    /// The error message when a value breaks this field's pattern or format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a field is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Widget {
    /// One line of text.
    Text,
    /// A textarea.
    LongText,
    /// A colour swatch and its `#RRGGBB` value.
    Colour,
    /// A list whose items are added and removed.
    List,
    /// A select over the schema's `enum`.
    Enum,
}

/// Checks JSON Schema cannot express, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraCheck {
    /// The array's strings must differ even ignoring case.
    UniqueIgnoringCase,
}

/// The review hints of a type (`hints.json`). Paths are dotted with `[]` for any array index
/// (`specs[].value`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hints {
    /// Field order for display.
    #[serde(default)]
    pub order: Vec<String>,
    /// Labels, help, widgets and messages per path.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldHint>,
    /// Paths reviewers may correct.
    #[serde(default)]
    pub correctable: Vec<String>,
    /// Artifact paths that must equal a subject's value (`{"name": "subject.name"}`).
    #[serde(default)]
    pub bound: BTreeMap<String, String>,
    /// Named extra checks per path.
    #[serde(default)]
    pub checks: BTreeMap<String, ExtraCheck>,
}

/// One artifact type at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactType {
    /// Its name.
    pub name: String,
    /// Content hash of its files (see [`ArtifactType::from_files`]).
    pub version: String,
    /// JSON Schema of the artifact.
    pub artifact_schema: Value,
    /// JSON Schema of the subject.
    pub subject_schema: Value,
    /// The agent's instructions, a template over the subject.
    pub instructions: String,
    /// Review hints.
    pub hints: Hints,
}

impl Default for ArtifactType {
    /// The built-in brand-metadata type.
    fn default() -> Self {
        builtin(DEFAULT_TYPE).unwrap_or_else(|| ArtifactType {
            name: DEFAULT_TYPE.to_owned(),
            version: String::new(),
            artifact_schema: json!({}),
            subject_schema: json!({}),
            instructions: String::new(),
            hints: Hints::default(),
        })
    }
}

/// A type folder that cannot be used, with every reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("type {name:?} is not valid: {}", crate::error::describe_fields(.problems))]
pub struct TypeError {
    /// The type's name.
    pub name: String,
    /// What is wrong, file by file.
    pub problems: Vec<FieldError>,
}

/// Whether `name` is usable as a type name (and a folder name): 1..=64 of `a-z0-9-`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

impl ArtifactType {
    /// Builds a type from the texts of its four files (in [`FILES`] order), checking that
    /// they parse, that both schemas are valid JSON Schema, and that every hinted path
    /// exists in the artifact's schema.
    pub fn from_files(name: &str, files: [&str; 4]) -> Result<Self, TypeError> {
        Self::read(name, files, true)
    }

    /// [`from_files`](Self::from_files) without compiling the two schemas: for the built-in
    /// types, whose schemas a test compiles (`builtin_types_pass_every_check`). A process that
    /// never judges an artifact then does not link the validator: about 0.85 MB of each
    /// function's zip.
    fn from_trusted_files(name: &str, files: [&str; 4]) -> Result<Self, TypeError> {
        Self::read(name, files, false)
    }

    fn read(name: &str, files: [&str; 4], compile_schemas: bool) -> Result<Self, TypeError> {
        let mut problems = Vec::new();
        if !valid_name(name) {
            problems.push(FieldError::new(
                "name",
                "must be 1..=64 characters of a-z, 0-9 and '-'",
            ));
        }
        let mut json_file = |file: &str, text: &str| -> Value {
            serde_json::from_str(text).unwrap_or_else(|e| {
                problems.push(FieldError::new(file, format!("is not valid JSON: {e}")));
                Value::Null
            })
        };
        let artifact_schema = json_file(FILES[0], files[0]);
        let subject_schema = json_file(FILES[1], files[1]);
        let hints_value = json_file(FILES[3], files[3]);
        let hints: Hints = serde_json::from_value(hints_value.clone()).unwrap_or_else(|e| {
            if !hints_value.is_null() {
                problems.push(FieldError::new(FILES[3], e.to_string()));
            }
            Hints::default()
        });
        for (file, schema) in [(FILES[0], &artifact_schema), (FILES[1], &subject_schema)] {
            if schema.is_null() || !compile_schemas {
                continue;
            }
            if let Err(e) = jsonschema::draft202012::new(schema) {
                problems.push(FieldError::new(
                    file,
                    format!("is not a valid JSON Schema: {e}"),
                ));
            }
        }
        if !artifact_schema.is_null() {
            let hinted = hints
                .correctable
                .iter()
                .chain(hints.bound.keys())
                .chain(hints.checks.keys())
                .chain(hints.fields.keys())
                .chain(hints.order.iter());
            for path in hinted {
                if let Err(why) = path::schema_at_pattern(&artifact_schema, path) {
                    problems.push(FieldError::new(FILES[3], format!("{path:?}: {why}")));
                }
            }
        }
        for (field, source) in &hints.bound {
            if source.strip_prefix("subject.").is_none() {
                problems.push(FieldError::new(
                    FILES[3],
                    format!("bound {field:?}: {source:?} must start with \"subject.\""),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(TypeError {
                name: name.to_owned(),
                problems,
            });
        }
        let content = json!({
            FILES[0]: artifact_schema,
            FILES[1]: subject_schema,
            FILES[2]: files[2],
            FILES[3]: hints_value,
        });
        let digest = Sha256::digest(canonical_json(&content));
        Ok(Self {
            name: name.to_owned(),
            version: hex::encode(digest)[..16].to_owned(),
            artifact_schema,
            subject_schema,
            instructions: files[2].to_owned(),
            hints,
        })
    }

    /// Its `{name, version}`.
    pub fn reference(&self) -> TypeRef {
        TypeRef {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }

    /// The instructions with `{{subject.path}}` placeholders filled from `subject` (an
    /// absent value becomes an empty string).
    pub fn render_instructions(&self, subject: &Value) -> String {
        let mut out = String::new();
        let mut rest = self.instructions.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find("}}") else {
                rest = &rest[start..];
                break;
            };
            let key = rest[start + 2..start + end].trim();
            let value = key
                .strip_prefix("subject.")
                .and_then(|p| path::lookup(subject, p));
            match value {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {}
            }
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The first correctable path that holds free text (a string without `enum` or `pattern`,
    /// not inside an array): brand metadata's `tagline`, a product description's `headline`.
    /// The local generator revises it when reviewers send a draft back without correcting
    /// it, and the synthetic reviewer corrects it.
    pub fn lead_text_field(&self) -> Option<String> {
        self.hints
            .correctable
            .iter()
            .find(|path| {
                !path.contains('[')
                    && path::schema_at_pattern(&self.artifact_schema, path).is_ok_and(|s| {
                        s["type"] == "string"
                            && s.get("enum").is_none()
                            && s.get("pattern").is_none()
                    })
            })
            .cloned()
    }

    /// Whether reviewers may correct `path` (indices match `[]`).
    pub fn is_correctable(&self, path: &str) -> bool {
        let Ok(segments) = parse_path(path) else {
            return false;
        };
        self.hints
            .correctable
            .iter()
            .any(|pattern| path::matches(pattern, &segments))
    }

    /// The hint of `path` (the most specific pattern that matches).
    pub fn hint(&self, path: &str) -> Option<&FieldHint> {
        let segments = parse_path(path).ok()?;
        self.hints
            .fields
            .iter()
            .find(|(pattern, _)| path::matches(pattern, &segments))
            .map(|(_, hint)| hint)
    }

    /// Every violation of `subject` (the whole subject object) against the subject schema.
    pub fn validate_subject(&self, subject: &Value) -> Vec<FieldError> {
        validate::against(self, &self.subject_schema, subject, "", false)
    }

    /// Every violation of a draft against the artifact schema, the named checks and the
    /// size limit (bound fields are checked by [`validate_final`](Self::validate_final)).
    pub fn validate_artifact(&self, content: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let size = serde_json::to_vec(content).map(|v| v.len()).unwrap_or(0);
        if size > MAX_ARTIFACT_BYTES {
            errors.push(FieldError::new(
                "$",
                format!("artifact is {size} bytes; at most {MAX_ARTIFACT_BYTES} allowed"),
            ));
        }
        errors.extend(validate::against(
            self,
            &self.artifact_schema,
            content,
            "",
            true,
        ));
        errors.extend(validate::extra_checks(self, content));
        errors
    }

    /// [`validate_artifact`](Self::validate_artifact) plus the bound fields: each must equal
    /// the subject's value (a final version for another subject is refused).
    pub fn validate_final(&self, content: &Value, subject: &Value) -> Vec<FieldError> {
        let mut errors = self.validate_artifact(content);
        for (field, source) in &self.hints.bound {
            let expected = source
                .strip_prefix("subject.")
                .and_then(|p| path::lookup(subject, p));
            let actual = path::lookup(content, field);
            if actual != expected {
                let want = expected
                    .map(|v| match v {
                        Value::String(s) => format!("{s:?}"),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| "absent".to_owned());
                errors.retain(|e| e.field != *field);
                errors.push(FieldError::new(
                    field.clone(),
                    format!("must be the subject's {source} ({want})"),
                ));
            }
        }
        errors
    }

    /// Checks one correction: `path` must be correctable and parse, and `value` (text, or
    /// JSON for a non-string field) must satisfy the sub-schema at that path. Returns the
    /// value to set.
    pub fn check_correction(&self, path: &str, value: &str) -> Result<Value, CorrectionError> {
        let segments = parse_path(path).map_err(|e| CorrectionError::Field(e.to_string()))?;
        if !self.is_correctable(path) {
            return Err(CorrectionError::Field(format!(
                "{path:?} cannot be corrected in type {}; correctable paths: {}",
                self.name,
                self.hints.correctable.join(", ")
            )));
        }
        let schema = path::schema_at(&self.artifact_schema, &segments)
            .map_err(|e| CorrectionError::Field(format!("{path:?}: {e}")))?;
        let typed = typed_value(schema, value);
        let errors = validate::against(self, schema, &typed, path, true);
        if errors.is_empty() {
            Ok(typed)
        } else {
            Err(CorrectionError::Value(
                errors
                    .into_iter()
                    .map(|e| {
                        if e.field == path {
                            e.message
                        } else {
                            format!("{}: {}", e.field, e.message)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        }
    }

    /// Applies a checked correction to `content`: sets the value at `path`, creating objects
    /// on the way; an index one past the end appends.
    pub fn apply_correction(&self, content: &mut Value, path: &str, value: &str) {
        let Ok(segments) = parse_path(path) else {
            return;
        };
        let typed = path::schema_at(&self.artifact_schema, &segments)
            .map(|s| typed_value(s, value))
            .unwrap_or_else(|_| Value::String(value.to_owned()));
        path::set(content, &segments, typed);
    }
}

/// A correction's value as the field's type wants it: the text for a string field, else the
/// text read as JSON (a number, a list, an object), falling back to the text.
fn typed_value(schema: &Value, value: &str) -> Value {
    let wants_string = match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        None => schema
            .get("enum")
            .and_then(Value::as_array)
            .is_none_or(|options| options.iter().all(Value::is_string)),
        _ => true,
    };
    if wants_string {
        Value::String(value.to_owned())
    } else {
        serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
    }
}

/// Where a correction went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrectionError {
    /// The path is malformed or not correctable.
    Field(String),
    /// The value breaks the schema at that path.
    Value(String),
}

/// The built-in type `name`, if there is one (built once per process).
pub fn builtin(name: &str) -> Option<ArtifactType> {
    static BUILT: std::sync::OnceLock<Vec<ArtifactType>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            BUILT_IN
                .iter()
                .filter_map(|(n, files)| ArtifactType::from_trusted_files(n, *files).ok())
                .collect()
        })
        .iter()
        .find(|t| t.name == name)
        .cloned()
}

/// Every type known to a process, by name and version. The newest version added under a name
/// is what new workflows of that name start with; older versions stay for workflows in flight.
#[derive(Debug, Clone)]
pub struct TypeRegistry {
    versions: BTreeMap<TypeRef, Arc<ArtifactType>>,
    current: BTreeMap<String, String>,
}

impl Default for TypeRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl TypeRegistry {
    /// The built-in types only.
    pub fn builtin() -> Self {
        let mut registry = Self {
            versions: BTreeMap::new(),
            current: BTreeMap::new(),
        };
        for (name, _) in BUILT_IN {
            if let Some(t) = builtin(name) {
                registry.add(t);
            }
        }
        registry
    }

    /// Adds a version; it becomes the current version of its name.
    pub fn add(&mut self, artifact_type: ArtifactType) {
        self.current
            .insert(artifact_type.name.clone(), artifact_type.version.clone());
        self.versions
            .insert(artifact_type.reference(), Arc::new(artifact_type));
    }

    /// Adds a version without making it current (an older version read back from storage).
    pub fn keep(&mut self, artifact_type: ArtifactType) {
        self.current
            .entry(artifact_type.name.clone())
            .or_insert_with(|| artifact_type.version.clone());
        self.versions
            .insert(artifact_type.reference(), Arc::new(artifact_type));
    }

    /// The exact version `reference` names.
    pub fn get(&self, reference: &TypeRef) -> Result<Arc<ArtifactType>, UnknownType> {
        self.versions
            .get(reference)
            .cloned()
            .ok_or_else(|| UnknownType(reference.to_string()))
    }

    /// The current version of `name`.
    pub fn current(&self, name: &str) -> Result<Arc<ArtifactType>, UnknownType> {
        let version = self.current.get(name).ok_or_else(|| {
            UnknownType(format!("{name} (known types: {})", self.names().join(", ")))
        })?;
        self.get(&TypeRef {
            name: name.to_owned(),
            version: version.clone(),
        })
    }

    /// The names of every type, sorted.
    pub fn names(&self) -> Vec<String> {
        self.current.keys().cloned().collect()
    }

    /// Every version of `name`, oldest key first (sorted by hash, not by time).
    pub fn versions(&self, name: &str) -> Vec<Arc<ArtifactType>> {
        self.versions
            .values()
            .filter(|t| t.name == name)
            .cloned()
            .collect()
    }
}

/// A type reference no registry entry matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown artifact type {0}")]
pub struct UnknownType(pub String);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The built-in types skip compiling their schemas at run time; this is the check they
    /// skip, and it must give the same type at the same version.
    #[test]
    fn builtin_types_pass_every_check() {
        for &(name, files) in BUILT_IN {
            let checked = ArtifactType::from_files(name, files)
                .unwrap_or_else(|e| panic!("built-in type {name}: {e}"));
            assert_eq!(builtin(name), Some(checked), "{name}");
        }
    }

    #[test]
    fn an_invalid_schema_is_refused_when_read_from_files() {
        let [_, subject, instructions, hints] = BUILT_IN[0].1;
        let err = ArtifactType::from_files(
            "broken",
            [
                r#"{"type": "object", "minProperties": "two"}"#,
                subject,
                instructions,
                hints,
            ],
        )
        .unwrap_err();
        assert!(
            err.problems
                .iter()
                .any(|p| p.field == FILES[0] && p.message.contains("is not a valid JSON Schema")),
            "{err}"
        );
    }
}
