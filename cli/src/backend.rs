//! What differs between operating the local data directory (`hitl …`) and a deployed stack
//! (`hitl aws …`): the store, the resumer, the clock, how an execution starts, what runs after
//! a decision is accepted, and where executions and outcomes are. Every operator command is
//! written once over a [`Backend`] (the binary's `operate` module, and [`crate::status`]).

use std::sync::Arc;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hitl_app::Ports;
use hitl_domain::feedback::ReconcileReport;
use hitl_domain::model::{Workflow, WorkflowStatus};
use hitl_domain::ports::Clock;
use hitl_domain::store::WorkflowStore;
use serde_json::Value;

use crate::local::{Runtime, Settled};

/// Where an operator command acts: the local runtime or a deployed stack.
#[async_trait]
pub trait Backend: Send + Sync {
    /// How its commands are typed, for messages: `hitl` or `hitl aws`.
    fn command(&self) -> &'static str;
    /// The ports the use cases run over: the store (SQLite locally, the stack's DynamoDB
    /// table), the clock (virtual locally) and what completes a waiting task (the local
    /// engine, `SendTaskSuccess`).
    fn ports(&self) -> &Ports;
    /// The workflow store.
    fn store(&self) -> Arc<dyn WorkflowStore> {
        Arc::clone(&self.ports().store)
    }
    /// The clock the workflows run on.
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.ports().clock)
    }
    /// Now, on [`Backend::clock`].
    fn now(&self) -> DateTime<Utc> {
        self.ports().clock.now()
    }
    /// The name a command acts under when it is given none: locally the stand-in `name`; on a
    /// deployed stack none, since the name lands in its audit trail and must be given.
    fn stand_in(&self, name: &'static str) -> Option<String>;
    /// The prefix of generated request ids (`local-…`, `cli-…`).
    fn request_prefix(&self) -> &'static str;
    /// Starts the execution of the start request `input` named `request_id` (the same request
    /// again is idempotent) and returns its ARN; locally it also runs until it waits, and an
    /// execution that failed is an error.
    async fn start(&self, request_id: &str, input: &Value) -> Result<String>;
    /// Lets what an accepted decision set off run until it waits: the local engine's steps
    /// and queued resumptions; nothing on a stack, whose executions run on their own.
    async fn settle(&self) -> Result<()>;
    /// The status of the workflow's execution (`RUNNING`, `SUCCEEDED`, …), if it has one.
    async fn execution_status(&self, workflow: &Workflow) -> Result<Option<String>>;
    /// Where the workflow's outcome envelope was published, if it was.
    fn outcome_location(&self, workflow: &Workflow) -> Option<String>;
    /// One pass of the delivery outbox relay, with what the command's start-up already did.
    async fn reconcile(&self) -> Result<ReconcileReport>;
    /// Whether long reads report progress on standard error (a stack's table is read over the
    /// network, page by page).
    fn shows_progress(&self) -> bool;
}

/// The feedback processor of `backend`: the one every front door uses
/// ([`Ports::decisions`]).
pub fn processor(backend: &dyn Backend) -> hitl_app::ports::Decisions {
    backend.ports().decisions()
}

/// The local data directory as a backend: the runtime, and what the command's start-up
/// passes (every local command runs them first) settled.
pub struct Local<'a> {
    runtime: &'a Runtime,
    started: Settled,
}

impl<'a> Local<'a> {
    /// The backend of `runtime`, whose start-up passes did `started`.
    pub fn new(runtime: &'a Runtime, started: Settled) -> Self {
        Self { runtime, started }
    }
}

#[async_trait]
impl Backend for Local<'_> {
    fn command(&self) -> &'static str {
        "hitl"
    }

    fn ports(&self) -> &Ports {
        &self.runtime.ports
    }

    fn stand_in(&self, name: &'static str) -> Option<String> {
        Some(name.to_owned())
    }

    fn request_prefix(&self) -> &'static str {
        "local"
    }

    async fn start(&self, request_id: &str, input: &Value) -> Result<String> {
        let runtime = self.runtime;
        let arn = match runtime
            .engine
            .start_execution(&runtime.state_machine_arn, Some(request_id), input.clone())
            .await
        {
            Ok(arn) => arn,
            // A rerun with the same --request-id: the same request is idempotent (its
            // workflows are printed again); a different request under that id is refused.
            Err(e) if e.name() == "ExecutionAlreadyExists" => {
                let arn = format!(
                    "{}:{request_id}",
                    runtime
                        .state_machine_arn
                        .replacen(":stateMachine:", ":execution:", 1)
                );
                if runtime.engine.describe_execution(&arn)?.input != *input {
                    bail!("request id {request_id} was already used for a different start request; choose another --request-id");
                }
                arn
            }
            Err(e) => return Err(e.into()),
        };
        runtime.settle().await?;
        let described = runtime.engine.describe_execution(&arn)?;
        match described.status {
            // Running: another process sharing the data directory runs it; its work is
            // committed.
            statemachine::ExecutionStatus::Succeeded | statemachine::ExecutionStatus::Running => {
                Ok(arn)
            }
            _ => bail!(
                "start request failed: {} — {}",
                described.error.unwrap_or_default(),
                described.cause.unwrap_or_default()
            ),
        }
    }

    async fn settle(&self) -> Result<()> {
        self.runtime.settle().await.map(drop)
    }

    async fn execution_status(&self, workflow: &Workflow) -> Result<Option<String>> {
        Ok(workflow.execution_arn.as_ref().and_then(|arn| {
            self.runtime
                .engine
                .describe_execution(arn)
                .ok()
                .map(|d| d.status.to_string())
        }))
    }

    fn outcome_location(&self, workflow: &Workflow) -> Option<String> {
        if !matches!(
            workflow.status,
            WorkflowStatus::Approved | WorkflowStatus::Resolved
        ) {
            return None;
        }
        // The publisher writes `<exports>/<subject>/<workflow>.json` (the key less its
        // `metadata/<env>/` prefix).
        let key = hitl_domain::outcome::envelope_key(crate::local::LOCAL_ENVIRONMENT, workflow);
        let relative = key.splitn(3, '/').nth(2).unwrap_or(&key).to_owned();
        let path = self.runtime.exports.join(relative);
        path.exists().then(|| path.display().to_string())
    }

    /// The start-up passes and one more: a decision the relay handed to the local engine and
    /// the engine then delivered counts as delivered, not deferred.
    async fn reconcile(&self) -> Result<ReconcileReport> {
        let mut report = self.started.relay.clone();
        report.add(&self.runtime.reconcile().await?);
        let handed_on = report.deferred.min(self.started.queued);
        report.deferred -= handed_on;
        report.delivered += handed_on;
        Ok(report)
    }

    fn shows_progress(&self) -> bool {
        false
    }
}
