//! `hitl smoke`: the scheduled smoke test's local twin. Starts a smoke batch through the real
//! definition; the synthetic reviewer decides each item (approve on round one, approve after
//! revisions, always request changes); then named checks verify every outcome.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use hitl_domain::contracts::{workflow_id, SmokeScenario};
use hitl_domain::model::{EscalationReason, FeedbackOutcome, Workflow, WorkflowStatus};
use serde::Serialize;
use serde_json::json;
use statemachine::ExecutionStatus;

use hitl_cli::format::table;
use hitl_cli::local::Runtime;

/// `hitl smoke` options.
#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// Iteration limit of the smoke workflows.
    #[arg(long, default_value_t = 3)]
    pub max_iterations: i64,
    /// Number of smoke workflows per artifact type.
    #[arg(long, default_value_t = 10)]
    pub batch_size: i64,
    /// The artifact types to run, one batch each (issue 28: brand metadata and a type with
    /// nested objects and arrays, so nothing brand-specific goes unnoticed).
    #[arg(long = "type", value_name = "NAME", default_values_t = [
        hitl_domain::types::DEFAULT_TYPE.to_owned(),
        "product-description".to_owned(),
    ])]
    pub types: Vec<String>,
}

/// One named check.
#[derive(Debug, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// Evidence.
    pub detail: String,
}

fn check(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        passed,
        detail: detail.into(),
    }
}

fn expected(scenario: SmokeScenario, max: u32) -> (WorkflowStatus, u32, Option<EscalationReason>) {
    match scenario {
        SmokeScenario::ApproveFirst
        | SmokeScenario::ApproveByTwo
        | SmokeScenario::EditAndApprove => (WorkflowStatus::Approved, 1, None),
        SmokeScenario::ApproveAfterRevisions => (WorkflowStatus::Approved, max, None),
        // Escalated at the limit, then resolved by the synthetic resolver (a correction).
        SmokeScenario::EscalateAtLimit => (
            WorkflowStatus::Resolved,
            max,
            Some(EscalationReason::IterationLimit),
        ),
    }
}

async fn item_checks(runtime: &Runtime, wf: &Workflow) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let Some(scenario) = wf.smoke else {
        return Ok(vec![check(
            format!("{} is a smoke workflow", wf.subject.id),
            false,
            "no scenario",
        )]);
    };
    let (status, iteration, reason) = expected(scenario, wf.config.max_iterations);
    let label = format!(
        "{} {} {:?}",
        wf.config.artifact_type.name, wf.subject.id, scenario
    );
    let got_reason = wf.escalation.as_ref().map(|e| e.reason);
    checks.push(check(
        format!("{label}: outcome"),
        wf.status == status && wf.iteration == iteration && got_reason == reason,
        format!(
            "{} at iteration {}{}",
            wf.status,
            wf.iteration,
            got_reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ),
    ));
    let trail = runtime.store.list_feedback(&wf.id).await?;
    let applied = trail
        .iter()
        .filter(|e| matches!(e.outcome, FeedbackOutcome::Applied { .. }))
        .count();
    let artifacts = runtime.store.list_artifacts(&wf.id).await?;
    // A resolution adds one decision and the person-authored final artifact; an edit adds the
    // reviewer's final version; an approval short of the quorum is an entry but no decision.
    let resolved = u32::from(status == WorkflowStatus::Resolved);
    let edited = u32::from(scenario == SmokeScenario::EditAndApprove);
    let partial = usize::from(scenario == SmokeScenario::ApproveByTwo);
    checks.push(check(
        format!("{label}: audit trail"),
        applied == wf.decisions.len() + partial
            && applied as u32 == iteration + resolved + partial as u32
            && artifacts.len() as u32 == iteration + resolved + edited,
        format!("{applied} decision(s), {} draft(s)", artifacts.len()),
    ));
    let last = wf.decisions.last();
    match scenario {
        SmokeScenario::ApproveByTwo => checks.push(check(
            format!("{label}: two distinct approvers"),
            last.is_some_and(|d| d.co_approvers.len() == 1 && d.co_approvers[0] != d.reviewer),
            last.map(|d| format!("{} after {}", d.reviewer, d.co_approvers.join(", ")))
                .unwrap_or_default(),
        )),
        SmokeScenario::EditAndApprove => {
            let final_version = artifacts.last();
            let field = hitl_domain::smoke::corrected_field(wf);
            checks.push(check(
                format!("{label}: the reviewer's version is final"),
                last.is_some_and(|d| d.edited)
                    && final_version.is_some_and(|a| {
                        a.generator.starts_with("person:")
                            && hitl_domain::types::lookup(&a.content, &field)
                                .and_then(|v| v.as_str())
                                .is_some_and(|t| t.ends_with("approved with an edit"))
                    }),
                final_version
                    .map(|a| {
                        format!(
                            "iteration {} by {}, {field} edited",
                            a.iteration, a.generator
                        )
                    })
                    .unwrap_or_default(),
            ));
        }
        _ => {}
    }
    // Issue 18: the outcome reached its consumers: an approved workflow's envelope is in
    // exports/, an escalated one's Workflow Finished event in the notification log.
    let envelope_path = runtime
        .exports
        .join(&wf.subject.id)
        .join(format!("{}.json", wf.id));
    let events = std::fs::read_to_string(&runtime.notifications).unwrap_or_default();
    let event_seen = events.lines().any(|l| {
        serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
            v["kind"] == "workflow_finished" && v["detail"]["workflow_id"] == wf.id.as_str()
        })
    });
    let (published, detail) = match status {
        WorkflowStatus::Approved | WorkflowStatus::Resolved => {
            let envelope: Option<serde_json::Value> = std::fs::read(&envelope_path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let ok = envelope.as_ref().is_some_and(|e| {
                e["workflow_id"] == wf.id.as_str()
                    && e["outcome"] == status.as_str()
                    && e["artifact_type"]["name"] == wf.config.artifact_type.name.as_str()
                    && e["artifact_type"]["version"] == wf.config.artifact_type.version.as_str()
            }) && event_seen;
            (
                ok,
                format!(
                    "envelope exports/{}/{}.json, event {}",
                    wf.subject.id,
                    wf.id,
                    if event_seen { "emitted" } else { "missing" }
                ),
            )
        }
        _ => (
            event_seen,
            format!("event {}", if event_seen { "emitted" } else { "missing" }),
        ),
    };
    checks.push(check(format!("{label}: published"), published, detail));
    if let Some(arn) = &wf.execution_arn {
        let d = runtime.engine.describe_execution(arn)?;
        let history = runtime.engine.get_execution_history(arn)?;
        let terminal_state = match status {
            WorkflowStatus::Approved => "WorkflowApproved",
            WorkflowStatus::Resolved => "WorkflowResolved",
            _ => "WorkflowEscalated",
        };
        let entered = serde_json::to_string(&history)?.contains(terminal_state);
        checks.push(check(
            format!("{label}: execution"),
            d.status == ExecutionStatus::Succeeded && entered,
            format!(
                "{:?}, {} history events, ended in {terminal_state}",
                d.status,
                history.len()
            ),
        ));
    }
    Ok(checks)
}

