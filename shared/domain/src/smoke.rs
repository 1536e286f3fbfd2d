//! The synthetic reviewer that decides smoke-test workflows, so scheduled smoke runs finish
//! without a human and still cover approval on round one, approval after revisions and
//! escalation at the iteration limit.

use crate::feedback::{FeedbackRequest, Reviewer};
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
