//! Workspace-level integration tests live in `tests/`: the definition checks, end-to-end runs
//! on the local engine and the report page in a real browser. An adapter's own tests (the store
//! contract on DynamoDB Local) live in its crate (`shared/aws/tests/`).
