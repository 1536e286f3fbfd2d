//! Feedback processor: accepts a reviewer's decision, records it in the audit trail under the
//! feedback rules (first decision wins, replay by idempotency key, stale or finished
//! workflows rejected with a specific reason) and resumes the execution with
//! `SendTaskSuccess`. This is the direct-invocation entry point; the HTTP and queue front
//! doors call the same [`FeedbackProcessor`].

use hitl_app::Ports;

use hitl_domain::feedback::{feedback_of_message, FeedbackReceipt, Reviewer, StrictJson};
use hitl_domain::model::Channel;
use hitl_domain::HandlerError;
use serde::{Deserialize, Serialize};

/// A decision submitted by direct invocation (from a trusted caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackEvent {
    /// Workflow decided.
    pub workflow_id: String,
    /// Idempotency key (retries of the same submission reuse it).
    pub idempotency_key: String,
    /// Reviewer identity.
    pub reviewer: String,
    /// Reviewer's groups; when given, membership of the workflow's group is enforced.
    #[serde(default)]
    pub reviewer_groups: Option<Vec<String>>,
    /// The decision `{iteration, decision, comments?, corrections?}`, read by the shared parser
    /// so that every bad field is reported, in the API's words.
    pub feedback: StrictJson,
}

/// Handles one invocation. Rejections by the rules are returned as receipts with a
/// `rejected` outcome (they are recorded); invalid input and unknown workflows are errors.
pub async fn handle(ports: &Ports, event: FeedbackEvent) -> Result<FeedbackReceipt, HandlerError> {
    let processor = ports.decisions();
    let reviewer = Reviewer::declared(
        event.reviewer.clone(),
        event.reviewer_groups.clone(),
        Channel::Lambda,
    );
    let feedback = feedback_of_message(
        &event.workflow_id,
        &event.feedback.0,
        &event.idempotency_key,
        &reviewer,
    )
    .map_err(HandlerError::InvalidInput)?;
    Ok(processor
        .submit(
            &event.workflow_id,
            &feedback,
            &event.idempotency_key,
            &reviewer,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Duration;
    use hitl_app::testing::Fakes;
    use hitl_domain::model::{FeedbackOutcome, WorkflowStatus};
    use hitl_domain::ports::Clock;

    use hitl_domain::testing::awaiting_review;

    use std::sync::Arc;

    async fn setup() -> Fakes {
        let fakes = Fakes::default();
        let mut wf = awaiting_review("wf-fb", "tok-fb", fakes.clock.now());
        wf.execution_arn =
            Some("arn:aws:states:eu-west-1:123456789012:execution:hitl:wf-fb".into());
        fakes.holding(&wf).await
    }

    fn approve() -> FeedbackEvent {
        serde_json::from_str(include_str!("../fixtures/approve.json")).unwrap()
    }

    #[tokio::test]
    async fn approval_is_applied_and_resumes_the_execution() {
        let f = setup().await;
        let receipt = handle(&f.ports, approve()).await.unwrap();
        assert_eq!(
            receipt.outcome,
            FeedbackOutcome::Applied {
                status: WorkflowStatus::Approved
            }
        );
        assert!(!receipt.replayed);
        let delivered = f.resumer.delivered.lock().unwrap().clone();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].0, "tok-fb");
        assert_eq!(delivered[0].1["decision"], "approve");
        assert!(!serde_json::to_string(&receipt).unwrap().contains("tok-fb"));
    }

    #[tokio::test]
    async fn invalid_fields_are_all_reported_and_nothing_is_recorded() {
        let f = setup().await;
        let event: FeedbackEvent = serde_json::from_value(serde_json::json!({
            "workflow_id": "wf-fb", "idempotency_key": "bad key!", "reviewer": "",
            "feedback": {"decision": "maybe", "corrections": [{"field": "id", "value": "x"}]}
        }))
        .unwrap();
        let err = handle(&f.ports, event).await.unwrap_err();
        let text = err.to_string();
        for field in ["idempotency_key", "reviewer", "iteration", "decision"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
        assert!(f.trail("wf-fb").await.is_empty());
    }

    /// Issue 28: a correction is judged by the workflow's type, once the workflow is read: a
    /// path the type does not let reviewers correct is refused, naming the correction, and
    /// nothing is recorded.
    #[tokio::test]
    async fn a_correction_the_type_does_not_allow_is_refused_naming_it() {
        let f = setup().await;
        let event: FeedbackEvent = serde_json::from_value(serde_json::json!({
            "workflow_id": "wf-fb", "idempotency_key": "k-1", "reviewer": "rita",
            "feedback": {"iteration": 1, "decision": "request_changes", "comments": "fix",
                "corrections": [{"field": "id", "value": "x"}]}
        }))
        .unwrap();
        let text = handle(&f.ports, event).await.unwrap_err().to_string();
        assert!(text.contains("corrections[0].field"), "{text}");
        assert!(f.trail("wf-fb").await.is_empty());
    }

    /// Issue 27: the event's `feedback` is read by the API's parser, so a bad event lists every
    /// bad field in the API's words (serde stopped at the first, and the event did not even
    /// deserialize), and nothing is recorded.
    #[tokio::test]
    async fn an_event_with_two_bad_feedback_fields_reports_both_in_the_apis_words() {
        let f = setup().await;
        let event: FeedbackEvent = serde_json::from_value(serde_json::json!({
            "workflow_id": "wf-fb", "idempotency_key": "k-bad", "reviewer": "rita",
            "feedback": {"iteration": "one", "decision": "maybe"}
        }))
        .unwrap();
        let err = handle(&f.ports, event).await.unwrap_err();
        assert_eq!(err.name().as_str(), "InvalidInput");
        assert_eq!(
            err.to_string(),
            "invalid input: iteration: must be an integer from 1 to 50, got a string; \
             decision: must be \"approve\", \"request_changes\" or \"reject\", got \"maybe\""
        );
        assert!(f.trail("wf-fb").await.is_empty());
    }

    /// A key twice in the event's `feedback` is refused while reading the event, as before.
    #[test]
    fn a_key_twice_in_the_feedback_is_refused() {
        let err = serde_json::from_str::<FeedbackEvent>(
            r#"{"workflow_id":"wf-fb","idempotency_key":"k","reviewer":"rita",
               "feedback":{"iteration":1,"decision":"request_changes","decision":"approve"}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("decision: appears more than once"),
            "{err}"
        );
    }

    /// Issue 14: a non-member's attempt used to be recorded in the workflow's own partition,
    /// so one user could grow another group's audit trail without bound. It is refused,
    /// logged and counted, and the trail stays untouched.
    /// Issue 27: the processor's metrics go to the injected sink (the EMF writer on Lambda),
    /// the same records as before: a decision, its latency, an unauthorised attempt.
    #[tokio::test]
    async fn metrics_go_to_the_injected_sink() {
        let mut f = setup().await;
        let sink = Arc::new(hitl_domain::testing::RecordingMetrics::default());
        f.ports.metrics = sink.clone();
        let mut outsider = approve();
        outsider.reviewer_groups = Some(vec!["marketing".into()]);
        handle(&f.ports, outsider).await.unwrap_err();
        f.clock.advance(Duration::seconds(90));
        handle(&f.ports, approve()).await.unwrap();
        assert_eq!(
            sink.names(),
            ["UnauthorizedAttempts", "FeedbackReceived", "ReviewLatency"]
        );
        let records = sink.records.lock().unwrap().clone();
        assert_eq!(records[0]["Channel"], "lambda");
        assert_eq!(records[1]["Decision"], "approve");
        assert_eq!(records[2]["ReviewLatency"], 90.0);
        assert_eq!(
            records[2]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "HitlOrchestrator"
        );
    }
}
