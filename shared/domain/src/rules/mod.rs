//! Pure workflow transition rules. Every function takes the current record and returns the
//! next one (or a specific rejection); none performs I/O, so each is testable and the
//! storage adapters only have to apply the result with a version precondition.
//!
//! One file per concern: `review.rs` (drafts and decisions), `claim.rs`, `reminder.rs`,
//! `escalation.rs` (the iteration check, escalation and resolution), `delivery.rs` (the end of
//! a run), with `rejection.rs` (why something is refused) and `transition.rs` (what every
//! transition shares).

mod claim;
mod delivery;
mod escalation;
mod rejection;
mod reminder;
mod review;
mod transition;

pub use claim::*;
pub use delivery::*;
pub use escalation::*;
pub use rejection::*;
pub use reminder::*;
pub use review::*;
pub use transition::*;
