//! `WaitForFeedback` (invoked with `.waitForTaskToken`): stores the task token against
//! (workflow, iteration), moves the workflow to `awaiting_review` and notifies reviewers.
//! The token is never returned or logged. Smoke workflows are decided at once by the
//! synthetic reviewer through the normal feedback rules.
//!
//! A regenerated draft identical to the previous one is not sent to reviewers: the task
//! completes at once with `{"decision": "no_progress"}`, and the definition's
//! `FeedbackProcessing` escalates it (`no_progress`). Checking here rather than in a Choice
//! after `MetadataRegeneration` saves a state transition in every review iteration.

use hitl_app::Ports;

use chrono::{DateTime, Utc};
use hitl_domain::contracts::{ReviewRequestInput, ReviewRequestOutput};
use hitl_domain::feedback::FeedbackError;
use hitl_domain::model::{TaskToken, Workflow};
use hitl_domain::optimistic::mutate;
use hitl_domain::ports::{Notification, NotificationKind, ResumeError};
use hitl_domain::{reminders, rules, smoke, HandlerError};
use tracing::info;

/// Handles one invocation.
pub async fn handle(
    ports: &Ports,
    input: ReviewRequestInput,
) -> Result<ReviewRequestOutput, HandlerError> {
    if input.task_token.trim().is_empty() || input.task_token.len() > 2048 {
        return Err(HandlerError::field(
            "task_token",
            "must be 1..=2048 characters (pass $$.Task.Token)",
        ));
    }
    let now = ports.clock.now();
    let token = TaskToken::new(input.task_token.clone());
    // The record holds the new draft's hash: only the previous draft is read to compare.
    let previous_hash = match input.iteration {
        1 => None,
        i => ports
            .store
            .get_artifact(&input.workflow_id, i - 1)
            .await?
            .map(|a| a.hash),
    };
    // The notification is written with the review request, in the same conditional write
    // (the outbox): a crash after it loses nothing, a retry does not write it twice.
    let outbox = ports.notifications();
    let link_of = |workflow_id: &str| ports.settings.review_link(workflow_id);
    let (workflow, (identical, enqueued)) =
        mutate(ports.store.as_ref(), &input.workflow_id, |current| {
            if previous_hash.is_some()
                && current.artifact_iteration == input.iteration
                && current.artifact_hash == previous_hash
            {
                return Ok((None, (true, None)));
            }
            let mut next = rules::request_review(current, input.iteration, token.clone(), now)?;
            let enqueued = match next.smoke {
                Some(_) => None,
                None => {
                    let notification =
                        review_request(&next, input.iteration, now, link_of(&next.id));
                    outbox.add(&mut next, None, notification, now)
                }
            };
            Ok((Some(next), (false, enqueued)))
        })
        .await?;
    if identical {
        info!(workflow_id = %input.workflow_id, iteration = input.iteration,
            "the regenerated draft is identical to the previous one: no review requested");
        let output = serde_json::json!({
            "workflow_id": input.workflow_id,
            "iteration": input.iteration,
            "decision": "no_progress",
        });
        match ports.resumer.deliver(&token, &output).await {
            // Closed already (a retried task whose first attempt delivered it, or a
            // timeout): the execution has moved on.
            Ok(_) | Err(ResumeError::TaskClosed(_)) => {}
            Err(ResumeError::Transient(e) | ResumeError::Permanent(e)) => {
                return Err(HandlerError::ResumeFailed(e))
            }
        }
        return Ok(ReviewRequestOutput {
            workflow_id: workflow.id,
            iteration: input.iteration,
            deadline: now,
        });
    }
    let deadline = workflow
        .pending_review
        .as_ref()
        .map(|p| p.deadline)
        .unwrap_or(now);
    info!(workflow_id = %workflow.id, iteration = input.iteration, subject_id = %workflow.subject.id,
        execution_arn = input.execution_arn.as_deref().unwrap_or_default(), %deadline,
        "review requested");
    if let Some(scenario) = workflow.smoke {
        let processor = ports.decisions();
        for synthetic in smoke::decisions(scenario, &workflow, input.iteration) {
            match processor
                .submit(
                    &workflow.id,
                    &synthetic.request,
                    &synthetic.key,
                    &synthetic.reviewer,
                )
                .await
            {
                Ok(_) => {}
                Err(FeedbackError::ResumeFailed(e)) => return Err(HandlerError::ResumeFailed(e)),
                Err(other) => return Err(other.into()),
            }
        }
    } else if let Some(notification_id) = enqueued {
        // Sent by the writer; a channel that fails stays in the outbox for the relay. A
        // notification written by an earlier attempt of this task is the relay's (this
        // attempt cannot tell a crashed writer from a concurrent one).
        outbox.send_enqueued(&workflow, &notification_id).await?;
    }
    Ok(ReviewRequestOutput {
        workflow_id: workflow.id,
        iteration: input.iteration,
        deadline,
    })
}

