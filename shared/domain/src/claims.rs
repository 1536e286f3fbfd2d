//! Claims on the iteration under review: one implementation for every front door (API, CLI),
//! like the feedback processor. A claim is a version-conditional write of the workflow record
//! made by [`crate::rules::claim`] / [`crate::rules::release`]; on a conflict the record is
//! read again and the rules decide again, so of many reviewers claiming at once exactly one
//! holds the claim and the others are told who does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use thiserror::Error;
use tracing::{info, warn};

use crate::feedback::Reviewer;
use crate::identity::Actor;
use crate::model::{Claim, Workflow};
use crate::ports::Clock;
use crate::rules::{self, Rejection};
use crate::store::{StoreError, WorkflowStore};

/// Attempts before giving up on a conflict storm.
const MAX_ATTEMPTS: usize = 8;

/// Why a claim or release was not made.
#[derive(Debug, Error)]
pub enum ClaimError {
    /// No such workflow (also what a non-member is told by the API).
    #[error("workflow {0} not found")]
    NotFound(String),
    /// The reviewer is not in the workflow's reviewer group.
    #[error("{reviewer} is not in reviewer group {group}")]
    Forbidden {
        /// Who tried.
        reviewer: String,
        /// The group required.
        group: String,
    },
    /// The claimant's declared name is not a valid name (nothing was read or written).
    #[error("reviewer: {0}")]
    InvalidReviewer(String),
    /// The rules refused (stable name via [`Rejection::name`]): `claimed_by_other`,
    /// `not_awaiting_review`, `workflow_finished`, `review_timed_out`, `already_approved`,
    /// `stale_iteration`, `unknown_iteration`.
    #[error(transparent)]
    Refused(Rejection),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the claimant is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimReceipt {
    /// Workflow.
    pub workflow_id: String,
    /// The iteration under review.
    pub iteration: u32,
    /// The claim now held (`None` after a release).
    pub claim: Option<Claim>,
}

/// Claims and releases, generic over the store and clock.
pub struct ClaimService {
    store: Arc<dyn WorkflowStore>,
    clock: Arc<dyn Clock>,
}

impl ClaimService {
    /// Wires the service.
    pub fn new(store: Arc<dyn WorkflowStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Takes (or renews) the claim on the workflow's current iteration; `iteration`, when
    /// given, must be the current one.
    pub async fn claim(
        &self,
        workflow_id: &str,
        iteration: Option<u32>,
        reviewer: &Reviewer,
    ) -> Result<ClaimReceipt, ClaimError> {
        let actor = actor_of(reviewer)?;
        self.change(workflow_id, reviewer, |wf, now| {
            rules::claim(wf, actor.clone(), iteration, now).map(Some)
        })
        .await
    }

    /// Releases the claim: the holder's own, or anyone's for an admin. Releasing when nothing
    /// is held succeeds and writes nothing.
    pub async fn release(
        &self,
        workflow_id: &str,
        reviewer: &Reviewer,
    ) -> Result<ClaimReceipt, ClaimError> {
        let actor = actor_of(reviewer)?;
        let admin = reviewer.is_admin();
        self.change(workflow_id, reviewer, |wf, now| {
            rules::release(wf, actor.clone(), admin, now)
        })
        .await
    }

    async fn change(
        &self,
        workflow_id: &str,
        reviewer: &Reviewer,
        rule: impl Fn(&Workflow, DateTime<Utc>) -> Result<Option<Workflow>, Rejection>,
    ) -> Result<ClaimReceipt, ClaimError> {
        for _ in 0..MAX_ATTEMPTS {
            let workflow = self
                .store
                .get_workflow(workflow_id)
                .await?
                .ok_or_else(|| ClaimError::NotFound(workflow_id.to_owned()))?;
            authorise(&workflow, reviewer)?;
            let now = self.clock.now();
            let next = match rule(&workflow, now) {
                Ok(next) => next,
                Err(rejection) => {
                    info!(workflow_id, reviewer = %reviewer.name, channel = %reviewer.channel,
                        rejection = rejection.name(), "claim refused");
                    return Err(ClaimError::Refused(rejection));
                }
            };
            let Some(next) = next else {
                return Ok(receipt(&workflow, now));
            };
            match self.store.update_workflow(&next, workflow.version).await {
                Ok(()) => {
                    let receipt = receipt(&next, now);
                    info!(workflow_id, reviewer = %reviewer.name, channel = %reviewer.channel,
                        held_by = ?receipt.claim.as_ref().map(|c| &c.reviewer), "claim changed");
                    return Ok(receipt);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ClaimError::Store(StoreError::Conflict(
            workflow_id.to_owned(),
        )))
    }
}

/// The claimant's stable identity and label, or why its declared name is refused.
fn actor_of(reviewer: &Reviewer) -> Result<Actor, ClaimError> {
    let (id, name) = reviewer
        .identity()
        .map_err(|why| ClaimError::InvalidReviewer(why.to_string()))?;
    Ok(Actor { id, name })
}

fn receipt(workflow: &Workflow, now: DateTime<Utc>) -> ClaimReceipt {
    ClaimReceipt {
        workflow_id: workflow.id.clone(),
        iteration: workflow.iteration,
        claim: workflow
            .pending_review
            .as_ref()
            .and_then(|p| p.live_claim(now))
            .cloned(),
    }
}

/// Reviewers of the workflow's group (and admins) may claim; `None` groups mean the channel
/// authorised the caller already.
fn authorise(workflow: &Workflow, reviewer: &Reviewer) -> Result<(), ClaimError> {
    let group = &workflow.config.reviewer_group;
    if reviewer.may_act_for(group) {
        return Ok(());
    }
    warn!(workflow_id = %workflow.id, reviewer = %reviewer.name,
        "claim refused: not in the reviewer group");
    Err(ClaimError::Forbidden {
        reviewer: reviewer.name.clone(),
        group: group.clone(),
    })
}
