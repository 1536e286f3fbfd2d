//! The AWS side of the hexagon: the DynamoDB store ([`dynamodb`]), the SNS notifier, Step
//! Functions resumer, Bedrock agent and its readiness check, the Bedrock Converse generator
//! ([`converse`]), the Lambda-side SDK configuration
//! ([`config`], [`lambda_config`]), the Lambda error bridge ([`lambda`]) and the EMF metrics
//! writer ([`metrics`]).
//! Clients are built once (at cold start) with
//! `aws_config::defaults(BehaviorVersion::latest())`, which honours `AWS_ENDPOINT_URL` so
//! DynamoDB Local or an emulator can stand in without a test branch in production code.

pub mod config;
pub mod converse;
pub mod dynamodb;
pub mod email;
pub mod lambda;
pub mod metrics;
pub mod outcomes;
pub mod types;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_bedrockagent::types::AgentAliasStatus;
use aws_sdk_bedrockagentruntime::types::ResponseStream;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::Value;

use hitl_domain::error::HandlerError;
use hitl_domain::model::TaskToken;
use hitl_domain::ports::{
    fate_from_history, AgentReadiness, ExecutionResumer, GeneratedDraft, GenerationRequest,
    MetadataAgent, Notification, Notifier, ResumeError, TaskFate, WaitEvent,
};

/// The SDK configuration of a function, from the variables Lambda sets in every execution
/// environment: `AWS_REGION`, the execution role's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
/// `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL` if present (emulators, the benches).
///
/// Deliberately not `aws_config::load_defaults`: on Lambda its credential chain always ends at
/// the environment variables, but linking the chain links its other providers too (profile
/// files, IMDS, ECS, web identity with an STS client), about 0.5 MB of every function's zip
/// (issue 7's 3 MB limit). Missing variables fail the cold start with `ConfigError`, naming them.
/// Retries and timeouts are the SDK clients' own defaults for `BehaviorVersion::latest()`, as
/// with `load_defaults`; the HTTPS client is [`https_client`].
pub fn lambda_config() -> Result<SdkConfig, HandlerError> {
    lambda_config_from(|name| std::env::var(name).ok())
}

/// [`lambda_config`] over any variable lookup (tests pass a map).
pub fn lambda_config_from(var: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, HandlerError> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let mut missing = Vec::new();
    let mut need = |name: &'static str| {
        let value = set(name);
        if value.is_none() {
            missing.push(name);
        }
        value.unwrap_or_default()
    };
    let region = need("AWS_REGION");
    let key = need("AWS_ACCESS_KEY_ID");
    let secret = need("AWS_SECRET_ACCESS_KEY");
    if !missing.is_empty() {
        return Err(HandlerError::Config(format!(
            "{} not set; Lambda sets them in every execution environment",
            missing.join(", ")
        )));
    }
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        key,
        secret,
        set("AWS_SESSION_TOKEN"),
        None,
        "LambdaEnvironment",
    );
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .http_client(https_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            credentials,
        ));
    if let Some(endpoint) = set("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(builder.build())
}

/// The HTTPS client of every SDK client this project builds (functions, `hitl aws`, tests):
/// the SDK's own hyper client with rustls over *ring*. The SDK's default TLS provider,
/// aws-lc-rs, links a C crypto library into every function; the workspace turns the SDK crates'
/// `default-https-client` feature off, so a client built without this one fails its first
/// request with "No HTTP client was available" instead of linking the default.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Publishes notifications to an SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// Wraps a client and the topic ARN.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, HandlerError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| HandlerError::NotificationFailed(e.to_string()))
}

#[async_trait]
impl Notifier for SnsNotifier {
    fn channel(&self) -> &str {
        "sns"
    }

