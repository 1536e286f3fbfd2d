//! What every handler shares: the process's ports ([`Ports`], wired once per kind of process),
//! the identity source and the per-deployment settings ([`AppState`]), and the authenticated
//! caller ([`Caller`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use hitl_app::Ports;
use hitl_domain::ports::{Clock, ExecutionResumer, LogMetrics};
use hitl_domain::store::WorkflowStore;

use crate::error::ApiError;
use crate::identity::{Identity, IdentitySource};
use crate::{cursor, oidc, rate_limit};

/// What the router needs: the process's ports and an identity source.
#[derive(Clone)]
pub struct AppState {
    /// The store, the clock, the resumer (Step Functions, or the local engine) and the
    /// metrics sink the use cases run over.
    pub ports: Ports,
    /// Who is calling.
    pub identity: Arc<dyn IdentitySource>,
    /// Per-principal limit on decision submissions.
    pub rate_limit: Arc<rate_limit::RateLimiter>,
    /// Seals the queue's page cursors.
    pub cursors: cursor::CursorSeal,
    /// How the review page signs reviewers in (`GET /auth/config`).
    pub page_auth: Arc<oidc::PageAuth>,
}

impl AppState {
    /// The state over a process's ports (the API uses the store, the clock, the resumer and
    /// the metrics sink).
    pub fn over(ports: Ports, identity: Arc<dyn IdentitySource>) -> Self {
        Self {
            ports,
            identity,
            rate_limit: Arc::new(rate_limit::RateLimiter::default()),
            cursors: cursor::CursorSeal::random(),
            page_auth: Arc::new(oidc::PageAuth::Token),
        }
    }

    /// [`AppState::over`] the given store, resumer and clock, metrics to the debug log (tests).
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        resumer: Arc<dyn ExecutionResumer>,
        clock: Arc<dyn Clock>,
        identity: Arc<dyn IdentitySource>,
    ) -> Self {
        Self::over(
            Ports::new(store, clock)
                .with_resumer(resumer)
                .with_metrics(Arc::new(LogMetrics)),
            identity,
        )
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

/// A request about one workflow with a body (submissions, claims): the authenticated caller
/// first (401 before anything else is read), then the id, the headers and the body, each
/// left for the handler to refuse with its own answer.
pub struct WorkflowPost {
    /// The process's state.
    pub state: AppState,
    /// Who is calling.
    pub caller: Identity,
    /// The `{id}` of the path.
    pub path: Result<Path<String>, PathRejection>,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The body, within the router's limit.
    pub body: Result<Bytes, BytesRejection>,
}

impl FromRequest<AppState> for WorkflowPost {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let Caller(caller) = Caller::from_request_parts(&mut parts, state).await?;
        let path = Path::<String>::from_request_parts(&mut parts, state).await;
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state).await;
        Ok(Self {
            state: state.clone(),
            caller,
            path,
            headers,
            body,
        })
    }
}
