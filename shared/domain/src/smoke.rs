//! The synthetic reviewer that decides smoke-test workflows, so scheduled smoke runs finish
//! without a human and still cover approval on round one, approval after revisions,
//! escalation at the iteration limit, a two-approval workflow and an edit-and-approve.

use crate::feedback::{FeedbackRequest, ResolutionRequest, Reviewer};
use crate::model::{Channel, Correction, SmokeScenario, Workflow};

/// The reviewer identity recorded for synthetic decisions.
pub const SYNTHETIC_REVIEWER: &str = "synthetic-reviewer";
/// The second synthetic approver of the two-approval scenario.
pub const SECOND_SYNTHETIC_REVIEWER: &str = "synthetic-reviewer-2";

/// One synthetic submission: who, under which key, what.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticDecision {
    /// The submitter.
    pub reviewer: Reviewer,
    /// Its idempotency key (stable under retries).
    pub key: String,
    /// The decision.
    pub request: FeedbackRequest,
}

/// Everything the synthetic reviewers submit for `iteration`, in order: one decision, or for
/// the two-approval scenario one approval from each of two synthetic reviewers.
pub fn decisions(
    scenario: SmokeScenario,
    workflow: &Workflow,
    iteration: u32,
) -> Vec<SyntheticDecision> {
    let first = SyntheticDecision {
        reviewer: reviewer(),
        key: idempotency_key(workflow, iteration),
        request: decide(scenario, workflow, iteration),
    };
    if scenario != SmokeScenario::ApproveByTwo {
        return vec![first];
    }
    let second = SyntheticDecision {
        reviewer: Reviewer {
            name: SECOND_SYNTHETIC_REVIEWER.into(),
            ..reviewer()
        },
        key: format!("{}-second", idempotency_key(workflow, iteration)),
        request: first.request.clone(),
    };
    vec![first, second]
}

/// The identity the synthetic reviewer submits as (authorised by construction).
pub fn reviewer() -> Reviewer {
    Reviewer::declared(SYNTHETIC_REVIEWER, None, Channel::Synthetic)
}

/// Idempotency key of the synthetic decision for an iteration (stable under retries).
pub fn idempotency_key(workflow: &Workflow, iteration: u32) -> String {
    format!("synthetic-{}-{iteration}", workflow.id)
}

/// The field the synthetic reviewer corrects: the first correctable path of the workflow's
/// (built-in) type that holds free text — brand metadata's `tagline`, a product description's
/// `headline` — so every type's smoke run exercises corrections.
pub fn corrected_field(workflow: &Workflow) -> String {
    crate::types::builtin(&workflow.config.artifact_type.name)
        .and_then(|t| t.lead_text_field())
        .unwrap_or_else(|| "tagline".to_owned())
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
        SmokeScenario::ApproveFirst | SmokeScenario::ApproveByTwo => approve(),
        SmokeScenario::EditAndApprove => FeedbackRequest {
            corrections: vec![Correction {
                field: corrected_field(workflow),
                value: format!("{}, approved with an edit", workflow.subject.name),
            }],
            ..approve()
        },
        SmokeScenario::ApproveAfterRevisions if iteration >= workflow.config.max_iterations => {
            approve()
        }
        SmokeScenario::ApproveAfterRevisions => FeedbackRequest {
            iteration: Some(i64::from(iteration)),
            decision: Some("request_changes".into()),
            comments: Some(format!(
                "Synthetic review round {iteration}: the {} should name the audience.",
                corrected_field(workflow)
            )),
            corrections: vec![Correction {
                field: corrected_field(workflow),
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
            field: corrected_field(workflow),
            value: format!("{}, settled by a person", workflow.subject.name),
        }],
        reason: Some("Synthetic resolution of a smoke escalation.".into()),
        ..ResolutionRequest::default()
    }
}
