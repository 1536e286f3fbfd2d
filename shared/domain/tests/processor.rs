//! The feedback processor's rules, through [`FeedbackProcessor::submit`] over the in-process
//! store: the first decision wins, a replay returns the original, rejections are recorded with
//! their reason, deadlines and closed tasks are settled by the execution's history, and
//! edit-and-approve, quorums and claims hold. (How the Lambda event becomes a submission is
//! tested in `functions/process-feedback`.)
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use chrono::Duration;
use hitl_domain::feedback::{FeedbackProcessor, FeedbackReceipt, FeedbackRequest, Reviewer};
use hitl_domain::model::{Channel, Delivery, FeedbackOutcome, WorkflowStatus};
use hitl_domain::ports::{Clock, ExecutionResumer, ResumeError, TaskFate};
use hitl_domain::rules;
use hitl_domain::store::WorkflowStore;
use hitl_domain::testing::{awaiting_review, FixedClock, MemoryStore, RecordingResumer};
use hitl_domain::HandlerError;

/// The processor's ports.
#[derive(Clone)]
struct Deps {
    store: Arc<dyn WorkflowStore>,
    resumer: Arc<dyn ExecutionResumer>,
    clock: Arc<dyn Clock>,
}

/// A submission with its envelope, as the direct-invocation Lambda receives it
/// (`functions/process-feedback/fixtures/*.json`).
#[derive(Debug, Clone)]
struct FeedbackEvent {
    workflow_id: String,
    idempotency_key: String,
    reviewer: String,
    reviewer_groups: Option<Vec<String>>,
    feedback: FeedbackRequest,
}

/// Submits through the processor as the Lambda front door does (a declared reviewer on the
/// `lambda` channel).
async fn handle(deps: &Deps, event: FeedbackEvent) -> Result<FeedbackReceipt, HandlerError> {
    let processor = FeedbackProcessor::new(
        Arc::clone(&deps.store),
        Arc::clone(&deps.resumer),
        Arc::clone(&deps.clock),
    );
    let reviewer = Reviewer::declared(event.reviewer, event.reviewer_groups, Channel::Lambda);
    Ok(processor
        .submit(
            &event.workflow_id,
            &event.feedback,
            &event.idempotency_key,
            &reviewer,
        )
        .await?)
}

struct Fixture {
    deps: Deps,
    resumer: Arc<RecordingResumer>,
    clock: Arc<FixedClock>,
}

/// `wf-fb` waiting for review of iteration 1 with the task token `tok-fb`.
async fn setup() -> Fixture {
    let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
    let clock = Arc::new(FixedClock::default());
    let mut wf = awaiting_review("wf-fb", "tok-fb", clock.now());
    wf.execution_arn = Some("arn:aws:states:eu-west-1:123456789012:execution:hitl:wf-fb".into());
    store.create_workflow(&wf).await.unwrap();
    let resumer = Arc::new(RecordingResumer::default());
    Fixture {
        deps: Deps {
            store,
            resumer: resumer.clone(),
            clock: clock.clone(),
        },
        resumer,
        clock,
    }
}

fn approve() -> FeedbackEvent {
    FeedbackEvent {
        workflow_id: "wf-fb".into(),
        idempotency_key: "rita-wf-fb-1-approve".into(),
        reviewer: "rita".into(),
        reviewer_groups: Some(vec!["reviewers".into()]),
        feedback: FeedbackRequest {
            iteration: Some(1),
            decision: Some("approve".into()),
            comments: Some("Looks right.".into()),
            corrections: vec![],
        },
    }
}

fn request_changes() -> FeedbackEvent {
    FeedbackEvent {
        workflow_id: "wf-fb".into(),
        idempotency_key: "sam-wf-fb-1-changes".into(),
        reviewer: "sam".into(),
        reviewer_groups: None,
        feedback: FeedbackRequest {
            iteration: Some(1),
            decision: Some("request_changes".into()),
            comments: Some("Tagline is too generic.".into()),
            corrections: vec![hitl_domain::model::Correction {
                field: "tagline".into(),
                value: "Coffee for early commuters".into(),
            }],
        },
    }
}

#[tokio::test]
async fn duplicate_returns_the_original_and_changes_nothing() {
    let f = setup().await;
    let first = handle(&f.deps, request_changes()).await.unwrap();
    let version = f
        .deps
        .store
        .get_workflow("wf-fb")
        .await
        .unwrap()
        .unwrap()
        .version;
    let again = handle(&f.deps, request_changes()).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
    assert_eq!(again.received_at, first.received_at);
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    assert_eq!(wf.version, version);
    assert_eq!(f.deps.store.list_feedback("wf-fb").await.unwrap().len(), 1);
}

