//! Test harness: the router served over real HTTP on 127.0.0.1:0, an in-memory SQLite store,
//! scripted resumer, fixed clock, three reviewers, and a global log capture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod oidc;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use hitl_api::identity::ReviewersFile;
use hitl_api::{AppState, ReviewerTokens};
use hitl_domain::model::{
    Artifact, Correction, Decision, EscalationReason, FeedbackEntry, FeedbackOutcome, TaskToken,
    Workflow, WorkflowStatus,
};
use hitl_domain::ports::ExecutionResumer;
use hitl_domain::rules::{self, Submission};
use hitl_domain::store::contract::sample_workflow;
use hitl_domain::store::WorkflowStore;
use hitl_domain::testing::{FixedClock, RecordingResumer};
use hitl_sqlite::SqliteStore;
use serde_json::{json, Value};

/// Every task token used by these tests starts with this; no response or log line may
/// contain it.
pub const TOKEN_MARK: &str = "tok-secret";

/// Log lines of the whole test binary.
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,hyper=debug,hyper_util=debug,reqwest=debug,h2=debug",
            ))
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captured log text so far.
pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// A task token for `id`.
pub fn task_token(id: &str, iteration: u32) -> String {
    format!("{TOKEN_MARK}-{id}-{iteration}-{}", "x".repeat(64))
}

/// A response, read fully.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors array: {}", self.body))
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Bearer tokens of the three reviewers.
#[derive(Debug, Clone)]
pub struct Reviewers {
    /// rita: group `reviewers`.
    pub rita: String,
    /// mark: group `marketing`.
    pub mark: String,
    /// ada: group `admin`.
    pub ada: String,
    /// anna: group `analyst` (may read analytics, may decide nothing).
    pub anna: String,
}

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn WorkflowStore>,
    pub resumer: Arc<RecordingResumer>,
    pub clock: Arc<FixedClock>,
    pub reviewers: Reviewers,
}

impl Server {
    /// Starts a server with the recording resumer.
    pub async fn start() -> Self {
        let resumer = Arc::new(RecordingResumer::default());
        Self::start_with(resumer.clone(), resumer).await
    }

    /// Starts a server with a custom resumer (`recording` is kept for assertions) and a
    /// submission rate limit high enough for the load tests.
    pub async fn start_with(
        resumer: Arc<dyn ExecutionResumer>,
        recording: Arc<RecordingResumer>,
    ) -> Self {
        Self::start_limited(resumer, recording, 100_000, 6_000_000).await
    }

    /// Starts a server with the given per-principal submission limit.
    pub async fn start_limited(
        resumer: Arc<dyn ExecutionResumer>,
        recording: Arc<RecordingResumer>,
        burst: u32,
        per_minute: u32,
    ) -> Self {
        Self::start_signing_in(resumer, recording, burst, per_minute, None).await
    }

    /// Starts a server that also signs in with ID tokens of the test issuer (as
    /// `hitl serve --oidc-issuer` does), beside the reviewer tokens.
    pub async fn start_with_issuer(verifier: hitl_api::oidc::OidcVerifier) -> Self {
        let resumer = Arc::new(RecordingResumer::default());
        Self::start_signing_in(
            resumer.clone(),
            resumer,
            100_000,
            6_000_000,
            Some(Arc::new(verifier)),
        )
        .await
    }

