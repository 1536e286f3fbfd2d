//! The contract every [`WorkflowStore`] adapter must pass. Each check is a plain async
//! function over `Arc<dyn WorkflowStore>`; adapters' test modules call [`run_all`] (or single
//! checks) with a fresh store. Ids are unique per call so checks can share a table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::{CreateOutcome, StoreError, WorkflowStore};
use crate::model::{
    Artifact, Decision, FeedbackEntry, FeedbackOutcome, Subject, TaskToken, Workflow,
    WorkflowConfig, WorkflowStatus,
};
use crate::rules::{self, Submission};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh workflow in `generating`, iteration 1, version 1.
pub fn sample_workflow(id: &str) -> Workflow {
    let now = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_default();
    Workflow::new(
        id.to_owned(),
        "req-contract".into(),
        Subject {
            id: format!("brand-{id}"),
            name: "Acme Coffee".into(),
            category: Some("food".into()),
            attributes: serde_json::Map::new(),
        },
        WorkflowConfig::default(),
        now,
    )
}

/// A workflow waiting for review of iteration 1 (version 3), already stored.
pub async fn stored_awaiting_review(store: &dyn WorkflowStore) -> Workflow {
    let wf = sample_workflow(&unique("wf"));
    store.create_workflow(&wf).await.unwrap();
    let now = wf.created_at;
    let with_artifact = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
    store.update_workflow(&with_artifact, 1).await.unwrap();
    let waiting = rules::request_review(&with_artifact, 1, TaskToken::new("tok-1"), now).unwrap();
    store.update_workflow(&waiting, 2).await.unwrap();
    waiting
}

fn entry(wf: &Workflow, key: &str, decision: Decision, outcome: FeedbackOutcome) -> FeedbackEntry {
    FeedbackEntry {
        resolution: None,
        workflow_id: wf.id.clone(),
        idempotency_key: key.to_owned(),
        request_fingerprint: format!("fp-{key}"),
        iteration: wf.iteration,
        decision,
        reviewer: "rita".into(),
        comments: "looks good".into(),
        corrections: vec![],
        channel: "test".into(),
        received_at: wf.updated_at + Duration::minutes(1),
        outcome,
    }
}

fn submission(key: &str, decision: Decision) -> Submission {
    Submission {
        resolution: None,
        iteration: 1,
        decision,
        reviewer: format!("reviewer-{key}"),
        reviewer_id: format!("name:reviewer-{key}"),
        comments: format!("comment {key}"),
        corrections: vec![],
        idempotency_key: key.to_owned(),
    }
}

/// Creating twice stores one record and returns the first on the second call.
pub async fn create_is_idempotent(store: Arc<dyn WorkflowStore>) {
    let wf = sample_workflow(&unique("create"));
    assert_eq!(
        store.create_workflow(&wf).await.unwrap(),
        CreateOutcome::Created
    );
    let mut other = wf.clone();
    other.subject.name = "Different".into();
    match store.create_workflow(&other).await.unwrap() {
        CreateOutcome::Existing(existing) => assert_eq!(*existing, wf),
        CreateOutcome::Created => panic!("second create must not overwrite"),
    }
    assert_eq!(store.get_workflow(&wf.id).await.unwrap(), Some(wf));
    assert_eq!(store.get_workflow(&unique("missing")).await.unwrap(), None);
}

