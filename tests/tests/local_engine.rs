//! End-to-end runs of the project's own definition on the local engine, with the real
//! handlers, SQLite state in a temporary data directory and virtual time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use hitl_cli::local::Runtime;
use hitl_domain::contracts::workflow_id;
use hitl_domain::feedback::{FeedbackProcessor, FeedbackReceipt, FeedbackRequest, Reviewer};
use hitl_domain::model::{Correction, EscalationReason, FeedbackOutcome, Workflow, WorkflowStatus};
use serde_json::{json, Value};
use statemachine::ExecutionStatus;

fn subject(id: &str) -> Value {
    json!({"id": id, "name": format!("Brand {id}"), "category": "food"})
}

async fn start(rt: &Runtime, request_id: &str, config: Value, subjects: Vec<Value>) -> Vec<String> {
    let ids: Vec<String> = subjects
        .iter()
        .map(|s| workflow_id(request_id, s["id"].as_str().unwrap()))
        .collect();
    let input = json!({"action": "start_workflow", "request_id": request_id, "config": config, "subjects": subjects});
    let arn = rt
        .engine
        .start_execution(&rt.state_machine_arn, Some(request_id), input)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let parent = rt.engine.describe_execution(&arn).unwrap();
    assert_eq!(parent.status, ExecutionStatus::Succeeded, "{parent:?}");
    ids
}

async fn wf(rt: &Runtime, id: &str) -> Workflow {
    rt.store
        .get_workflow(id)
        .await
        .unwrap()
        .expect("workflow exists")
}

async fn decide(
    rt: &Runtime,
    id: &str,
    approve: bool,
    comments: &str,
    corrections: Vec<Correction>,
    key: &str,
) -> FeedbackReceipt {
    let current = wf(rt, id).await;
    let request = FeedbackRequest {
        iteration: Some(i64::from(current.iteration)),
        decision: Some(
            if approve {
                "approve"
            } else {
                "request_changes"
            }
            .into(),
        ),
        comments: Some(comments.into()),
        corrections,
    };
    let processor = FeedbackProcessor::new(rt.store.clone(), rt.resumer(), rt.clock.clone());
    let reviewer = Reviewer::declared(
        "rita",
        Some(vec!["reviewers".into()]),
        hitl_domain::model::Channel::Test,
    );
    let receipt = processor
        .submit(id, &request, key, &reviewer)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    receipt
}

fn history_types(rt: &Runtime, w: &Workflow) -> Vec<(String, String)> {
    let events = rt
        .engine
        .get_execution_history(w.execution_arn.as_deref().unwrap())
        .unwrap();
    events
        .iter()
        .map(|e| {
            let v = serde_json::to_value(e).unwrap();
            (
                v["type"].as_str().unwrap_or_default().to_owned(),
                v["details"]["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn execution_status(rt: &Runtime, w: &Workflow) -> ExecutionStatus {
    rt.engine
        .describe_execution(w.execution_arn.as_deref().unwrap())
        .unwrap()
        .status
}

#[tokio::test]
async fn approve_on_round_one() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let ids = start(&rt, "r1", json!({}), vec![subject("b1")]).await;
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::AwaitingReview);
    assert_eq!(w.iteration, 1);
    let receipt = decide(&rt, &ids[0], true, "good", vec![], "k1").await;
    assert!(matches!(receipt.outcome, FeedbackOutcome::Applied { .. }));
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::Approved);
    assert_eq!(execution_status(&rt, &w), ExecutionStatus::Succeeded);
    let history = history_types(&rt, &w);
    assert!(history.iter().any(|(_, n)| n == "MarkApproved"));
    assert!(history.iter().any(|(_, n)| n == "WorkflowApproved"));
    assert_eq!(history.last().unwrap().0, "ExecutionSucceeded");
}

#[tokio::test]
async fn approve_after_three_revisions_applies_corrections() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let ids = start(&rt, "r2", json!({"max_iterations": 5}), vec![subject("b2")]).await;
    for round in 1..=3 {
        let correction = Correction {
            field: "tagline".into(),
            value: format!("Tagline from round {round}"),
        };
        decide(
            &rt,
            &ids[0],
            false,
            &format!("round {round}: tagline"),
            vec![correction],
            &format!("k{round}"),
        )
        .await;
        let w = wf(&rt, &ids[0]).await;
        assert_eq!(w.status, WorkflowStatus::AwaitingReview);
        assert_eq!(w.iteration, round + 1);
    }
    let latest = rt.store.get_artifact(&ids[0], 4).await.unwrap().unwrap();
    assert_eq!(latest.content["tagline"], "Tagline from round 3");
    decide(&rt, &ids[0], true, "ship it", vec![], "k4").await;
    let w = wf(&rt, &ids[0]).await;
    assert_eq!((w.status, w.iteration), (WorkflowStatus::Approved, 4));
    assert_eq!(rt.store.list_artifacts(&ids[0]).await.unwrap().len(), 4);
    assert_eq!(execution_status(&rt, &w), ExecutionStatus::Succeeded);
}

