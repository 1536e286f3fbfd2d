//! The reviewers' front door: one axum [`router`] serving the review queue, the workflow
//! view, feedback submission and the review web page, used unchanged on Lambda
//! (`functions/feedback-api`) and locally (`hitl serve`). Every decision goes through the
//! shared [`FeedbackProcessor`]; this crate only authenticates, parses and maps outcomes to
//! HTTP.

pub mod cursor;
pub mod error;
pub mod files;
pub mod identity;
pub mod oidc;
pub mod rate_limit;
pub mod request;
pub mod routes;
pub mod views;
mod web;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hitl_domain::analytics;
use hitl_domain::claims::{ClaimError, ClaimReceipt, ClaimService};
use hitl_domain::feedback::{FeedbackError, FeedbackProcessor, FeedbackReceipt, Reviewer};
use hitl_domain::model::{Channel, FeedbackOutcome, WorkflowStatus};
use hitl_domain::ports::{Clock, ExecutionResumer, LogMetrics, MetricsSink};
use hitl_domain::store::{collect_report_records, StoreError, WorkflowStore};
use serde_json::json;
use tracing::{error, info, warn};

pub use error::ApiError;
pub use identity::{Identity, IdentitySource, JwtClaims, ReviewerTokens};

/// Header set on answers that replay an earlier submission with the same key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Default and largest page size of `GET /reviews`.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page size of `GET /reviews`.
pub const MAX_PAGE_SIZE: usize = 100;
/// Store pages read at most to fill one page of the caller's queue.
const MAX_QUEUE_SCANS: usize = 20;
/// `channel` recorded in the audit trail for decisions made over HTTP.
pub const CHANNEL: Channel = Channel::Api;

/// What the router needs: the ports of the feedback processor and an identity source.
#[derive(Clone)]
pub struct AppState {
    /// Workflow store.
    pub store: Arc<dyn WorkflowStore>,
    /// Resumes the waiting execution (Step Functions, or the local engine).
    pub resumer: Arc<dyn ExecutionResumer>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Who is calling.
    pub identity: Arc<dyn IdentitySource>,
    /// Per-principal limit on decision submissions.
    pub rate_limit: Arc<rate_limit::RateLimiter>,
    /// Seals the queue's page cursors.
    pub cursors: cursor::CursorSeal,
    /// How the review page signs reviewers in (`GET /auth/config`).
    pub page_auth: Arc<oidc::PageAuth>,
    /// Where the processor's metrics go (debug logs unless [`AppState::with_metrics`]).
    pub metrics: Arc<dyn MetricsSink>,
}

impl AppState {
    /// Wires the state.
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        resumer: Arc<dyn ExecutionResumer>,
        clock: Arc<dyn Clock>,
        identity: Arc<dyn IdentitySource>,
    ) -> Self {
        Self {
            store,
            resumer,
            clock,
            identity,
            rate_limit: Arc::new(rate_limit::RateLimiter::default()),
            cursors: cursor::CursorSeal::random(),
            page_auth: Arc::new(oidc::PageAuth::Token),
            metrics: Arc::new(LogMetrics),
        }
    }

    /// Sends the processor's metrics to `sink` (the EMF writer on Lambda).
    pub fn with_metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = sink;
        self
    }

    /// Sets how the review page signs reviewers in.
    pub fn with_page_auth(mut self, auth: oidc::PageAuth) -> Self {
        self.page_auth = Arc::new(auth);
        self
    }

    /// Replaces the cursor key (every instance of one deployment needs the same).
    pub fn with_cursor_seal(mut self, seal: cursor::CursorSeal) -> Self {
        self.cursors = seal;
        self
    }

    /// Replaces the submission rate limit (`burst` at once, `per_minute` sustained).
    pub fn with_rate_limit(mut self, burst: u32, per_minute: u32) -> Self {
        self.rate_limit = Arc::new(rate_limit::RateLimiter::new(burst, per_minute));
        self
    }
}

/// The authenticated caller; rejects with 401.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .identity
            .identify(parts)
            .map(Caller)
            .map_err(ApiError::Unauthenticated)
    }
}

