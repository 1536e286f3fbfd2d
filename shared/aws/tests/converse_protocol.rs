//! The Bedrock Converse adapter against a local HTTP server speaking Converse's REST-JSON wire
//! format (`POST /model/{modelId}/converse`, errors named by `x-amzn-errortype`), driven
//! through the real `aws-sdk-bedrockruntime` client pointed at it with test credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_bedrockruntime::config::{Credentials, SharedCredentialsProvider};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hitl_aws::converse::BedrockConverse;
use hitl_domain::ports::{GenerationRequest, MetadataAgent};
use hitl_domain::HandlerError;
use serde_json::{json, Value};

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

/// One scripted answer: status, `x-amzn-errortype` (errors only) and JSON body.
struct Reply {
    status: u16,
    error_type: Option<&'static str>,
    body: Value,
}

impl Reply {
    /// A `tool_use` answer whose tool input is `input`.
    fn tool_use(input: Value) -> Self {
        Self {
            status: 200,
            error_type: None,
            body: json!({
                "output": {"message": {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "tooluse_draft1", "name": "brand_metadata", "input": input}}
                ]}},
                "stopReason": "tool_use",
                "usage": {"inputTokens": 900, "outputTokens": 150, "totalTokens": 1050},
                // the model's own time as Bedrock reports it: not what `usage` records
                "metrics": {"latencyMs": 900_000}
            }),
        }
    }

    fn error(status: u16, error_type: &'static str, message: &str) -> Self {
        Self {
            status,
            error_type: Some(error_type),
            body: json!({"message": message}),
        }
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    model_id: String,
    body: Value,
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

async fn converse(
    State(script): State<Arc<Script>>,
    Path(model_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    script.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        model_id,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let Some(reply) = script.replies.lock().unwrap().pop_front() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no scripted reply left").into_response();
    };
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap(),
        [("content-type", "application/json")],
        reply.body.to_string(),
    )
        .into_response();
    if let Some(error_type) = reply.error_type {
        response
            .headers_mut()
            .insert("x-amzn-errortype", error_type.parse().unwrap());
    }
    response
}

/// Starts the server with `replies`; returns the adapter pointed at it and the script.
async fn serve(replies: Vec<Reply>) -> (BedrockConverse, Arc<Script>) {
    let (sdk, script) = serve_sdk(replies).await;
    let adapter = BedrockConverse::new(BedrockConverse::client(&sdk), MODEL)
        .with_budget(Duration::from_secs(20));
    (adapter, script)
}

/// Starts the server with `replies`; returns an SDK configuration pointed at it.
async fn serve_sdk(replies: Vec<Reply>) -> (aws_config::SdkConfig, Arc<Script>) {
    let script = Arc::new(Script {
        replies: Mutex::new(replies.into()),
        seen: Mutex::default(),
    });
    let app = Router::new()
        .route("/model/{model_id}/converse", post(converse))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(hitl_aws::https_client())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "test",
        )))
        .endpoint_url(format!("http://{addr}"))
        .build();
    (sdk, script)
}

fn request() -> GenerationRequest {
    GenerationRequest {
        workflow_id: "wf-1".into(),
        subject: hitl_domain::store::contract::sample_workflow("wf-1").subject,
        iteration: 1,
        previous: None,
        feedback: vec![],
        artifact_type: Default::default(),
    }
}

fn valid() -> Value {
    json!({
        "name": "Cedar Candles",
        "tagline": "Light the morning ritual",
        "description": "Cedar Candles makes hand-poured soy candles for slow mornings.",
        "category": "home",
        "tone": "friendly",
        "target_audience": "people who start the day slowly",
        "keywords": ["candles", "soy", "morning"],
        "colors": {"primary": "#A0522D", "secondary": "#F5F5DC"}
    })
}

#[tokio::test]
async fn a_valid_tool_call_is_the_draft_with_its_usage() {
    // GIVEN a model that calls the draft tool with a valid draft
    let (adapter, _) = serve(vec![Reply::tool_use(valid())]).await;
    // WHEN a draft is asked for
    let (draft, usage) = adapter.generate_metered(&request()).await.unwrap();
    // THEN the tool's input is the draft, and Converse's usage and metrics are the usage
    assert_eq!(draft.content, valid());
    assert_eq!(draft.generator, format!("bedrock:{MODEL}"));
    let usage = usage.unwrap();
    assert_eq!(usage.model, MODEL);
    assert_eq!((usage.input_tokens, usage.output_tokens), (900, 150));
    // wall clock of the whole generation, as the OpenAI-compatible adapter measures it (the
    // local server answers at once; Bedrock's 900 s `latencyMs` is not summed)
    assert!(usage.latency_ms < 60_000, "{}", usage.latency_ms);
}

