//! A valid draft filled from a type's schema alone (the local generator's answer for any type
//! it has no writer for): bound fields from the subject, then `examples`, `default`, the first
//! of an `enum`, and placeholders that meet the length and count limits. Deterministic.

use serde_json::{Map, Value};

use super::path::{lookup, parse_path, set};
use super::ArtifactType;

/// A draft of `artifact_type` for `subject` (the subject as JSON).
pub fn fill_draft(artifact_type: &ArtifactType, subject: &Value) -> Value {
    let name = subject
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("the subject")
        .trim()
        .to_owned();
    let mut draft = fill(&artifact_type.artifact_schema, &name, "");
    for (field, source) in &artifact_type.hints.bound {
        let value = source
            .strip_prefix("subject.")
            .and_then(|p| lookup(subject, p))
            .cloned();
        if let (Some(value), Ok(segments)) = (value, parse_path(field)) {
            set(&mut draft, &segments, value);
        }
    }
    draft
}

fn fill(schema: &Value, name: &str, key: &str) -> Value {
    if let Some(example) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return example.clone();
    }
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.first().and_then(Value::as_str).unwrap_or("string"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut object = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (k, sub) in properties {
                    if required.contains(&k.as_str()) {
                        object.insert(k.clone(), fill(sub, name, k));
                    }
                }
            }
            Value::Object(object)
        }
        "array" => {
            let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array(
                (0..count.max(1))
                    .map(|i| {
                        let mut value = fill(&item, name, key);
                        if let Value::String(s) = &mut value {
                            s.push_str(&format!(" {}", i + 1));
                        }
                        value
                    })
                    .collect(),
            )
        }
        "integer" | "number" => schema.get("minimum").cloned().unwrap_or(Value::from(0)),
        "boolean" => Value::Bool(false),
        "null" => Value::Null,
        _ => Value::String(text(schema, name, key)),
    }
}

/// A sentence about the subject that fits the string's length limits.
fn text(schema: &Value, name: &str, key: &str) -> String {
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .unwrap_or(200) as usize;
    let label = key.replace('_', " ");
    let mut out = if label.is_empty() {
        name.to_owned()
    } else {
        format!("{name}: {label}")
    };
    while out.chars().count() < min {
        out.push_str(" (to be written)");
    }
    out.chars().take(max.max(1)).collect()
}