    /// Publishes with the message attributes `kind`, `reviewer_group` and `delivery_id`
    /// (subscribers deduplicate by it).
    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        let body = serde_json::to_string(notification)
            .map_err(|e| HandlerError::NotificationFailed(e.to_string()))?;
        let kind = serde_json::to_value(notification.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let subject: String = format!(
            "[hitl] {} — {} (iteration {})",
            kind.replace('_', " "),
            notification.subject_name,
            notification.iteration
        )
        .chars()
        .take(100)
        .collect();
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(body)
            .message_attributes("kind", attribute(&kind)?)
            .message_attributes("reviewer_group", attribute(&notification.reviewer_group)?);
        if !delivery_id.is_empty() {
            request = request.message_attributes("delivery_id", attribute(delivery_id)?);
        }
        request.send().await.map_err(|e| {
            HandlerError::NotificationFailed(
                aws_sdk_sns::error::DisplayErrorContext(&e).to_string(),
            )
        })?;
        Ok(())
    }
}

/// Resumes executions with `SendTaskSuccess`.
#[derive(Debug, Clone)]
pub struct SfnResumer {
    client: aws_sdk_sfn::Client,
}

impl SfnResumer {
    /// Wraps a client.
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ExecutionResumer for SfnResumer {
    async fn resume(&self, token: &TaskToken, output: &Value) -> Result<(), ResumeError> {
        let result = self
            .client
            .send_task_success()
            .task_token(token.expose())
            .output(output.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let transient = err.as_service_error().is_none()
                    || err.raw_response().is_some_and(|r| {
                        r.status().is_server_error() || r.status().as_u16() == 429
                    });
                let text = aws_sdk_sfn::error::DisplayErrorContext(&err).to_string();
                match err.into_service_error() {
                    SendTaskSuccessError::TaskTimedOut(_) => {
                        Err(ResumeError::TaskClosed("TaskTimedOut".into()))
                    }
                    SendTaskSuccessError::TaskDoesNotExist(_) => {
                        Err(ResumeError::TaskClosed("TaskDoesNotExist".into()))
                    }
                    SendTaskSuccessError::InvalidToken(_) => {
                        Err(ResumeError::TaskClosed("InvalidToken".into()))
                    }
                    _ if transient => Err(ResumeError::Transient(text)),
                    _ => Err(ResumeError::Permanent(text)),
                }
            }
        }
    }

    /// `GetExecutionHistory` (newest first, with execution data, at most
    /// [`FATE_HISTORY_PAGES`] pages of 1,000 events) read through [`fate_from_history`].
    async fn task_fate(
        &self,
        execution_arn: &str,
        feedback_key: &str,
    ) -> Result<TaskFate, ResumeError> {
        use aws_sdk_sfn::types::HistoryEventType as T;
        enum Seen {
            Succeeded(String),
            TimedOut,
            Ended,
        }
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..FATE_HISTORY_PAGES {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(execution_arn)
                .reverse_order(true)
                .include_execution_data(true)
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| {
                    ResumeError::Transient(aws_sdk_sfn::error::DisplayErrorContext(&e).to_string())
                })?;
            seen.extend(page.events().iter().filter_map(|event| {
                match event.r#type() {
                    T::TaskSucceeded => Some(Seen::Succeeded(
                        event
                            .task_succeeded_event_details()
                            .and_then(|d| d.output())
                            .unwrap_or_default()
                            .to_owned(),
                    )),
                    T::TaskTimedOut => Some(Seen::TimedOut),
                    T::ExecutionSucceeded
                    | T::ExecutionFailed
                    | T::ExecutionTimedOut
                    | T::ExecutionAborted => Some(Seen::Ended),
                    _ => None,
                }
            }));
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        Ok(fate_from_history(
            seen.iter().map(|event| match event {
                Seen::Succeeded(output) => WaitEvent::TaskSucceeded(output),
                Seen::TimedOut => WaitEvent::TaskTimedOut,
                Seen::Ended => WaitEvent::ExecutionEnded,
            }),
            feedback_key,
        ))
    }
}

/// Pages of history [`SfnResumer::task_fate`] reads (an iteration adds about 30 events, so
/// 10,000 events cover every iteration a workflow can have).
pub const FATE_HISTORY_PAGES: usize = 10;

/// A Bedrock agent and the alias a deployment invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAlias {
    /// The agent's id.
    pub agent_id: String,
    /// The alias's id.
    pub alias_id: String,
}

