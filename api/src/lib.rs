//! The reviewers' front door: one axum [`router`] serving the review queue, the workflow
//! view, feedback submission and the review web page, used unchanged on Lambda
//! (`functions/feedback-api`) and locally (`hitl serve`). Every decision goes through the
//! shared [`FeedbackProcessor`](hitl_domain::feedback::FeedbackProcessor); this crate only
//! authenticates, parses and maps outcomes to HTTP.
//!
//! By concern: [`state`](AppState) (what the handlers share), `router` (route → handler),
//! `server` (the local accept loop and its limits), `handlers` (one module per group of
//! routes, and the static page), and the auth part in [`identity`] and [`oidc`].

pub mod cursor;
pub mod error;
pub mod files;
mod handlers;
pub mod identity;
pub mod oidc;
pub mod rate_limit;
pub mod request;
mod router;
pub mod routes;
mod server;
mod state;
pub mod views;

pub use error::ApiError;
pub use handlers::queue::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use handlers::submit::REPLAYED_HEADER;
pub use handlers::CHANNEL;
pub use identity::{Identity, IdentitySource, JwtClaims, ReviewerTokens};
pub use router::router;
pub use server::{
    bind, serve, serve_with, ServeLimits, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
};
pub use state::{AppState, Caller};
