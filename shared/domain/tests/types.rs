//! Issue 28: artifact types as data. The built-in types load from their folders, validation
//! names the path the user typed (dotted, with array indices), nested unknown keys are
//! refused, corrections are checked against the sub-schema at their path, bound fields tie a
//! final version to its subject, and a registry keeps every version it was given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hitl_domain::model::WorkflowConfig;
use hitl_domain::types::{self, ArtifactType, CorrectionError, TypeRef, TypeRegistry};
use serde_json::{json, Value};

fn product() -> ArtifactType {
    types::builtin("product-description").unwrap()
}

fn brand() -> ArtifactType {
    types::builtin("brand-metadata").unwrap()
}

fn fields(errors: Vec<hitl_domain::FieldError>) -> Vec<(String, String)> {
    errors.into_iter().map(|e| (e.field, e.message)).collect()
}

fn valid_product() -> Value {
    json!({
        "name": "Trail Flask",
        "headline": "Hot for twelve hours",
        "summary": "A steel flask that keeps drinks hot all day long.",
        "bullets": ["Keeps hot 12 h", "Leak-proof lid"],
        "specs": [
            {"name": "Volume", "value": "750 ml"},
            {"name": "Weight", "value": "320 g"},
            {"name": "Steel", "value": "18/8"}
        ],
        "audience": {"segment": "consumers"}
    })
}

#[test]
fn both_built_in_types_load_and_their_version_is_a_content_hash() {
    let registry = TypeRegistry::builtin();
    assert_eq!(registry.names(), ["brand-metadata", "product-description"]);
    let brand = brand();
    assert_eq!(brand.version.len(), 16);
    assert_eq!(TypeRef::default(), brand.reference());
    // Same files, same version; one changed byte, another version.
    let files = |instructions: &str| {
        [
            serde_json::to_string(&brand.artifact_schema).unwrap(),
            serde_json::to_string(&brand.subject_schema).unwrap(),
            instructions.to_owned(),
            serde_json::to_string(&brand.hints).unwrap(),
        ]
    };
    let same = files(&brand.instructions);
    let same = ArtifactType::from_files("brand-metadata", same.each_ref().map(String::as_str));
    assert_eq!(same.unwrap().version, brand.version);
    let changed = files("Write something else.");
    let changed =
        ArtifactType::from_files("brand-metadata", changed.each_ref().map(String::as_str));
    assert_ne!(changed.unwrap().version, brand.version);
}

#[test]
fn stored_workflow_configs_without_a_type_read_as_built_in_brand_metadata() {
    let config: WorkflowConfig = serde_json::from_value(json!({
        "max_iterations": 3, "review_timeout_seconds": 600, "reviewer_group": "reviewers"
    }))
    .unwrap();
    assert_eq!(config.artifact_type.name, "brand-metadata");
    assert_eq!(config.artifact_type.version, brand().version);
}

#[test]
fn a_valid_product_description_passes() {
    assert_eq!(fields(product().validate_artifact(&valid_product())), []);
}

#[test]
fn errors_name_the_path_with_array_indices() {
    let mut draft = valid_product();
    draft["specs"][2] = json!({"name": "Steel"});
    draft["bullets"][1] = json!("no");
    draft["audience"]["segment"] = json!("aliens");
    assert_eq!(
        fields(product().validate_artifact(&draft)),
        [
            (
                "audience.segment".to_owned(),
                "\"aliens\" is not one of consumers, professionals, businesses".to_owned()
            ),
            (
                "bullets[1]".to_owned(),
                "must be 3..=140 characters, got 2".to_owned()
            ),
            ("specs[2].value".to_owned(), "is required".to_owned()),
        ]
    );
}

#[test]
fn nested_unknown_keys_are_refused_at_every_level() {
    let mut draft = valid_product();
    draft["specs"][0]["unit"] = json!("ml");
    draft["audience"]["extra"] = json!({"deep": {"deeper": 1}});
    let got = fields(product().validate_artifact(&draft));
    assert!(got.contains(&(
        "specs[0].unit".to_owned(),
        "is not part of the schema (unknown field `unit`)".to_owned()
    )));
    assert!(got.iter().any(|(f, _)| f == "audience.extra"), "{got:?}");
    let mut brand_draft = json!({
        "name": "Acme", "tagline": "t", "description": "A description long enough.",
        "category": "food", "tone": "bold", "target_audience": "all",
        "keywords": ["a", "b", "c"], "colors": {"primary": "#000000", "extra": {"x": 1}}
    });
    let got = fields(brand().validate_artifact(&brand_draft));
    assert_eq!(
        got,
        [(
            "colors.extra".to_owned(),
            "is not part of the schema (unknown field `extra`)".to_owned()
        )]
    );
    brand_draft["colors"] = json!({"primary": "blue"});
    assert_eq!(
        fields(brand().validate_artifact(&brand_draft)),
        [("colors.primary".to_owned(), "must be #RRGGBB".to_owned())]
    );
}