/// Updates need the stored version; a stale writer gets `Conflict`, a missing record `NotFound`.
pub async fn update_requires_version(store: Arc<dyn WorkflowStore>) {
    let wf = sample_workflow(&unique("update"));
    store.create_workflow(&wf).await.unwrap();
    let next = rules::record_artifact(&wf, 1, "h", wf.created_at)
        .unwrap()
        .unwrap();
    store.update_workflow(&next, 1).await.unwrap();
    let mut stale = next.clone();
    stale.artifact_hash = Some("stale".into());
    let err = store.update_workflow(&stale, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(store.get_workflow(&wf.id).await.unwrap(), Some(next));
    let mut ghost = sample_workflow(&unique("ghost"));
    ghost.version = 2;
    let err = store.update_workflow(&ghost, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "got {err:?}");
}

/// Artifacts: one per iteration, identical re-put accepted, different re-put refused.
pub async fn artifacts_are_write_once(store: Arc<dyn WorkflowStore>) {
    let id = unique("art");
    let make = |iteration: u32, hash: &str| Artifact {
        iteration,
        content: json!({"name": "Acme", "iteration": iteration}),
        hash: hash.to_owned(),
        generator: "test".into(),
        created_at: Utc::now(),
        usage: None,
    };
    let first = make(1, "h1");
    store.put_artifact(&id, &first).await.unwrap();
    store.put_artifact(&id, &first).await.unwrap();
    let err = store
        .put_artifact(&id, &make(1, "other"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "got {err:?}");
    store.put_artifact(&id, &make(2, "h2")).await.unwrap();
    let all = store.list_artifacts(&id).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.iteration).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(
        store.get_artifact(&id, 1).await.unwrap().unwrap().hash,
        "h1"
    );
    assert!(store.get_artifact(&id, 3).await.unwrap().is_none());
}

/// An applied decision writes the workflow and the entry together; a reused key writes nothing.
pub async fn feedback_is_atomic_and_unique(store: Arc<dyn WorkflowStore>) {
    let waiting = stored_awaiting_review(store.as_ref()).await;
    let applied = rules::decide(
        &waiting,
        &submission("k1", Decision::Approve),
        waiting.updated_at,
    )
    .unwrap();
    let e1 = entry(
        &waiting,
        "k1",
        Decision::Approve,
        FeedbackOutcome::Applied {
            status: WorkflowStatus::Approved,
        },
    );
    store
        .record_feedback(&e1, Some((&applied.workflow, waiting.version)))
        .await
        .unwrap();
    let ctx = store
        .load_feedback_context(&waiting.id, "k1")
        .await
        .unwrap();
    assert_eq!(
        ctx.workflow.as_ref().map(|w| w.status),
        Some(WorkflowStatus::Approved)
    );
    assert_eq!(ctx.existing_entry, Some(e1.clone()));

    // Same key again, even with a valid-looking update: Duplicate, and nothing changes.
    let mut again = applied.workflow.clone();
    again.version += 1;
    let err = store
        .record_feedback(&e1, Some((&again, applied.workflow.version)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "got {err:?}");
    assert_eq!(
        store
            .get_workflow(&waiting.id)
            .await
            .unwrap()
            .map(|w| w.version),
        Some(applied.workflow.version)
    );

    // A stale update with a new key: Conflict, and the entry is not written.
    let e2 = entry(
        &waiting,
        "k2",
        Decision::RequestChanges,
        FeedbackOutcome::Applied {
            status: WorkflowStatus::Revising,
        },
    );
    let err = store
        .record_feedback(&e2, Some((&applied.workflow, waiting.version)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert!(store
        .load_feedback_context(&waiting.id, "k2")
        .await
        .unwrap()
        .existing_entry
        .is_none());

    // A rejected submission is recorded on its own.
    let rejected = entry(
        &waiting,
        "k3",
        Decision::RequestChanges,
        FeedbackOutcome::Rejected {
            reason: "already_decided".into(),
            message: "iteration 1 was already decided".into(),
        },
    );
    store.record_feedback(&rejected, None).await.unwrap();
    let err = store.record_feedback(&rejected, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "got {err:?}");

    let mut marked = e1.clone();
    marked.comments = "marked".into();
    store.replace_feedback(&marked).await.unwrap();
    let trail = store.list_feedback(&waiting.id).await.unwrap();
    let keys: Vec<&str> = trail.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys, vec!["k1", "k3"]);
    assert_eq!(trail[0].comments, "marked");
    let missing = entry(&waiting, "nope", Decision::Approve, e1.outcome.clone());
    assert!(matches!(
        store.replace_feedback(&missing).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
}

/// Status listing returns newest first and pages without gaps or repeats.
pub async fn list_by_status_pages(store: Arc<dyn WorkflowStore>) {
    // A status value unlikely to collide with other checks in a shared table: escalated
    // workflows created here only.
    let base = Utc::now() + Duration::days(3650);
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut wf = sample_workflow(&unique("list"));
        wf.status = WorkflowStatus::Escalated;
        wf.updated_at = base + Duration::seconds(i);
        store.create_workflow(&wf).await.unwrap();
        ids.push(wf.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_by_status(WorkflowStatus::Escalated, 2, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|w| w.id));
        match page.next_cursor {
            Some(c) if seen.len() < 5 => cursor = Some(c),
            _ => break,
        }
    }
    assert_eq!(&seen[..5], &ids[..]);
}

/// 50 conflicting decisions for the same iteration at once: exactly one applies.
pub async fn concurrent_decisions_apply_once(store: Arc<dyn WorkflowStore>) {
    let waiting = stored_awaiting_review(store.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = Arc::clone(&store);
        let waiting = waiting.clone();
        tasks.push(tokio::spawn(async move {
            let decision = if i % 2 == 0 {
                Decision::Approve
            } else {
                Decision::RequestChanges
            };
            let key = format!("race-{i}");
            let applied =
                rules::decide(&waiting, &submission(&key, decision), waiting.updated_at).unwrap();
            let e = entry(
                &waiting,
                &key,
                decision,
                FeedbackOutcome::Applied {
                    status: applied.workflow.status,
                },
            );
            store
                .record_feedback(&e, Some((&applied.workflow, waiting.version)))
                .await
                .map(|()| key)
        }));
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(key) => winners.push(key),
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one decision must apply");
    assert_eq!(conflicts, 49);
    let stored = store.get_workflow(&waiting.id).await.unwrap().unwrap();
    assert_eq!(stored.version, waiting.version + 1);
    assert_eq!(stored.decisions.len(), 1);
    assert_eq!(stored.decisions[0].feedback_key, winners[0]);
    let trail = store.list_feedback(&waiting.id).await.unwrap();
    assert_eq!(trail.len(), 1);
}

/// The outbox: an applied decision is written with its pending-delivery marker in the same
/// conditional write, the workflow is then listed by `list_pending_deliveries` (with the
/// marker), and once its delivery is settled it is not listed any more.
pub async fn pending_deliveries_are_listed_until_settled(store: Arc<dyn WorkflowStore>) {
    let wf = stored_awaiting_review(store.as_ref()).await;
    let listed = |all: Vec<Workflow>| all.into_iter().find(|w| w.id == wf.id);
    assert!(listed(store.list_pending_deliveries(1000).await.unwrap()).is_none());
    let applied = rules::decide(
        &wf,
        &submission("k-outbox", Decision::Approve),
        wf.updated_at,
    )
    .unwrap();
    let e = entry(
        &wf,
        "k-outbox",
        Decision::Approve,
        FeedbackOutcome::Applied {
            status: applied.workflow.status,
        },
    );
    store
        .record_feedback(&e, Some((&applied.workflow, wf.version)))
        .await
        .unwrap();
    let pending = listed(store.list_pending_deliveries(1000).await.unwrap())
        .expect("a decision awaiting delivery is listed");
    let decision = pending.pending_delivery().expect("with its marker").clone();
    assert_eq!(decision.feedback_key, "k-outbox");
    assert_eq!(decision.task_token, Some(TaskToken::new("tok-1")));
    let settled = rules::settle_delivery(
        &pending,
        "k-outbox",
        crate::model::Delivery::Delivered {
            at: pending.updated_at,
        },
        pending.updated_at,
    )
    .unwrap();
    store
        .update_workflow(&settled, pending.version)
        .await
        .unwrap();
    assert!(listed(store.list_pending_deliveries(1000).await.unwrap()).is_none());
    // Settling again changes nothing (idempotent).
    let again = store.get_workflow(&wf.id).await.unwrap().unwrap();
    assert!(rules::settle_delivery(
        &again,
        "k-outbox",
        crate::model::Delivery::Delivered {
            at: again.updated_at
        },
        again.updated_at
    )
    .is_none());
}

/// Issue 30: a workflow whose notification a channel has not sent is in the outbox index
/// (written in the same conditional write as its change) until every channel settled it.
pub async fn pending_notifications_are_listed_until_sent(store: Arc<dyn WorkflowStore>) {
    use crate::model::NotificationKind;
    use crate::notify::{self, NotificationOutbox};
    let wf = sample_workflow("wf-notify");
    store.create_workflow(&wf).await.unwrap();
    let listed = |all: Vec<Workflow>| all.into_iter().any(|w| w.id == wf.id);
    assert!(!listed(store.list_pending_deliveries(1000).await.unwrap()));
    let clock = Arc::new(At(wf.updated_at));
    let sns = Arc::new(CountingChannel::default());
    let outbox = NotificationOutbox::new(
        Arc::clone(&store),
        clock,
        sns.clone(),
        Arc::new(CountingChannel::default()),
        Arc::new(crate::ports::NoMetrics),
    );
    let mut next = wf.clone();
    next.version += 1;
    let note = crate::ports::Notification::to_reviewers(
        NotificationKind::ReviewRequested,
        &wf,
        "Draft 1 is ready".into(),
    );
    assert!(notify::enqueue(
        &mut next,
        "review_requested/1".into(),
        note,
        vec!["sns".into()],
        wf.updated_at
    ));
    store.update_workflow(&next, wf.version).await.unwrap();
    assert!(
        listed(store.list_pending_deliveries(1000).await.unwrap()),
        "a pending notification is listed"
    );
    let report = outbox
        .send_enqueued(&next, "review_requested/1")
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(*sns.0.lock().unwrap(), 1);
    assert!(!listed(store.list_pending_deliveries(1000).await.unwrap()));
    let stored = store.get_workflow(&wf.id).await.unwrap().unwrap();
    assert_eq!(
        stored.notification("review_requested/1").unwrap().channels[0].status,
        crate::model::ChannelStatus::Sent
    );
}

/// The outbox index's order: a workflow whose decision awaits delivery comes before every
/// workflow that only has notifications waiting, however recently it changed, and those come
/// by when their notification is due, not by when they changed; the relay's own read returns
/// only notifications due by then. So a channel down for hours (hundreds of workflows backing
/// off) cannot hide a decision from the reconciler, nor can failing decisions hide a due
/// notification from the relay.
pub async fn decisions_then_due_notifications_lead_the_outbox(store: Arc<dyn WorkflowStore>) {
    use crate::model::NotificationKind;
    use crate::notify;
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_default();
    // Two workflows with only a notification waiting, changed before the decision below:
    // `later` changed first but its notification is due at 10:00, `sooner`'s at 08:01.
    let mut ids = Vec::new();
    for (name, changed, enqueued) in [
        ("later", t0 - Duration::hours(2), t0 + Duration::minutes(59)),
        ("sooner", t0 - Duration::hours(1), t0 - Duration::hours(1)),
    ] {
        let mut wf = sample_workflow(&unique(&format!("wf-{name}")));
        wf.updated_at = changed;
        store.create_workflow(&wf).await.unwrap();
        let mut next = wf.clone();
        next.version += 1;
        let note = crate::ports::Notification::to_reviewers(
            NotificationKind::ReviewRequested,
            &wf,
            "Draft 1 is ready".into(),
        );
        assert!(notify::enqueue(
            &mut next,
            "review_requested/1".into(),
            note,
            vec!["sns".into()],
            enqueued
        ));
        store.update_workflow(&next, wf.version).await.unwrap();
        ids.push(next.id);
    }
    // A decision awaiting delivery, on the most recently changed workflow (09:00).
    let waiting = stored_awaiting_review(store.as_ref()).await;
    let applied = rules::decide(&waiting, &submission("k-first", Decision::Approve), t0).unwrap();
    let e = entry(
        &waiting,
        "k-first",
        Decision::Approve,
        FeedbackOutcome::Applied {
            status: applied.workflow.status,
        },
    );
    store
        .record_feedback(&e, Some((&applied.workflow, waiting.version)))
        .await
        .unwrap();
    let order: Vec<String> = store
        .list_pending_deliveries(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .filter(|id| *id == waiting.id || ids.contains(id))
        .collect();
    assert_eq!(
        order,
        vec![waiting.id.clone(), ids[1].clone(), ids[0].clone()],
        "the decision, then the notification due at 08:01, then the one due at 10:00"
    );
    // The relay's own page: notification-only workflows due by 09:00, not the decision (read
    // with the decisions) nor the notification due at 10:00.
    let due: Vec<String> = store
        .list_due_notifications(t0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .filter(|id| *id == waiting.id || ids.contains(id))
        .collect();
    assert_eq!(
        due,
        vec![ids[1].clone()],
        "only the notification due by then"
    );
    let later: Vec<String> = store
        .list_due_notifications(t0 + Duration::hours(1), 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(
        later,
        vec![ids[1].clone(), ids[0].clone()],
        "most overdue first"
    );
    // Every decision precedes every notification-only workflow in the whole index.
    let all = store.list_pending_deliveries(10_000).await.unwrap();
    let first_notification_only = all
        .iter()
        .position(|w| w.pending_delivery().is_none())
        .unwrap_or(all.len());
    assert!(all[first_notification_only..]
        .iter()
        .all(|w| w.pending_delivery().is_none()));
}

/// A channel called `sns` that counts what it sends (all the contract needs of a channel).
#[derive(Default)]
struct CountingChannel(std::sync::Mutex<usize>);

#[async_trait::async_trait]
impl crate::ports::Notifier for CountingChannel {
    fn channel(&self) -> &str {
        "sns"
    }

    async fn send(
        &self,
        _: &crate::ports::Notification,
        _: &str,
    ) -> Result<(), crate::error::HandlerError> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

/// A clock standing at one instant.
struct At(chrono::DateTime<Utc>);

impl crate::ports::Clock for At {
    fn now(&self) -> chrono::DateTime<Utc> {
        self.0
    }
}

/// 20 reviewers claim the same iteration at once: exactly one holds the claim, every other is
/// told who does (`claimed_by_other`), and the stored claim is the winner's.
pub async fn concurrent_claims_hold_once(store: Arc<dyn WorkflowStore>) {
    use crate::claims::{ClaimError, ClaimService};
    use crate::feedback::Reviewer;
    let waiting = stored_awaiting_review(store.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(&store);
        let id = waiting.id.clone();
        let now = waiting.updated_at + Duration::minutes(1);
        tasks.push(tokio::spawn(async move {
            let service = ClaimService::new(store, Arc::new(At(now)));
            let reviewer = Reviewer::declared(
                format!("reviewer-{i}"),
                Some(vec!["reviewers".into()]),
                crate::model::Channel::Test,
            );
            service.claim(&id, Some(1), &reviewer).await
        }));
    }
    let mut holders = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(receipt) => holders.push(receipt.claim.unwrap().reviewer),
            Err(ClaimError::Refused(r)) => assert_eq!(r.name(), "claimed_by_other"),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(holders.len(), 1, "exactly one reviewer holds the claim");
    let stored = store.get_workflow(&waiting.id).await.unwrap().unwrap();
    // The claim log is part of the same conditional write: one entry, the winner's.
    assert_eq!(stored.claim_log.len(), 1, "{:?}", stored.claim_log);
    assert_eq!(stored.claim_log[0].reviewer, holders[0]);
    assert_eq!(
        stored.claim_log[0].action,
        crate::model::ClaimAction::Claimed
    );
    let claim = stored.pending_review.unwrap().claim.unwrap();
    assert_eq!(claim.reviewer, holders[0]);
    assert_eq!(stored.version, waiting.version + 1);
}

/// A workflow needing two approvals: the first approval is stored with the pending review
/// (nothing to deliver), the second by another reviewer approves with both on record.
pub async fn partial_approvals_are_stored(store: Arc<dyn WorkflowStore>) {
    let mut waiting = stored_awaiting_review(store.as_ref()).await;
    let version = waiting.version;
    waiting.config.required_approvals = 2;
    waiting.version += 1;
    store.update_workflow(&waiting, version).await.unwrap();
    let mut first = submission("q1", Decision::Approve);
    first.reviewer = "ana".into();
    let applied = rules::decide(&waiting, &first, waiting.updated_at).unwrap();
    assert!(applied.task_token.is_none());
    let status = applied.workflow.status;
    store
        .record_feedback(
            &entry(
                &waiting,
                "q1",
                Decision::Approve,
                FeedbackOutcome::Applied { status },
            ),
            Some((&applied.workflow, waiting.version)),
        )
        .await
        .unwrap();
    let stored = store.get_workflow(&waiting.id).await.unwrap().unwrap();
    let pending = stored.pending_review.clone().unwrap();
    assert_eq!(pending.approvals.len(), 1);
    assert_eq!(pending.approvals[0].reviewer, "ana");
    assert!(
        stored.pending_delivery().is_none(),
        "nothing to deliver yet"
    );
    let mut second = submission("q2", Decision::Approve);
    second.reviewer = "ben".into();
    let applied = rules::decide(&stored, &second, stored.updated_at).unwrap();
    let status = applied.workflow.status;
    store
        .record_feedback(
            &entry(
                &stored,
                "q2",
                Decision::Approve,
                FeedbackOutcome::Applied { status },
            ),
            Some((&applied.workflow, stored.version)),
        )
        .await
        .unwrap();
    let done = store.get_workflow(&waiting.id).await.unwrap().unwrap();
    assert_eq!(done.status, WorkflowStatus::Approved);
    assert_eq!(done.decisions[0].co_approvers, vec!["ana".to_owned()]);
    assert_eq!(store.list_feedback(&waiting.id).await.unwrap().len(), 2);
}

/// Runs every check.
pub async fn run_all(store: Arc<dyn WorkflowStore>) {
    concurrent_claims_hold_once(Arc::clone(&store)).await;
    partial_approvals_are_stored(Arc::clone(&store)).await;
    pending_deliveries_are_listed_until_settled(Arc::clone(&store)).await;
    pending_notifications_are_listed_until_sent(Arc::clone(&store)).await;
    decisions_then_due_notifications_lead_the_outbox(Arc::clone(&store)).await;
    create_is_idempotent(Arc::clone(&store)).await;
    update_requires_version(Arc::clone(&store)).await;
    artifacts_are_write_once(Arc::clone(&store)).await;
    feedback_is_atomic_and_unique(Arc::clone(&store)).await;
    list_by_status_pages(Arc::clone(&store)).await;
    concurrent_decisions_apply_once(store).await;
}
