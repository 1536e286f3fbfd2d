//! The HITL workflow's Amazon States Language definition and a local engine that executes it.
//!
//! Pipeline: [`definition`] (parse) → [`validate`] → [`engine`] (execute), with [`path`],
//! [`intrinsics`], [`choice`], [`io`], [`retry`] and [`errors`] implementing the language,
//! [`task`] the resources, [`store`]/[`clock`]/[`history`] the durable side, and [`step`]/[`state`]
//! the pure interpreter over a serializable frame tree.

pub mod assign;
pub mod choice;
pub mod clock;
pub mod definition;
pub mod engine;
pub mod errors;
pub mod history;
pub mod intrinsics;
pub mod io;
pub mod jsonata;
pub mod path;
pub mod retry;
pub mod service;
pub mod state;
pub mod step;
pub mod store;
pub mod task;
pub mod validate;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use definition::{substitute, substitution_names, Definition, ParseError, SubstitutionError};
pub use engine::{AdvanceReport, Engine, EngineConfig, EngineError, PendingCallback};
pub use errors::StateError;
pub use history::{EventDetails, HistoryEvent, HistoryEventType};
pub use store::{
    ExecutionDescription, ExecutionStatus, ExecutionStore, MemoryExecutionStore,
    SqliteExecutionStore, StateMachineType, StoreError,
};
pub use task::{HandlerRegistry, TaskContext, TaskFailure, TaskHandler, TaskOverride};
pub use validate::{validate, ValidationError};

/// The HITL workflow definition shipped with this crate (with `${...}` placeholders).
pub const DEFINITION: &str = include_str!("../definition.asl.json");
