//! The synthetic reviewer that decides smoke-test workflows, so scheduled smoke runs finish
//! without a human and still cover approval on round one, approval after revisions and
//! escalation at the iteration limit.

use crate::feedback::{FeedbackRequest, ResolutionRequest, Reviewer};
use crate::model::{Correction, SmokeScenario, Workflow};

/// The reviewer identity recorded for synthetic decisions.
pub const SYNTHETIC_REVIEWER: &str = "synthetic-reviewer";

/// The identity the synthetic reviewer submits as (authorised by construction).
pub fn reviewer() -> Reviewer {
    Reviewer {
        name: SYNTHETIC_REVIEWER.into(),
        groups: None,
        channel: "synthetic".into(),
    }
}

/// Idempotency key of the synthetic decision for an iteration (stable under retries).
pub fn idempotency_key(workflow: &Workflow, iteration: u32) -> String {
    format!("synthetic-{}-{iteration}", workflow.id)
}

/// What the synthetic reviewer submits for `iteration` of a smoke workflow.
pub fn decide(scenario: SmokeScenario, workflow: &Workflow, iteration: u32) -> FeedbackRequest {
    let approve = || FeedbackRequest {
        iteration: Some(i64::from(iteration)),
        decision: Some("approve".into()),
        comments: Some("Synthetic review: approved.".into()),
        corrections: vec![],
    };
    match scenario {
        SmokeScenario::ApproveFirst => approve(),
        SmokeScenario::ApproveAfterRevisions if iteration >= workflow.config.max_iterations => {
            approve()
        }
        SmokeScenario::ApproveAfterRevisions => FeedbackRequest {
            iteration: Some(i64::from(iteration)),
            decision: Some("request_changes".into()),
            comments: Some(format!(
                "Synthetic review round {iteration}: the tagline should name the audience."
            )),
            corrections: vec![Correction {
                field: "tagline".into(),
                value: format!(
                    "{} for people who care (round {iteration})",
                    workflow.subject.name
                ),
            }],
        },
        SmokeScenario::EscalateAtLimit => FeedbackRequest {
            iteration: Some(i64::from(iteration)),
            decision: Some("request_changes".into()),
            comments: Some(format!(
                "Synthetic review round {iteration}: still not on brand, try a new direction."
            )),
            corrections: vec![],
        },
    }
}

/// Idempotency key of the synthetic resolution of a workflow's escalation (stable under
/// retries; one escalation per smoke workflow).
pub fn resolution_key(workflow: &Workflow) -> String {
    format!(
        "synthetic-resolution-{}-{}",
        workflow.id, workflow.iteration
    )
}

/// What the synthetic resolver submits for an escalated smoke workflow: it resolves the
/// escalation with a correction to the newest draft, so the smoke run covers the resolution
/// path (schema check, person-authored final artifact, outcome) and ends `resolved`.
pub fn resolve(_scenario: SmokeScenario, workflow: &Workflow) -> ResolutionRequest {
    ResolutionRequest {
        iteration: Some(i64::from(workflow.iteration)),
        action: Some("resolve".into()),
        corrections: vec![Correction {
            field: "tagline".into(),
            value: format!("{}, settled by a person", workflow.subject.name),
        }],
        reason: Some("Synthetic resolution of a smoke escalation.".into()),
        ..ResolutionRequest::default()
    }
}