impl AgentAlias {
    /// The alias `alias_id` of the agent `agent_id`.
    pub fn new(agent_id: impl Into<String>, alias_id: impl Into<String>) -> Self {
        Self {
            agent_id: agent_id.into(),
            alias_id: alias_id.into(),
        }
    }
}

/// Drafts metadata with a Bedrock agent (InvokeAgent), one agent session per workflow.
#[derive(Debug, Clone)]
pub struct BedrockAgent {
    client: aws_sdk_bedrockagentruntime::Client,
    alias: AgentAlias,
}

impl BedrockAgent {
    /// Invokes `alias` through `client`.
    pub fn new(client: aws_sdk_bedrockagentruntime::Client, alias: AgentAlias) -> Self {
        Self { client, alias }
    }
}

/// The prompt sent to the agent: the subject, the previous draft and all feedback.
pub fn agent_prompt(request: &GenerationRequest) -> String {
    let feedback: Vec<Value> = request
        .feedback
        .iter()
        .map(|f| {
            serde_json::json!({
                "iteration": f.iteration,
                "decision": f.decision,
                "comments": f.comments,
                "corrections": f.corrections,
            })
        })
        .collect();
    serde_json::json!({
        "task": if request.previous.is_some() { "regenerate_brand_metadata" } else { "generate_brand_metadata" },
        "iteration": request.iteration,
        "subject": request.subject,
        "previous_metadata": request.previous.as_ref().map(|a| &a.content),
        "feedback": feedback,
        "instructions": "Return only a JSON object with name, tagline, description, category, tone, target_audience, keywords, colors.primary and colors.secondary. Apply every correction exactly.",
    })
    .to_string()
}

/// Extracts the JSON object from the agent's completion text (tolerates code fences and prose).
pub fn parse_agent_completion(text: &str) -> Result<Value, HandlerError> {
    let start = text.find('{');
    let end = text.rfind('}');
    match (start, end) {
        (Some(s), Some(e)) if e > s => serde_json::from_str(&text[s..=e]).map_err(|err| {
            HandlerError::ArtifactInvalid(vec![hitl_domain::error::FieldError::new(
                "$",
                format!("agent completion is not valid JSON: {err}"),
            )])
        }),
        _ => Err(HandlerError::ArtifactInvalid(vec![
            hitl_domain::error::FieldError::new("$", "agent completion contains no JSON object"),
        ])),
    }
}

/// Whether a Bedrock error code means "try again later".
fn agent_code_is_transient(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "ServiceQuotaExceededException"
                | "InternalServerException"
                | "DependencyFailedException"
                | "BadGatewayException"
        )
    )
}

