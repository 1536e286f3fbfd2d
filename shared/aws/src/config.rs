//! Function configuration, read once at cold start from the environment with clear errors.

use hitl_domain::error::HandlerError;

/// Environment variable naming the DynamoDB table.
pub const TABLE_NAME: &str = "HITL_TABLE_NAME";
/// Environment variable naming the SNS topic for review requests.
pub const REVIEW_TOPIC_ARN: &str = "HITL_REVIEW_TOPIC_ARN";
/// Environment variable naming the SNS topic for escalations.
pub const ESCALATION_TOPIC_ARN: &str = "HITL_ESCALATION_TOPIC_ARN";
/// The deployment environment (`dev`, `prod`, …): part of the outcome envelopes' keys.
pub const ENVIRONMENT: &str = "HITL_ENVIRONMENT";
/// Bucket of the outcome envelopes (`metadata/<env>/…`).
pub const OUTCOMES_BUCKET: &str = "HITL_OUTCOMES_BUCKET";
/// EventBridge bus of the `Workflow Finished` events (`default` for the account's default bus).
pub const EVENT_BUS_NAME: &str = "HITL_EVENT_BUS_NAME";
/// The review page's URL (optional; reminders link to the workflow on it when set).
pub const REVIEW_PAGE_URL: &str = "HITL_REVIEW_PAGE_URL";
/// Bedrock agent id (optional; without it the deterministic generator is used).
pub const AGENT_ID: &str = "HITL_AGENT_ID";
/// Bedrock agent alias id (required with `HITL_AGENT_ID`).
pub const AGENT_ALIAS_ID: &str = "HITL_AGENT_ALIAS_ID";

/// Reads a required variable.
pub fn required(name: &str) -> Result<String, HandlerError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) => Err(HandlerError::Config(format!("{name} is set but empty"))),
        Err(_) => Err(HandlerError::Config(format!(
            "{name} is not set; the deployment template sets it"
        ))),
    }
}

/// Reads an optional variable (empty counts as unset).
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The Bedrock agent to use, if configured: `(agent_id, alias_id)`.
pub fn agent() -> Result<Option<(String, String)>, HandlerError> {
    match (optional(AGENT_ID), optional(AGENT_ALIAS_ID)) {
        (Some(agent), Some(alias)) => Ok(Some((agent, alias))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(HandlerError::Config(format!(
            "{AGENT_ID} is set but {AGENT_ALIAS_ID} is not"
        ))),
        (None, Some(_)) => Err(HandlerError::Config(format!(
            "{AGENT_ALIAS_ID} is set but {AGENT_ID} is not"
        ))),
    }
}
