//! SQS consumer of reviewer decisions and of resolutions of escalated workflows. Each message
//! goes through the shared [`FeedbackProcessor`] (same validation, rules, audit trail and
//! idempotent replay as every other front door).
//!
//! Failure handling (the event source mapping must enable `ReportBatchItemFailures`):
//! - transient failures (the store is throttled or busy, resuming the execution failed) are
//!   returned in `batchItemFailures`, so SQS redelivers only those messages; the processor's
//!   idempotent replay makes the redelivery safe;
//! - permanently bad messages (unparseable, invalid fields, unknown workflow, reviewer not in
//!   the group, a key reused for a different decision, and rejections by the rules such as
//!   `already_decided`) are logged with the reason and acknowledged: retrying cannot fix them,
//!   and rejections are already in the audit trail;
//! - a message that keeps failing transiently is received again until the queue's redrive
//!   policy (`maxReceiveCount`) moves it to the dead-letter queue.

use hitl_app::Ports;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use hitl_domain::feedback::{
    duplicate_key, feedback_of_message, FeedbackError, ResolutionRequest, Reviewer, StrictJson,
};
use hitl_domain::model::{Channel, FeedbackOutcome};
use hitl_domain::store::StoreError;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// `channel` recorded in the audit trail.
pub const CHANNEL: Channel = Channel::Sqs;

/// The body of one queue message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMessage {
    /// Workflow decided.
    pub workflow_id: String,
    /// Idempotency key; defaults to `sqs:<messageId>`, so a redelivered message is applied once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Reviewer identity recorded in the audit trail.
    pub reviewer: String,
    /// Reviewer's groups; when given, membership of the workflow's group (its escalation
    /// group for a resolution) is enforced. The queue itself is trusted (only principals
    /// allowed by its policy can send).
    #[serde(default)]
    pub reviewer_groups: Option<Vec<String>>,
    /// A decision: `{iteration, decision, comments?, corrections?}`, read by the shared
    /// parser so that every bad field is reported, in the API's words.
    #[serde(default)]
    pub feedback: Option<StrictJson>,
    /// Or a resolution of an escalated workflow: `{iteration, action, …}` (as
    /// `POST /workflows/{id}/resolution`). Exactly one of `feedback` and `resolution`.
    #[serde(default)]
    pub resolution: Option<ResolutionRequest>,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The decision was applied (or was an idempotent replay of an applied one).
    Applied,
    /// Permanently unprocessable or rejected: logged and acknowledged, never retried.
    Dropped {
        /// Stable reason (`unparseable`, `invalid`, `workflow_not_found`, `not_authorized`,
        /// `idempotency_key_reused`, or a rule rejection such as `already_decided`).
        reason: String,
    },
    /// Transient failure: reported in `batchItemFailures` so SQS redelivers it.
    Retry {
        /// Why.
        reason: String,
    },
}

fn transient_store_error(err: &StoreError) -> bool {
    // Corrupt items are retried too: the message is fine, and if the item stays unreadable
    // the redrive policy parks the message in the DLQ where an operator sees it.
    !matches!(err, StoreError::NotFound(_))
}