#[tokio::test]
async fn second_decision_for_the_iteration_is_rejected_and_recorded() {
    let f = setup().await;
    handle(&f.deps, approve()).await.unwrap();
    let receipt = handle(&f.deps, request_changes()).await.unwrap();
    match &receipt.outcome {
        FeedbackOutcome::Rejected { reason, message } => {
            assert_eq!(reason, "already_decided");
            assert!(message.contains("rita"), "{message}");
        }
        other => panic!("expected rejection, got {other:?}"),
    }
    let trail = f.deps.store.list_feedback("wf-fb").await.unwrap();
    assert_eq!(trail.len(), 2);
    assert_eq!(f.resumer.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn stale_iteration_is_rejected_with_its_reason() {
    let f = setup().await;
    let mut event = approve();
    event.feedback.iteration = Some(0);
    let err = handle(&f.deps, event).await.unwrap_err();
    assert_eq!(err.name().as_str(), "InvalidInput");
    let mut event = approve();
    event.feedback.iteration = Some(2);
    event.idempotency_key = "k-future".into();
    let receipt = handle(&f.deps, event).await.unwrap();
    assert!(
        matches!(receipt.outcome, FeedbackOutcome::Rejected { ref reason, .. } if reason == "unknown_iteration")
    );
}

#[tokio::test]
async fn key_reused_for_a_different_request_is_an_error() {
    let f = setup().await;
    handle(&f.deps, approve()).await.unwrap();
    let mut other = request_changes();
    other.idempotency_key = approve().idempotency_key;
    other.reviewer = approve().reviewer;
    let err = handle(&f.deps, other).await.unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
}

#[tokio::test]
async fn reviewer_outside_the_group_is_forbidden_and_not_recorded() {
    let f = setup().await;
    let mut event = approve();
    event.reviewer_groups = Some(vec!["marketing".into()]);
    let err = handle(&f.deps, event).await.unwrap_err();
    assert!(err.to_string().contains("reviewer group"), "{err}");
    assert!(f
        .deps
        .store
        .list_feedback("wf-fb")
        .await
        .unwrap()
        .is_empty());
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
}

/// Issue 14: keys are scoped per submitter and channel: another principal reusing
/// someone's key neither replays their answer nor pre-empts their decision.
#[tokio::test]
async fn another_principal_reusing_a_key_gets_no_replay_and_pre_empts_nothing() {
    let f = setup().await;
    let mut intruder = request_changes();
    intruder.idempotency_key = approve().idempotency_key;
    // The intruder decides first with rita's key…
    let theirs = handle(&f.deps, intruder).await.unwrap();
    assert!(!theirs.replayed);
    // …and rita's own submission with that key is hers, not a replay of theirs.
    let mine = handle(&f.deps, approve()).await.unwrap();
    assert!(!mine.replayed);
    assert!(
        matches!(mine.outcome, FeedbackOutcome::Rejected { ref reason, .. } if reason == "already_decided")
    );
    let trail = f.deps.store.list_feedback("wf-fb").await.unwrap();
    assert_eq!(trail.len(), 2, "two submitters, two entries");
}

#[tokio::test]
async fn after_the_deadline_the_decision_is_rejected_as_timed_out() {
    let f = setup().await;
    f.clock.advance(Duration::hours(73));
    let receipt = handle(&f.deps, approve()).await.unwrap();
    assert!(
        matches!(receipt.outcome, FeedbackOutcome::Rejected { ref reason, .. } if reason == "review_timed_out")
    );
    assert!(f.resumer.delivered.lock().unwrap().is_empty());
}

/// Issue 14: the processor used to decide "the review timed out" from the clock (a closed
/// task within 60 s of the deadline) and revert an applied decision, although a concurrent
/// replay of the same key had delivered it and the execution succeeded. Now the
/// execution's history decides: it shows this decision ended the wait, so it stands.
#[tokio::test]
async fn a_closed_task_near_the_deadline_that_the_history_shows_delivered_stands() {
    let f = setup().await;
    f.clock.advance(Duration::hours(72) - Duration::seconds(30));
    // A replay of the same submission delivered it first (the fake's history has it)...
    f.resumer.delivered.lock().unwrap().push((
        "tok-fb".into(),
        serde_json::json!({"feedback_key": hitl_domain::feedback::scoped_key(
            hitl_domain::model::Channel::Lambda,
            &hitl_domain::identity::declared_id("rita"),
            "rita-wf-fb-1-approve"
        )}),
    ));
    // ...so this delivery finds the task closed.
    f.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::TaskClosed("TaskTimedOut".into())));
    let receipt = handle(&f.deps, approve()).await.unwrap();
    assert_eq!(
        receipt.outcome,
        FeedbackOutcome::Applied {
            status: WorkflowStatus::Approved
        }
    );
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::Approved);
    assert!(matches!(
        wf.decisions[0].delivery,
        Some(Delivery::Delivered { .. })
    ));
    assert!(wf.pending_delivery().is_none());
}