/// The router. Paths come from [`routes`], whose table the OpenAPI test checks.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(healthz))
        .route(routes::REVIEWS, get(list_reviews))
        .route(routes::ESCALATIONS, get(list_escalations))
        .route(routes::WORKFLOW, get(get_workflow))
        .route(routes::FEEDBACK, post(submit_feedback).get(list_feedback))
        .route(routes::RESOLUTION, post(submit_resolution))
        .route(routes::CLAIM, post(claim_review).delete(release_review))
        .route(routes::ANALYTICS, get(analytics))
        .route(routes::INDEX, get(web::index))
        .route(routes::APP_JS, get(web::app_js))
        .route(routes::APP_CSS, get(web::app_css))
        .route(routes::OPENAPI, get(web::openapi))
        .route(routes::AUTH_CONFIG, get(web::auth_config))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(routes::MAX_BODY_BYTES))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// Binds a TCP listener for [`serve`] (port 0 picks a free port; see `local_addr()`).
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Limits of [`serve`]: how long a client may take to send a request's head, how long one
/// request may take in all, and how many connections are served at once, in all and per client.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Time to receive a request's headers (a half-sent request is dropped after it).
    pub header_read_timeout: std::time::Duration,
    /// Time for one request from its first byte to the response (503 after it).
    pub request_timeout: std::time::Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Connections served at once from one client address. A connection beyond it is answered
    /// 503 at once and closed, so one client (say, holding half-sent requests) cannot take the
    /// slots of [`ServeLimits::max_connections`] that everyone else needs. Behind a reverse
    /// proxy every connection comes from the proxy's address: raise it to `max_connections`.
    pub max_connections_per_client: usize,
}

/// Default of [`ServeLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u16 = 256;
/// Default of [`ServeLimits::max_connections_per_client`]: an eighth of the connections, far
/// more than a browser opens to one site (six).
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: u16 = 32;

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(30),
            max_connections: usize::from(DEFAULT_MAX_CONNECTIONS),
            max_connections_per_client: usize::from(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
        }
    }
}

/// Open connections per client address (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Default)]
struct ClientConnections {
    open: std::sync::Mutex<HashMap<std::net::IpAddr, usize>>,
}

/// One open connection of a client, counted until dropped.
struct ClientConnection {
    clients: Arc<ClientConnections>,
    ip: std::net::IpAddr,
}

impl ClientConnections {
    /// Counts a new connection from `ip`, unless the client already has `limit` open.
    fn open(self: &Arc<Self>, ip: std::net::IpAddr, limit: usize) -> Option<ClientConnection> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ClientConnection {
            clients: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What a connection over its client's limit gets before it is closed: a 503 like the API's
/// others (`unavailable`, with `Retry-After`).
fn too_many_connections() -> Vec<u8> {
    let body = json!({
        "error": "unavailable",
        "message": "too many connections from this client; retry",
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        error::RETRY_AFTER_SECONDS,
        body.len()
    )
    .into_bytes()
}

/// Serves the router on `listener` until the process ends (the local `hitl serve`), with the
/// default [`ServeLimits`].
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_with(listener, state, ServeLimits::default()).await
}

/// [`serve`] with explicit limits: half-sent requests are dropped after the header timeout,
/// slow handlers answer 503 after the request timeout, at most `max_connections` are open, and
/// at most `max_connections_per_client` of them from one client address (a connection beyond
/// that is answered 503 and closed at once, without waiting for a slot).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let app = router(state).layer(axum::middleware::from_fn(move |request, next: Next| {
        let timeout = limits.request_timeout;
        async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    ApiError::Unavailable("the request took too long; retry".into()).into_response()
                }
            }
        }
    }));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(ClientConnections::default());
    let per_client = limits.max_connections_per_client.max(1);
    loop {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: back off instead of spinning.
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(client) = clients.open(peer.ip(), per_client) else {
            // The socket's send buffer is empty, so the answer goes out without waiting; the
            // slot is free again at once.
            let _ = stream.try_write(&too_many_connections());
            drop(stream);
            drop(permit);
            tracing::debug!(client = %peer.ip(), limit = per_client, "too many connections from one client");
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
            drop(client);
            drop(permit);
        });
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn no_route() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "no_route", "message": "no such route"})),
    )
        .into_response()
}