/// Processes one message.
pub async fn process_message(ports: &Ports, message: &SqsMessage) -> Disposition {
    let message_id = message.message_id.as_deref().unwrap_or("");
    let parsed: QueueMessage = match message
        .body
        .as_deref()
        .ok_or_else(|| "message has no body".to_owned())
        .and_then(|b| serde_json::from_str(b).map_err(|e| e.to_string()))
    {
        Ok(m)
            if message
                .body
                .as_deref()
                .and_then(|b| duplicate_key(b.as_bytes()))
                .is_none() =>
        {
            m
        }
        Ok(_) => {
            warn!(
                message_id,
                reason = "invalid",
                detail = "a JSON key appears twice",
                "dropping feedback message"
            );
            return Disposition::Dropped {
                reason: "invalid".into(),
            };
        }
        Err(detail) => {
            warn!(message_id, reason = "unparseable", %detail, "dropping feedback message");
            return Disposition::Dropped {
                reason: "unparseable".into(),
            };
        }
    };
    let key = parsed
        .idempotency_key
        .clone()
        .unwrap_or_else(|| format!("sqs:{message_id}"));
    let reviewer = Reviewer::declared(
        parsed.reviewer.clone(),
        parsed.reviewer_groups.clone(),
        CHANNEL,
    );
    let processor = ports.decisions();
    let workflow_id = parsed.workflow_id.as_str();
    let dropped = |reason: &str, detail: &str| {
        warn!(
            message_id,
            workflow_id, reason, detail, "dropping feedback message"
        );
        Disposition::Dropped {
            reason: reason.to_owned(),
        }
    };
    let result = match (&parsed.feedback, &parsed.resolution) {
        (Some(feedback), None) => {
            match feedback_of_message(workflow_id, &feedback.0, &key, &reviewer) {
                Ok(feedback) => {
                    processor
                        .submit(workflow_id, &feedback, &key, &reviewer)
                        .await
                }
                Err(fields) => Err(FeedbackError::Invalid(fields)),
            }
        }
        (None, Some(resolution)) => {
            processor
                .resolve(workflow_id, resolution, &key, &reviewer)
                .await
        }
        _ => {
            return dropped(
                "invalid",
                "give exactly one of `feedback` (a decision) and `resolution`",
            )
        }
    };
    match result {
        Ok(receipt) => match receipt.outcome {
            FeedbackOutcome::Applied { status } => {
                info!(message_id, workflow_id, iteration = receipt.iteration,
                    status = %status, replayed = receipt.replayed, "feedback message applied");
                Disposition::Applied
            }
            FeedbackOutcome::Rejected { reason, message } => dropped(&reason, &message),
        },
        Err(FeedbackError::Invalid(fields)) => {
            dropped("invalid", &hitl_domain::error::describe_fields(&fields))
        }
        Err(FeedbackError::NotFound(_)) => dropped("workflow_not_found", "no such workflow"),
        Err(err @ FeedbackError::Forbidden { .. }) => dropped("not_authorized", &err.to_string()),
        Err(err @ FeedbackError::KeyReused(_)) => {
            dropped("idempotency_key_reused", &err.to_string())
        }
        Err(FeedbackError::ResumeFailed(_)) => {
            // The detail may quote the task token: never logged.
            warn!(
                message_id,
                workflow_id,
                reason = "resume_failed",
                "decision recorded but the execution could not be resumed; will retry"
            );
            Disposition::Retry {
                reason: "resume_failed".into(),
            }
        }
        Err(FeedbackError::Store(err)) if transient_store_error(&err) => {
            warn!(message_id, workflow_id, reason = "store_unavailable", error = %err,
                "store failure; will retry");
            Disposition::Retry {
                reason: "store_unavailable".into(),
            }
        }
        Err(FeedbackError::Store(err)) => dropped("workflow_not_found", &err.to_string()),
    }
}

/// [`handle`] as the Lambda runtime calls it: a batch answers which messages failed; it never
/// fails as a whole.
pub async fn handle_batch(
    ports: &Ports,
    event: SqsEvent,
) -> Result<SqsBatchResponse, hitl_domain::HandlerError> {
    Ok(handle(ports, event).await)
}

