//! The OpenAI-compatible adapter against a real local HTTP server speaking the
//! chat-completions wire format with scripted answers, driven through reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{TimeZone, Utc};
use hitl_domain::model::{
    Artifact, Correction, Decision, FeedbackEntry, FeedbackOutcome, Subject, WorkflowStatus,
};
use hitl_domain::ports::{GenerationRequest, MetadataAgent};
use hitl_domain::HandlerError;
use hitl_generators::OpenAiCompatible;
use serde_json::{json, Map, Value};

const KEY: &str = "sk-test-0123456789abcdef";

/// One scripted answer.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn completion(content: &str) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_780_000_000,
                "model": "scripted-model-2026-12",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}
            })
            .to_string(),
            delay: Duration::ZERO,
        }
    }

    fn draft(content: &Value) -> Self {
        Self::completion(&content.to_string())
    }

    fn status(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the server received.
struct Seen {
    at: Instant,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn chat(State(script): State<Script>, headers: HeaderMap, body: Bytes) -> Response {
    script.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let reply = script.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "script exhausted").into_response();
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Starts a server answering `replies` in order at `/v1/chat/completions`; returns its base
/// URL (`http://127.0.0.1:PORT/v1`) and what it saw.
async fn serve(replies: Vec<Reply>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let script = Script {
        replies: Arc::new(Mutex::new(replies.into())),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let seen = script.seen.clone();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/v1"), seen)
}

fn adapter(base_url: &str, budget: Duration) -> OpenAiCompatible {
    OpenAiCompatible::new(base_url, "scripted", Some(KEY.into()))
        .unwrap()
        .with_budget(budget)
}

fn valid_draft() -> Value {
    json!({
        "name": "Cedar Candles",
        "tagline": "Light the morning ritual",
        "description": "Cedar Candles pours soy wax candles for slow, quiet mornings.",
        "category": "home fragrance",
        "tone": "premium",
        "target_audience": "early risers",
        "keywords": ["candles", "soy wax", "morning ritual"],
        "colors": {"primary": "#8B4513", "secondary": "#F5F5DC"}
    })
}

fn request() -> GenerationRequest {
    GenerationRequest {
        workflow_id: "wf-protocol".into(),
        subject: Subject {
            id: "cedar".into(),
            name: "Cedar Candles".into(),
            category: Some("home".into()),
            attributes: Map::new(),
        },
        iteration: 2,
        previous: Some(Artifact {
            iteration: 1,
            content: json!({"name": "Cedar Candles", "tagline": "Discover Cedar Candles"}),
            hash: "h1".into(),
            generator: "openai:scripted".into(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            usage: None,
        }),
        feedback: vec![FeedbackEntry {
            workflow_id: "wf-protocol".into(),
            idempotency_key: "k1".into(),
            request_fingerprint: "fp".into(),
            iteration: 1,
            decision: Decision::RequestChanges,
            reviewer: "alice".into(),
            comments: "Mention soy wax.".into(),
            corrections: vec![Correction {
                field: "tone".into(),
                value: "premium".into(),
            }],
            resolution: None,
            channel: "cli".into(),
            received_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
            outcome: FeedbackOutcome::Applied {
                status: WorkflowStatus::Revising,
            },
        }],
        artifact_type: Default::default(),
    }
}

fn last_message(seen: &Seen) -> (&str, &str) {
    let last = seen.body["messages"].as_array().unwrap().last().unwrap();
    (
        last["role"].as_str().unwrap(),
        last["content"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn a_valid_answer_becomes_the_draft_with_its_usage() {
    // GIVEN a server answering one valid draft
    let (url, seen) = serve(vec![Reply::draft(&valid_draft())]).await;
    // WHEN the adapter drafts iteration 2
    let (draft, usage) = adapter(&url, Duration::from_secs(10))
        .generate_metered(&request())
        .await
        .unwrap();
    // THEN the draft is the answer, named after the configured model, with tokens and model
    assert_eq!(draft.content, valid_draft());
    assert_eq!(draft.generator, "openai:scripted");
    let usage = usage.unwrap();
    assert_eq!(usage.model, "scripted-model-2026-12");
    assert_eq!((usage.input_tokens, usage.output_tokens), (120, 80));
    assert!(usage.latency_ms < 10_000);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_request_asks_for_the_schema_the_model_and_carries_the_key() {
    let (url, seen) = serve(vec![Reply::draft(&valid_draft())]).await;
    adapter(&url, Duration::from_secs(10))
        .generate(&request())
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let body = &seen[0].body;
    assert_eq!(body["model"], "scripted");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "brand_metadata"
    );
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        hitl_generators::structured::structured_schema(
            &hitl_domain::types::builtin("brand-metadata").unwrap()
        )
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    // the prompt that carries the loop is what goes over the wire
    assert_eq!(body["messages"][0]["role"], "system");
    let (role, user) = last_message(&seen[0]);
    assert_eq!(role, "user");
    assert!(user.contains("Comments: Mention soy wax."));
    assert!(user.contains("- tone = \"premium\""));
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent() {
    let (url, seen) = serve(vec![Reply::draft(&valid_draft())]).await;
    OpenAiCompatible::new(&url, "llama3.1", None)
        .unwrap()
        .generate(&request())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap()[0].authorization, None);
}

#[tokio::test]
async fn malformed_json_gets_one_repair_round_carrying_the_error() {
    // GIVEN a model that first answers broken JSON, then a valid draft
    let (url, seen) = serve(vec![
        Reply::completion("{\"name\": \"Cedar Candles\", "),
        Reply::draft(&valid_draft()),
    ])
    .await;
    // WHEN the adapter drafts
    let (draft, usage) = adapter(&url, Duration::from_secs(10))
        .generate_metered(&request())
        .await
        .unwrap();
    // THEN the repaired answer is the draft, and both calls' tokens count
    assert_eq!(draft.content, valid_draft());
    let usage = usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (240, 160));
    // AND the second request carried the model's broken answer and the parse error
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let messages = seen[1].body["messages"].as_array().unwrap();
    let answered = &messages[messages.len() - 2];
    assert_eq!(answered["role"], "assistant");
    assert_eq!(answered["content"], "{\"name\": \"Cedar Candles\", ");
    let (role, repair) = last_message(&seen[1]);
    assert_eq!(role, "user");
    assert!(repair.contains("- $: is not a JSON object"), "{repair}");
}

#[tokio::test]
async fn a_schema_violation_twice_is_artifact_invalid_naming_the_field() {
    // GIVEN a model that twice answers a tone the schema does not have
    let mut wrong = valid_draft();
    wrong["tone"] = json!("grumpy");
    let (url, seen) = serve(vec![Reply::draft(&wrong), Reply::draft(&wrong)]).await;
    // WHEN the adapter drafts
    let err = adapter(&url, Duration::from_secs(10))
        .generate(&request())
        .await
        .unwrap_err();
    // THEN ArtifactInvalid (the definition's invalid_draft path) names `tone`
    assert_eq!(err.name().as_str(), "ArtifactInvalid");
    let HandlerError::ArtifactInvalid(fields) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field, "tone");
    // AND the repair request named it too; no third request
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let (_, repair) = last_message(&seen[1]);
    assert!(
        repair.contains("- tone: \"grumpy\" is not one of"),
        "{repair}"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_asked_again() {
    // GIVEN a server that first says "429, retry after 1 s"
    let (url, seen) = serve(vec![
        Reply::status(429, json!({"error": {"message": "rate limited"}}))
            .header("retry-after", "1"),
        Reply::draft(&valid_draft()),
    ])
    .await;
    // WHEN the adapter drafts within a 10 s budget
    let draft = adapter(&url, Duration::from_secs(10))
        .generate(&request())
        .await
        .unwrap();
    // THEN it asked twice, at least 1 s apart, and got the draft
    assert_eq!(draft.content, valid_draft());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
}

#[tokio::test]
async fn a_503_without_retry_after_is_retried_with_backoff() {
    let (url, seen) = serve(vec![
        Reply::status(503, json!({"error": "loading model"})),
        Reply::draft(&valid_draft()),
    ])
    .await;
    adapter(&url, Duration::from_secs(10))
        .generate(&request())
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    // the first backoff step is 250..=500 ms
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_is_agent_throttled_at_once() {
    let (url, seen) = serve(vec![Reply::status(
        429,
        json!({"error": {"message": "slow down"}}),
    )
    .header("retry-after", "30")])
    .await;
    let started = Instant::now();
    let err = adapter(&url, Duration::from_secs(2))
        .generate(&request())
        .await
        .unwrap_err();
    assert_eq!(err.name().as_str(), "AgentThrottled", "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_server_too_slow_for_the_budget_is_agent_throttled() {
    // GIVEN a server that takes 5 s to answer, and a 500 ms budget
    let (url, _) = serve(vec![
        Reply::draft(&valid_draft()).after(Duration::from_secs(5))
    ])
    .await;
    let started = Instant::now();
    let err = adapter(&url, Duration::from_millis(500))
        .generate(&request())
        .await
        .unwrap_err();
    // THEN AgentThrottled (the definition retries it), without waiting for the answer
    assert_eq!(err.name().as_str(), "AgentThrottled", "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_401_is_agent_invocation_failed_without_the_key() {
    // GIVEN a server that refuses the key and quotes it back, as OpenAI does
    let (url, seen) = serve(vec![Reply::status(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}."), "type": "invalid_request_error"}}),
    )])
    .await;
    let err = adapter(&url, Duration::from_secs(10))
        .generate(&request())
        .await
        .unwrap_err();
    // THEN AgentInvocationFailed with the status and the server's words, never the key
    assert_eq!(err.name().as_str(), "AgentInvocationFailed");
    let message = err.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("Incorrect API key provided"), "{message}");
    assert!(!message.contains(KEY), "{message}");
    // AND it was not retried
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_agent_invocation_failed() {
    // a port that was just free: nothing listens on it
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let err = adapter(&format!("http://{address}/v1"), Duration::from_secs(5))
        .generate(&request())
        .await
        .unwrap_err();
    assert_eq!(err.name().as_str(), "AgentInvocationFailed", "{err}");
    assert!(err.to_string().contains("cannot reach"), "{err}");
}

#[tokio::test]
async fn an_absurd_retry_after_is_agent_throttled_not_a_panic() {
    let (url, _) =
        serve(vec![Reply::status(429, json!({"error": "later"}))
            .header("retry-after", &u64::MAX.to_string())])
        .await;
    let err = adapter(&url, Duration::from_secs(2))
        .generate(&request())
        .await
        .unwrap_err();
    assert_eq!(err.name().as_str(), "AgentThrottled", "{err}");
}

#[tokio::test]
async fn an_unbounded_budget_is_not_a_panic() {
    let (url, _) = serve(vec![Reply::draft(&valid_draft())]).await;
    let draft = adapter(&url, Duration::MAX)
        .generate(&request())
        .await
        .unwrap();
    assert_eq!(draft.content, valid_draft());
}