/// One line per request: method, route template, status, duration. Never headers or bodies,
/// so neither bearer tokens nor anything a body might carry reach the log.
async fn access_log(request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |m| m.as_str().to_owned());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    info!(
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(id) => ApiError::NotFound(format!("workflow {id} not found")),
        StoreError::Corrupt { key, .. } => {
            error!(item = %key, "stored item could not be decoded");
            ApiError::Internal
        }
        StoreError::Conflict(_) => {
            ApiError::Unavailable("the workflow is busy; retry shortly".into())
        }
        other => {
            warn!(error = %error::scrub(&other.to_string()), "store unavailable");
            ApiError::Unavailable("the store is unavailable; retry shortly".into())
        }
    }
}

fn malformed_cursor(err: &StoreError) -> bool {
    matches!(err, StoreError::Backend(m) if m.contains("malformed cursor"))
}

/// Which reviews `GET /reviews?claim=` lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClaimFilter {
    Any,
    Mine,
    Unclaimed,
    Others,
}

/// `GET /reviews`: the caller's queue, optionally only one of their groups
/// (`reviewer_group=`) and by who works on it (`claim=mine|unclaimed|others|any`).
async fn list_reviews(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::ReviewPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = Vec::new();
    let group = query.get("reviewer_group").cloned();
    if group
        .as_deref()
        .is_some_and(|g| !hitl_domain::contracts::valid_id(g))
    {
        errors.push(hitl_domain::FieldError::new(
            "reviewer_group",
            "must be 1..=64 characters of letters, digits, '-' or '_'",
        ));
    }
    let claim = match query.get("claim").map(String::as_str) {
        None | Some("any") => ClaimFilter::Any,
        Some("mine") => ClaimFilter::Mine,
        Some("unclaimed") => ClaimFilter::Unclaimed,
        Some("others") => ClaimFilter::Others,
        Some(_) => {
            errors.push(hitl_domain::FieldError::new(
                "claim",
                "must be one of any, mine, unclaimed, others",
            ));
            ClaimFilter::Any
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let now = state.clock.now();
    let visible = |caller: &Identity, w: &hitl_domain::model::Workflow| {
        let holder = w.pending_review.as_ref().and_then(|p| p.live_claim(now));
        let mine = holder.is_some_and(|c| c.held_by(&caller.id, &caller.name));
        caller.may_review(&w.config.reviewer_group)
            && group.as_ref().is_none_or(|g| &w.config.reviewer_group == g)
            && match claim {
                ClaimFilter::Any => true,
                ClaimFilter::Mine => mine,
                ClaimFilter::Unclaimed => holder.is_none(),
                ClaimFilter::Others => holder.is_some() && !mine,
            }
    };
    let (items, next_cursor) = queue(
        &state,
        &caller,
        query,
        &["reviewer_group", "claim"],
        WorkflowStatus::AwaitingReview,
        &visible,
        views::review_item,
    )
    .await?;
    Ok(Json(views::ReviewPage {
        viewer: caller.name.clone(),
        items,
        next_cursor,
    }))
}

/// `GET /escalations`: escalated workflows waiting for a resolution by one of the caller's
/// groups (their escalation group, or any for `admin`), newest first.
async fn list_escalations(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::EscalationPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let (items, next_cursor) = queue(
        &state,
        &caller,
        query,
        &[],
        WorkflowStatus::Escalated,
        &|caller, w| {
            caller.may_review(&w.config.escalation_group)
                && w.escalation.as_ref().is_some_and(|e| e.awaiting.is_some())
        },
        views::escalation_item,
    )
    .await?;
    Ok(Json(views::EscalationPage { items, next_cursor }))
}

/// One page of the workflows in `status` that `visible` lets the caller see, mapped by `item`,
/// and the sealed cursor of the next page (`limit` and `cursor` as the query says).
async fn queue<T>(
    state: &AppState,
    caller: &Identity,
    query: HashMap<String, String>,
    filters: &[&str],
    status: WorkflowStatus,
    visible: &(dyn Fn(&Identity, &hitl_domain::model::Workflow) -> bool + Sync),
    item: fn(&hitl_domain::model::Workflow, chrono::DateTime<chrono::Utc>) -> T,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let limit = match query.get("limit").map(|l| query_integer(l)) {
        None => DEFAULT_PAGE_SIZE,
        Some(Some(n)) if (1..=MAX_PAGE_SIZE as u64).contains(&n) => n as usize,
        Some(_) => {
            errors.push(hitl_domain::FieldError::new(
                "limit",
                format!("must be an integer in 1..={MAX_PAGE_SIZE}"),
            ));
            0
        }
    };
    let mut cursor = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match state.cursors.open(c) {
            Some(decoded) => Some(decoded),
            None => {
                errors.push(hitl_domain::FieldError::new(
                    "cursor",
                    "is not a cursor returned by this API",
                ));
                None
            }
        },
    };
    let known: Vec<&str> = ["limit", "cursor"].iter().chain(filters).copied().collect();
    for key in query.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            format!("is not a known parameter; expected {}", known.join(", ")),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut items = Vec::new();
    for _ in 0..MAX_QUEUE_SCANS {
        let need = limit - items.len();
        let page = state
            .store
            .list_by_status(status, need, cursor.as_deref())
            .await
            .map_err(|e| {
                if malformed_cursor(&e) {
                    ApiError::field("cursor", "is not a cursor returned by this API")
                } else {
                    store_error(e)
                }
            })?;
        let now = state.clock.now();
        items.extend(
            page.items
                .iter()
                .filter(|w| visible(caller, w))
                .map(|w| item(w, now)),
        );
        cursor = page.next_cursor;
        if items.len() >= limit || cursor.is_none() {
            break;
        }
    }
    Ok((items, cursor.map(|c| state.cursors.seal(&c))))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("workflow {id} not found"))
}

