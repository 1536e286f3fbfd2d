//! The inside of the hexagon: the workflow model, pure transition rules, typed task contracts,
//! the feedback processor, the ports it drives (including `WorkflowStore`), analytics and EMF
//! metric records. No I/O: adapters live in `hitl-aws` and `hitl-sqlite`.

pub mod analytics;
pub mod claims;
pub mod contracts;
pub mod deployment;
pub mod error;
pub mod failpoints;
pub mod feedback;
pub mod identity;
pub mod metadata;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod optimistic;
pub mod outcome;
pub mod ports;
pub mod reminders;
pub mod rules;
pub mod smoke;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod types;

pub use error::{ErrorName, FieldError, HandlerError};
