//! `POST /workflows/{id}/resolution` over real HTTP: only the escalation group (and admins)
//! resolve; the first resolution wins; replays answer the same; refusals are specific; the
//! waiting escalation task is resumed with the resolution and no token leaves the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hitl_domain::model::{EscalationReason, TaskToken, WorkflowStatus};
use hitl_domain::rules;
use serde_json::{json, Value};

impl Server {
    async fn resolution(&self, id: &str, token: &str, key: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .post(format!("{}/workflows/{id}/resolution", self.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(body.to_string()),
        )
        .await
    }

    /// An escalated workflow whose escalation task waits for a resolution, with its draft.
    async fn escalated_waiting(&self, id: &str) {
        let now = self.now();
        let wf = awaiting(id, "reviewers", now);
        let wf = rules::escalate(
            &wf,
            EscalationReason::IterationLimit,
            "1 of 1 iterations were rejected",
            Some(TaskToken::new(task_token(id, 99))),
            now,
        )
        .unwrap()
        .unwrap();
        self.store.create_workflow(&wf).await.unwrap();
        self.store
            .put_artifact(id, &artifact(1, draft(1), now))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_escalation_group_resolves_once_and_the_execution_gets_it() {
    let s = Server::start().await;
    s.escalated_waiting("wf-esc").await;
    let body = json!({"iteration": 1, "action": "resolve",
        "corrections": [{"field": "tagline", "value": "Roasted for early risers"}]});

    // The escalation queue: the escalation group's (here the admin's), not the reviewers'.
    let queue = s.get("/escalations", Some(&s.reviewers.ada)).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let items = queue.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["reason"], "iteration_limit");
    assert_eq!(items[0]["iteration"], 1);
    assert!(items[0]["resolve_by"].is_string());
    let none = s.get("/escalations", Some(&s.reviewers.rita)).await;
    assert_eq!(none.json()["items"], json!([]));
    // The resolver sees every draft.
    let view = s.get("/workflows/wf-esc", Some(&s.reviewers.ada)).await;
    assert_eq!(view.json()["drafts"].as_array().map(Vec::len), Some(1));
    assert_eq!(view.json()["escalation_group"], "escalations");

    // A reviewer of the workflow's group is not in its escalation group: not found, nothing
    // recorded.
    let refused = s
        .resolution("wf-esc", &s.reviewers.rita, "k-1", &body)
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(s.store.list_feedback("wf-esc").await.unwrap().is_empty());

    // A field error is a 400 naming the field.
    let bad = s
        .resolution(
            "wf-esc",
            &s.reviewers.ada,
            "k-bad",
            &json!({"iteration": 1, "action": "abandon"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.error_fields(), ["reason"]);

    // An admin may: applied, the waiting task resumed with the resolution.
    let ok = s.resolution("wf-esc", &s.reviewers.ada, "k-1", &body).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let answer = ok.json();
    assert_eq!(answer["decision"], "resolve");
    assert_eq!(answer["status"], "resolved");
    let delivered = s.resumer.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0, task_token("wf-esc", 99));
    assert_eq!(delivered[0].1["decision"], "resolve");
    let wf = s.store.get_workflow("wf-esc").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::Resolved);
    let final_artifact = s
        .store
        .get_artifact("wf-esc", wf.artifact_iteration)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(final_artifact.generator, "person:ada");
    assert_eq!(
        final_artifact.content["tagline"],
        "Roasted for early risers"
    );

    // The same key again: the original answer, marked as a replay; nothing delivered twice.
    let replay = s.resolution("wf-esc", &s.reviewers.ada, "k-1", &body).await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.resumer.delivered.lock().unwrap().len(), 1);

    // Another resolution: refused with a specific reason, recorded.
    let second = s
        .resolution(
            "wf-esc",
            &s.reviewers.ada,
            "k-2",
            &json!({"iteration": 1, "action": "abandon", "reason": "too late"}),
        )
        .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert_eq!(second.json()["reason"], "already_resolved");

    // Resolved: off the queue; the workflow view shows the escalation without any token.
    let queue = s.get("/escalations", Some(&s.reviewers.ada)).await;
    assert_eq!(queue.json()["items"], json!([]));
    let view = s.get("/workflows/wf-esc", Some(&s.reviewers.ada)).await;
    assert_eq!(view.status, 200);
    assert_eq!(view.json()["status"], "resolved");
    assert_eq!(view.json()["escalation"]["reason"], "iteration_limit");
}

#[tokio::test]
async fn a_workflow_that_is_not_escalated_cannot_be_resolved() {
    let s = Server::start().await;
    s.awaiting("wf-open", "reviewers").await;
    let resp = s
        .resolution(
            "wf-open",
            &s.reviewers.ada,
            "k-1",
            &json!({"iteration": 1, "action": "extend", "iterations": 2}),
        )
        .await;
    assert_eq!(resp.status, 409, "{}", resp.body);
    assert_eq!(resp.json()["reason"], "not_escalated");
    let wf = s.store.get_workflow("wf-open").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
}
