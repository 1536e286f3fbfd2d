//! Fuzz target of the feedback body parser and validator: arbitrary bytes and arbitrary JSON
//! never panic and always end as either a 400 with field errors or an accepted submission.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use hitl_api::identity::ReviewersFile;
use hitl_api::request::parse_and_validate;
use hitl_api::{AppState, ReviewerTokens};
use hitl_domain::feedback::Reviewer;
use hitl_domain::store::WorkflowStore;
use hitl_domain::testing::{FixedClock, RecordingResumer};
use hitl_sqlite::SqliteStore;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

fn reviewer() -> Reviewer {
    Reviewer::declared(
        "rita",
        Some(vec!["reviewers".into()]),
        hitl_domain::model::Channel::Api,
    )
}

/// Arbitrary JSON, biased towards the feedback shape.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("approve"),
            Just("request_changes"),
            Just("tagline"),
            Just("colors.primary")
        ]
        .prop_map(Value::from),
    ];
    let any_json = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("iteration".to_owned()),
                    Just("decision".to_owned()),
                    Just("comments".to_owned()),
                    Just("corrections".to_owned()),
                    Just("field".to_owned()),
                    Just("value".to_owned()),
                    ".{0,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let shaped = (
        prop::option::of(prop_oneof![
            (-3i64..5).prop_map(Value::from),
            Just(json!("1"))
        ]),
        prop::option::of(prop_oneof![
            Just(json!("approve")),
            Just(json!("request_changes")),
            Just(json!("nope")),
            Just(json!(7))
        ]),
        prop::option::of(".{0,30}".prop_map(Value::from)),
        prop::option::of(prop::collection::vec(
            (
                prop_oneof![Just("tagline"), Just("tone"), Just("keywords"), Just("")],
                ".{0,10}",
            )
                .prop_map(|(f, v)| json!({"field": f, "value": v})),
            0..3,
        )),
    )
        .prop_map(|(i, d, c, k)| {
            let mut o = serde_json::Map::new();
            if let Some(i) = i {
                o.insert("iteration".into(), i);
            }
            if let Some(d) = d {
                o.insert("decision".into(), d);
            }
            if let Some(c) = c {
                o.insert("comments".into(), c);
            }
            if let Some(k) = k {
                o.insert("corrections".into(), Value::Array(k));
            }
            Value::Object(o)
        });
    prop_oneof![any_json, shaped]
}

fn check(body: &[u8], key: Option<&str>) {
    match parse_and_validate("wf-fuzz", body, key, &reviewer()) {
        Ok(valid) => {
            // accepted: the shared validator agrees and the fields are sane
            assert!(valid.submission.iteration >= 1);
            assert!(key.is_some());
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a rejection lists at least one field");
            for e in &errors {
                assert!(!e.field.is_empty() && !e.message.is_empty());
                assert!(e.field.chars().count() <= 65, "field names are bounded");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_feedback_parser_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512), key in prop::option::of("[ -~]{0,140}")) {
        check(&body, key.as_deref());
    }

    #[test]
    fn fuzz_feedback_parser_arbitrary_json(value in json_value(), key in prop::option::of("[A-Za-z0-9:._-]{1,20}")) {
        check(value.to_string().as_bytes(), key.as_deref());
    }
}

/// The same inputs through the whole router: never a panic, never a 5xx; only 400 (invalid)
/// or an answer about an accepted submission (200 applied, 409 rejected by the rules).
#[test]
fn fuzz_feedback_endpoint() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut file = ReviewersFile::default();
    let token = file.add("rita", &["reviewers".into()]).unwrap();
    let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::in_memory().unwrap());
    let clock = Arc::new(FixedClock::default());
    let id = runtime
        .block_on(hitl_domain::store::contract::stored_awaiting_review(
            store.as_ref(),
        ))
        .id;
    // The fuzzer is one principal sending thousands of bodies: lift its submission limit.
    let app = hitl_api::router(
        AppState::new(
            store,
            Arc::new(RecordingResumer::default()),
            clock,
            Arc::new(ReviewerTokens::new(&file)),
        )
        .with_rate_limit(u32::MAX, u32::MAX),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop_oneof![
            json_value().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..256),
        ],
        "[A-Za-z0-9-]{1,12}",
    );
    runner
        .run(&strategy, |(body, key)| {
            let request = http::Request::post(format!("/workflows/{id}/feedback"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(Body::from(body))
                .unwrap();
            let status = runtime
                .block_on(app.clone().oneshot(request))
                .unwrap()
                .status()
                .as_u16();
            prop_assert!(matches!(status, 200 | 400 | 409), "status {}", status);
            Ok(())
        })
        .unwrap();
}
