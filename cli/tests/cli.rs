//! The `hitl` binary as users run it: separate processes over one data directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::hitl;
use serde_json::Value;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_line(o: &Output) -> Value {
    let text = stdout(o);
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().last().unwrap_or_default()))
        .unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {text} / {}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
}

/// `hitl --json start` of one subject; fails the test unless it succeeds; the workflow id.
fn start_workflow(data: &Path, request_id: &str, subject: &str) -> String {
    let started = hitl(
        data,
        &[
            "--json",
            "start",
            "--request-id",
            request_id,
            "--subject",
            subject,
        ],
    );
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    json_line(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_review_loop_across_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = hitl(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "cli-1",
            "--max-iterations",
            "2",
            "--subject",
            r#"{"id":"brand-9","name":"Acme Coffee","category":"food"}"#,
        ],
    );
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let id = json_line(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed = hitl(&data, &["list", "--status", "awaiting_review"]);
    assert!(stdout(&listed).contains(&id));

    let changes = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Tagline is too generic",
            "--correction",
            "tagline=Coffee for early commuters",
            "--reviewer",
            "rita",
        ],
    );
    assert!(changes.status.success(), "{}", stdout(&changes));
    assert!(
        stdout(&changes).contains("iteration 2"),
        "{}",
        stdout(&changes)
    );

    let status = hitl(&data, &["status", &id]);
    let text = stdout(&status);
    assert!(text.contains("Coffee for early commuters"), "{text}");
    assert!(text.contains("changes since iteration 1"), "{text}");
    assert!(text.contains("rita"), "{text}");

    // The same command with the key it printed is a replay, not a second decision (keys are
    // random per submission since issue 14, so a retry names its key).
    let printed = stdout(&changes);
    let key = printed
        .split_whitespace()
        .skip_while(|w| *w != "--key")
        .nth(1)
        .unwrap()
        .to_owned();
    let replay = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Tagline is too generic",
            "--correction",
            "tagline=Coffee for early commuters",
            "--reviewer",
            "rita",
            "--iteration",
            "1",
            "--key",
            &key,
        ],
    );
    assert!(
        stdout(&replay).contains("already applied"),
        "{}",
        stdout(&replay)
    );

    // A stale decision is rejected with its reason and a non-zero exit.
    let stale = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--approve",
            "--iteration",
            "1",
            "--reviewer",
            "sam",
        ],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stdout(&stale).contains("stale_iteration"),
        "{}",
        stdout(&stale)
    );

    // Two rejections with max 2: escalated at the limit; history shows it.
    let second = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Still generic",
            "--reviewer",
            "rita",
        ],
    );
    assert!(second.status.success());
    let status = hitl(&data, &["--json", "status", &id]);
    let v = json_line(&status);
    assert_eq!(v["status"], "escalated");
    assert_eq!(v["escalation"]["reason"], "iteration_limit");
    // The execution waits in Escalation for a resolution (tests/escalation.rs resolves it).
    let history = stdout(&hitl(&data, &["history", &id]));
    assert!(
        history.contains("Escalation") && !history.contains("ExecutionSucceeded"),
        "{history}"
    );
}

#[test]
fn advance_time_fires_the_review_timeout_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = hitl(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "cli-2",
            "--review-timeout",
            "2h",
            "--subject",
            r#"{"id":"b","name":"Bluebird"}"#,
        ],
    );
    let id = json_line(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(hitl(&data, &["advance-time", "1h"]).status.success());
    assert_eq!(
        json_line(&hitl(&data, &["--json", "status", &id]))["status"],
        "awaiting_review"
    );
    assert!(hitl(&data, &["advance-time", "61m"]).status.success());
    let v = json_line(&hitl(&data, &["--json", "status", &id]));
    assert_eq!(v["status"], "escalated");
    assert_eq!(v["escalation"]["reason"], "review_timeout");
}