/// Handles one batch: only transient failures are reported for redelivery.
pub async fn handle(ports: &Ports, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Disposition::Retry { .. } = process_message(ports, message).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dropped(reason: &str) -> Disposition {
        Disposition::Dropped {
            reason: reason.into(),
        }
    }
    use hitl_app::testing::Fakes;
    use hitl_domain::model::{TaskToken, WorkflowStatus};
    use hitl_domain::ports::Clock;
    use hitl_domain::ports::ExecutionResumer;
    use hitl_domain::ports::ResumeError;
    use hitl_domain::rules;

    use hitl_domain::testing::awaiting_review;

    use std::sync::Arc;

    async fn setup() -> Fakes {
        let mut fakes = Fakes::default();
        for id in ["wf-q1", "wf-q2"] {
            let wf = awaiting_review(id, &format!("tok-{id}"), fakes.clock.now());
            fakes = fakes.holding(&wf).await;
        }
        fakes
    }

    fn batch() -> SqsEvent {
        serde_json::from_str(include_str!("../fixtures/batch.json")).unwrap()
    }

    fn failures(response: &SqsBatchResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }

    #[tokio::test]
    async fn only_transient_failures_are_reported_for_retry() {
        // GIVEN a batch: an approval, an unparseable body, invalid fields, an unknown workflow,
        // a conflicting second decision, and an approval whose resume fails transiently
        let f = setup().await;
        f.resumer
            .answer([Ok(()), Err(ResumeError::Transient("throttled".into()))]);
        // WHEN the batch is handled
        let response = handle(&f.ports, batch()).await;
        // THEN only the transient failure is returned for redelivery
        assert_eq!(failures(&response), ["m-6-resume-fails"]);
        let wf = f.workflow("wf-q1").await;
        assert_eq!(wf.status, WorkflowStatus::Approved);
        let trail = f.trail("wf-q1").await;
        assert_eq!(
            trail.len(),
            2,
            "the applied approval and the recorded rejection"
        );
        assert!(trail.iter().all(|e| e.channel == "sqs"));
        assert_eq!(f.resumer.delivered.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn each_message_gets_its_documented_disposition() {
        let f = setup().await;
        f.resumer
            .answer([Ok(()), Err(ResumeError::Transient("throttled".into()))]);
        let mut got = Vec::new();
        for message in &batch().records {
            got.push(process_message(&f.ports, message).await);
        }
        let dropped = |r: &str| Disposition::Dropped { reason: r.into() };
        assert_eq!(
            got,
            [
                Disposition::Applied,
                dropped("unparseable"),
                dropped("invalid"),
                dropped("workflow_not_found"),
                dropped("already_decided"),
                Disposition::Retry {
                    reason: "resume_failed".into()
                },
            ]
        );
    }

    fn message(id: &str, body: serde_json::Value) -> SqsMessage {
        serde_json::from_value(serde_json::json!({"messageId": id, "body": body.to_string()}))
            .unwrap()
    }

    /// Issue 19: a correction that breaks the artifact schema used to be applied and then fail
    /// the workflow at regeneration; on the queue it is now dropped as `invalid` and nothing is
    /// recorded. `iteration: 1.0` is the integer 1.
    #[tokio::test]
    async fn schema_breaking_corrections_are_dropped_before_anything_is_recorded() {
        let f = setup().await;
        for (i, correction) in [
            serde_json::json!({"field": "colors.primary", "value": "red"}),
            serde_json::json!({"field": "description", "value": "Too short"}),
        ]
        .into_iter()
        .enumerate()
        {
            let m = message(
                &format!("typo-{i}"),
                serde_json::json!({"workflow_id": "wf-q1", "reviewer": "rita", "reviewer_groups": ["reviewers"],
                    "feedback": {"iteration": 1, "decision": "request_changes", "comments": "fix", "corrections": [correction]}}),
            );
            assert_eq!(process_message(&f.ports, &m).await, dropped("invalid"));
        }
        assert!(f.trail("wf-q1").await.is_empty());
        let wf = f.workflow("wf-q1").await;
        assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
        let m = message(
            "float-iteration",
            serde_json::json!({"workflow_id": "wf-q1", "reviewer": "rita", "reviewer_groups": ["reviewers"],
                "feedback": {"iteration": 1.0, "decision": "approve"}}),
        );
        assert_eq!(process_message(&f.ports, &m).await, Disposition::Applied);
    }

    /// Issue 28 on the queue: a product description's corrections are judged by its own
    /// schema, nested paths and whole lists included; refusals record nothing, an
    /// edit-and-approve with a list and an item field is applied.
    #[tokio::test]
    async fn a_product_descriptions_corrections_are_judged_by_its_type() {
        let product = hitl_domain::types::builtin("product-description").unwrap();
        let f = Fakes::default();
        let mut wf = awaiting_review("wf-pd", "tok-pd", f.clock.now());
        wf.config.artifact_type = product.reference();
        let f = f.holding(&wf).await;
        let draft =
            hitl_domain::types::fill_draft(&product, &serde_json::to_value(&wf.subject).unwrap());
        f.ports
            .store
            .put_artifact(
                "wf-pd",
                &hitl_domain::model::Artifact {
                    iteration: 1,
                    hash: hitl_domain::metadata::content_hash(&draft),
                    content: draft.clone(),
                    generator: "local-generator".into(),
                    created_at: f.clock.now(),
                    usage: None,
                },
            )
            .await
            .unwrap();
        let send = |id: &str, decision: &str, corrections: serde_json::Value| {
            message(
                id,
                serde_json::json!({"workflow_id": "wf-pd", "reviewer": "rita", "reviewer_groups": ["reviewers"],
                    "feedback": {"iteration": 1, "decision": decision, "comments": "fix", "corrections": corrections}}),
            )
        };
        for (i, correction) in [
            serde_json::json!({"field": "specs[0].value", "value": "x".repeat(121)}),
            serde_json::json!({"field": "audience.extra", "value": "x"}),
            serde_json::json!({"field": "bullets", "value": "[\"only one\"]"}),
            serde_json::json!({"field": "colors.primary", "value": "#112233"}),
        ]
        .into_iter()
        .enumerate()
        {
            let m = send(
                &format!("pd-{i}"),
                "request_changes",
                serde_json::json!([correction]),
            );
            assert_eq!(
                process_message(&f.ports, &m).await,
                dropped("invalid"),
                "{i}"
            );
        }
        assert!(f.trail("wf-pd").await.is_empty());
        f.resumer.answer([Ok(())]);
        let bullets = serde_json::json!(["Folds flat", "Lights the page", "Two-year warranty"]);
        let m = send(
            "pd-edit",
            "approve",
            serde_json::json!([{"field": "bullets", "value": bullets.to_string()},
                {"field": "specs[0].value", "value": "3 kg"}]),
        );
        assert_eq!(process_message(&f.ports, &m).await, Disposition::Applied);
        assert_eq!(f.workflow("wf-pd").await.status, WorkflowStatus::Approved);
        let artifacts = f.ports.store.list_artifacts("wf-pd").await.unwrap();
        let last = &artifacts.last().unwrap().content;
        assert_eq!(last["bullets"], bullets);
        assert_eq!(last["specs"][0]["value"], "3 kg");
    }

    /// Issue 14: a duplicate key must never let one of its values win. On the queue the typed
    /// message refuses it already (dropped as unparseable); nothing is recorded.
    #[tokio::test]
    async fn a_message_with_a_duplicate_key_is_dropped() {
        let f = setup().await;
        let m: SqsMessage = serde_json::from_value(serde_json::json!({"messageId": "dup",
            "body": r#"{"workflow_id":"wf-q1","reviewer":"rita","reviewer_groups":["reviewers"],"feedback":{"iteration":1,"decision":"request_changes","decision":"approve"}}"#}))
        .unwrap();
        assert_eq!(process_message(&f.ports, &m).await, dropped("unparseable"));
        assert!(f.trail("wf-q1").await.is_empty());
    }

    /// A sink for the function's log lines, to read what a dropped message was told.
    #[derive(Clone, Default)]
    struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
        type Writer = Logs;
        fn make_writer(&'a self) -> Logs {
            self.clone()
        }
    }

    /// Issue 27: the message's `feedback` is read by the API's parser: a message with two bad
    /// fields is dropped as `invalid` with both named in the API's words (serde stopped at the
    /// first and the message was `unparseable`), and nothing is recorded.
    #[tokio::test]
    async fn a_message_with_two_bad_feedback_fields_reports_both_in_the_apis_words() {
        let f = setup().await;
        let logs = Logs::default();
        let _log = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_ansi(false)
                .finish(),
        );
        let m = message(
            "two-bad",
            serde_json::json!({"workflow_id": "wf-q1", "reviewer": "rita",
                "feedback": {"iteration": "one", "decision": "maybe"}}),
        );
        assert_eq!(process_message(&f.ports, &m).await, dropped("invalid"));
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains(
                "iteration: must be an integer from 1 to 50, got a string; decision: must be"
            ),
            "{logged}"
        );
        assert!(f.trail("wf-q1").await.is_empty());
    }

    #[tokio::test]
    async fn a_redelivered_message_is_applied_once() {
        // GIVEN the resume of an approval failed transiently
        let f = setup().await;
        f.resumer
            .answer([Err(ResumeError::Transient("throttled".into()))]);
        let event = batch();
        let message = &event.records[5];
        assert!(matches!(
            process_message(&f.ports, message).await,
            Disposition::Retry { .. }
        ));
        // WHEN SQS redelivers the same message (same message id, no explicit key)
        // THEN it is an idempotent replay: applied, resumed once, one audit entry
        assert_eq!(
            process_message(&f.ports, message).await,
            Disposition::Applied
        );
        assert_eq!(
            process_message(&f.ports, message).await,
            Disposition::Applied
        );
        let trail = f.trail("wf-q2").await;
        assert_eq!(trail.len(), 1);
        assert_eq!(
            hitl_domain::feedback::client_key(&trail[0].idempotency_key),
            "sqs:m-6-resume-fails"
        );
        let delivered = f.resumer.delivered.lock().unwrap();
        assert!(delivered.iter().all(|(token, _)| token == "tok-wf-q2"));
        assert!(!delivered.is_empty());
    }

    #[tokio::test]
    async fn a_store_outage_is_retried() {
        struct Down;
        #[async_trait::async_trait]
        impl ExecutionResumer for Down {
            async fn resume(
                &self,
                _: &TaskToken,
                _: &serde_json::Value,
            ) -> Result<(), ResumeError> {
                Ok(())
            }
        }
        let f = setup().await;
        let ports = Ports::new(
            Arc::new(hitl_domain::testing::UnavailableStore),
            f.ports.clock.clone(),
        )
        .with_resumer(Arc::new(Down));
        let response = handle(&ports, batch()).await;
        // unparseable (m-2) and invalid (m-3) never reach the store: dropped, not retried
        assert_eq!(
            failures(&response),
            [
                "m-1-approve",
                "m-4-unknown-workflow",
                "m-5-second-decision",
                "m-6-resume-fails"
            ]
        );
    }

    /// Issue 16: a resolution arrives through the queue like a decision: group-checked
    /// against the escalation group, applied once, the waiting escalation task resumed; a
    /// message with both or neither of `feedback` and `resolution` is dropped as invalid.
    #[tokio::test]
    async fn a_resolution_message_resolves_an_escalated_workflow() {
        let f = setup().await;
        let wf = f.workflow("wf-q2").await;
        let escalated = rules::escalate(
            &wf,
            hitl_domain::model::EscalationReason::ReviewTimeout,
            "late",
            Some(TaskToken::new("tok-escalation")),
            f.ports.clock.now(),
        )
        .unwrap()
        .unwrap();
        f.ports
            .store
            .update_workflow(&escalated, wf.version)
            .await
            .unwrap();
        let resolution =
            serde_json::json!({"iteration": 1, "action": "abandon", "reason": "Brand retired"});
        let not_member = message(
            "m-r1",
            serde_json::json!({"workflow_id": "wf-q2", "reviewer": "rita",
                "reviewer_groups": ["reviewers"], "resolution": resolution}),
        );
        assert_eq!(
            process_message(&f.ports, &not_member).await,
            dropped("not_authorized")
        );
        let both = message(
            "m-r2",
            serde_json::json!({"workflow_id": "wf-q2", "reviewer": "olga",
                "feedback": {"iteration": 1, "decision": "approve"}, "resolution": resolution}),
        );
        assert_eq!(process_message(&f.ports, &both).await, dropped("invalid"));
        let ok = message(
            "m-r3",
            serde_json::json!({"workflow_id": "wf-q2", "reviewer": "olga",
                "reviewer_groups": ["escalations"], "resolution": resolution}),
        );
        assert_eq!(process_message(&f.ports, &ok).await, Disposition::Applied);
        // Redelivered: applied once.
        assert_eq!(process_message(&f.ports, &ok).await, Disposition::Applied);
        let wf = f.workflow("wf-q2").await;
        assert_eq!(wf.status, WorkflowStatus::Abandoned);
        let delivered = f.resumer.delivered.lock().unwrap().clone();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].0, "tok-escalation");
        assert_eq!(delivered[0].1["decision"], "abandon");
    }
}
