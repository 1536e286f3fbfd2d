//! Feedback processing: validate a reviewer's submission, apply the rules, record it in the
//! audit trail and resume the waiting execution. One implementation for every front door
//! (direct Lambda invocation, the CLI, HTTP and SQS).
//!
//! Guarantees: the first decision for an iteration wins (version-conditional write); a
//! submission replayed with the same idempotency key returns the original result and changes
//! nothing; every rejected submission is recorded.
//!
//! Delivery is a transactional outbox: an accepted decision is written together with a
//! pending-delivery marker ([`Delivery::Pending`](crate::model::Delivery::Pending)) in one
//! conditional write, delivery is attempted inline, and whatever is not confirmed is delivered by
//! [`FeedbackProcessor::reconcile`] (on AWS the `reconcile-deliveries` function on a schedule;
//! locally at `hitl serve` start-up, after every engine step loop and by `hitl reconcile`).
//! When the task is already closed, the execution's own history decides what happened — never
//! the clock — and an applied decision is never taken back: if the wait had timed out, the
//! decision is kept, marked late, and the timeout escalation proceeds.
//!
//! One file per job: `request.rs` (what arrives and what is answered), `duplicate.rs` (the
//! duplicate-key check of a raw body), `parse.rs` (the one JSON parser of submissions for
//! every front door, with field-level errors), `validate.rs` (field validation), `keys.rs` (idempotency
//! key scoping), `processor.rs` (authorise, apply, record, deliver) and `outbox.rs` (the relay
//! that confirms and retries deliveries).

mod duplicate;
mod keys;
mod outbox;
mod parse;
mod processor;
mod request;
mod validate;

pub use duplicate::duplicate_key;
pub use keys::{client_key, key_scope, scoped_key};
pub use outbox::ReconcileReport;
pub use parse::{
    feedback_of_message, merge_findings, parse_body, parse_claim, parse_feedback, parse_resolution,
    read_feedback, read_resolution, StrictJson, DUPLICATE_KEY_MESSAGE,
};
pub use processor::{
    person_artifact, FeedbackProcessor, MAX_RECORDED_REJECTIONS,
    MAX_RECORDED_REJECTIONS_PER_PRINCIPAL,
};
pub use request::{
    integral_number, iteration_from_number, iteration_range_error, FeedbackError, FeedbackReceipt,
    FeedbackRequest, ResolutionRequest, Reviewer, ValidFeedback, ADMIN_GROUP, ITERATION_RANGE,
    MAX_COMMENT_CHARS, MAX_CORRECTIONS, MAX_CORRECTION_CHARS, RESOLUTION_ACTIONS,
};
pub use validate::{check_by_type, validate, validate_resolution};
