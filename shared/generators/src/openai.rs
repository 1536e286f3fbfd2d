//! The OpenAI-compatible chat-completions adapter of the [`MetadataAgent`] port: one
//! `POST {base_url}/chat/completions` with `response_format` `json_schema`, which Ollama, vLLM,
//! llama.cpp's server, LM Studio and OpenAI all speak.
//!
//! Failure policy. The model's answer is never trusted: it is parsed and judged by the
//! workflow's artifact type (`ArtifactType::validate_artifact`); a malformed or invalid answer gets one repair round (the errors sent
//! back), then `ArtifactInvalid`. HTTP 429, 502, 503 and 504 are retried with jittered
//! exponential backoff, never sooner than the server's `Retry-After` (seconds), inside one
//! time budget for the whole draft; past the budget, or when the server does not answer within
//! it, `AgentThrottled`. Any other failing status, or a server that cannot be reached, is
//! `AgentInvocationFailed` with the status and the server's message, the API key scrubbed.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hitl_domain::ports::{GeneratedDraft, GenerationRequest, MetadataAgent, Usage};
use hitl_domain::types::ArtifactType;
use hitl_domain::{FieldError, HandlerError};
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::prompt::{self, ChatMessage, Role};
use crate::retry::backoff;
use crate::structured;

pub use crate::retry::{DEFAULT_BUDGET, MAX_BUDGET};

/// How long connecting may take, whatever the budget.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a server's error message is kept.
const MAX_MESSAGE_CHARS: usize = 500;