/// Runs the smoke test and prints the report.
pub async fn run(runtime: &Runtime, args: SmokeArgs, as_json: bool) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    // One batch per type, all started before the synthetic reviewer settles any.
    let mut batches = Vec::new();
    for artifact_type in &args.types {
        let request_id = format!("smoke-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let input = json!({
            "action": "start_workflow",
            "smoke": true,
            "request_id": request_id,
            "config": {
                "max_iterations": args.max_iterations,
                "batch_size": args.batch_size,
                "artifact_type": {"name": artifact_type},
            },
        });
        eprintln!(
            "smoke: starting batch {request_id} ({} {artifact_type} workflows, max_iterations {})",
            args.batch_size, args.max_iterations
        );
        let execution = runtime
            .engine
            .start_execution(&runtime.state_machine_arn, Some(&request_id), input)
            .await?;
        batches.push((artifact_type.clone(), request_id, execution));
    }
    let mut delivered = 0;
    loop {
        let n = runtime.settle().await?;
        if n == 0 {
            break;
        }
        delivered += n;
        eprintln!("smoke: synthetic reviewer delivered {delivered} decision(s)");
    }
    // Another process sharing the data directory (a second `hitl smoke`, `hitl serve`) may
    // advance some of these executions: wait until every batch is done, helping along.
    let subjects =
        hitl_domain::contracts::smoke_subjects(usize::try_from(args.batch_size).unwrap_or(0));
    let waiting_until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut done = true;
        for (_, request_id, execution) in &batches {
            done &=
                runtime.engine.describe_execution(execution)?.status != ExecutionStatus::Running;
            for subject in &subjects {
                let id = workflow_id(request_id, &subject.id);
                // Done when the record is final and its execution has ended too: the record
                // turns final (finalize) before the execution publishes its event and succeeds.
                done &= match runtime.store.get_workflow(&id).await? {
                    Some(w) if w.status.is_terminal() => {
                        w.execution_arn.as_deref().is_none_or(|arn| {
                            runtime
                                .engine
                                .describe_execution(arn)
                                .is_ok_and(|d| d.status != ExecutionStatus::Running)
                        })
                    }
                    _ => false,
                };
            }
        }
        if done || std::time::Instant::now() > waiting_until {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        runtime.engine.run_due().await?;
        runtime.settle().await?;
    }
    let mut checks = Vec::new();
    let mut workflows = Vec::new();
    for (artifact_type, request_id, execution) in &batches {
        let parent = runtime.engine.describe_execution(execution)?;
        checks.push(check(
            format!("{artifact_type}: start request accepted and fanned out"),
            parent.status == ExecutionStatus::Succeeded,
            format!(
                "{:?}{}",
                parent.status,
                parent.error.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        ));
        let mut found = 0;
        for subject in &subjects {
            let id = workflow_id(request_id, &subject.id);
            match runtime.store.get_workflow(&id).await? {
                Some(wf) => {
                    found += 1;
                    workflows.push(wf);
                }
                None => checks.push(check(
                    format!("{artifact_type} {} created", subject.id),
                    false,
                    "no workflow record",
                )),
            }
        }
        checks.push(check(
            format!("{artifact_type}: every item has a workflow of this type"),
            found == subjects.len()
                && !subjects.is_empty()
                && workflows
                    .iter()
                    .rev()
                    .take(found)
                    .all(|w| &w.config.artifact_type.name == artifact_type),
            format!("{found} of {}", subjects.len()),
        ));
    }
    let request_id = batches
        .iter()
        .map(|(_, id, _)| id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    for wf in &workflows {
        checks.extend(item_checks(runtime, wf).await?);
    }
    let passed = checks.iter().filter(|c| c.passed).count();
    let failed = checks.len() - passed;
    if as_json {
        println!(
            "{}",
            json!({"request_id": request_id, "passed": passed, "failed": failed, "checks": checks})
        );
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                vec![
                    if c.passed { "PASS" } else { "FAIL" }.to_owned(),
                    c.name.clone(),
                    c.detail.clone(),
                ]
            })
            .collect();
        println!("{}", table(&["RESULT", "CHECK", "DETAIL"], &rows));
        println!(
            "smoke {request_id}: {} workflows in {:.2}s",
            workflows.len(),
            started.elapsed().as_secs_f64()
        );
        println!("smoke: {passed} passed, {failed} failed");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