#[async_trait]
impl MetadataAgent for BedrockAgent {
    async fn generate(&self, request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
        use aws_sdk_bedrockagentruntime::error::ProvideErrorMetadata;
        let output = self
            .client
            .invoke_agent()
            .agent_id(&self.alias.agent_id)
            .agent_alias_id(&self.alias.alias_id)
            .session_id(&request.workflow_id)
            .input_text(agent_prompt(request))
            .send()
            .await;
        let mut output = match output {
            Ok(o) => o,
            Err(err) => {
                use aws_sdk_bedrockagentruntime::operation::invoke_agent::InvokeAgentError as E;
                let text =
                    aws_sdk_bedrockagentruntime::error::DisplayErrorContext(&err).to_string();
                let transient = match err.as_service_error() {
                    Some(
                        E::ThrottlingException(_)
                        | E::ServiceQuotaExceededException(_)
                        | E::InternalServerException(_)
                        | E::DependencyFailedException(_)
                        | E::BadGatewayException(_),
                    ) => true,
                    Some(other) => agent_code_is_transient(other.code()),
                    // Timeouts and connection failures.
                    None => true,
                };
                return Err(if transient {
                    HandlerError::AgentThrottled(text)
                } else {
                    HandlerError::AgentInvocationFailed(text)
                });
            }
        };
        let mut completion = Vec::new();
        loop {
            match output.completion.recv().await {
                Ok(Some(ResponseStream::Chunk(part))) => {
                    if let Some(bytes) = part.bytes {
                        completion.extend_from_slice(bytes.as_ref());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(err) => {
                    let text =
                        aws_sdk_bedrockagentruntime::error::DisplayErrorContext(&err).to_string();
                    return Err(if agent_code_is_transient(err.code()) {
                        HandlerError::AgentThrottled(text)
                    } else {
                        HandlerError::AgentInvocationFailed(text)
                    });
                }
            }
        }
        let text = String::from_utf8_lossy(&completion);
        Ok(GeneratedDraft {
            content: parse_agent_completion(&text)?,
            generator: format!(
                "bedrock-agent:{}/{}",
                self.alias.agent_id, self.alias.alias_id
            ),
        })
    }
}

/// Checks that the agent alias is PREPARED (GetAgentAlias).
#[derive(Debug, Clone)]
pub struct BedrockReadiness {
    client: aws_sdk_bedrockagent::Client,
    alias: AgentAlias,
}

impl BedrockReadiness {
    /// Checks `alias` through `client`.
    pub fn new(client: aws_sdk_bedrockagent::Client, alias: AgentAlias) -> Self {
        Self { client, alias }
    }
}

#[async_trait]
impl AgentReadiness for BedrockReadiness {
    async fn ensure_ready(&self) -> Result<(), HandlerError> {
        use aws_sdk_bedrockagent::error::ProvideErrorMetadata;
        let out = self
            .client
            .get_agent_alias()
            .agent_id(&self.alias.agent_id)
            .agent_alias_id(&self.alias.alias_id)
            .send()
            .await
            .map_err(|err| {
                let text = aws_sdk_bedrockagent::error::DisplayErrorContext(&err).to_string();
                use aws_sdk_bedrockagent::operation::get_agent_alias::GetAgentAliasError as E;
                match err.as_service_error() {
                    Some(E::ThrottlingException(_) | E::InternalServerException(_)) | None => {
                        HandlerError::AgentThrottled(text)
                    }
                    Some(other) if agent_code_is_transient(other.code()) => {
                        HandlerError::AgentThrottled(text)
                    }
                    Some(_) => HandlerError::AgentNotReady(text),
                }
            })?;
        let status = out
            .agent_alias
            .as_ref()
            .map(|a| a.agent_alias_status().clone());
        match status {
            Some(AgentAliasStatus::Prepared) => Ok(()),
            Some(other) => Err(HandlerError::AgentNotReady(format!(
                "agent {} alias {} is {}, not PREPARED",
                self.alias.agent_id,
                self.alias.alias_id,
                other.as_str()
            ))),
            None => Err(HandlerError::AgentNotReady(format!(
                "agent {} alias {} not found",
                self.alias.agent_id, self.alias.alias_id
            ))),
        }
    }
}

/// The DynamoDB store named by `HITL_TABLE_NAME`.
pub fn dynamo_store(sdk: &SdkConfig) -> Result<crate::dynamodb::DynamoStore, HandlerError> {
    let table = crate::config::required(crate::config::TABLE_NAME)?;
    Ok(crate::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
    ))
}

/// The SNS notifier for the topic named by the variable `topic_var`.
pub fn sns_notifier(sdk: &SdkConfig, topic_var: &str) -> Result<SnsNotifier, HandlerError> {
    let topic = crate::config::required(topic_var)?;
    Ok(SnsNotifier::new(aws_sdk_sns::Client::new(sdk), topic))
}

/// Email through SES when `HITL_EMAIL_FROM` is set (to the addresses of `HITL_EMAIL_TO` per
/// group); one without the other, or a malformed list, fails the cold start naming it.
pub fn ses_notifier(sdk: &SdkConfig) -> Result<Option<email::SesNotifier>, HandlerError> {
    let from = config::optional(config::EMAIL_FROM);
    let to = config::optional(config::EMAIL_TO);
    match (from, to) {
        (None, None) => Ok(None),
        (Some(from), Some(to)) => {
            let to = hitl_domain::ports::parse_email_recipients(&to)
                .map_err(|e| HandlerError::Config(format!("{}: {e}", config::EMAIL_TO)))?;
            Ok(Some(email::SesNotifier::new(
                aws_sdk_sesv2::Client::new(sdk),
                from,
                to,
            )))
        }
        (Some(_), None) => Err(HandlerError::Config(format!(
            "{} is set but {} is not",
            config::EMAIL_FROM,
            config::EMAIL_TO
        ))),
        (None, Some(_)) => Err(HandlerError::Config(format!(
            "{} is set but {} is not",
            config::EMAIL_TO,
            config::EMAIL_FROM
        ))),
    }
}

/// Slack and the signed webhook from `settings` (the JSON of `HITL_NOTIFICATION_CHANNELS`),
/// none without it. A document that does not parse or check fails the cold start naming the
/// key at fault, never a value.
pub fn chat_channels(
    settings: Option<String>,
) -> Result<Vec<std::sync::Arc<dyn hitl_domain::ports::Notifier>>, HandlerError> {
    let Some(json) = settings.filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    hitl_channels::ChannelSettings::parse(&json)
        .map_err(|e| HandlerError::Config(format!("{}: {e}", config::NOTIFICATION_CHANNELS)))?
        .notifiers()
}

/// The outcome publisher: S3 bucket from `HITL_OUTCOMES_BUCKET`, events to the bus named by
/// `HITL_EVENT_BUS_NAME` (default: the account's default bus).
pub fn outcome_publisher(sdk: &SdkConfig) -> Result<outcomes::AwsOutcomePublisher, HandlerError> {
    Ok(outcomes::AwsOutcomePublisher::new(
        aws_sdk_s3::Client::new(sdk),
        aws_sdk_eventbridge::Client::new(sdk),
        config::required(config::OUTCOMES_BUCKET)?,
        config::optional(config::EVENT_BUS_NAME).unwrap_or_else(|| "default".to_owned()),
    ))
}

/// The artifact types under `HITL_TYPES_S3_URI`, when it is set (read at cold start by
/// [`lambda::wire::types`]).
pub fn s3_types(sdk: &SdkConfig) -> Result<Option<types::S3Types>, HandlerError> {
    config::optional(config::TYPES_S3_URI)
        .map(|uri| types::S3Types::new(aws_sdk_s3::Client::new(sdk), &uri))
        .transpose()
}

/// The Step Functions resumer.
pub fn sfn_resumer(sdk: &SdkConfig) -> SfnResumer {
    SfnResumer::new(aws_sdk_sfn::Client::new(sdk))
}

/// The generator chosen by `HITL_GENERATOR` ([`config::generator`]): the Bedrock agent
/// (`InvokeAgent`), a Bedrock model (`Converse`), an OpenAI-compatible server, or the
/// deterministic local generator.
pub fn metadata_agent(sdk: &SdkConfig) -> Result<std::sync::Arc<dyn MetadataAgent>, HandlerError> {
    use crate::config::Generator;
    Ok(match crate::config::generator()? {
        Generator::BedrockAgent { agent_id, alias_id } => std::sync::Arc::new(BedrockAgent::new(
            aws_sdk_bedrockagentruntime::Client::new(sdk),
            AgentAlias::new(agent_id, alias_id),
        )),
        Generator::BedrockConverse { model_id } => std::sync::Arc::new(
            converse::BedrockConverse::new(converse::BedrockConverse::client(sdk), model_id),
        ),
        Generator::OpenAi {
            base_url,
            model,
            api_key,
        } => std::sync::Arc::new(
            hitl_generators::OpenAiCompatible::new(base_url, model, api_key).map_err(|e| {
                HandlerError::Config(format!("the openai generator's settings: {e}"))
            })?,
        ),
        Generator::Local => std::sync::Arc::new(hitl_domain::metadata::LocalGenerator),
    })
}

/// The readiness check of the configured agent (always ready when none is configured).
pub fn agent_readiness(
    sdk: &SdkConfig,
) -> Result<std::sync::Arc<dyn AgentReadiness>, HandlerError> {
    Ok(match crate::config::agent()? {
        Some((agent, alias)) => std::sync::Arc::new(BedrockReadiness::new(
            aws_sdk_bedrockagent::Client::new(sdk),
            AgentAlias::new(agent, alias),
        )),
        None => std::sync::Arc::new(hitl_domain::ports::NoAgentConfigured),
    })
}
