//! One read model (issue 27): `hitl status --json` is the reviewers' API's workflow view
//! (`GET /workflows/{id}`) as an operator sees it, plus an `operator` object; the text form is
//! rendered from that same document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{hitl_ok, serve};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn status_json_is_the_apis_workflow_view_with_the_operators_facts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let added = hitl_ok(
        &data,
        &["--json", "reviewers", "add", "ada", "--groups", "admin"],
    );
    let token = json(&added)["token"].as_str().unwrap().to_owned();
    let started = hitl_ok(
        &data,
        &[
            "--json",
            "start",
            "--subject",
            r#"{"id":"s1","name":"Status Brand","category":"food"}"#,
        ],
    );
    let id = json(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Warmer",
            "--correction",
            "tagline=Warm mornings",
        ],
    );

    let mut status = json(&hitl_ok(&data, &["--json", "status", &id]));
    let operator = status
        .as_object_mut()
        .unwrap()
        .remove("operator")
        .expect("the operator's facts");
    assert_eq!(operator["execution_status"], "RUNNING", "{operator}");
    assert!(operator["execution_arn"].is_string(), "{operator}");

    let (_served, base) = serve(&data, None);
    let mut view: Value = reqwest::Client::new()
        .get(format!("{base}/workflows/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Who asks differs (the operator, the signed-in admin); everything else is one document.
    for doc in [&mut status, &mut view] {
        let doc = doc.as_object_mut().unwrap();
        assert!(doc.remove("viewer").is_some());
    }
    assert_eq!(status, view);
    assert_eq!(status["iteration"], 2);
    assert_eq!(status["feedback"][0]["corrections"][0]["field"], "tagline");

    // The text is rendered from the same document.
    let text = String::from_utf8(hitl_ok(&data, &["status", &id]).stdout).unwrap();
    assert!(text.contains(&format!("workflow   {id}")), "{text}");
    assert!(
        text.contains("status     awaiting_review   iteration 2/10"),
        "{text}"
    );
    assert!(text.contains("execution  "), "{text}");
    assert!(text.contains("tagline=Warm mornings"), "{text}");
}
