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
/// Which generator drafts: `local`, `bedrock-agent`, `bedrock-converse` or `openai` (see
/// [`generator`]; unset = the Bedrock agent when one is configured, else `local`).
pub const GENERATOR: &str = "HITL_GENERATOR";
/// The Bedrock model (or inference profile) id `bedrock-converse` asks.
pub const BEDROCK_MODEL_ID: &str = "HITL_BEDROCK_MODEL_ID";
/// Base URL of the chat-completions server `openai` asks, up to the version (`…/v1`).
pub const OPENAI_BASE_URL: &str = "HITL_OPENAI_BASE_URL";
/// Model name `openai` asks for.
pub const OPENAI_MODEL: &str = "HITL_OPENAI_MODEL";
/// The `openai` server's API key (optional: local servers have none). The template sets it
/// from Secrets Manager with a dynamic reference; it is never logged.
pub const OPENAI_API_KEY: &str = "HITL_OPENAI_API_KEY";

/// Generators' prices for the analytics (optional): `GENERATOR=IN/OUT` per million tokens,
/// comma-separated (`bedrock:amazon.nova-lite-v1:0=0.06/0.24,openai:gpt-4o-mini=0.15/0.60`).
pub const PRICES: &str = "HITL_PRICES";
/// Optional: `s3://bucket/prefix/` holding artifact types to read at cold start, beside the
/// ones built in (docs/TYPES.md, "Shipping a type to AWS").
pub const TYPES_S3_URI: &str = "HITL_TYPES_S3_URI";
/// Optional: the sender of email notifications through SES (a verified identity); with it,
/// [`EMAIL_TO`] is required.
pub const EMAIL_FROM: &str = "HITL_EMAIL_FROM";
/// Who gets email notifications, per group: `reviewers=rita@example.com;escalations=olga@example.com`.
pub const EMAIL_TO: &str = "HITL_EMAIL_TO";
/// Slack and the signed webhook (optional): the JSON document of
/// [`hitl_channels::ChannelSettings`] (`{"slack_webhooks": {"reviewers": "https://…"},
/// "webhook_url": "…", "webhook_secret": "…"}`). The template sets it from the Secrets Manager
/// secret `NotificationChannelsSecret` with a dynamic reference; it is never logged.
pub const NOTIFICATION_CHANNELS: &str = "HITL_NOTIFICATION_CHANNELS";

/// The prices a [`PRICES`] value lists (none when unset); a malformed list fails the cold
/// start naming the variable and every bad entry.
pub fn prices(
    value: Option<String>,
) -> Result<std::collections::BTreeMap<String, hitl_domain::analytics::Price>, HandlerError> {
    value.map_or(Ok(Default::default()), |list| {
        hitl_domain::analytics::parse_prices(&list)
            .map_err(|why| HandlerError::Config(format!("{PRICES}: {why}")))
    })
}

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
    agent_from(&optional)
}

/// The generator a deployment chose, and its settings.
#[derive(Clone, PartialEq, Eq)]
pub enum Generator {
    /// The deterministic offline generator.
    Local,
    /// A Bedrock agent through `InvokeAgent`.
    BedrockAgent {
        /// The agent's id.
        agent_id: String,
        /// The alias invoked.
        alias_id: String,
    },
    /// A Bedrock model through `Converse`.
    BedrockConverse {
        /// Model or inference-profile id.
        model_id: String,
    },
    /// An OpenAI-compatible chat-completions server.
    OpenAi {
        /// Base URL up to the version.
        base_url: String,
        /// Model name.
        model: String,
        /// API key, when the server wants one.
        api_key: Option<String>,
    },
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local => f.write_str("Local"),
            Self::BedrockAgent { agent_id, alias_id } => f
                .debug_struct("BedrockAgent")
                .field("agent_id", agent_id)
                .field("alias_id", alias_id)
                .finish(),
            Self::BedrockConverse { model_id } => f
                .debug_struct("BedrockConverse")
                .field("model_id", model_id)
                .finish(),
            Self::OpenAi {
                base_url,
                model,
                api_key,
            } => f
                .debug_struct("OpenAi")
                .field("base_url", base_url)
                .field("model", model)
                .field("api_key", &api_key.as_ref().map(|_| "[redacted]"))
                .finish(),
        }
    }
}

/// The generator named by `HITL_GENERATOR`, with the variables it needs (a missing one is a
/// `ConfigError` naming it).
pub fn generator() -> Result<Generator, HandlerError> {
    generator_from(&optional)
}