/// An escalated workflow's execution waits for a resolution (issue 16); nobody resolves it,
/// so past the escalation SLA (7 days by default) it ends escalated and unresolved. Returns
/// the record afterwards.
async fn let_the_escalation_expire(rt: &Runtime, w: &Workflow) -> Workflow {
    assert_eq!(execution_status(rt, w), ExecutionStatus::Running);
    let awaiting = w.escalation.as_ref().and_then(|e| e.awaiting.as_ref());
    assert!(awaiting.is_some(), "waits for a resolution: {w:?}");
    rt.engine.advance_time(Duration::days(8)).await.unwrap();
    rt.settle().await.unwrap();
    let after = wf(rt, &w.id).await;
    assert_eq!(after.status, WorkflowStatus::Escalated);
    assert!(after.escalation.as_ref().unwrap().unresolved_at.is_some());
    assert_eq!(execution_status(rt, &after), ExecutionStatus::Succeeded);
    after
}

#[tokio::test]
async fn ten_rejections_escalate_when_the_eleventh_iteration_would_start() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let ids = start(&rt, "r3", json!({}), vec![subject("b3")]).await;
    for round in 1..=10 {
        decide(
            &rt,
            &ids[0],
            false,
            &format!("still wrong, attempt {round}"),
            vec![],
            &format!("k{round}"),
        )
        .await;
    }
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::Escalated);
    assert_eq!(w.iteration, 10);
    assert_eq!(
        w.escalation.as_ref().unwrap().reason,
        EscalationReason::IterationLimit
    );
    let w = let_the_escalation_expire(&rt, &w).await;
    let history = history_types(&rt, &w);
    let reviews = history
        .iter()
        .filter(|(t, n)| t == "TaskStateEntered" && n == "WaitForFeedback")
        .count();
    assert_eq!(reviews, 10, "ten review rounds, no eleventh");
    let regenerations = history
        .iter()
        .filter(|(t, n)| t == "TaskStateEntered" && n == "MetadataRegeneration")
        .count();
    assert_eq!(regenerations, 9);
    assert!(history.iter().any(|(_, n)| n == "WorkflowEscalated"));
}

#[tokio::test]
async fn review_timeout_in_virtual_time_escalates_and_late_feedback_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let ids = start(
        &rt,
        "r4",
        json!({"review_timeout_seconds": 259200}),
        vec![subject("b4")],
    )
    .await;
    rt.engine.advance_time(Duration::hours(71)).await.unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        wf(&rt, &ids[0]).await.status,
        WorkflowStatus::AwaitingReview
    );
    rt.engine.advance_time(Duration::hours(2)).await.unwrap();
    rt.settle().await.unwrap();
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::Escalated);
    assert_eq!(
        w.escalation.as_ref().unwrap().reason,
        EscalationReason::ReviewTimeout
    );
    let late = decide(&rt, &ids[0], true, "sorry, late", vec![], "late").await;
    assert!(
        matches!(late.outcome, FeedbackOutcome::Rejected { ref reason, .. } if reason == "review_timed_out"),
        "{late:?}"
    );
}