/// The workflow `id` if the caller may see it; a non-member gets the same 404 as for an
/// unknown id, so they learn nothing, not even that it exists.
async fn visible_workflow(
    state: &AppState,
    caller: &identity::Identity,
    id: &str,
) -> Result<hitl_domain::model::Workflow, ApiError> {
    if id.is_empty() || id.len() > 64 {
        return Err(not_found(&id.chars().take(64).collect::<String>()));
    }
    let workflow = state
        .store
        .get_workflow(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(id))?;
    // Its reviewers, and its escalation group (who resolve it when it escalates).
    if !caller.may_review(&workflow.config.reviewer_group)
        && !caller.may_review(&workflow.config.escalation_group)
    {
        return Err(not_found(id));
    }
    Ok(workflow)
}

async fn get_workflow(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<views::WorkflowView>, ApiError> {
    let Path(id) = path.map_err(|_| not_found("(unreadable id)"))?;
    let workflow = visible_workflow(&state, &caller, &id).await?;
    let artifacts = state.store.list_artifacts(&id).await.map_err(store_error)?;
    let trail = state.store.list_feedback(&id).await.map_err(store_error)?;
    Ok(Json(views::workflow_view(
        &workflow,
        &artifacts,
        &trail,
        state.clock.now(),
        &caller,
    )))
}

async fn list_feedback(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::FeedbackPage>, ApiError> {
    let Path(id) = path.map_err(|_| not_found("(unreadable id)"))?;
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = Vec::new();
    let page = match query.get("page").map(|p| query_integer(p)) {
        None => 1,
        Some(Some(n)) if (1..=1000).contains(&n) => n as usize,
        Some(_) => {
            errors.push(hitl_domain::FieldError::new(
                "page",
                "must be an integer in 1..=1000",
            ));
            1
        }
    };
    for key in query.keys().filter(|k| k.as_str() != "page") {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            "is not a known parameter; expected page",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    visible_workflow(&state, &caller, &id).await?;
    let trail = state.store.list_feedback(&id).await.map_err(store_error)?;
    Ok(Json(views::feedback_page(&trail, page)))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The answer for a receipt: 200 for an applied decision, 409 for a rule rejection. Built only from the stored entry, so a replay gets the
/// same status and body; replays also carry `Idempotent-Replayed: true`.
fn receipt_response(receipt: &FeedbackReceipt) -> Response {
    let mut response = match &receipt.outcome {
        FeedbackOutcome::Applied { status } => (
            StatusCode::OK,
            Json(views::FeedbackAccepted::new(receipt, *status)),
        )
            .into_response(),
        // Entries recorded before non-members' attempts were kept out of the trail.
        FeedbackOutcome::Rejected { reason, .. } if reason == "not_authorized" => {
            not_found(&receipt.workflow_id).into_response()
        }
        FeedbackOutcome::Rejected { reason, message } => ApiError::Conflict {
            reason: reason.clone(),
            message: message.clone(),
        }
        .into_response(),
    };
    if receipt.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

async fn submit_feedback(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    submit(
        state,
        caller,
        path,
        headers,
        body,
        Submission {
            validate: request::parse_and_validate,
            bucket: "decisions",
        },
    )
    .await
}

/// `POST /workflows/{id}/resolution`: resolve, extend, reassign or abandon an escalated
/// workflow. The same processor, audit trail, idempotency and delivery as a decision; only
/// the workflow's escalation group (and `admin`) may; anyone else gets the unknown-workflow
/// answer.
async fn submit_resolution(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    submit(
        state,
        caller,
        path,
        headers,
        body,
        Submission {
            validate: request::parse_and_validate_resolution,
            bucket: "resolutions",
        },
    )
    .await
}

/// `POST /workflows/{id}/claim`: the caller takes (or renews) the claim on the iteration
/// under review; while it is live another reviewer's decision is a 409 `claimed_by_other`.
async fn claim_review(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let workflow_id = match claim_gate(&state, &caller, path) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let body = match read_body(body) {
        Ok(b) => b,
        Err(refused) => return refused.into_response(),
    };
    if !body.iter().all(u8::is_ascii_whitespace) && !is_json(&headers) {
        return ApiError::UnsupportedMediaType.into_response();
    }
    let iteration = match request::parse_claim(&body) {
        Ok(i) => i,
        Err(errors) => return ApiError::Invalid(errors).into_response(),
    };
    claim_response(
        &workflow_id,
        claims(&state)
            .claim(&workflow_id, iteration, &reviewer_of(&caller))
            .await,
    )
}

/// `DELETE /workflows/{id}/claim`: the holder releases the claim (an admin may release
/// anyone's); releasing when nothing is held is a 200 with `claim: null`.
async fn release_review(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let workflow_id = match claim_gate(&state, &caller, path) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    claim_response(
        &workflow_id,
        claims(&state)
            .release(&workflow_id, &reviewer_of(&caller))
            .await,
    )
}

/// What both claim routes check first: a readable id, and the caller's claim rate limit (a
/// bucket of its own, apart from decisions and resolutions).
fn claim_gate(
    state: &AppState,
    caller: &Identity,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let Ok(Path(workflow_id)) = path else {
        return Err(not_found("(unreadable id)"));
    };
    state
        .rate_limit
        .check(&format!("claims\u{0}{}", caller.name))
        .map_err(ApiError::TooManyRequests)?;
    Ok(workflow_id)
}

fn claims(
    state: &AppState,
) -> ClaimService<Arc<dyn hitl_domain::store::WorkflowStore>, Arc<dyn Clock>> {
    ClaimService::new(Arc::clone(&state.store), Arc::clone(&state.clock))
}

/// The body as read, or why not: 413 past the size limit, 400 otherwise.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::field("body", "could not be read")
        }
    })
}

/// The caller as the domain's submitter of decisions and claims (channel `api`).
fn reviewer_of(caller: &Identity) -> Reviewer {
    Reviewer {
        name: caller.name.clone(),
        id: Some(caller.id.clone()),
        groups: Some(caller.groups.clone()),
        channel: CHANNEL,
    }
}

fn claim_response(workflow_id: &str, result: Result<ClaimReceipt, ClaimError>) -> Response {
    match result {
        Ok(receipt) => Json(receipt).into_response(),
        // A non-member learns nothing, not even that the workflow exists.
        Err(ClaimError::NotFound(_) | ClaimError::Forbidden { .. }) => {
            not_found(&workflow_id.chars().take(64).collect::<String>()).into_response()
        }
        Err(ClaimError::Refused(rejection)) => ApiError::Conflict {
            reason: rejection.name().to_owned(),
            message: rejection.to_string(),
        }
        .into_response(),
        // An authenticated caller always has an identity; kept for completeness.
        Err(ClaimError::InvalidReviewer(why)) => ApiError::field("reviewer", why).into_response(),
        Err(ClaimError::Store(e)) => store_error(e).into_response(),
    }
}

type Validate = fn(
    &str,
    &[u8],
    Option<&str>,
    &Reviewer,
) -> Result<hitl_domain::feedback::ValidFeedback, Vec<hitl_domain::FieldError>>;

/// What kind of submission a POST carries: how its body is validated, and its rate-limit
/// bucket (decisions and resolutions are limited separately per caller, so resolving
/// escalations is not blocked by one's own review decisions).
struct Submission {
    validate: Validate,
    bucket: &'static str,
}

async fn submit(
    state: AppState,
    caller: Identity,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: Submission,
) -> Response {
    let Path(workflow_id) = match path {
        Ok(p) => p,
        Err(_) => return not_found("(unreadable id)").into_response(),
    };
    if let Err(seconds) = state
        .rate_limit
        .check(&format!("{}\u{0}{}", kind.bucket, caller.name))
    {
        warn!(reviewer = %caller.name, "decision submissions rate-limited");
        return ApiError::TooManyRequests(seconds).into_response();
    }
    if !is_json(&headers) {
        return ApiError::UnsupportedMediaType.into_response();
    }
    let body = match read_body(body) {
        Ok(b) => b,
        Err(refused) => return refused.into_response(),
    };
    let key = match headers
        .get(request::IDEMPOTENCY_KEY_HEADER)
        .map(|v| v.to_str())
    {
        None => None,
        Some(Ok(k)) => Some(k.trim()),
        Some(Err(_)) => Some(""),
    };
    let reviewer = reviewer_of(&caller);
    let valid = match (kind.validate)(&workflow_id, &body, key, &reviewer) {
        Ok(v) => v,
        Err(errors) => {
            if errors.iter().any(|e| e.field == "workflow_id") {
                return not_found(&workflow_id.chars().take(64).collect::<String>())
                    .into_response();
            }
            return ApiError::Invalid(errors).into_response();
        }
    };
    let processor = FeedbackProcessor::new(
        Arc::clone(&state.store),
        Arc::clone(&state.resumer),
        Arc::clone(&state.clock),
    )
    .with_metrics(Arc::clone(&state.metrics));
    match processor.process(&valid, &reviewer).await {
        Ok(receipt) => receipt_response(&receipt),
        Err(FeedbackError::Invalid(errors)) => ApiError::Invalid(errors).into_response(),
        Err(FeedbackError::NotFound(id)) => not_found(&id).into_response(),
        // Same answer as an unknown workflow: a non-member learns nothing.
        Err(FeedbackError::Forbidden { .. }) => not_found(&workflow_id).into_response(),
        Err(FeedbackError::KeyReused(_)) => ApiError::Conflict {
            reason: "idempotency_key_reused".into(),
            message: "this Idempotency-Key was already used for a different submission; use a fresh key for a new decision".into(),
        }
        .into_response(),
        Err(FeedbackError::ResumeFailed(detail)) => {
            warn!(workflow_id = %workflow_id, detail = %error::scrub(&detail),
                "decision recorded but the execution could not be resumed");
            ApiError::Unavailable(
                "the decision is recorded but the workflow could not be resumed yet; retry with the same Idempotency-Key".into(),
            )
            .into_response()
        }
        Err(FeedbackError::Store(e)) => store_error(e).into_response(),
    }
}

/// A non-negative integer query value exactly as the description states it: ASCII digits only
/// (no sign, no spaces, no fraction), so what the server accepts is what the schema says.
fn query_integer(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Query parameters `GET /analytics` accepts.
const ANALYTICS_PARAMS: &str = "since, reviewer_group, category, include_smoke, stale_rounds, top";

/// The report options an analytics query asks for, or every field error in it.
fn analytics_options(
    query: &HashMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<analytics::ReportOptions, ApiError> {
    let mut errors = Vec::new();
    let mut options = analytics::ReportOptions::default();
    let since = query.get("since").map_or("30d", String::as_str);
    let well_formed = since.len() >= 2
        && since[..since.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && since.ends_with(['s', 'm', 'h', 'd', 'w']);
    match analytics::parse_lookback(since) {
        _ if !well_formed => errors.push(hitl_domain::FieldError::new(
            "since",
            format!(
                "must be a whole number (ASCII digits) and a unit s, m, h, d or w, e.g. 30d; got {:?}",
                since.chars().take(64).collect::<String>()
            ),
        )),
        Ok(lookback) if lookback <= chrono::Duration::days(routes::MAX_ANALYTICS_DAYS) => {
            options.since = Some(now - lookback);
        }
        Ok(_) => errors.push(hitl_domain::FieldError::new(
            "since",
            format!("must be at most {}d", routes::MAX_ANALYTICS_DAYS),
        )),
        Err(message) => errors.push(hitl_domain::FieldError::new("since", message)),
    }
    for (name, target) in [
        ("reviewer_group", &mut options.reviewer_group),
        ("category", &mut options.category),
    ] {
        match query.get(name) {
            None => {}
            Some(v) if (1..=128).contains(&v.chars().count()) => *target = Some(v.clone()),
            Some(_) => errors.push(hitl_domain::FieldError::new(
                name,
                "must be 1 to 128 characters",
            )),
        }
    }
    match query.get("include_smoke").map(String::as_str) {
        None | Some("false") => {}
        Some("true") => options.include_smoke = true,
        Some(_) => errors.push(hitl_domain::FieldError::new(
            "include_smoke",
            "must be true or false",
        )),
    }
    match query.get("stale_rounds").map(|v| query_integer(v)) {
        None => {}
        Some(Some(n)) if (1..=100).contains(&n) => options.stale_rounds = n as u32,
        Some(_) => errors.push(hitl_domain::FieldError::new(
            "stale_rounds",
            "must be an integer in 1..=100",
        )),
    }
    match query.get("top").map(|v| query_integer(v)) {
        None => {}
        Some(Some(n)) if (1..=50).contains(&n) => options.top_n = n as usize,
        Some(_) => errors.push(hitl_domain::FieldError::new(
            "top",
            "must be an integer in 1..=50",
        )),
    }
    for key in query
        .keys()
        .filter(|k| !ANALYTICS_PARAMS.split(", ").any(|p| p == k.as_str()))
    {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            format!("is not a known parameter; expected {ANALYTICS_PARAMS}"),
        ));
    }
    if errors.is_empty() {
        Ok(options)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// `GET /analytics`: the learning report as JSON (the same document as
/// `hitl report --format json`), for members of the `analyst` or `admin` group.
async fn analytics(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    if !caller.may_read_analytics() {
        return Err(ApiError::Forbidden(format!(
            "{} is in neither the {} nor the {} group",
            caller.name,
            identity::ANALYST_GROUP,
            identity::ADMIN_GROUP
        )));
    }
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let now = state.clock.now();
    let options = analytics_options(&query, now)?;
    let since = options.since.unwrap_or(now);
    let records = collect_report_records(state.store.as_ref(), since, &mut |_| {})
        .await
        .map_err(store_error)?;
    let report = analytics::compute(&records.workflows, &records.feedback, &options);
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_client_gets_its_share_of_connections_and_no_more() {
        let clients = Arc::new(ClientConnections::default());
        let flood: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let other: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| clients.open(flood, 3).unwrap()).collect();
        assert!(clients.open(flood, 3).is_none(), "over the client's limit");
        let mapped: std::net::IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert!(
            clients.open(mapped, 3).is_none(),
            "an IPv4-mapped address is the same client"
        );
        assert!(clients.open(other, 3).is_some(), "others are not affected");
        drop(held);
        assert!(
            clients.open(flood, 3).is_some(),
            "closed connections free the share"
        );
        assert!(
            clients.open.lock().unwrap().is_empty(),
            "no client is kept once gone"
        );
    }

    #[test]
    fn the_answer_over_the_limit_is_a_complete_503() {
        let answer = String::from_utf8(too_many_connections()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "unavailable");
    }
}