/// [`generator`] over any variable lookup (empty values count as unset).
pub fn generator_from(var: &dyn Fn(&str) -> Option<String>) -> Result<Generator, HandlerError> {
    let need = |name: &str, why: &str| {
        var(name).ok_or_else(|| HandlerError::Config(format!("{name} is not set; {why}")))
    };
    let chosen = var(GENERATOR);
    match chosen.as_deref().map(str::trim) {
        None => Ok(match agent_from(var)? {
            Some((agent_id, alias_id)) => Generator::BedrockAgent { agent_id, alias_id },
            None => Generator::Local,
        }),
        Some("local") => Ok(Generator::Local),
        Some("bedrock-agent") => match agent_from(var)? {
            Some((agent_id, alias_id)) => Ok(Generator::BedrockAgent { agent_id, alias_id }),
            None => Err(HandlerError::Config(format!(
                "{GENERATOR}=bedrock-agent needs {AGENT_ID} and {AGENT_ALIAS_ID}"
            ))),
        },
        Some("bedrock-converse") => Ok(Generator::BedrockConverse {
            model_id: need(BEDROCK_MODEL_ID, "bedrock-converse asks that model")?,
        }),
        Some("openai") => Ok(Generator::OpenAi {
            base_url: need(OPENAI_BASE_URL, "openai sends its requests there")?,
            model: need(OPENAI_MODEL, "openai asks for that model")?,
            api_key: var(OPENAI_API_KEY),
        }),
        Some(other) => Err(HandlerError::Config(format!(
            "{GENERATOR} is {other:?}; expected local, bedrock-agent, bedrock-converse or openai"
        ))),
    }
}

fn agent_from(
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, HandlerError> {
    match (var(AGENT_ID), var(AGENT_ALIAS_ID)) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prices_parse_or_fail_the_cold_start_naming_the_variable() {
        assert!(prices(None).unwrap().is_empty());
        let listed = prices(Some(
            "bedrock:amazon.nova-lite-v1:0=0.06/0.24, openai:gpt-4o-mini=0.15/0.60".into(),
        ))
        .unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed["bedrock:amazon.nova-lite-v1:0"].output_per_million,
            0.24
        );
        let err = prices(Some("local-generator=free,openai:m=1".into())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HITL_PRICES"), "{text}");
        assert!(
            text.contains("entry 1") && text.contains("entry 2"),
            "{text}"
        );
    }
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Generator, HandlerError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        generator_from(&|name| vars.get(name).filter(|v| !v.trim().is_empty()).cloned())
    }

    #[test]
    fn without_a_choice_the_agent_is_used_when_configured_else_local() {
        assert_eq!(from(&[]).unwrap(), Generator::Local);
        assert_eq!(
            from(&[(AGENT_ID, "A"), (AGENT_ALIAS_ID, "B")]).unwrap(),
            Generator::BedrockAgent {
                agent_id: "A".into(),
                alias_id: "B".into()
            }
        );
    }

    #[test]
    fn each_choice_reads_its_own_variables() {
        assert_eq!(
            from(&[
                (GENERATOR, "bedrock-converse"),
                (BEDROCK_MODEL_ID, "amazon.nova-lite-v1:0")
            ])
            .unwrap(),
            Generator::BedrockConverse {
                model_id: "amazon.nova-lite-v1:0".into()
            }
        );
        assert_eq!(
            from(&[
                (GENERATOR, "openai"),
                (OPENAI_BASE_URL, "https://api.example/v1"),
                (OPENAI_MODEL, "m"),
                (OPENAI_API_KEY, "sk-1"),
            ])
            .unwrap(),
            Generator::OpenAi {
                base_url: "https://api.example/v1".into(),
                model: "m".into(),
                api_key: Some("sk-1".into())
            }
        );
        assert_eq!(
            from(&[(GENERATOR, "local"), (AGENT_ID, "A"), (AGENT_ALIAS_ID, "B")]).unwrap(),
            Generator::Local
        );
    }

    #[test]
    fn a_missing_variable_or_unknown_choice_is_named() {
        let err = from(&[(GENERATOR, "bedrock-converse")]).unwrap_err();
        assert_eq!(err.name().as_str(), "ConfigError");
        assert!(err.to_string().contains(BEDROCK_MODEL_ID), "{err}");
        let err = from(&[(GENERATOR, "openai"), (OPENAI_BASE_URL, "http://x/v1")]).unwrap_err();
        assert!(err.to_string().contains(OPENAI_MODEL), "{err}");
        let err = from(&[(GENERATOR, "bedrock-agent")]).unwrap_err();
        assert!(err.to_string().contains(AGENT_ID), "{err}");
        let err = from(&[(GENERATOR, "gpt")]).unwrap_err();
        assert!(err.to_string().contains("\"gpt\""), "{err}");
    }

    #[test]
    fn debug_hides_the_api_key() {
        let chosen = Generator::OpenAi {
            base_url: "http://x/v1".into(),
            model: "m".into(),
            api_key: Some("sk-secret".into()),
        };
        assert!(!format!("{chosen:?}").contains("sk-secret"));
    }
}
