//! The published hashes (`artifact_hash`, an envelope's `content_hash`) are SHA-256 over the
//! RFC 8785 canonical JSON, whatever order the keys arrived in and whether or not serde_json's
//! `preserve_order` feature is on (the AWS SDK turns it on in every binary that links it, and
//! `cargo test --workspace` unifies it in here too).
#![allow(clippy::unwrap_used)]

use hitl_domain::metadata::content_hash;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn the_artifact_hash_does_not_depend_on_key_order() {
    let arrived: Value =
        serde_json::from_str(r##"{"tagline":"Good mornings","name":"Acme","colors":{"secondary":"#fff","primary":"#000"}}"##)
            .unwrap();
    let sorted: Value =
        serde_json::from_str(r##"{"colors":{"primary":"#000","secondary":"#fff"},"name":"Acme","tagline":"Good mornings"}"##)
            .unwrap();
    assert_eq!(content_hash(&arrived), content_hash(&sorted));
    // What a consumer computes with any RFC 8785 library: sorted keys, no white space.
    assert_eq!(
        content_hash(&arrived),
        sha256(
            r##"{"colors":{"primary":"#000","secondary":"#fff"},"name":"Acme","tagline":"Good mornings"}"##
        )
    );
}

#[test]
fn numbers_and_text_are_written_the_rfc_8785_way() {
    let value = json!({"b": 1.0, "a": "é\u{1}", "c": [1e21, 0.5]});
    assert_eq!(
        content_hash(&value),
        sha256("{\"a\":\"é\\u0001\",\"b\":1,\"c\":[1e+21,0.5]}")
    );
}