#[test]
fn exec_prints_one_json_line_per_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(
        dir.path(),
        "ok.json",
        r#"{"StartAt":"A","States":{
        "A":{"Type":"Pass","Parameters":{"greeting.$":"States.Format('Hello, {}!', $.name)"},"Next":"B"},
        "B":{"Type":"Choice","Choices":[{"Variable":"$.greeting","StringMatches":"Hello*","Next":"Done"}],"Default":"Bad"},
        "Bad":{"Type":"Fail","Error":"NoMatch"},
        "Done":{"Type":"Succeed"}}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["exec", &ok, "--input", r#"{"name":"Ada"}"#])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_line(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["output"]["greeting"], "Hello, Ada!");

    let fail = write(
        dir.path(),
        "fail.json",
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Boom","Cause":"because"}}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["exec", &fail])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_line(&out);
    assert_eq!(
        (
            v["status"].as_str(),
            v["error"].as_str(),
            v["cause"].as_str()
        ),
        (Some("FAILED"), Some("Boom"), Some("because"))
    );

    let wait = write(
        dir.path(),
        "wait.json",
        r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task",
        "Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters":{"QueueUrl":"https://sqs.local/q","MessageBody":{"token.$":"$$.Task.Token"}},"End":true}}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["exec", &wait])
        .output()
        .unwrap();
    let v = json_line(&out);
    assert_eq!(v["status"], "RUNNING");
    assert_eq!(v["waiting"][0]["state_name"], "Ask");
    assert!(
        !stdout(&out).to_lowercase().contains("token\":\""),
        "a token leaked: {}",
        stdout(&out)
    );

    let project = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/definition.asl.json"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["exec", project, "--input", r#"{"action":"start_workflow","smoke":true,"config":{"max_iterations":2,"batch_size":3}}"#])
        .output()
        .unwrap();
    let v = json_line(&out);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["executions"].as_array().map(Vec::len), Some(3));
}

/// A JSONata definition (statemachine/examples/jsonata_order.asl.json) validates and runs;
/// a JSONPath field in a JSONata state is reported with its state and field.
#[test]
fn jsonata_definitions_validate_and_run() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/examples/jsonata_order.asl.json"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["validate", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args([
            "exec",
            example,
            "--input",
            r#"{"id":"o-1","lines":[{"qty":2,"price":30},{"qty":1,"price":45}]}"#,
        ])
        .output()
        .unwrap();
    let v = json_line(&out);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(
        (
            v["output"]["order"].as_str(),
            v["output"]["total"].as_i64(),
            v["output"]["tier"].as_str(),
            v["output"]["lines"].as_i64()
        ),
        (Some("o-1"), Some(105), Some("large"), Some(2)),
        "{v}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$.x","End":true}}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["validate", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("state \"P\", field \"ResultPath\""), "{err}");
}

/// `hitl redrive` reaches the engine's RedriveExecution: a running workflow's execution is
/// refused with the service's error name and a non-zero exit.
#[test]
fn redrive_refuses_an_execution_that_did_not_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start_workflow(&data, "redrive-1", r#"{"id":"r","name":"Redwood"}"#);
    let out = hitl(&data, &["redrive", &id]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_line(&out);
    assert_eq!(v["status"], "REFUSED", "{v}");
    assert_eq!(v["error"], "ExecutionNotRedrivable", "{v}");
    assert!(
        v["cause"].as_str().unwrap_or_default().contains("RUNNING"),
        "{v}"
    );
}

#[test]
fn validate_reports_state_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"},"Orphan":{"Type":"Succeed"}}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["validate", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"A\"") && err.contains("Next") && err.contains("Nowhere"),
        "{err}"
    );
    assert!(err.contains("Orphan"), "{err}");
    let project = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/definition.asl.json"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["validate", project])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn smoke_reports_named_checks_and_a_closing_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = hitl(
        &dir.path().join("d"),
        &["smoke", "--batch-size", "3", "--max-iterations", "2"],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    // One batch per built-in type (issue 28): the nested product description too.
    for artifact_type in ["brand-metadata", "product-description"] {
        assert!(
            text.contains(&format!(
                "{artifact_type} smoke-002 EscalateAtLimit: outcome"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "{artifact_type}: every item has a workflow of this type"
            )),
            "{text}"
        );
    }
    // Per type: 2 batch checks + 4 per workflow (outcome, audit trail, published, execution).
    assert!(text.contains("smoke: 28 passed, 0 failed"), "{text}");
}

