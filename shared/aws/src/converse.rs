//! The Bedrock Converse adapter of the [`MetadataAgent`] port: one foundation model asked
//! through `Converse` (`POST /model/{modelId}/converse`), structured output by tool use — one
//! tool whose input schema is the artifact type's JSON Schema, and a `toolChoice` that forces
//! it, so the draft is the tool call's input.
//!
//! Failure policy. The draft is never trusted: it is judged by the workflow's artifact type
//! (`ArtifactType::validate_artifact`); an
//! invalid one (or an answer without the tool call) gets one repair round — the validation
//! errors sent back as the tool's result — then `ArtifactInvalid`. `ThrottlingException`,
//! `ServiceUnavailableException` and `ModelNotReadyException` are retried with jittered
//! exponential backoff inside one time budget per draft (below the Lambda timeout); past the
//! budget, `AgentThrottled`. Every other error (`ValidationException`,
//! `AccessDeniedException`, `ResourceNotFoundException`, model errors, a connection that
//! fails) is `AgentInvocationFailed` and never retried here. The SDK's own retries are turned
//! off for this client, so the budget is the only retry policy.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput as Answer, InferenceConfiguration, Message,
    SpecificToolChoice, SystemContentBlock, Tool, ToolChoice, ToolConfiguration, ToolInputSchema,
    ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Document, Number};
use hitl_domain::ports::{GeneratedDraft, GenerationRequest, MetadataAgent, Usage};
use hitl_domain::types::ArtifactType;
use hitl_domain::{FieldError, HandlerError};
use hitl_generators::prompt::{self, Role};
use hitl_generators::{retry, structured};
use serde_json::Value;
use tracing::{info, warn};

/// Most tokens the model may write per call: a draft is well under 1,000.
const MAX_OUTPUT_TOKENS: i32 = 2048;

/// A Bedrock foundation model (or inference profile) asked through `Converse`.
#[derive(Debug, Clone)]
pub struct BedrockConverse {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
    budget: Duration,
}

impl BedrockConverse {
    /// Asks `model_id` through `client`, with [`retry::DEFAULT_BUDGET`] per draft. Build the
    /// client with [`Self::client`] so that the budget is the only retry policy.
    pub fn new(client: aws_sdk_bedrockruntime::Client, model_id: impl Into<String>) -> Self {
        Self {
            client,
            model_id: model_id.into(),
            budget: retry::DEFAULT_BUDGET,
        }
    }

    /// The runtime client for `sdk` with the SDK's retries off: throttling is retried by the
    /// adapter within its budget, and nothing else is worth retrying.
    pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_bedrockruntime::Client {
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        aws_sdk_bedrockruntime::Client::from_conf(config)
    }

    /// With another time budget per draft (at most [`retry::MAX_BUDGET`]).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The model this adapter asks.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Whether the model takes a tool result's `status` (only Anthropic Claude and Amazon
    /// Nova do, per the `ToolResultBlock` reference; others refuse the field).
    fn takes_tool_status(&self) -> bool {
        ["anthropic.claude", "amazon.nova"]
            .iter()
            .any(|family| self.model_id.contains(family))
    }

    fn throttled(&self, why: impl std::fmt::Display) -> HandlerError {
        HandlerError::AgentThrottled(format!(
            "bedrock:{} ({}s budget per draft): {why}",
            self.model_id,
            self.budget.as_secs_f64()
        ))
    }