#[tokio::test]
async fn duplicate_feedback_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let ids = start(&rt, "r5", json!({}), vec![subject("b5")]).await;
    let first = decide(&rt, &ids[0], false, "make it bolder", vec![], "same-key").await;
    let w1 = wf(&rt, &ids[0]).await;
    // The retry names the iteration it decided (1), as a retried request would.
    let request = FeedbackRequest {
        iteration: Some(1),
        decision: Some("request_changes".into()),
        comments: Some("make it bolder".into()),
        corrections: vec![],
    };
    let processor = FeedbackProcessor::new(rt.store.clone(), rt.resumer(), rt.clock.clone());
    let reviewer = Reviewer::declared(
        "rita",
        Some(vec!["reviewers".into()]),
        hitl_domain::model::Channel::Test,
    );
    let again = processor
        .submit(&ids[0], &request, "same-key", &reviewer)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
    let w2 = wf(&rt, &ids[0]).await;
    assert_eq!(w1.version, w2.version);
    assert_eq!(w2.iteration, 2);
    assert_eq!(rt.store.list_feedback(&ids[0]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_process_restart_between_suspension_and_feedback_resumes_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let ids = {
        let rt = Runtime::open(Some(dir.path())).unwrap();
        start(&rt, "r6", json!({}), vec![subject("b6")]).await
    };
    let rt = Runtime::open(Some(dir.path())).unwrap();
    assert_eq!(
        wf(&rt, &ids[0]).await.status,
        WorkflowStatus::AwaitingReview
    );
    decide(&rt, &ids[0], false, "new colours", vec![], "k1").await;
    drop(rt);
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let w = wf(&rt, &ids[0]).await;
    assert_eq!((w.status, w.iteration), (WorkflowStatus::AwaitingReview, 2));
    decide(&rt, &ids[0], true, "ok", vec![], "k2").await;
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::Approved);
    assert_eq!(execution_status(&rt, &w), ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_batch_isolates_items_and_the_smoke_reviewer_covers_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let input = json!({"action": "start_workflow", "smoke": true, "request_id": "smoke-t",
        "config": {"max_iterations": 3, "batch_size": 6}});
    rt.engine
        .start_execution(&rt.state_machine_arn, Some("smoke-t"), input)
        .await
        .unwrap();
    while rt.settle().await.unwrap() > 0 {}
    let mut outcomes = Vec::new();
    for s in hitl_domain::contracts::smoke_subjects(6) {
        let w = wf(&rt, &workflow_id("smoke-t", &s.id)).await;
        assert_eq!(execution_status(&rt, &w), ExecutionStatus::Succeeded);
        outcomes.push((w.status, w.iteration));
        if w.status == WorkflowStatus::Resolved {
            let history = history_types(&rt, &w);
            assert!(history.iter().any(|(_, n)| n == "WorkflowResolved"));
        }
    }
    use WorkflowStatus::*;
    assert_eq!(
        outcomes,
        vec![
            (Approved, 1),
            (Approved, 3),
            (Resolved, 3),
            // ApproveByTwo, EditAndApprove, then ApproveFirst again.
            (Approved, 1),
            (Approved, 1),
            (Approved, 1)
        ]
    );
}

#[tokio::test]
async fn an_invalid_start_request_fails_with_field_errors_and_creates_nothing() {
    let rt = Runtime::open(None).unwrap();
    let input = json!({"action": "start_workflow", "config": {"max_iterations": 99}, "subjects": [{"id": "bad id!", "name": ""}]});
    let arn = rt
        .engine
        .start_execution(&rt.state_machine_arn, None, input)
        .await
        .unwrap();
    let d = rt.engine.describe_execution(&arn).unwrap();
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("InvalidInput"));
    let cause = d.cause.unwrap_or_default();
    for field in [
        "config.max_iterations",
        "subjects[0].id",
        "subjects[0].name",
    ] {
        assert!(cause.contains(field), "{field} not in {cause}");
    }
    for status in WorkflowStatus::ALL {
        assert!(rt
            .store
            .list_by_status(status, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
    }
}

/// An agent whose regenerated drafts always fail the artifact schema (the first draft is the
/// local generator's, so the workflow reaches review).
struct BrokenRegenerator;

#[async_trait::async_trait]
impl hitl_domain::ports::MetadataAgent for BrokenRegenerator {
    async fn generate(
        &self,
        request: &hitl_domain::ports::GenerationRequest,
    ) -> Result<hitl_domain::ports::GeneratedDraft, hitl_domain::HandlerError> {
        let mut draft = hitl_domain::metadata::LocalGenerator
            .generate(request)
            .await?;
        if request.iteration > 1 {
            draft.content["colors"]["primary"] = json!("red");
        }
        Ok(draft)
    }
}

/// Issue 19: a regenerated draft that keeps failing the schema used to end the workflow
/// `failed` through RecordFailure. It now escalates with reason `invalid_draft`, saying why,
/// and the execution ends in WorkflowEscalated.
#[tokio::test]
async fn an_invalid_regenerated_draft_escalates_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let rt =
        Runtime::open_with_agent(Some(dir.path()), std::sync::Arc::new(BrokenRegenerator)).unwrap();
    let ids = start(&rt, "inv", json!({}), vec![subject("b-inv")]).await;
    let receipt = decide(
        &rt,
        &ids[0],
        false,
        "Warmer tagline please",
        vec![],
        "k-inv",
    )
    .await;
    assert!(matches!(receipt.outcome, FeedbackOutcome::Applied { .. }));
    rt.engine.run_due().await.unwrap();
    rt.settle().await.unwrap();
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::Escalated, "{w:?}");
    let escalation = w.escalation.clone().unwrap();
    assert_eq!(escalation.reason, EscalationReason::InvalidDraft);
    assert!(
        escalation
            .detail
            .contains("colors.primary: must be #RRGGBB"),
        "{}",
        escalation.detail
    );
    let w = let_the_escalation_expire(&rt, &w).await;
    let history = history_types(&rt, &w);
    assert!(history.iter().any(|(_, n)| n == "RegenerationInvalid"));
    assert!(!history.iter().any(|(_, n)| n == "RecordFailure"));
    assert!(history.iter().any(|(_, n)| n == "WorkflowEscalated"));
}

