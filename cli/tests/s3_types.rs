//! Artifact types read from an S3 prefix at cold start (issue 28, `hitl_aws::types`), against
//! moto's S3 with the real SDK client: the current version and a kept older one are loaded
//! beside the built-in types, a broken folder fails the load naming the object, and a
//! malformed location is a configuration error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::moto::Moto;
use hitl_aws::types::S3Types;
use hitl_domain::types::TypeRef;

const FILES: [&str; 4] = [
    "artifact.schema.json",
    "subject.schema.json",
    "instructions.md",
    "hints.json",
];

async fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let sdk = moto.sdk().await;
    // moto answers on 127.0.0.1: path-style addressing (a bucket is not a host name there).
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            body.as_bytes().to_vec(),
        ))
        .send()
        .await
        .unwrap();
}

/// The example release note's files, the title's `maxLength` set to `max_title`.
fn release_note(max_title: u64) -> Vec<(&'static str, String)> {
    let root = common::workspace().join("examples/types/release-note");
    FILES
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap();
            let text = if *f == "artifact.schema.json" {
                text.replace("\"maxLength\": 80", &format!("\"maxLength\": {max_title}"))
            } else {
                text
            };
            (*f, text)
        })
        .collect()
}

#[tokio::test]
async fn types_under_an_s3_prefix_are_loaded_beside_the_built_in_ones() {
    let moto = Moto::start().await;
    let s3 = s3(&moto).await;
    s3.create_bucket()
        .bucket("hitl-types")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    common::moto::REGION,
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (file, text) in release_note(80) {
        put(
            &s3,
            "hitl-types",
            &format!("prod/types/release-note/{file}"),
            &text,
        )
        .await;
    }
    for (file, text) in release_note(40) {
        put(
            &s3,
            "hitl-types",
            &format!("prod/types/release-note/versions/2026-11/{file}"),
            &text,
        )
        .await;
    }
    put(&s3, "hitl-types", "prod/types/README.md", "not a type").await;
    // Another deployment's prefix is not read.
    put(&s3, "hitl-types", "staging/types/broken/hints.json", "{").await;

    let source = S3Types::new(s3.clone(), "s3://hitl-types/prod/types").unwrap();
    assert_eq!(source.location(), "s3://hitl-types/prod/types/");
    let registry = source.registry().await.unwrap();
    assert_eq!(
        registry.names(),
        ["brand-metadata", "product-description", "release-note"]
    );
    let current = registry.current("release-note").unwrap();
    let versions = registry.versions("release-note");
    assert_eq!(versions.len(), 2, "the current and the kept version");
    let kept = versions
        .iter()
        .find(|t| t.version != current.version)
        .unwrap();
    // Each judges by its own rules: a 60-character title passes the current version only.
    let title = "x".repeat(60);
    let mut draft = hitl_domain::types::fill_draft(
        &current,
        &serde_json::json!({"id": "a", "name": "Lumen", "attributes": {"release": "2.0"}}),
    );
    draft["title"] = serde_json::Value::from(title);
    assert!(current.validate_artifact(&draft).is_empty());
    let old = registry
        .get(&TypeRef {
            name: "release-note".into(),
            version: kept.version.clone(),
        })
        .unwrap();
    let errors = old.validate_artifact(&draft);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "title");

    // A folder missing a file fails the whole load, naming the folder and the file.
    s3.delete_object()
        .bucket("hitl-types")
        .key("prod/types/release-note/versions/2026-11/hints.json")
        .send()
        .await
        .unwrap();
    let err = source.registry().await.unwrap_err().to_string();
    assert!(
        err.contains("s3://hitl-types/prod/types/release-note/versions/2026-11/")
            && err.contains("lacks hints.json"),
        "{err}"
    );
    // A schema that is not JSON Schema, by folder.
    put(
        &s3,
        "hitl-types",
        "prod/types/release-note/versions/2026-11/hints.json",
        "{}",
    )
    .await;
    put(
        &s3,
        "hitl-types",
        "prod/types/release-note/artifact.schema.json",
        r#"{"type": "objekt"}"#,
    )
    .await;
    let err = source.registry().await.unwrap_err();
    assert_eq!(err.name().as_str(), "ConfigError", "{err}");
    assert!(
        err.to_string()
            .contains("type folder s3://hitl-types/prod/types/release-note/:"),
        "{err}"
    );
    // A built-in name is refused.
    for (file, text) in release_note(80) {
        put(
            &s3,
            "hitl-types",
            &format!("other/brand-metadata/{file}"),
            &text,
        )
        .await;
    }
    let err = S3Types::new(s3.clone(), "s3://hitl-types/other/")
        .unwrap()
        .registry()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("brand-metadata is a built-in type"), "{err}");
    // A bucket that does not exist is a configuration error naming the location.
    let err = S3Types::new(s3.clone(), "s3://no-such-bucket/types/")
        .unwrap()
        .registry()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3://no-such-bucket/types/") && err.contains("NoSuchBucket"),
        "{err}"
    );
}

#[test]
fn a_malformed_location_is_a_configuration_error_naming_the_variable() {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let client = aws_sdk_s3::Client::new(&sdk);
    for bad in [
        "hitl-types/prod",
        "s3://",
        "s3:///types",
        "https://bucket/types",
    ] {
        let err = S3Types::new(client.clone(), bad).unwrap_err().to_string();
        assert!(err.contains("HITL_TYPES_S3_URI"), "{bad}: {err}");
    }
    assert_eq!(
        S3Types::new(client, "s3://bucket").unwrap().location(),
        "s3://bucket/"
    );
}