#[test]
fn keywords_that_differ_only_by_case_are_refused_by_the_named_check() {
    let draft = json!({
        "name": "Acme", "tagline": "t", "description": "A description long enough.",
        "category": "food", "tone": "bold", "target_audience": "all",
        "keywords": ["Coffee", "coffee", "beans"], "colors": {"primary": "#000000"}
    });
    assert_eq!(
        fields(brand().validate_artifact(&draft)),
        [(
            "keywords".to_owned(),
            "must not repeat entries (ignoring case)".to_owned()
        )]
    );
}

#[test]
fn corrections_on_nested_paths_and_array_items_are_checked_against_their_sub_schema() {
    let t = product();
    assert_eq!(
        t.check_correction("specs[1].value", "1 litre"),
        Ok(json!("1 litre"))
    );
    assert_eq!(
        t.check_correction("bullets[0]", "Dishwasher safe"),
        Ok(json!("Dishwasher safe"))
    );
    assert_eq!(
        t.check_correction("specs[1].value", ""),
        Err(CorrectionError::Value(
            "must be 1..=120 characters, got 0".into()
        ))
    );
    assert_eq!(
        t.check_correction("audience.segment", "aliens"),
        Err(CorrectionError::Value(
            "\"aliens\" is not one of consumers, professionals, businesses".into()
        ))
    );
    assert!(matches!(
        t.check_correction("name", "Other"),
        Err(CorrectionError::Field(_))
    ));
    assert!(matches!(
        t.check_correction("specs[x]", "1"),
        Err(CorrectionError::Field(_))
    ));
    let mut draft = valid_product();
    t.apply_correction(&mut draft, "specs[1].value", "1 litre");
    t.apply_correction(&mut draft, "bullets[2]", "Lifetime warranty");
    assert_eq!(draft["specs"][1]["value"], "1 litre");
    assert_eq!(draft["bullets"][2], "Lifetime warranty");
    assert_eq!(fields(t.validate_artifact(&draft)), []);
}

#[test]
fn a_final_version_for_another_subject_is_refused_naming_the_bound_field() {
    let subject = json!({"id": "b-1", "name": "Acme Coffee"});
    let final_version = json!({
        "name": "Alpha Roasters", "tagline": "t", "description": "A description long enough.",
        "category": "food", "tone": "bold", "target_audience": "all",
        "keywords": ["a", "b", "c"], "colors": {"primary": "#000000"}
    });
    assert_eq!(
        fields(brand().validate_final(&final_version, &subject)),
        [(
            "name".to_owned(),
            "must be the subject's subject.name (\"Acme Coffee\")".to_owned()
        )]
    );
}

#[test]
fn subjects_are_checked_by_the_type_subject_schema() {
    let got = fields(brand().validate_subject(&json!({"id": "b", "name": "A", "colour": "red"})));
    assert_eq!(
        got,
        [(
            "colour".to_owned(),
            "is not part of the schema (unknown field `colour`)".to_owned()
        )]
    );
    let got = fields(product().validate_subject(
        &json!({"id": "p", "name": "Flask", "attributes": {"sku": "F-1", "colour": "red"}}),
    ));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "attributes.colour");
}

#[test]
fn the_schema_filled_draft_of_the_second_type_is_valid_and_bound_to_the_subject() {
    let subject = json!({"id": "p-1", "name": "Trail Flask"});
    let draft = types::fill_draft(&product(), &subject);
    assert_eq!(draft["name"], "Trail Flask");
    assert_eq!(fields(product().validate_final(&draft, &subject)), []);
    assert_eq!(
        draft,
        types::fill_draft(&product(), &subject),
        "deterministic"
    );
}

#[test]
fn instructions_render_subject_placeholders() {
    let text = product().render_instructions(&json!({"name": "Flask", "category": "outdoor"}));
    assert!(
        text.starts_with("Write the product description of Flask (outdoor)."),
        "{text}"
    );
}

#[test]
fn a_registry_keeps_old_versions_while_new_workflows_get_the_newest() {
    let mut registry = TypeRegistry::builtin();
    let v1 = product();
    let mut files = [
        serde_json::to_string(&v1.artifact_schema).unwrap(),
        serde_json::to_string(&v1.subject_schema).unwrap(),
        v1.instructions.clone(),
        serde_json::to_string(&v1.hints).unwrap(),
    ];
    files[2].push_str("\nBe brief.\n");
    let v2 = ArtifactType::from_files("product-description", files.each_ref().map(String::as_str))
        .unwrap();
    registry.add(v2.clone());
    assert_eq!(
        registry.current("product-description").unwrap().version,
        v2.version
    );
    assert_eq!(*registry.get(&v1.reference()).unwrap(), v1);
    assert_eq!(registry.versions("product-description").len(), 2);
    assert!(registry.current("no-such-type").is_err());
}

#[test]
fn a_type_folder_with_hints_for_paths_its_schema_lacks_is_refused() {
    let err = ArtifactType::from_files(
        "broken",
        [
            r#"{"type": "object", "properties": {"a": {"type": "string"}}}"#,
            r#"{"type": "object"}"#,
            "Write {{subject.name}}",
            r#"{"correctable": ["b", "a"]}"#,
        ],
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.problems[0].message.contains("\"b\""), "{err}");
    assert!(ArtifactType::from_files("Bad Name", ["{}", "{}", "", "{}"]).is_err());
    assert!(ArtifactType::from_files("x", ["{\"type\": 5}", "{}", "", "{}"]).is_err());
}
