//! The application layer: a process's ports wired once ([`Ports`]), and the use cases every
//! front door (the API, the SQS intake, each Lambda, `hitl` and `hitl aws`) calls over them.
//!
//! The domain ([`hitl_domain`]) holds the rules and the services that apply them
//! ([`FeedbackProcessor`](hitl_domain::feedback::FeedbackProcessor),
//! [`ClaimService`](hitl_domain::claims::ClaimService),
//! [`ReminderSweeper`](hitl_domain::reminders::ReminderSweeper)); this crate decides which
//! adapters they run over and composes them into the passes a process runs
//! ([`housekeeping`]), and reads a workflow the one way every face shows it ([`view`]). It links no SDK and no SQLite: the adapters are handed in by the
//! process's wiring (`hitl_aws::lambda` on Lambda, `hitl::local` on a laptop).

pub mod housekeeping;
pub mod ports;
pub mod view;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use ports::{Port, Ports, Settings};
