//! Shared core of the HITL workflow orchestrator: domain model, pure transition rules, typed
//! task contracts, the feedback processor, the `WorkflowStore` port with its DynamoDB and
//! SQLite adapters, and the AWS adapters of the other ports.

pub mod analytics;
pub mod aws;
pub mod config;
pub mod contracts;
pub mod deployment;
pub mod error;
pub mod feedback;
pub mod metadata;
pub mod metrics;
pub mod model;
pub mod ports;
pub mod rules;
pub mod smoke;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use error::{ErrorName, FieldError, HandlerError};

/// The global allocator every binary of the project declares (each `main.rs`:
/// `#[global_allocator] static ALLOC: hitl_shared::Allocator = hitl_shared::Allocator;`).
/// mimalloc: the handlers and the local engine build and drop many small JSON values per
/// event, where it measured well ahead of glibc malloc (docs/PERFORMANCE.md).
pub use mimalloc::MiMalloc as Allocator;
