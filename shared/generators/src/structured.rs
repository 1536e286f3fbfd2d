//! An artifact type as a model sees it (issue 28 + 29): the rules of the review loop, the
//! type's instructions rendered over the subject, and its JSON Schema shaped for
//! structured-output servers. The answer is then judged by the type's own schema
//! (`ArtifactType::validate_artifact`), never by this shaped copy.

use hitl_domain::model::Subject;
use hitl_domain::types::ArtifactType;
use serde_json::Value;

/// How a model takes part in the review loop, for every type; after the type's instructions.
pub const LOOP_RULES: &str = "\
Reviewers read every draft and tell you what to change; their feedback is the most important \
input you have.

Rules:
- Answer with one JSON object that matches the JSON Schema below, and nothing else: no prose, \
no Markdown fences.
- Apply every correction exactly: a corrected field takes the reviewer's value, word for word.
- Act on every comment: when a reviewer asks for a word, a tone or an idea, it appears in the \
next draft; when a reviewer rejects a value, never offer it again.
- Follow the escalation guidance, when there is some: it comes from the person who granted \
more iterations and outranks earlier comments.
- Keep what reviewers did not criticise; change what they did.
- Write grammatical English: full sentences in prose fields, no placeholders.";

/// The schema's name in `response_format.json_schema.name` and the Converse tool's name:
/// the type's name with `-` as `_` (both accept letters, digits, `_` and `-`; `_` reads as
/// one identifier to every model).
pub fn schema_name(artifact_type: &ArtifactType) -> String {
    artifact_type.name.replace('-', "_")
}

/// The type's instructions over `subject`, then [`LOOP_RULES`].
pub fn instructions(artifact_type: &ArtifactType, subject: &Subject) -> String {
    let subject = serde_json::to_value(subject).unwrap_or(Value::Null);
    format!(
        "{}\n\n{LOOP_RULES}",
        artifact_type.render_instructions(&subject).trim_end()
    )
}

/// The artifact schema as structured-output servers want it: OpenAI's `strict` mode asks that
/// every object list all its properties in `required` and forbid others, so optional
/// properties become required here (a model then always fills them; the type's schema still
/// judges the answer). `$schema`, `$id` and `title` at the root are dropped: some servers
/// refuse keywords they do not know.
pub fn structured_schema(artifact_type: &ArtifactType) -> Value {
    let mut schema = artifact_type.artifact_schema.clone();
    if let Some(root) = schema.as_object_mut() {
        for keyword in ["$schema", "$id", "title"] {
            root.remove(keyword);
        }
    }
    close_objects(&mut schema);
    schema
}

fn close_objects(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        if let Some(items) = schema.as_array_mut() {
            items.iter_mut().for_each(close_objects);
        }
        return;
    };
    if let Some(Value::Object(properties)) = map.get("properties") {
        let names: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
        map.insert("required".into(), Value::Array(names));
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            // Sub-schemas by name: each value is a schema.
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                if let Some(children) = value.as_object_mut() {
                    children.values_mut().for_each(close_objects);
                }
            }
            "items"
            | "prefixItems"
            | "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "anyOf"
            | "oneOf"
            | "allOf" => close_objects(value),
            _ => {}
        }
    }
}

/// Every property of `schema`'s objects, for tests: `(path, required, closed)`.
#[cfg(test)]
fn objects(schema: &Value, path: &str, out: &mut Vec<(String, bool, bool)>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    if let Some(Value::Object(properties)) = map.get("properties") {
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let all = properties.keys().all(|k| required.contains(&k.as_str()));
        let closed = map.get("additionalProperties") == Some(&Value::Bool(false));
        out.push((path.to_owned(), all, closed));
        for (name, child) in properties {
            objects(child, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = map.get("items") {
        objects(items, &format!("{path}[]"), out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use hitl_domain::types::builtin;

    #[test]
    fn every_object_of_every_built_in_type_is_closed_and_fully_required() {
        for name in ["brand-metadata", "product-description"] {
            let t = builtin(name).unwrap();
            let schema = structured_schema(&t);
            assert!(schema.get("$schema").is_none() && schema.get("title").is_none());
            let mut found = Vec::new();
            objects(&schema, "$", &mut found);
            assert!(
                found.len() > 1,
                "{name}: nested objects expected: {found:?}"
            );
            for (path, all_required, closed) in found {
                assert!(all_required && closed, "{name} {path}");
            }
            // The type's own schema is untouched: brand metadata's secondary colour stays
            // optional there.
            if name == "brand-metadata" {
                assert_eq!(
                    t.artifact_schema["properties"]["colors"]["required"],
                    serde_json::json!(["primary"])
                );
                assert_eq!(
                    schema["properties"]["colors"]["required"],
                    serde_json::json!(["primary", "secondary"])
                );
            }
        }
    }

    #[test]
    fn the_instructions_name_the_subject_and_end_with_the_loop_rules() {
        let t = builtin("product-description").unwrap();
        let subject: Subject = serde_json::from_value(serde_json::json!({
            "id": "p-1", "name": "Trail Kettle", "category": "outdoor"
        }))
        .unwrap();
        let text = instructions(&t, &subject);
        assert!(text.contains("Trail Kettle"), "{text}");
        assert!(!text.contains("{{"), "{text}");
        assert!(text.ends_with(LOOP_RULES));
        assert_eq!(schema_name(&t), "product_description");
    }
}