    /// One `Converse` call, retried on throttling until `deadline`.
    async fn converse(
        &self,
        system: &[SystemContentBlock],
        messages: &[Message],
        tools: &ToolConfiguration,
        deadline: Instant,
    ) -> Result<ConverseOutput, HandlerError> {
        let mut attempt: u32 = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.throttled("the budget ran out"));
            }
            let call = self
                .client
                .converse()
                .model_id(&self.model_id)
                .set_system(Some(system.to_vec()))
                .set_messages(Some(messages.to_vec()))
                .tool_config(tools.clone())
                .inference_config(
                    InferenceConfiguration::builder()
                        .max_tokens(MAX_OUTPUT_TOKENS)
                        .build(),
                )
                .send();
            let err = match tokio::time::timeout(remaining, call).await {
                Err(_) => return Err(self.throttled("no answer within the budget")),
                Ok(Ok(output)) => return Ok(output),
                Ok(Err(err)) => err,
            };
            let text = DisplayErrorContext(&err).to_string();
            if !is_throttling(&err) {
                return Err(HandlerError::AgentInvocationFailed(format!(
                    "bedrock:{}: {text}",
                    self.model_id
                )));
            }
            let wait = retry::backoff(attempt);
            attempt += 1;
            if Instant::now() + wait >= deadline {
                return Err(self.throttled(format!(
                    "{} after {attempt} attempt(s); waiting {:.1}s more would pass the budget",
                    err.code().unwrap_or("throttled"),
                    wait.as_secs_f64()
                )));
            }
            warn!(code = err.code().unwrap_or_default(), attempt,
                wait_ms = wait.as_millis() as u64, model = %self.model_id,
                "Bedrock throttled; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Whether a Converse error means "later" (a quota, an overloaded service, a model still
/// loading); anything else would fail the same way again.
fn is_throttling(
    err: &SdkError<ConverseError, aws_sdk_bedrockruntime::config::http::HttpResponse>,
) -> bool {
    matches!(
        err.as_service_error(),
        Some(
            ConverseError::ThrottlingException(_)
                | ConverseError::ServiceUnavailableException(_)
                | ConverseError::ModelNotReadyException(_)
        )
    )
}

/// The one tool the model must call: named after the workflow's artifact type, its input
/// schema is the type's (as structured-output servers get it) and its input is the draft.
pub fn draft_tool(artifact_type: &ArtifactType) -> Result<ToolConfiguration, HandlerError> {
    let build = |e: aws_smithy_types::error::operation::BuildError| {
        HandlerError::Config(format!("cannot build the Converse tool: {e}"))
    };
    let name = structured::schema_name(artifact_type);
    let spec = ToolSpecification::builder()
        .name(&name)
        .description("Submit the complete draft. Its input is the whole artifact.")
        .input_schema(ToolInputSchema::Json(to_document(
            &structured::structured_schema(artifact_type),
        )))
        .build()
        .map_err(build)?;
    let choice = SpecificToolChoice::builder()
        .name(&name)
        .build()
        .map_err(build)?;
    ToolConfiguration::builder()
        .tools(Tool::ToolSpec(spec))
        .tool_choice(ToolChoice::Tool(choice))
        .build()
        .map_err(build)
}

/// A JSON value as a Smithy document (the shape of tool schemas and tool inputs).
pub fn to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        Value::Object(map) => Document::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// A Smithy document as a JSON value (a non-finite float becomes `null`).
pub fn to_json(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<serde_json::Map<_, _>>(),
        ),
    }
}

fn message(role: ConversationRole, content: Vec<ContentBlock>) -> Result<Message, HandlerError> {
    Message::builder()
        .role(role)
        .set_content(Some(content))
        .build()
        .map_err(|e| HandlerError::Config(format!("cannot build a Converse message: {e}")))
}

/// The assistant's message of an answer, and the draft tool call in it if there is one.
fn answer_message(output: &ConverseOutput, tool: &str) -> (Option<Message>, Option<ToolUseBlock>) {
    let Some(Answer::Message(message)) = output.output() else {
        return (None, None);
    };
    let tool_use = message.content().iter().find_map(|block| match block {
        ContentBlock::ToolUse(tool_use) if tool_use.name() == tool => Some(tool_use.clone()),
        _ => None,
    });
    (Some(message.clone()), tool_use)
}