#[test]
fn report_after_smoke_shows_the_smoke_batch_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert!(hitl(
        &data,
        &[
            "smoke",
            "--batch-size",
            "6",
            "--max-iterations",
            "3",
            "--type",
            "brand-metadata"
        ]
    )
    .status
    .success());
    // Smoke workflows are left out by default, and the report says so.
    let default = stdout(&hitl(&data, &["report"]));
    assert!(
        default.contains("6 smoke-test workflow(s) left out"),
        "{default}"
    );
    let v = json_line(&hitl(&data, &["--json", "report", "--include-smoke"]));
    // Six items: scenarios round-robin approve-first, approve-after-revisions, escalate,
    // approve-by-two, edit-and-approve, approve-first.
    assert_eq!(v["counts"]["completed"], 6);
    assert_eq!(v["counts"]["approved"], 5);
    assert_eq!(v["counts"]["escalated"], 1);
    assert_eq!(v["first_draft_approval"]["count"], 4);
    assert_eq!(v["iterations_to_approval"]["max"], 3);
    assert_eq!(
        v["escalations"]["by_reason"][0]["reason"],
        "iteration_limit"
    );
    assert_eq!(v["escalations"]["by_reason"][0]["ratio"]["count"], 1);
    // The inbox: one approval by two reviewers, one edit of five approvals.
    assert_eq!(v["inbox"]["multi_approval"], 1);
    assert_eq!(v["inbox"]["edit_and_approve"]["count"], 1);
    assert_eq!(v["inbox"]["edit_and_approve"]["of"], 5);
    assert_eq!(v["most_corrected_fields"][0]["field"], "tagline");
    let html = dir.path().join("report.html");
    let out = hitl(
        &data,
        &[
            "report",
            "--include-smoke",
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("class=\"bar\"").count(),
        3,
        "one bar per iteration bucket 1..=3"
    );
}

/// Issue 31 item 14, as a newcomer met it: a data directory after a smoke run of three
/// workflows (the synthetic reviewer decides milliseconds after each request).
fn smoke_data(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("d");
    common::hitl_ok(
        &data,
        &[
            "smoke",
            "--batch-size",
            "3",
            "--max-iterations",
            "3",
            "--type",
            "brand-metadata",
        ],
    );
    data
}