/// The history shows the wait timed out before the decision arrived: the decision is kept
/// (never revoked), marked late, the submitter is told `review_timed_out`, and the timeout
/// escalation the execution is running can still escalate the workflow.
#[tokio::test]
async fn a_closed_task_that_timed_out_keeps_the_decision_late_and_escalation_proceeds() {
    let f = setup().await;
    *f.resumer.fate.lock().unwrap() = Some(TaskFate::TimedOut);
    f.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::TaskClosed("TaskTimedOut".into())));
    let receipt = handle(&f.deps, approve()).await.unwrap();
    assert!(
        matches!(receipt.outcome, FeedbackOutcome::Rejected { ref reason, .. } if reason == "review_timed_out")
    );
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    assert_eq!(wf.decisions.len(), 1, "the decision is kept");
    assert!(matches!(
        wf.decisions[0].delivery,
        Some(Delivery::Late { .. })
    ));
    let trail = f.deps.store.list_feedback("wf-fb").await.unwrap();
    assert!(matches!(trail[0].outcome, FeedbackOutcome::Rejected { .. }));
    // The execution's ReviewTimedOut → Escalation path: no InvalidTransition.
    let escalated = rules::escalate(
        &wf,
        hitl_domain::model::EscalationReason::ReviewTimeout,
        "timed out",
        None,
        f.clock.now(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(escalated.status, WorkflowStatus::Escalated);
}

#[tokio::test]
async fn a_transient_resume_failure_is_redelivered_on_replay() {
    let f = setup().await;
    f.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::Transient("throttled".into())));
    let err = handle(&f.deps, approve()).await.unwrap_err();
    assert_eq!(err.name().as_str(), "ResumeFailed");
    assert!(f.resumer.delivered.lock().unwrap().is_empty());
    let receipt = handle(&f.deps, approve()).await.unwrap();
    assert!(receipt.replayed);
    assert_eq!(f.resumer.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn fifty_concurrent_conflicting_decisions_apply_exactly_once() {
    let f = setup().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let deps = f.deps.clone();
        tasks.push(tokio::spawn(async move {
            let mut event = if i % 2 == 0 {
                approve()
            } else {
                request_changes()
            };
            event.idempotency_key = format!("race-{i}");
            event.reviewer = format!("reviewer-{i}");
            handle(&deps, event).await.unwrap()
        }));
    }
    let mut applied = 0;
    for t in tasks {
        let receipt = t.await.unwrap();
        match receipt.outcome {
            FeedbackOutcome::Applied { .. } => applied += 1,
            FeedbackOutcome::Rejected { reason, .. } => assert_eq!(reason, "already_decided"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(f.deps.store.list_feedback("wf-fb").await.unwrap().len(), 50);
    assert_eq!(f.resumer.delivered.lock().unwrap().len(), 1);
}

/// A valid draft for iteration 1 of `wf-fb`, stored.
async fn store_draft(f: &Fixture) {
    let content = serde_json::json!({
        "name": "Acme Coffee",
        "tagline": "Discover Acme Coffee",
        "description": "Acme Coffee is a food brand offering products for general consumers.",
        "category": "food",
        "tone": "friendly",
        "target_audience": "general consumers",
        "keywords": ["acme", "coffee", "food"],
        "colors": {"primary": "#112233"}
    });
    let artifact = hitl_domain::model::Artifact {
        iteration: 1,
        hash: hitl_domain::metadata::content_hash(&content),
        content,
        generator: "agent".into(),
        created_at: f.clock.now(),
        usage: None,
    };
    f.deps.store.put_artifact("wf-fb", &artifact).await.unwrap();
}

fn edit_and_approve(field: &str, value: &str) -> FeedbackEvent {
    let mut event = approve();
    event.idempotency_key = format!("edit-{}", value.len());
    event.feedback.corrections = vec![hitl_domain::model::Correction {
        field: field.into(),
        value: value.into(),
    }];
    event
}

#[tokio::test]
async fn edit_and_approve_stores_the_reviewers_version_without_an_agent_round() {
    let f = setup().await;
    store_draft(&f).await;
    // A correction that breaks the schema names the correction; nothing is recorded.
    let err = handle(&f.deps, edit_and_approve("colors.primary", "#12"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("corrections[0].value"), "{text}");
    assert!(f
        .deps
        .store
        .list_feedback("wf-fb")
        .await
        .unwrap()
        .is_empty());

    let receipt = handle(
        &f.deps,
        edit_and_approve("tagline", "Good mornings, brewed"),
    )
    .await
    .unwrap();
    assert_eq!(
        receipt.outcome,
        FeedbackOutcome::Applied {
            status: WorkflowStatus::Approved
        }
    );
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    assert_eq!(wf.artifact_iteration, 2);
    assert!(wf.decisions[0].edited);
    let final_version = f
        .deps
        .store
        .get_artifact("wf-fb", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(final_version.generator, "person:rita");
    assert_eq!(final_version.content["tagline"], "Good mornings, brewed");
    assert_eq!(
        wf.artifact_hash.as_deref(),
        Some(final_version.hash.as_str())
    );
    // The agent's draft is kept as it was; the execution gets one plain approval.
    let draft = f
        .deps
        .store
        .get_artifact("wf-fb", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(draft.content["tagline"], "Discover Acme Coffee");
    let delivered = f.resumer.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1["decision"], "approve");
    // The audit entry shows who changed what.
    let trail = f.deps.store.list_feedback("wf-fb").await.unwrap();
    assert_eq!(trail[0].corrections[0].field, "tagline");
    assert_eq!(trail[0].reviewer, "rita");
}

async fn require_approvals(f: &Fixture, n: u32) {
    let mut wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    let version = wf.version;
    wf.config.required_approvals = n;
    wf.version += 1;
    f.deps.store.update_workflow(&wf, version).await.unwrap();
}

#[tokio::test]
async fn two_approvals_resume_the_execution_once_and_only_at_the_quorum() {
    let f = setup().await;
    require_approvals(&f, 2).await;
    let first = handle(&f.deps, approve()).await.unwrap();
    assert_eq!(
        first.outcome,
        FeedbackOutcome::Applied {
            status: WorkflowStatus::AwaitingReview
        }
    );
    assert!(f.resumer.delivered.lock().unwrap().is_empty());
    // The same reviewer with a new key counts once; the replay of the first is a replay.
    let mut again = approve();
    again.idempotency_key = "rita-again".into();
    match handle(&f.deps, again).await.unwrap().outcome {
        FeedbackOutcome::Rejected { reason, .. } => assert_eq!(reason, "already_approved"),
        other => panic!("{other:?}"),
    }
    assert!(handle(&f.deps, approve()).await.unwrap().replayed);
    // An edit is refused when several approvals are needed.
    store_draft(&f).await;
    let mut edit = edit_and_approve("tagline", "Brewed");
    edit.reviewer = "sam".into();
    match handle(&f.deps, edit).await.unwrap().outcome {
        FeedbackOutcome::Rejected { reason, .. } => {
            assert_eq!(reason, "edit_needs_single_approval")
        }
        other => panic!("{other:?}"),
    }
    let mut second = approve();
    second.reviewer = "sam".into();
    let receipt = handle(&f.deps, second).await.unwrap();
    assert_eq!(
        receipt.outcome,
        FeedbackOutcome::Applied {
            status: WorkflowStatus::Approved
        }
    );
    assert_eq!(f.resumer.delivered.lock().unwrap().len(), 1);
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    assert_eq!(wf.decisions.len(), 1);
    assert_eq!(wf.decisions[0].co_approvers, vec!["rita".to_owned()]);
}

#[tokio::test]
async fn a_decision_against_another_reviewers_claim_is_refused_and_recorded() {
    let f = setup().await;
    let wf = f.deps.store.get_workflow("wf-fb").await.unwrap().unwrap();
    let claimed = rules::claim(&wf, "sam", None, f.clock.now()).unwrap();
    f.deps
        .store
        .update_workflow(&claimed, wf.version)
        .await
        .unwrap();
    match handle(&f.deps, approve()).await.unwrap().outcome {
        FeedbackOutcome::Rejected { reason, message } => {
            assert_eq!(reason, "claimed_by_other");
            assert!(message.contains("sam"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(f.resumer.delivered.lock().unwrap().is_empty());
    assert_eq!(f.deps.store.list_feedback("wf-fb").await.unwrap().len(), 1);
    // Once the claim lapses, the decision goes through.
    f.clock.advance(Duration::minutes(31));
    let mut later = approve();
    later.idempotency_key = "rita-later".into();
    let receipt = handle(&f.deps, later).await.unwrap();
    assert!(matches!(receipt.outcome, FeedbackOutcome::Applied { .. }));
}
