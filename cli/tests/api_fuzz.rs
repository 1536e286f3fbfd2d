//! The API fuzz tier (issue 19): `schemathesis` (PyPI, pinned and installed by
//! `scripts/setup-test-tools.sh` into `.tools/venv-schemathesis`) runs against a real
//! `hitl serve` with `api/openapi.yaml` — every check; the examples, coverage, fuzzing and
//! stateful phases; a fixed seed and a bounded number of examples; real workflow ids — as four
//! callers: nobody, a reviewer of the workflows' group, a reviewer of another group and an
//! analyst. Any schemathesis failure fails the test. Afterwards the audit trail must show that
//! every decision came from a member of the workflow's group, and no workflow may be `failed`.
//! A missing schemathesis is a failure, never a skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{hitl, hitl_ok, serve, workspace};
use hitl_domain::model::{FeedbackOutcome, WorkflowStatus};
use hitl_domain::store::WorkflowStore;
use hitl_sqlite::SqliteStore;

/// Adds a reviewer and returns the bearer token `hitl reviewers add` prints once.
fn add_reviewer(data: &Path, name: &str, groups: &str) -> String {
    let out = hitl_ok(data, &["reviewers", "add", name, "--groups", groups]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .find(|w| w.starts_with("hitl_"))
        .unwrap_or_else(|| panic!("no token in {text:?}"))
        .to_owned()
}

fn start(data: &Path, request_id: &str, group: &str, subjects: &[&str]) -> Vec<String> {
    let subjects: Vec<serde_json::Value> = subjects
        .iter()
        .map(|id| serde_json::json!({"id": id, "name": format!("Brand {id}"), "category": "food"}))
        .collect();
    let file = data.with_file_name(format!("{request_id}.json"));
    std::fs::write(&file, serde_json::to_string(&subjects).unwrap()).unwrap();
    let out = hitl_ok(
        data,
        &[
            "--json",
            "start",
            "--request-id",
            request_id,
            "--reviewer-group",
            group,
            "--max-iterations",
            "3",
            "--batch-size",
            "20",
            "--subjects-file",
            file.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn schemathesis_finds_nothing_and_only_group_members_change_workflows() {
    let root = workspace();
    let schemathesis = root.join(".tools/venv-schemathesis/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run scripts/setup-test-tools.sh (scripts/test.sh does)",
        schemathesis.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rita = add_reviewer(&data, "rita", "reviewers");
    let omar = add_reviewer(&data, "omar", "marketing");
    let ana = add_reviewer(&data, "ana", "analyst");
    let mut ids = start(
        &data,
        "fuzz-rev",
        "reviewers",
        &[
            "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12",
        ],
    );
    ids.extend(start(&data, "fuzz-mkt", "marketing", &["m1"]));
    let members: HashMap<&str, &[&str]> =
        HashMap::from([("reviewers", &["rita"][..]), ("marketing", &["omar"][..])]);

    let (_server, base) = serve(&data, Some(&dir.path().join("serve.log")));
    let mut config = std::fs::read_to_string(root.join("api/schemathesis.toml")).unwrap();
    config.push_str(&format!(
        "\n[dictionaries.workflow_ids]\nvalues = {}\n\n[parameters]\n\"path.id\" = {{ dictionary = \"workflow_ids\", probability = 0.8 }}\n",
        serde_json::to_string(&ids).unwrap()
    ));
    let config_file = dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();
    let reports = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), Into::into)
        .join("schemathesis");

    for (who, token) in [
        ("anonymous", None),
        ("reviewer", Some(&rita)),
        ("other-group", Some(&omar)),
        ("analyst", Some(&ana)),
    ] {
        let started = Instant::now();
        let mut cmd = Command::new(&schemathesis);
        cmd.arg("--config-file")
            .arg(&config_file)
            .arg("run")
            .arg(root.join("api/openapi.yaml"))
            .args(["--url", &base, "--checks", "all"])
            .args(["--phases", "examples,coverage,fuzzing,stateful"])
            .args(["--seed", "19", "--max-examples", "40", "--workers", "1"])
            .args(["--generation-database", "none", "--no-color"])
            .args(["--report", "ndjson", "--report-dir"])
            .arg(reports.join(who))
            .env("SCHEMATHESIS_TELEMETRY", "false");
        if let Some(token) = token {
            cmd.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        let out = cmd.output().expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("generated") || l.contains("Selected:") || l.contains(" in "))
            .collect();
        println!(
            "schemathesis as {who}: exit {:?} in {:.1}s; {}",
            out.status.code(),
            started.elapsed().as_secs_f64(),
            summary.join(" | ").trim()
        );
        assert!(
            out.status.success(),
            "schemathesis as {who} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Every status change went through a valid decision by a member of the workflow's group.
    let store = SqliteStore::open(&data.join("workflows.sqlite")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut decided = 0;
    for id in &ids {
        let wf = rt.block_on(store.get_workflow(id)).unwrap().unwrap();
        assert_ne!(
            wf.status,
            WorkflowStatus::Failed,
            "{id} failed: {:?}",
            wf.failure
        );
        let allowed = members[wf.config.reviewer_group.as_str()];
        for decision in &wf.decisions {
            assert!(
                allowed.contains(&decision.reviewer.as_str()),
                "{id} ({}) was decided by {}",
                wf.config.reviewer_group,
                decision.reviewer
            );
        }
        let trail = rt.block_on(store.list_feedback(id)).unwrap();
        for entry in trail
            .iter()
            .filter(|e| matches!(e.outcome, FeedbackOutcome::Applied { .. }))
        {
            assert!(allowed.contains(&entry.reviewer.as_str()), "{entry:?}");
            decided += 1;
        }
        if wf.status != WorkflowStatus::AwaitingReview {
            assert!(
                !wf.decisions.is_empty(),
                "{id} changed status without a decision"
            );
        }
    }
    println!("workflows: {}, applied decisions: {decided}", ids.len());
    assert!(hitl(&data, &["list"]).status.success());
}