#[tokio::test]
async fn the_request_forces_the_draft_tool_with_the_type_schema_on_the_model_path() {
    let (adapter, script) = serve(vec![Reply::tool_use(valid())]).await;
    adapter.generate(&request()).await.unwrap();
    let seen = script.seen.lock().unwrap()[0].clone();
    // the model id is in the path (percent-encoded by the client)
    assert_eq!(seen.model_id, MODEL);
    assert!(
        seen.path
            .starts_with("/model/anthropic.claude-3-haiku-20240307-v1"),
        "{}",
        seen.path
    );
    // one tool, its input schema the brand schema, and toolChoice naming it
    let tools = &seen.body["toolConfig"]["tools"];
    assert_eq!(tools.as_array().unwrap().len(), 1, "{tools}");
    assert_eq!(tools[0]["toolSpec"]["name"], "brand_metadata");
    assert_eq!(
        tools[0]["toolSpec"]["inputSchema"]["json"],
        hitl_generators::structured::structured_schema(
            &hitl_domain::types::builtin("brand-metadata").unwrap()
        )
    );
    assert_eq!(
        seen.body["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "brand_metadata"}})
    );
    // the instructions go in `system`, the task in one user message
    assert!(seen.body["system"][0]["text"]
        .as_str()
        .unwrap()
        .contains("brand metadata"));
    assert_eq!(seen.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(seen.body["messages"][0]["role"], "user");
}

#[tokio::test]
async fn a_schema_violating_draft_gets_one_repair_round_with_the_errors() {
    // GIVEN a model whose first draft has a bad colour and no tone, then a valid one
    let mut broken = valid();
    broken["colors"]["primary"] = json!("red");
    broken.as_object_mut().unwrap().remove("tone");
    let (adapter, script) = serve(vec![Reply::tool_use(broken), Reply::tool_use(valid())]).await;
    // WHEN a draft is asked for
    let (draft, usage) = adapter.generate_metered(&request()).await.unwrap();
    // THEN the repaired draft is returned, the usage sums both calls
    assert_eq!(draft.content, valid());
    let usage = usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (1800, 300));
    assert!(usage.latency_ms < 60_000, "{}", usage.latency_ms);
    // AND the second request answered the tool call with the validation errors
    let seen = script.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let messages = seen[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["content"][0]["toolUse"]["toolUseId"],
        "tooluse_draft1"
    );
    assert_eq!(messages[2]["role"], "user");
    let result = &messages[2]["content"][0]["toolResult"];
    assert_eq!(result["toolUseId"], "tooluse_draft1");
    assert_eq!(result["status"], "error", "Claude takes the status");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("colors.primary"), "{text}");
    assert!(text.contains("tone"), "{text}");
}

#[tokio::test]
async fn a_draft_still_invalid_after_the_repair_is_artifact_invalid() {
    let mut broken = valid();
    broken["keywords"] = json!(["one"]);
    let (adapter, script) = serve(vec![
        Reply::tool_use(broken.clone()),
        Reply::tool_use(broken),
    ])
    .await;
    let err = adapter.generate(&request()).await.unwrap_err();
    assert!(
        matches!(&err, HandlerError::ArtifactInvalid(fields) if fields.iter().any(|f| f.field == "keywords")),
        "{err:?}"
    );
    assert_eq!(
        script.seen.lock().unwrap().len(),
        2,
        "one repair round only"
    );
}

#[tokio::test]
async fn throttling_is_retried_then_the_draft_arrives() {
    // GIVEN Bedrock throttles once (429, x-amzn-errortype ThrottlingException), then answers
    let (adapter, script) = serve(vec![
        Reply::error(
            429,
            "ThrottlingException",
            "Too many requests, please wait.",
        ),
        Reply::tool_use(valid()),
    ])
    .await;
    let (draft, _) = adapter.generate_metered(&request()).await.unwrap();
    assert_eq!(draft.content, valid());
    assert_eq!(script.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn throttling_past_the_budget_is_agent_throttled() {
    let replies = (0..10)
        .map(|_| Reply::error(503, "ServiceUnavailableException", "busy"))
        .collect();
    let (adapter, _) = serve(replies).await;
    let adapter = adapter.with_budget(Duration::from_millis(400));
    let err = adapter.generate(&request()).await.unwrap_err();
    assert_eq!(err.name().as_str(), "AgentThrottled", "{err}");
}

#[tokio::test]
async fn validation_and_access_errors_fail_without_retry() {
    for (status, kind) in [(400, "ValidationException"), (403, "AccessDeniedException")] {
        let (adapter, script) = serve(vec![
            Reply::error(status, kind, "The provided model identifier is invalid."),
            Reply::tool_use(valid()),
        ])
        .await;
        let err = adapter.generate(&request()).await.unwrap_err();
        assert_eq!(
            err.name().as_str(),
            "AgentInvocationFailed",
            "{kind}: {err}"
        );
        assert!(err.to_string().contains(kind), "{err}");
        assert_eq!(
            script.seen.lock().unwrap().len(),
            1,
            "{kind} is not retried"
        );
    }
}

#[tokio::test]
async fn hitl_generator_bedrock_converse_wires_this_adapter_for_the_model() {
    // GIVEN the variables the template sets with Generator=bedrock-converse (no other test of
    // this binary reads the environment)
    let (sdk, script) = serve_sdk(vec![Reply::tool_use(valid())]).await;
    std::env::set_var(hitl_aws::config::GENERATOR, "bedrock-converse");
    std::env::set_var(hitl_aws::config::BEDROCK_MODEL_ID, MODEL);
    // WHEN the generate function's agent is wired and asked for a draft
    let agent = hitl_aws::metadata_agent(&sdk).unwrap();
    let draft = agent.generate(&request()).await.unwrap();
    // THEN the model drafted it, through Converse
    assert_eq!(draft.generator, format!("bedrock:{MODEL}"));
    assert_eq!(script.seen.lock().unwrap()[0].model_id, MODEL);
}