    async fn start_signing_in(
        resumer: Arc<dyn ExecutionResumer>,
        recording: Arc<RecordingResumer>,
        burst: u32,
        per_minute: u32,
        issuer: Option<Arc<hitl_api::oidc::OidcVerifier>>,
    ) -> Self {
        logs();
        let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let clock = Arc::new(FixedClock::default());
        let mut file = ReviewersFile::default();
        let reviewers = Reviewers {
            rita: file.add("rita", &["reviewers".into()]).unwrap(),
            mark: file.add("mark", &["marketing".into()]).unwrap(),
            ada: file.add("ada", &["admin".into()]).unwrap(),
            anna: file.add("anna", &["analyst".into()]).unwrap(),
        };
        let state = AppState::new(
            store.clone(),
            resumer,
            clock.clone(),
            Arc::new(hitl_api::oidc::SignIn::new(
                Arc::new(ReviewerTokens::new(&file)),
                issuer,
            )),
        )
        .with_rate_limit(burst, per_minute);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = hitl_api::router(state);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().build().unwrap(),
            store,
            resumer: recording,
            clock,
            reviewers,
        }
    }

    /// Sends a request and checks that no task token and no reviewer token is in the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.text().await.unwrap();
        let resp = Resp {
            status,
            headers,
            body,
        };
        self.assert_clean(&resp);
        resp
    }

    /// Panics if the answer contains a task token or a reviewer token.
    pub fn assert_clean(&self, resp: &Resp) {
        let mut texts = vec![resp.body.clone()];
        texts.extend(resp.headers.iter().map(|(n, v)| format!("{n}: {v}")));
        for text in texts {
            assert!(!text.contains(TOKEN_MARK), "task token leaked: {text}");
            for token in [
                &self.reviewers.rita,
                &self.reviewers.mark,
                &self.reviewers.ada,
                &self.reviewers.anna,
            ] {
                assert!(
                    !text.contains(token.as_str()),
                    "reviewer token leaked: {text}"
                );
            }
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        self.send(request).await
    }

    /// POSTs JSON feedback with a key.
    pub async fn feedback(&self, id: &str, token: &str, key: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .post(format!("{}/workflows/{id}/feedback", self.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(body.to_string()),
        )
        .await
    }

    pub fn now(&self) -> DateTime<Utc> {
        use hitl_domain::ports::Clock;
        self.clock.now()
    }

    /// Stores a workflow waiting for review of iteration 1 in `group`, with its draft.
    pub async fn awaiting(&self, id: &str, group: &str) -> Workflow {
        let wf = awaiting(id, group, self.now());
        self.store.create_workflow(&wf).await.unwrap();
        self.store
            .put_artifact(id, &artifact(1, draft(1), self.now()))
            .await
            .unwrap();
        wf
    }

    /// Stores a workflow waiting for review of iteration 2: iteration 1 got changes requested
    /// by sam (in the audit trail), drafts 1 and 2 differ in tagline and colors.secondary.
    pub async fn second_iteration(&self, id: &str) -> Workflow {
        let now = self.now();
        let first = awaiting(id, "reviewers", now);
        let submission = Submission {
            resolution: None,
            iteration: 1,
            decision: Decision::RequestChanges,
            reviewer: "sam".into(),
            reviewer_id: "name:sam".into(),
            comments: "Make the tagline warmer.".into(),
            corrections: vec![Correction {
                field: "tagline".into(),
                value: "Good mornings, brewed".into(),
            }],
            idempotency_key: "k-sam-1".into(),
        };
        let applied = rules::decide(&first, &submission, now).unwrap();
        let (_, next) = rules::check_iteration(&applied.workflow, 1, now).unwrap();
        let next = next.unwrap();
        let next = rules::record_artifact(&next, 2, "h2", now)
            .unwrap()
            .unwrap();
        let wf = rules::request_review(&next, 2, TaskToken::new(task_token(id, 2)), now).unwrap();
        self.store.create_workflow(&wf).await.unwrap();
        self.store
            .record_feedback(
                &FeedbackEntry {
                    resolution: None,
                    workflow_id: id.into(),
                    idempotency_key: "k-sam-1".into(),
                    request_fingerprint: "fp".into(),
                    iteration: 1,
                    decision: Decision::RequestChanges,
                    reviewer: "sam".into(),
                    comments: submission.comments.clone(),
                    corrections: submission.corrections.clone(),
                    channel: "api".into(),
                    received_at: now,
                    outcome: FeedbackOutcome::Applied {
                        status: WorkflowStatus::Revising,
                    },
                },
                None,
            )
            .await
            .unwrap();
        for i in [1, 2] {
            self.store
                .put_artifact(id, &artifact(i, draft(i), now))
                .await
                .unwrap();
        }
        wf
    }

    /// Stores an escalated workflow (iteration limit).
    pub async fn escalated(&self, id: &str) -> Workflow {
        let wf = awaiting(id, "reviewers", self.now());
        let wf = rules::escalate(
            &wf,
            EscalationReason::IterationLimit,
            "limit",
            None,
            self.now(),
        )
        .unwrap()
        .unwrap();
        self.store.create_workflow(&wf).await.unwrap();
        wf
    }

    /// Stores a workflow whose first draft is still being generated.
    pub async fn generating(&self, id: &str) -> Workflow {
        let wf = sample_workflow(id);
        self.store.create_workflow(&wf).await.unwrap();
        wf
    }
}

/// A workflow waiting for review of iteration 1 (not stored).
pub fn awaiting(id: &str, group: &str, now: DateTime<Utc>) -> Workflow {
    let mut wf = sample_workflow(id);
    wf.config.reviewer_group = group.into();
    wf.execution_arn = Some(format!(
        "arn:aws:states:eu-west-1:123456789012:execution:hitl-review:{id}"
    ));
    let wf = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
    rules::request_review(&wf, 1, TaskToken::new(task_token(id, 1)), now).unwrap()
}

/// The draft of iteration `i`.
pub fn draft(i: u32) -> Value {
    let mut content = json!({
        "name": "Acme Coffee",
        "tagline": "Discover Acme Coffee",
        "description": "Acme Coffee is a food brand offering products for general consumers.",
        "category": "food",
        "tone": "friendly",
        "target_audience": "general consumers",
        "keywords": ["acme", "coffee", "food"],
        "colors": {"primary": "#112233"}
    });
    if i >= 2 {
        content["tagline"] = json!("Good mornings, brewed");
        content["colors"]["secondary"] = json!("#445566");
    }
    content
}

pub fn artifact(iteration: u32, content: Value, now: DateTime<Utc>) -> Artifact {
    Artifact {
        iteration,
        hash: hitl_domain::metadata::content_hash(&content),
        content,
        generator: "local-generator".into(),
        created_at: now + Duration::seconds(i64::from(iteration)),
        usage: None,
    }
}

pub fn approve(iteration: u32) -> Value {
    json!({"iteration": iteration, "decision": "approve"})
}

pub fn request_changes(iteration: u32, comments: &str) -> Value {
    json!({"iteration": iteration, "decision": "request_changes", "comments": comments})
}