fn tokens(n: i32) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl MetadataAgent for BedrockConverse {
    async fn generate(&self, request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
        self.generate_metered(request).await.map(|(draft, _)| draft)
    }

    async fn generate_metered(
        &self,
        request: &GenerationRequest,
    ) -> Result<(GeneratedDraft, Option<Usage>), HandlerError> {
        let started = Instant::now();
        let deadline = started + self.budget.min(retry::MAX_BUDGET);
        let tools = draft_tool(&request.artifact_type)?;
        let tool = structured::schema_name(&request.artifact_type);
        let mut system = Vec::new();
        let mut messages = Vec::new();
        for chat in prompt::messages(request) {
            match chat.role {
                Role::System => system.push(SystemContentBlock::Text(chat.content)),
                Role::User => messages.push(message(
                    ConversationRole::User,
                    vec![ContentBlock::Text(chat.content)],
                )?),
                Role::Assistant => messages.push(message(
                    ConversationRole::Assistant,
                    vec![ContentBlock::Text(chat.content)],
                )?),
            }
        }
        let mut usage = Usage {
            model: self.model_id.clone(),
            input_tokens: 0,
            output_tokens: 0,
            latency_ms: 0,
        };
        let mut repaired = false;
        loop {
            let output = self.converse(&system, &messages, &tools, deadline).await?;
            if let Some(used) = output.usage() {
                usage.input_tokens += tokens(used.input_tokens());
                usage.output_tokens += tokens(used.output_tokens());
            }
            // Wall clock of the whole generation (throttling waits and a repair round
            // included), as the OpenAI-compatible adapter and `Usage` define it; Converse's
            // `metrics.latencyMs` is the model's time alone and would not compare.
            usage.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (said, tool_use) = answer_message(&output, &tool);
            let checked = match &tool_use {
                Some(tool_use) => {
                    let content = to_json(tool_use.input());
                    let errors = request.artifact_type.validate_artifact(&content);
                    if errors.is_empty() {
                        Ok(content)
                    } else {
                        Err(errors)
                    }
                }
                None => Err(vec![FieldError::new(
                    "$",
                    format!(
                        "the answer did not call the {} tool (stop reason {})",
                        tool,
                        output.stop_reason().as_str()
                    ),
                )]),
            };
            match checked {
                Ok(content) => {
                    info!(workflow_id = %request.workflow_id, iteration = request.iteration,
                        model = %usage.model, input_tokens = usage.input_tokens,
                        output_tokens = usage.output_tokens, latency_ms = usage.latency_ms,
                        repaired, "draft generated");
                    let draft = GeneratedDraft {
                        content,
                        generator: format!("bedrock:{}", self.model_id),
                    };
                    return Ok((draft, Some(usage)));
                }
                Err(errors) if repaired => {
                    warn!(workflow_id = %request.workflow_id, iteration = request.iteration,
                        model = %usage.model, input_tokens = usage.input_tokens,
                        output_tokens = usage.output_tokens,
                        "the repaired answer is still not a valid draft");
                    return Err(HandlerError::ArtifactInvalid(errors));
                }
                Err(errors) => {
                    let repair = prompt::repair_message(&errors).content;
                    if let Some(said) = said {
                        messages.push(said);
                    }
                    let reply = match tool_use {
                        Some(tool_use) => {
                            let mut result = ToolResultBlock::builder()
                                .tool_use_id(tool_use.tool_use_id())
                                .content(ToolResultContentBlock::Text(repair));
                            if self.takes_tool_status() {
                                result = result.status(ToolResultStatus::Error);
                            }
                            ContentBlock::ToolResult(result.build().map_err(|e| {
                                HandlerError::Config(format!("cannot build a tool result: {e}"))
                            })?)
                        }
                        None => ContentBlock::Text(repair),
                    };
                    // Converse wants user and assistant turns to alternate: without an
                    // assistant message to answer, the repair joins the last user turn.
                    if messages
                        .last()
                        .is_some_and(|m| m.role() == &ConversationRole::User)
                    {
                        if let Some(last) = messages.pop() {
                            let mut content = last.content().to_vec();
                            content.push(reply);
                            messages.push(message(ConversationRole::User, content)?);
                        }
                    } else {
                        messages.push(message(ConversationRole::User, vec![reply])?);
                    }
                    repaired = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_and_json_convert_both_ways() {
        let value = json!({"a": [1, -2, 2.5, "x", true, null], "b": {"c": "d"}});
        assert_eq!(to_json(&to_document(&value)), value);
    }

    #[test]
    fn the_tool_carries_the_workflows_type_schema_and_is_forced() {
        for name in ["brand-metadata", "product-description"] {
            let artifact_type = hitl_domain::types::builtin(name).unwrap();
            let tools = draft_tool(&artifact_type).unwrap();
            let Tool::ToolSpec(spec) = &tools.tools()[0] else {
                panic!("expected a tool spec")
            };
            let tool = name.replace('-', "_");
            assert_eq!(spec.name(), tool);
            let Some(ToolInputSchema::Json(schema)) = spec.input_schema() else {
                panic!("expected a JSON schema")
            };
            assert_eq!(
                to_json(schema),
                structured::structured_schema(&artifact_type)
            );
            assert!(matches!(tools.tool_choice(), Some(ToolChoice::Tool(c)) if c.name() == tool));
        }
    }
}