/// A chat-completions server and the model to ask.
#[derive(Clone)]
pub struct OpenAiCompatible {
    /// Base URL up to the version, e.g. `http://127.0.0.1:11434/v1` or
    /// `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// Model name as the server knows it (`llama3.1`, `gpt-4o-mini`, …).
    pub model: String,
    /// Bearer token, when the server wants one. Never logged nor put in an error.
    pub api_key: Option<String>,
    /// The HTTP client (one per process; clones share its connection pool).
    pub http: reqwest::Client,
    /// Time allowed for one draft: every call, retry, wait and the repair round (at most
    /// [`MAX_BUDGET`]).
    pub budget: Duration,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// An adapter for `model` at `base_url` with [`DEFAULT_BUDGET`]. Refuses a base URL that
    /// is not `http://` or `https://` and an empty model name.
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: Option<String>,
    ) -> Result<Self, HandlerError> {
        let base_url = base_url.into().trim().trim_end_matches('/').to_owned();
        let model = model.into().trim().to_owned();
        let mut errors = Vec::new();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            errors.push(FieldError::new(
                "base_url",
                format!("must start with http:// or https://, got {base_url:?}"),
            ));
        }
        if model.is_empty() {
            errors.push(FieldError::new("model", "must name a model"));
        }
        if !errors.is_empty() {
            return Err(HandlerError::InvalidInput(errors));
        }
        // rustls over ring, as the AWS SDK clients (hitl_aws::https_client); an error only says
        // that the process already has a default provider, which then serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| HandlerError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            base_url,
            model,
            api_key: api_key.filter(|key| !key.trim().is_empty()),
            http,
            budget: DEFAULT_BUDGET,
        })
    }

    /// [`Self::new`] with the API key read from the environment variable `api_key_env_var`
    /// (none for servers without keys, such as a local Ollama). A named variable that is unset
    /// or empty is a configuration error naming the variable (never its value).
    pub fn from_settings(
        base_url: &str,
        model: &str,
        api_key_env_var: Option<&str>,
    ) -> Result<Self, HandlerError> {
        let api_key = match api_key_env_var {
            None => None,
            Some(name) => match std::env::var(name) {
                Ok(key) if !key.trim().is_empty() => Some(key),
                _ => {
                    return Err(HandlerError::Config(format!(
                        "environment variable {name} (the API key) is not set"
                    )))
                }
            },
        };
        Self::new(base_url, model, api_key)
    }

    /// With another time budget per draft.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// `{base_url}/chat/completions`.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }

    /// The request body asking `messages` of the model, with the type's schema as the
    /// structured-output format.
    pub fn request_body(&self, messages: &[ChatMessage], artifact_type: &ArtifactType) -> Value {
        json!({
            "model": self.model,
            "messages": messages,
            "stream": false,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": structured::schema_name(artifact_type),
                    "schema": structured::structured_schema(artifact_type),
                    "strict": true,
                },
            },
        })
    }

    fn generator(&self) -> String {
        format!("openai:{}", self.model)
    }

    /// Removes the API key from a text that may quote it (servers echo a wrong key back).
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) => text.replace(key.as_str(), "[redacted]"),
            None => text.to_owned(),
        }
    }

    fn throttled(&self, why: impl fmt::Display) -> HandlerError {
        HandlerError::AgentThrottled(format!(
            "{} ({}s budget per draft): {why}",
            self.endpoint(),
            self.budget.as_secs_f64()
        ))
    }

    /// One chat completion, retried on throttling until `deadline`.
    async fn complete(
        &self,
        messages: &[ChatMessage],
        artifact_type: &ArtifactType,
        deadline: Instant,
    ) -> Result<Answer, HandlerError> {
        let body = self.request_body(messages, artifact_type);
        let mut attempt: u32 = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.throttled("the budget ran out"));
            }
            let mut request = self
                .http
                .post(self.endpoint())
                .json(&body)
                .timeout(remaining);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if e.is_timeout() => {
                    return Err(self.throttled("no answer within the budget"))
                }
                Err(e) => {
                    return Err(HandlerError::AgentInvocationFailed(
                        self.scrub(&format!("cannot reach {}: {e}", self.endpoint())),
                    ))
                }
            };
            let status = response.status();
            if status.is_success() {
                let text = match response.text().await {
                    Ok(text) => text,
                    Err(e) if e.is_timeout() => {
                        return Err(self.throttled("the answer did not finish within the budget"))
                    }
                    Err(e) => {
                        return Err(HandlerError::AgentInvocationFailed(
                            self.scrub(&format!("reading the answer failed: {e}")),
                        ))
                    }
                };
                return Answer::parse(&text)
                    .map_err(|why| HandlerError::AgentInvocationFailed(self.scrub(&why)));
            }
            if is_throttling(status) {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let wait = backoff(attempt).max(retry_after.unwrap_or_default());
                attempt += 1;
                // checked: a server may send any number of seconds
                if Instant::now()
                    .checked_add(wait)
                    .is_none_or(|resume| resume >= deadline)
                {
                    return Err(self.throttled(format!(
                        "{status} after {attempt} attempt(s); waiting {:.1}s more would pass the budget",
                        wait.as_secs_f64()
                    )));
                }
                warn!(status = status.as_u16(), attempt, wait_ms = wait.as_millis() as u64,
                    model = %self.model, "model server throttled; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            return Err(HandlerError::AgentInvocationFailed(self.scrub(&format!(
                "{} answered {status}: {}",
                self.endpoint(),
                error_message(&text)
            ))));
        }
    }
}

/// Statuses that mean "later": rate limits and an overloaded or restarting server.
fn is_throttling(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The server's own words from an error body (`{"error": {"message": …}}` as OpenAI and
/// Ollama send it, or `{"error": "…"}`), else the body, shortened.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
        })
        .and_then(Value::as_str)
        .unwrap_or(body)
        .trim();
    let short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    if short.is_empty() {
        "(no message)".into()
    } else {
        short
    }
}

/// What one completion brought back.
#[derive(Debug)]
struct Answer {
    content: String,
    model: Option<String>,
    input_tokens: u64,
    output_tokens: u64,
}

impl Answer {
    fn parse(body: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(body)
            .map_err(|e| format!("the server's answer is not chat-completions JSON: {e}"))?;
        let message = value.pointer("/choices/0/message");
        let content = message
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                match message
                    .and_then(|m| m.get("refusal"))
                    .and_then(Value::as_str)
                {
                    Some(refusal) => format!("the model refused: {}", error_message(refusal)),
                    None => "the server's answer has no choices[0].message.content".to_owned(),
                }
            })?;
        let tokens = |name: &str| {
            value
                .pointer(&format!("/usage/{name}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        Ok(Self {
            content: content.to_owned(),
            model: value
                .get("model")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_tokens: tokens("prompt_tokens"),
            output_tokens: tokens("completion_tokens"),
        })
    }
}