/// An agent that keeps returning its first draft.
struct StuckAgent;

#[async_trait::async_trait]
impl hitl_domain::ports::MetadataAgent for StuckAgent {
    async fn generate(
        &self,
        request: &hitl_domain::ports::GenerationRequest,
    ) -> Result<hitl_domain::ports::GeneratedDraft, hitl_domain::HandlerError> {
        let first = hitl_domain::ports::GenerationRequest {
            iteration: 1,
            previous: None,
            feedback: vec![],
            ..request.clone()
        };
        hitl_domain::metadata::LocalGenerator.generate(&first).await
    }
}

/// A regenerated draft identical to the previous one is not sent to reviewers: the review
/// task completes at once with `no_progress` and the workflow escalates (`no_progress`), in a
/// request-changes round of five state transitions (issue 16).
#[tokio::test]
async fn an_identical_regenerated_draft_escalates_without_a_review() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open_with_agent(Some(dir.path()), std::sync::Arc::new(StuckAgent)).unwrap();
    let ids = start(&rt, "stuck", json!({}), vec![subject("b-stuck")]).await;
    decide(
        &rt,
        &ids[0],
        false,
        "Warmer tagline please",
        vec![],
        "k-stuck",
    )
    .await;
    rt.settle().await.unwrap();
    let w = wf(&rt, &ids[0]).await;
    assert_eq!(w.status, WorkflowStatus::Escalated, "{w:?}");
    assert_eq!(
        w.escalation.as_ref().unwrap().reason,
        EscalationReason::NoProgress
    );
    assert!(w.pending_review.is_none(), "no review was requested");
    let history = history_types(&rt, &w);
    let entered: Vec<&str> = history
        .iter()
        .filter(|(t, _)| t.ends_with("StateEntered"))
        .map(|(_, n)| n.as_str())
        .collect();
    let round = entered
        .iter()
        .position(|n| *n == "FeedbackProcessing")
        .unwrap();
    assert_eq!(
        entered[round..round + 7],
        [
            "FeedbackProcessing",
            "IterationCheck",
            "IterationDecision",
            "MetadataRegeneration",
            "WaitForFeedback",
            "FeedbackProcessing",
            "NoProgress"
        ],
        "{entered:?}"
    );
    assert_eq!(entered[round - 1], "WaitForFeedback");
    let notified = std::fs::read_to_string(dir.path().join("notifications.jsonl")).unwrap();
    let review_requests = notified
        .lines()
        .filter(|l| l.contains("review_requested"))
        .count();
    assert_eq!(review_requests, 1, "only the first draft went to reviewers");
}