/// `hitl report --include-smoke --format html [extra…]`: the page.
fn html_report(data: &Path, extra: &[&str]) -> String {
    let html = data.with_file_name("report.html");
    let mut args = vec![
        "report",
        "--include-smoke",
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::hitl_ok(data, &args);
    std::fs::read_to_string(&html).unwrap()
}

/// Issue 31 item 14: "reviewer turnaround 0s" after a smoke run, where nothing waited.
#[test]
fn report_says_no_decision_waited_rather_than_0s() {
    let dir = tempfile::tempdir().unwrap();
    let data = smoke_data(dir.path());
    let table = stdout(&common::hitl_ok(&data, &["report", "--include-smoke"]));
    let turnaround = table
        .lines()
        .find(|l| l.contains("reviewer turnaround"))
        .unwrap();
    assert!(
        turnaround.contains("no wait") && !turnaround.contains("0s"),
        "{turnaround}"
    );
    assert!(
        turnaround.contains("came within a second of the request: nothing waited"),
        "{turnaround}"
    );
}

/// Issue 31 item 14: one week of data drew three lone dots.
#[test]
fn report_of_one_week_is_a_sentence_and_bars() {
    let dir = tempfile::tempdir().unwrap();
    let data = smoke_data(dir.path());
    let v = json_line(&common::hitl_ok(
        &data,
        &["--json", "report", "--include-smoke"],
    ));
    // The smoke batch completes within seconds: one ISO week.
    assert_eq!(v["weekly"].as_array().unwrap().len(), 1);
    let page = html_report(&data, &[]);
    assert!(page.contains(r#"<p class="single-week">Only one week"#));
    assert_eq!(page.matches("<circle").count(), 0);
    assert_eq!(page.matches(r#"<rect class="rate "#).count(), 3);
}

/// Issue 31 item 14: workflow ids in the HTML report were not links.
#[test]
fn report_links_workflow_ids_to_the_review_page() {
    let dir = tempfile::tempdir().unwrap();
    let data = smoke_data(dir.path());
    let page = html_report(&data, &["--page-url", "http://127.0.0.1:8080/"]);
    let v = json_line(&common::hitl_ok(
        &data,
        &["--json", "report", "--include-smoke"],
    ));
    let problems = v["problematic_subjects"].as_array().unwrap();
    assert!(!problems.is_empty());
    for p in problems {
        let id = p["workflow_id"].as_str().unwrap();
        let link = format!(r#"href="http://127.0.0.1:8080/#/workflows/{id}""#);
        assert!(page.contains(&link), "no {link} in the HTML report");
    }
    // `--page-url` is for the HTML report; a bad address is refused, naming the option.
    let out = hitl(&data, &["report", "--page-url", "http://127.0.0.1:8080/"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--page-url links workflow ids in the HTML report"));
    let out = hitl(
        &data,
        &["report", "--format", "html", "--page-url", "localhost:8080"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("invalid value 'localhost:8080' for '--page-url"));
}

/// Issue 31 item 14: an escalation still waiting for a resolution counted as completed. And
/// a decision made after virtual time passed shows that time.
#[test]
fn report_counts_an_escalation_awaiting_resolution_apart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let waited = start_workflow(&data, "req-waited", r#"{"id":"b-1","name":"Waited"}"#);
    let timed_out = start_workflow(&data, "req-timeout", r#"{"id":"b-2","name":"Timed Out"}"#);
    common::hitl_ok(&data, &["advance-time", "2h"]);
    common::hitl_ok(
        &data,
        &["feedback", &waited, "--approve", "--reviewer", "rita"],
    );
    // The review timeout escalates the other one, which then waits for a person.
    common::hitl_ok(&data, &["advance-time", "72h"]);
    let v = json_line(&common::hitl_ok(&data, &["--json", "report"]));
    assert_eq!(v["counts"]["completed"], 1, "{}", v["counts"]); // waited only
    assert_eq!(v["counts"]["escalated"], 0);
    assert_eq!(v["counts"]["awaiting_resolution"], 1);
    assert_eq!(v["escalations"]["overall"]["of"], 1);
    assert_eq!(v["reviewer_turnaround"]["median_seconds"], 7200); // virtual time
    assert_eq!(v["reviewer_turnaround"]["immediate"], 0);
    let table = stdout(&common::hitl_ok(&data, &["report"]));
    let row = table.lines().find(|l| l.contains(&timed_out)).unwrap();
    assert!(row.contains("escalated, waiting"), "{row}");
    assert!(table.contains("2h 00m"), "{table}");
}

/// Issue 19: `--correction colors.primary=red` used to print "applied … workflow is now failed"
/// and exit 0. It is refused with the field error, exits non-zero and changes nothing; a
/// refused decision exits non-zero in `--json` mode too; stderr carries no colour codes when it
/// is not a terminal.
#[test]
fn a_schema_breaking_correction_is_refused_and_a_refusal_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start_workflow(
        &data,
        "typo-1",
        r#"{"id":"brand-7","name":"Acme Coffee","category":"food"}"#,
    );

    let typo = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Use red",
            "--correction",
            "colors.primary=red",
        ],
    );
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(!typo.status.success(), "exit {:?}: {stderr}", typo.status);
    assert!(
        stderr.contains("--correction colors.primary: must be #RRGGBB"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape in stderr: {stderr:?}"
    );
    let status = json_line(&hitl(&data, &["--json", "status", &id]));
    assert_eq!(status["status"], "awaiting_review", "{status}");

    // A valid approval, then a second decision on the same iteration: refused → exit 1.
    let ok = hitl(
        &data,
        &["--json", "feedback", &id, "--approve", "--reviewer", "rita"],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let late = hitl(
        &data,
        &[
            "--json",
            "feedback",
            &id,
            "--approve",
            "--reviewer",
            "omar",
            "--iteration",
            "1",
        ],
    );
    assert_eq!(late.status.code(), Some(1), "{}", stdout(&late));
    assert_eq!(
        json_line(&late)["receipt"]["outcome"]["kind"],
        "rejected",
        "{}",
        stdout(&late)
    );
}

/// Issue 14: local files were world-readable (data dir 0755, databases 0644); a subject field
/// typo was dropped silently; `--json` with `report --format html` wrote JSON into the HTML
/// file; the CLI's idempotency key was predictable (`cli:<reviewer>:<iteration>:<decision>`).
#[test]
fn private_files_strict_subjects_honest_formats_and_random_keys() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let typo = hitl(
        &data,
        &[
            "start",
            "--subject",
            r#"{"id":"b-1","name":"Acme","categroy":"food"}"#,
        ],
    );
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("unknown field `categroy`"));
    let started = hitl(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "perm",
            "--subject",
            r#"{"id":"b-1","name":"Acme"}"#,
        ],
    );
    assert!(started.status.success());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in [
        "workflows.sqlite",
        "executions.sqlite",
        "notifications.jsonl",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let id = json_line(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let html = dir.path().join("r.html");
    let mixed = hitl(
        &data,
        &[
            "--json",
            "report",
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(mixed.status.code(), Some(2));
    assert!(!html.exists(), "nothing written");
    let first = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Warmer",
            "--iteration",
            "1",
        ],
    );
    let text = stdout(&first);
    let key = text
        .split_whitespace()
        .skip_while(|w| *w != "--key")
        .nth(1)
        .unwrap_or_else(|| panic!("no key printed: {text}"))
        .to_owned();
    assert!(key.starts_with("cli-") && key.len() > 20, "{key}");
    // Retrying with the printed key is the same submission.
    let again = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Warmer",
            "--iteration",
            "1",
            "--key",
            &key,
        ],
    );
    assert!(
        stdout(&again).contains("already applied"),
        "{}",
        stdout(&again)
    );
}

/// Issue 14: `hitl --json history` printed raw task tokens (TaskScheduled input) and the
/// executions database kept them. Both now hold a short hash instead.
#[test]
fn task_tokens_never_reach_the_history_or_the_executions_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start_workflow(&data, "tok", r#"{"id":"t-1","name":"Token Co"}"#);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = hitl_sqlite::SqliteStore::open(&data.join("workflows.sqlite")).unwrap();
    use hitl_domain::store::WorkflowStore as _;
    let wf = rt.block_on(store.get_workflow(&id)).unwrap().unwrap();
    let token = wf.pending_review.unwrap().task_token.expose().to_owned();
    let history = stdout(&hitl(&data, &["--json", "history", &id]));
    assert!(!history.contains(&token), "raw token in the history");
    assert!(
        history.contains("<task token sha256:"),
        "the hash still correlates the wait"
    );
    for file in ["executions.sqlite", "executions.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(data.join(file)) {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "raw token in {file}"
            );
        }
    }
}

/// Issue 14: of 20 parallel `hitl start` runs on one data dir, some exited 2 with "execution …
/// was modified concurrently" although their workflows were created (a retry then made
/// duplicates), and two parallel `hitl smoke` runs aborted. Committed work is never reported
/// as a failure now, and a rerun with the same --request-id prints the same workflows.
#[test]
fn parallel_processes_on_one_data_dir_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spawn = |args: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_hitl"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
    };
    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for i in 0..12 {
            handles.push(scope.spawn(move || {
                spawn(vec![
                    "--json".into(),
                    "start".into(),
                    "--request-id".into(),
                    format!("par-{i}"),
                    "--subject".into(),
                    format!(r#"{{"id":"p-{i}","name":"Parallel {i}"}}"#),
                ])
                .unwrap()
            }));
        }
        for _ in 0..2 {
            handles.push(scope.spawn(move || spawn(vec!["smoke".into()]).unwrap()));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let again = hitl(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "par-3",
            "--subject",
            r#"{"id":"p-3","name":"Parallel 3"}"#,
        ],
    );
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(json_line(&again)["workflows"].as_array().unwrap().len(), 1);
}

/// Issue 18: a finished workflow's outcome reaches its consumers locally: the envelope of an
/// approved one under `exports/` (what `hitl export` prints, byte for byte), a `Workflow
/// Finished` event per finished workflow in the notification log.
#[test]
fn finished_workflows_are_published_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let smoke = hitl(&data, &["smoke"]);
    assert!(smoke.status.success(), "{}", stdout(&smoke));
    assert!(stdout(&smoke).contains(": published"));
    let listed = json_line(&hitl(&data, &["--json", "list"]));
    let workflows = listed.as_array().unwrap();
    let events: Vec<Value> = std::fs::read_to_string(data.join("notifications.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "workflow_finished")
        .collect();
    assert_eq!(
        events.len(),
        workflows.len(),
        "one event per finished workflow"
    );
    let approved = workflows
        .iter()
        .find(|w| w["status"] == "approved")
        .unwrap();
    let id = approved["workflow_id"].as_str().unwrap();
    let subject = approved["subject_id"].as_str().unwrap();
    let stored = std::fs::read(
        data.join("exports")
            .join(subject)
            .join(format!("{id}.json")),
    )
    .unwrap();
    let exported = hitl(&data, &["export", id]);
    assert!(exported.status.success());
    assert_eq!(
        exported.stdout, stored,
        "hitl export prints the stored bytes"
    );
    let envelope: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(envelope["schema_version"], "1.3");
    assert_eq!(envelope["outcome"], "approved");
    // 1.3: the type and exact version the artifact was judged by, in the envelope and event
    let name = envelope["artifact_type"]["name"].as_str().unwrap();
    assert!(
        ["brand-metadata", "product-description"].contains(&name),
        "{name}"
    );
    let version = envelope["artifact_type"]["version"].as_str().unwrap();
    assert!(
        version.len() == 16 && version.chars().all(|c| c.is_ascii_hexdigit()),
        "{version}"
    );
    assert_eq!(envelope["approved_by"], "synthetic-reviewer");
    let event = events
        .iter()
        .find(|e| e["detail"]["workflow_id"] == id)
        .unwrap();
    assert_eq!(event["detail"]["content_hash"], envelope["content_hash"]);
    assert_eq!(event["detail"]["artifact_type"], envelope["artifact_type"]);
    // Both documents match the JSON Schemas published in docs/schemas/.
    let schema = |name: &str| {
        let text =
            std::fs::read_to_string(common::workspace().join("docs/schemas").join(name)).unwrap();
        jsonschema::validator_for(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
    };
    let envelope_schema = schema("outcome-envelope.schema.json");
    let event_schema = schema("workflow-finished.schema.json");
    let problems = |v: &jsonschema::Validator, doc: &Value| {
        v.iter_errors(doc)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        envelope_schema.is_valid(&envelope),
        "{:?}",
        problems(&envelope_schema, &envelope)
    );
    let mut broken = envelope.clone();
    broken.as_object_mut().unwrap().remove("content_hash");
    assert!(
        !envelope_schema.is_valid(&broken),
        "the schema requires content_hash"
    );
    for e in &events {
        assert!(
            event_schema.is_valid(&e["detail"]),
            "{:?}",
            problems(&event_schema, &e["detail"])
        );
    }
    // Every envelope of the smoke's two types (issue 28) matches the schema and names its type.
    let mut types_seen = std::collections::BTreeSet::new();
    for subject_dir in std::fs::read_dir(data.join("exports")).unwrap() {
        for file in std::fs::read_dir(subject_dir.unwrap().path()).unwrap() {
            let doc: Value =
                serde_json::from_slice(&std::fs::read(file.unwrap().path()).unwrap()).unwrap();
            assert!(
                envelope_schema.is_valid(&doc),
                "{:?}",
                problems(&envelope_schema, &doc)
            );
            types_seen.insert(doc["artifact_type"]["name"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        types_seen.into_iter().collect::<Vec<_>>(),
        ["brand-metadata", "product-description"]
    );
    // The smoke's escalation was resolved by the synthetic resolver: an envelope with the
    // person-authored artifact, and a `resolved` event that says why it was escalated.
    let resolved = workflows
        .iter()
        .find(|w| w["status"] == "resolved")
        .unwrap();
    let out = dir.path().join("esc.json");
    let written = hitl(
        &data,
        &[
            "export",
            resolved["workflow_id"].as_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(written.status.success());
    let envelope: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(envelope["outcome"], "resolved");
    assert_eq!(envelope["generator"], "person:synthetic-reviewer");
    assert!(
        envelope_schema.is_valid(&envelope),
        "{:?}",
        problems(&envelope_schema, &envelope)
    );
    let event = events
        .iter()
        .find(|e| e["detail"]["workflow_id"] == resolved["workflow_id"])
        .unwrap();
    assert_eq!(event["detail"]["outcome"], "resolved");
    assert_eq!(event["detail"]["reason"], "iteration_limit");
}

/// Issue 31: `--by "$USER"` with USER unset is `--by ""`. The refusal names the flag the user
/// typed and the resolution (not the domain's "invalid feedback: reviewer"), and nothing
/// changes.
#[test]
fn an_empty_resolver_name_is_refused_naming_by_and_the_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // GIVEN an escalated workflow (limit 1, changes requested)
    let started = hitl(
        &data,
        &[
            "--json",
            "start",
            "--max-iterations",
            "1",
            "--subject",
            r#"{"id":"by-1","name":"Bywater Tea"}"#,
        ],
    );
    assert!(started.status.success());
    let id = json_line(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent_back = hitl(&data, &["feedback", &id, "--request-changes", "Warmer"]);
    assert!(sent_back.status.success());
    let before = json_line(&hitl(&data, &["--json", "status", &id]));
    assert_eq!(before["status"], "escalated", "{before}");

    for by in ["", "   ", &"x".repeat(129)] {
        // WHEN it is resolved by an empty, blank or too long name
        let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
            .env_remove("USER")
            .arg("--data-dir")
            .arg(&data)
            .args(["resolve", &id, "--abandon", "--reason", "gone", "--by", by])
            .output()
            .unwrap();
        // THEN the error names `--by` and the resolution, and the workflow is untouched
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("'--by <NAME>'"), "{err}");
        assert!(
            err.contains("the name recorded with the resolution"),
            "{err}"
        );
        assert!(!err.contains("invalid feedback"), "{err}");
        if by.trim().is_empty() {
            assert!(err.contains("is $USER set?"), "{err}");
        }
    }
    let after = json_line(&hitl(&data, &["--json", "status", &id]));
    assert_eq!(after, before);

    // The operators' twin takes the same flag: refused before any AWS call.
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args([
            "aws",
            "resolve",
            &id,
            "--abandon",
            "--reason",
            "gone",
            "--by",
            "",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("'--by <NAME>'") && err.contains("the name recorded with the resolution"),
        "{err}"
    );
}

/// Issue 31: `hitl start --quiet` prints only the workflow ids, so a walk-through can keep one
/// in a variable (`wf=$(hitl start --quiet …)`) without jq; with `--json` it is refused before
/// anything starts.
#[test]
fn start_quiet_prints_only_the_workflow_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let subjects = write(
        dir.path(),
        "subjects.json",
        r#"[{"id":"q-1","name":"Quill Ink"},{"id":"q-2","name":"Quarry Stone"}]"#,
    );
    let out = hitl(&data, &["start", "--quiet", "--subjects-file", &subjects]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    for id in &ids {
        assert!(id.starts_with("wf-") && !id.contains(' '), "{id:?}");
        let status = json_line(&hitl(&data, &["--json", "status", id]));
        assert_eq!(status["status"], "awaiting_review", "{status}");
    }

    let both = hitl(
        &data,
        &[
            "--json",
            "start",
            "-q",
            "--subject",
            r#"{"id":"q-3","name":"Quay"}"#,
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("--quiet"),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    let all = json_line(&hitl(&data, &["--json", "list"]));
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(2),
        "nothing started: {all}"
    );
}

/// Issue 31: a relative definition path is read from the current directory; when it is not
/// there, the error says which directory that was (README.md's paths are relative to the
/// repository root).
#[test]
fn a_missing_relative_path_names_the_directory_it_was_looked_up_in() {
    let root = common::workspace();
    let from_cli = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .current_dir(root.join("cli"))
        .args(["validate", "statemachine/definition.asl.json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&from_cli.stderr);
    assert_eq!(from_cli.status.code(), Some(2), "{err}");
    let cli_dir = root.join("cli").canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "reading statemachine/definition.asl.json (relative to {})",
            cli_dir.display()
        )),
        "{err}"
    );
    let exec = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .current_dir(root.join("cli"))
        .args([
            "exec",
            "examples/double.asl.json",
            "--input",
            "@examples/x.json",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&exec.stderr).contains("(relative to "),
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    let from_root = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .current_dir(&root)
        .args(["validate", "statemachine/definition.asl.json"])
        .output()
        .unwrap();
    assert!(
        from_root.status.success(),
        "{}",
        String::from_utf8_lossy(&from_root.stderr)
    );
}

/// Issue 30: with `HITL_REVIEW_PAGE_URL` set (the same variable as on AWS), a local review
/// request links to the workflow on the review page and says how long is left.
#[test]
fn a_review_request_links_to_the_page_when_its_url_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let subject = r#"{"id":"b-link","name":"Cedar Candles"}"#;
    let started = std::process::Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(&data)
        .args(["--json", "start", "--subject", subject])
        .env("HITL_REVIEW_PAGE_URL", "http://127.0.0.1:8080/")
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let id = json_line(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let requests: Vec<Value> = std::fs::read_to_string(data.join("notifications.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "review_requested")
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let link = format!("http://127.0.0.1:8080/#/workflows/{id}");
    assert_eq!(requests[0]["link"], link.as_str());
    let message = requests[0]["message"].as_str().unwrap();
    assert!(message.contains("(in 72 h)."), "{message}");
    assert!(
        message.ends_with(&format!("Review it: {link}")),
        "{message}"
    );
    // Without it, no link (and no guess at one).
    let plain = dir.path().join("plain");
    assert!(hitl(&plain, &["start", "--subject", subject])
        .status
        .success());
    let log = std::fs::read_to_string(plain.join("notifications.jsonl")).unwrap();
    assert!(!log.contains("\"link\""), "{log}");
}
