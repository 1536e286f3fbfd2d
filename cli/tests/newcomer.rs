//! What a newcomer and a hostile client tripped over in the `hitl` CLI (issue 31), each as the
//! real binary over a data directory: names that look alike are one approver or are refused,
//! `hitl reconcile` reports what it delivered, errors name the flags the user typed, an
//! approval may carry a comment, and `status` tells the truth after an edit-and-approve and a
//! reassignment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{hitl, hitl_ok};
use hitl_domain::failpoints::AFTER_RECORD;
use serde_json::Value;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// Starts one workflow and returns its id.
fn start(data: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "start",
        "--subject",
        r#"{"id":"brand-n","name":"Newcomer Coffee","category":"food"}"#,
    ];
    args.extend_from_slice(extra);
    let out = hitl_ok(data, &args);
    json(&out)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn approve_as(data: &Path, id: &str, name: &str) -> Output {
    hitl(data, &["feedback", id, "--approve", "--reviewer", name])
}

/// Issue 31, item 4: after `ann` approved a two-approval workflow, `Ann`, `ANN`, Cyrillic
/// `аnn`, `ann` + zero-width space and fullwidth `ａｎｎ` each completed the quorum.
#[test]
fn look_alike_names_are_one_approver_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, &["--required-approvals", "2"]);
    let first = approve_as(&data, &id, "ann");
    assert!(first.status.success(), "{}", text(&first));

    for same in ["Ann", "ANN", "ａｎｎ", " ann  "] {
        let out = approve_as(&data, &id, same);
        assert_eq!(out.status.code(), Some(1), "{same:?}: {}", text(&out));
        assert!(
            text(&out).contains("rejected (already_approved)"),
            "{same:?}: {}",
            text(&out)
        );
    }
    for (look_alike, why) in [
        ("\u{430}nn", "mixes letters of different scripts"),
        (
            "ann\u{200B}",
            "contains an invisible or control character (U+200B)",
        ),
        (
            "\u{FEFF}ann",
            "contains an invisible or control character (U+FEFF)",
        ),
    ] {
        let out = approve_as(&data, &id, look_alike);
        assert_eq!(out.status.code(), Some(2), "{look_alike:?}: {}", text(&out));
        assert!(
            text(&out).contains(&format!("reviewer: {why}")),
            "{look_alike:?}: {}",
            text(&out)
        );
    }
    let status = json(&hitl_ok(&data, &["--json", "status", &id]));
    assert_eq!(status["status"], "awaiting_review", "{status}");
    assert_eq!(status["review"]["approved_by"], serde_json::json!(["ann"]));

    // A claim is one person's too: ANN holds what ann claimed.
    hitl_ok(&data, &["claim", &id, "--reviewer", "bob"]);
    let out = hitl(&data, &["release", &id, "--reviewer", "BOB"]);
    assert!(out.status.success(), "{}", text(&out));
    // Another person completes the quorum.
    let second = approve_as(&data, &id, "carol");
    assert!(second.status.success(), "{}", text(&second));
    let status = json(&hitl_ok(&data, &["--json", "status", &id]));
    assert_eq!(status["status"], "approved", "{status}");
}

/// Issue 31, item 7: after a crash left an accepted decision undelivered, `hitl reconcile`
/// printed "0 examined, 0 delivered" although it delivered it (its start-up pass had).
#[test]
fn reconcile_reports_the_stranded_decision_it_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, &[]);
    let crashed = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(&data)
        .args(["feedback", &id, "--approve", "--reviewer", "rita"])
        .env("FAILPOINTS", format!("{AFTER_RECORD}=return"))
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the crash point did not fire");

    let out = hitl(&data, &["reconcile"]);
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        line.starts_with("reconcile: 1 examined, 1 delivered,"),
        "{line}"
    );
    assert!(line.contains("; 0 still pending"), "{line}");
    let status = json(&hitl_ok(&data, &["--json", "status", &id]));
    assert_eq!(status["status"], "approved");

    // Nothing left: the next pass finds nothing and says so.
    let again = json(&hitl_ok(&data, &["--json", "reconcile"]));
    assert_eq!(again["report"]["examined"], 0, "{again}");
    assert_eq!(again["report"]["delivered"], 0, "{again}");
}

/// Issue 31, item 11: `--correction colors.primary=red` was refused with
/// `corrections[0].value: …`, a name the user never typed.
#[test]
fn a_correction_error_names_the_correction_typed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, &[]);
    let out = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Bolder colours",
            "--correction",
            "tagline=Fresh every morning",
            "--correction",
            "colors.primary=red",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("--correction colors.primary: "), "{said}");
    assert!(!said.contains("corrections["), "{said}");
    let unknown = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "x",
            "--correction",
            "colour=red",
        ],
    );
    assert!(
        text(&unknown).contains("--correction colour=…: field \"colour\""),
        "{}",
        text(&unknown)
    );
}

/// Issue 31, item 12: an approval may carry a comment; the batch-size refusal names the
/// flag; `status` after an edit-and-approve names the final version and the corrections, and
/// after a reassignment the new group.
#[test]
fn approvals_comment_flags_are_named_and_status_tells_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let id = start(&data, &[]);
    let out = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--approve",
            "--comments",
            "Lovely, ship it",
            "--reviewer",
            "rita",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let status = json(&hitl_ok(&data, &["--json", "status", &id]));
    assert_eq!(status["status"], "approved");
    assert_eq!(status["feedback"][0]["comments"], "Lovely, ship it");

    let subjects: Vec<Value> = (0..12)
        .map(|i| serde_json::json!({"id": format!("b-{i}"), "name": format!("Brand {i}")}))
        .collect();
    let file = dir.path().join("subjects.json");
    std::fs::write(&file, serde_json::to_string(&subjects).unwrap()).unwrap();
    let out = hitl(&data, &["start", "--subjects-file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("12 subjects exceed --batch-size 10"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("config.batch_size"), "{}", text(&out));

    // Edit and approve: the final version is the person's, the corrections are listed.
    let edited = start(&data, &["--request-id", "edit-1"]);
    hitl_ok(
        &data,
        &[
            "feedback",
            &edited,
            "--approve",
            "--correction",
            "tagline=Good mornings, brewed",
            "--reviewer",
            "rita",
        ],
    );
    let shown = String::from_utf8_lossy(&hitl_ok(&data, &["status", &edited]).stdout).into_owned();
    assert!(
        shown.contains("final version (by rita, from the draft of iteration 1):"),
        "{shown}"
    );
    assert!(!shown.contains("draft (iteration 2)"), "{shown}");
    assert!(shown.contains("tagline=Good mornings, brewed"), "{shown}");

    // Reassigned: status names the new group.
    let reassigned = start(&data, &["--request-id", "re-1", "--max-iterations", "1"]);
    hitl_ok(
        &data,
        &["feedback", &reassigned, "--request-changes", "Not yet"],
    );
    hitl_ok(
        &data,
        &[
            "resolve",
            &reassigned,
            "--reassign",
            "brand-leads",
            "--by",
            "oncall",
        ],
    );
    let shown =
        String::from_utf8_lossy(&hitl_ok(&data, &["status", &reassigned]).stdout).into_owned();
    assert!(shown.contains("reviewers: brand-leads"), "{shown}");
    let status = json(&hitl_ok(&data, &["--json", "status", &reassigned]));
    assert_eq!(status["reviewer_group"], "brand-leads");
}