/// The review request for `iteration` of `workflow`: the deadline both ways and, when the
/// page's URL is known, the link to the workflow there.
fn review_request(
    workflow: &Workflow,
    iteration: u32,
    now: DateTime<Utc>,
    link: Option<String>,
) -> Notification {
    let deadline = workflow
        .pending_review
        .as_ref()
        .map(|p| p.deadline)
        .unwrap_or(now);
    let mut message = format!(
        "Draft {} of {} is ready for review; decide by {} (in {}).",
        iteration,
        workflow.subject.name,
        deadline.format("%Y-%m-%d %H:%M UTC"),
        reminders::time_left(deadline, now),
    );
    if let Some(link) = &link {
        message.push_str(&format!(" Review it: {link}"));
    }
    Notification {
        // The iteration this review is for (the record may have moved on since).
        iteration,
        ..Notification::to_reviewers(NotificationKind::ReviewRequested, workflow, message)
            .linking(link)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_app::testing::Fakes;
    use hitl_domain::model::{SmokeScenario, WorkflowStatus};
    use hitl_domain::store::contract::sample_workflow;

    async fn setup(smoke: Option<SmokeScenario>) -> Fakes {
        let mut wf = sample_workflow("wf-review");
        wf.smoke = smoke;
        wf.artifact_iteration = 1;
        wf.artifact_hash = Some("h".into());
        Fakes::default().holding(&wf).await
    }

    fn fixture() -> ReviewRequestInput {
        serde_json::from_str(include_str!("../fixtures/request-review.json")).unwrap()
    }

    #[tokio::test]
    async fn stores_token_notifies_and_never_returns_the_token() {
        let f = setup(None).await;
        let out = handle(&f.ports, fixture()).await.unwrap();
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            !text.contains("AAAAKgAAAAIAAAAA"),
            "token leaked into output: {text}"
        );
        let wf = f.workflow("wf-review").await;
        assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
        let pending = wf.pending_review.unwrap();
        assert_eq!(pending.task_token.expose(), "AAAAKgAAAAIAAAAA-test-token");
        assert_eq!(out.deadline, pending.deadline);
        let sent = f.review_notifier.sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert!(!serde_json::to_string(&*sent)
            .unwrap()
            .contains("AAAAKgAAAAIAAAAA"));
    }

    /// Issue 30: a review request names the deadline both ways and links to the workflow on
    /// the review page when the deployment knows the page's URL.
    #[tokio::test]
    async fn the_request_links_to_the_page_and_says_how_long_is_left() {
        let f = setup(None).await;
        handle(&f.ports, fixture()).await.unwrap();
        let plain = f.review_notifier.sent.lock().unwrap()[0].clone();
        assert_eq!(plain.link, None);
        assert!(plain.message.contains(" (in 72 h)."), "{}", plain.message);
        let mut f = setup(None).await;
        f.ports = f
            .ports
            .clone()
            .with_page_url(Some("https://review.example.com/".into()));
        handle(&f.ports, fixture()).await.unwrap();
        let linked = f.review_notifier.sent.lock().unwrap()[0].clone();
        assert_eq!(
            linked.link.as_deref(),
            Some("https://review.example.com/#/workflows/wf-review")
        );
        assert!(
            linked
                .message
                .ends_with("Review it: https://review.example.com/#/workflows/wf-review"),
            "{}",
            linked.message
        );
    }

    #[tokio::test]
    async fn a_retried_request_replaces_the_token() {
        let f = setup(None).await;
        handle(&f.ports, fixture()).await.unwrap();
        let mut retry = fixture();
        retry.task_token = "second-token".into();
        handle(&f.ports, retry).await.unwrap();
        let wf = f.workflow("wf-review").await;
        assert_eq!(
            wf.pending_review.unwrap().task_token.expose(),
            "second-token"
        );
    }

    #[tokio::test]
    async fn smoke_workflows_are_decided_by_the_synthetic_reviewer() {
        let f = setup(Some(SmokeScenario::ApproveFirst)).await;
        handle(&f.ports, fixture()).await.unwrap();
        let wf = f.workflow("wf-review").await;
        assert_eq!(wf.status, WorkflowStatus::Approved);
        assert_eq!(wf.decisions[0].reviewer, smoke::SYNTHETIC_REVIEWER);
        let delivered = f.resumer.delivered.lock().unwrap();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].1["decision"], "approve");
        assert!(f.review_notifier.sent.lock().unwrap().is_empty());
    }

    /// Issue 30: the review is requested even when the channel fails; the notification waits
    /// in the outbox, a retried task does not send it again, and the relay sends it once the
    /// channel is back.
    #[tokio::test]
    async fn a_failed_notification_stays_in_the_outbox_until_the_relay_sends_it() {
        let f = setup(None).await;
        *f.review_notifier.fail.lock().unwrap() = true;
        handle(&f.ports, fixture()).await.unwrap();
        let wf = f.workflow("wf-review").await;
        assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
        let record = wf.notification("review_requested/1").unwrap();
        assert!(record.is_pending());
        assert_eq!(record.channels[0].attempts, 1);
        assert!(record.channels[0].last_error.is_some());
        *f.review_notifier.fail.lock().unwrap() = false;
        let mut retry = fixture();
        retry.task_token = "second-token".into();
        handle(&f.ports, retry).await.unwrap();
        assert!(
            f.review_notifier.sent.lock().unwrap().is_empty(),
            "the retry leaves it to the relay"
        );
        f.clock.advance(hitl_domain::notify::backoff(1));
        let pending = f.workflow("wf-review").await;
        let report = f.ports.notifications().relay(&[pending]).await.unwrap();
        assert_eq!(report.sent, 1);
        assert_eq!(f.review_notifier.sent.lock().unwrap().len(), 1);
        assert!(!f.workflow("wf-review").await.in_outbox());
    }

    #[tokio::test]
    async fn empty_token_is_rejected() {
        let f = setup(None).await;
        let mut input = fixture();
        input.task_token = " ".into();
        let err = handle(&f.ports, input).await.unwrap_err();
        assert!(err.to_string().contains("task_token"));
    }
}
