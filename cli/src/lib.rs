//! Library side of the `hitl` CLI: the local runtime (engine + handlers + SQLite + virtual
//! clock) and presentation helpers, shared by the binary and the workspace integration tests.

pub mod aws;
pub mod backend;
pub mod format;
pub mod jump;
pub mod local;
pub mod report;
pub mod status;
pub mod types;