/// Parses a model's text and judges it by the workflow's type (what generate-metadata does
/// next); the errors name the fields (or `$` for the whole).
fn check(content: &str, artifact_type: &ArtifactType) -> Result<Value, Vec<FieldError>> {
    let value: Value = serde_json::from_str(content.trim())
        .map_err(|e| vec![FieldError::new("$", format!("is not a JSON object: {e}"))])?;
    let errors = artifact_type.validate_artifact(&value);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors)
    }
}

#[async_trait]
impl MetadataAgent for OpenAiCompatible {
    async fn generate(&self, request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
        self.generate_metered(request).await.map(|(draft, _)| draft)
    }

    async fn generate_metered(
        &self,
        request: &GenerationRequest,
    ) -> Result<(GeneratedDraft, Option<Usage>), HandlerError> {
        let started = Instant::now();
        let deadline = started + self.budget.min(MAX_BUDGET);
        let mut messages = prompt::messages(request);
        let mut usage = Usage {
            model: self.model.clone(),
            input_tokens: 0,
            output_tokens: 0,
            latency_ms: 0,
        };
        let mut repaired = false;
        loop {
            let answer = self
                .complete(&messages, &request.artifact_type, deadline)
                .await?;
            usage.input_tokens += answer.input_tokens;
            usage.output_tokens += answer.output_tokens;
            if let Some(model) = answer.model {
                usage.model = model;
            }
            usage.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match check(&answer.content, &request.artifact_type) {
                Ok(content) => {
                    info!(workflow_id = %request.workflow_id, iteration = request.iteration,
                        model = %usage.model, input_tokens = usage.input_tokens,
                        output_tokens = usage.output_tokens, latency_ms = usage.latency_ms,
                        repaired, "draft generated");
                    let draft = GeneratedDraft {
                        content,
                        generator: self.generator(),
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
                    messages.push(ChatMessage {
                        role: Role::Assistant,
                        content: answer.content,
                    });
                    messages.push(prompt::repair_message(&errors));
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

    #[test]
    fn error_messages_come_from_the_error_object() {
        assert_eq!(
            error_message(r#"{"error":{"message":"model not found","type":"x"}}"#),
            "model not found"
        );
        assert_eq!(
            error_message(r#"{"error":"no such model"}"#),
            "no such model"
        );
        assert_eq!(error_message("plain text"), "plain text");
        assert_eq!(error_message(""), "(no message)");
        assert_eq!(error_message(&"x".repeat(2000)).len(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let err = OpenAiCompatible::new("127.0.0.1:11434", " ", None).unwrap_err();
        let HandlerError::InvalidInput(fields) = err else {
            panic!("expected InvalidInput")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["base_url", "model"]);
    }

    #[test]
    fn from_settings_names_a_missing_key_variable_and_trims_the_url() {
        let err = OpenAiCompatible::from_settings(
            "http://127.0.0.1:11434/v1",
            "llama3.1",
            Some("HITL_TEST_SURELY_UNSET_KEY_VARIABLE"),
        )
        .unwrap_err();
        assert_eq!(err.name().as_str(), "ConfigError");
        assert!(err
            .to_string()
            .contains("HITL_TEST_SURELY_UNSET_KEY_VARIABLE"));
        let adapter =
            OpenAiCompatible::from_settings("http://127.0.0.1:11434/v1/", "llama3.1", None)
                .unwrap();
        assert_eq!(
            adapter.endpoint(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        assert_eq!(adapter.api_key, None);
    }

    #[test]
    fn debug_hides_the_key() {
        let adapter =
            OpenAiCompatible::new("http://localhost/v1", "m", Some("sk-secret".into())).unwrap();
        assert!(!format!("{adapter:?}").contains("sk-secret"));
    }
}
