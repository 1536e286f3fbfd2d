//! Issue 19: a reviewer's correction is checked against the artifact schema before anything is
//! recorded, so no accepted correction can make a valid draft invalid; and `iteration` is any
//! integral JSON number in 1..=50. Issue 28: the schema is the workflow's type's (here the
//! built-in brand-metadata type), checked once the workflow is known.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hitl_domain::feedback::{self, FeedbackRequest, Reviewer};
use hitl_domain::metadata::{self, CorrectionProblem};
use hitl_domain::model::Correction;
use proptest::prelude::*;
use serde_json::json;

fn reviewer() -> Reviewer {
    Reviewer::declared("rita", None, hitl_domain::model::Channel::Sqs)
}

fn changes(corrections: Vec<(&str, &str)>) -> FeedbackRequest {
    FeedbackRequest {
        iteration: Some(1),
        decision: Some("request_changes".into()),
        comments: Some("please fix".into()),
        corrections: corrections
            .into_iter()
            .map(|(field, value)| Correction {
                field: field.into(),
                value: value.into(),
            })
            .collect(),
    }
}

/// The errors of the door check and of the check by the workflow's type (brand metadata).
fn errors(request: &FeedbackRequest) -> Vec<(String, String)> {
    let found = match feedback::validate("wf-1", request, "k-1", &reviewer()) {
        Err(errors) => errors,
        Ok(valid) => feedback::check_by_type(
            &metadata::brand_type(),
            &json!({"id": "b-1", "name": "Acme Coffee"}),
            &valid.submission,
        ),
    };
    found.into_iter().map(|e| (e.field, e.message)).collect()
}

#[test]
fn schema_breaking_values_are_blamed_on_the_value() {
    for (field, value, message) in [
        ("colors.primary", "red", "must be #RRGGBB"),
        ("colors.secondary", "#GGGGGG", "must be #RRGGBB"),
        (
            "description",
            "Too short",
            "must be 20..=2000 characters, got 9",
        ),
        (
            "tone",
            "grumpy",
            "\"grumpy\" is not one of friendly, premium, playful, professional, bold",
        ),
        ("tagline", " ", "must not be empty"),
        (
            "category",
            &"n".repeat(61),
            "must be 1..=60 characters, got 61",
        ),
    ] {
        assert_eq!(
            errors(&changes(vec![(field, value)])),
            [("corrections[0].value".to_owned(), message.to_owned())],
            "{field}={value}"
        );
    }
}

#[test]
fn unknown_fields_are_blamed_on_the_field_and_good_corrections_pass() {
    let got = errors(&changes(vec![("keywords", "a,b,c")]));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "corrections[0].field");
    // `name` is bound to the subject's name: not correctable.
    let got = errors(&changes(vec![("name", "Alpha Roasters")]));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "corrections[0].field");
    assert!(errors(&changes(vec![
        ("colors.primary", "#AA0000"),
        ("tone", "bold")
    ]))
    .is_empty());
}

#[test]
fn iteration_is_any_integral_number_in_range() {
    let request: FeedbackRequest =
        serde_json::from_str(r#"{"iteration":1.0,"decision":"approve"}"#).unwrap();
    assert_eq!(request.iteration, Some(1));
    assert!(feedback::validate("wf-1", &request, "k", &reviewer()).is_ok());
    let fractional = serde_json::from_str::<FeedbackRequest>(r#"{"iteration":1.5}"#);
    assert!(fractional
        .unwrap_err()
        .to_string()
        .contains("iteration must be an integer"));
    for (raw, shown) in [("4294967296", "4294967296"), ("51", "51"), ("0", "0")] {
        let request: FeedbackRequest =
            serde_json::from_str(&format!(r#"{{"iteration":{raw},"decision":"approve"}}"#))
                .unwrap();
        assert_eq!(
            errors(&request),
            [(
                "iteration".to_owned(),
                format!("must be an integer from 1 to 50, got {shown}")
            )]
        );
    }
    let n: serde_json::Number = serde_json::from_str("1e300").unwrap();
    assert_eq!(
        feedback::iteration_from_number(&n).unwrap_err(),
        "must be an integer from 1 to 50, got 1e+300"
    );
}

fn valid_draft() -> serde_json::Value {
    json!({
        "name": "Acme Coffee",
        "tagline": "Coffee, made for every day",
        "description": "Acme Coffee roasts small batches for people who start early.",
        "category": "food",
        "tone": "friendly",
        "target_audience": "commuters",
        "keywords": ["coffee", "roastery", "morning"],
        "colors": {"primary": "#6F4E37"}
    })
}

proptest! {
    /// The guarantee behind the door check: a correction the check accepts never turns a valid
    /// draft into an invalid one, so regeneration cannot fail over a reviewer's value.
    #[test]
    fn an_accepted_correction_keeps_a_valid_draft_valid(
        field in prop::sample::select(metadata::brand_type().hints.correctable),
        value in prop_oneof![
            "[ -~]{0,40}",
            "#[0-9A-Fa-f]{6}",
            prop::sample::select(vec!["friendly", "premium", "playful", "professional", "bold"])
                .prop_map(str::to_owned),
            "[a-z ]{15,60}",
        ],
    ) {
        let correction = Correction { field: field.clone(), value };
        match metadata::check_correction(&correction) {
            Ok(()) => {
                let mut draft = valid_draft();
                metadata::apply_correction(&mut draft, &correction);
                prop_assert!(metadata::validate(&draft).is_empty(), "{correction:?} broke the draft");
            }
            Err(CorrectionProblem::Field(_)) => prop_assert!(false, "{field} is correctable"),
            Err(CorrectionProblem::Value(message)) => prop_assert!(!message.is_empty()),
        }
    }
}
