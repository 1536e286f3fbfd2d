//! The router: which handler answers each route of [`crate::routes`], the body limit, and the
//! access log every response passes through.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracing::info;

use crate::handlers::{analytics, claims, queue, submit, types, web, workflow};
use crate::routes;
use crate::state::AppState;

/// The router. Paths come from [`routes`], whose table the OpenAPI test checks.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(healthz))
        .route(routes::REVIEWS, get(queue::list_reviews))
        .route(routes::ESCALATIONS, get(queue::list_escalations))
        .route(routes::WORKFLOW, get(workflow::get_workflow))
        .route(
            routes::FEEDBACK,
            post(submit::submit_feedback).get(workflow::list_feedback),
        )
        .route(routes::RESOLUTION, post(submit::submit_resolution))
        .route(
            routes::CLAIM,
            post(claims::claim_review).delete(claims::release_review),
        )
        .route(routes::ANALYTICS, get(analytics::analytics))
        .route(routes::TYPES, get(types::list_types))
        .route(routes::TYPE, get(types::get_type))
        .route(routes::INDEX, get(web::index))
        .route(routes::APP_JS, get(web::app_js))
        .route(routes::SCRIPT_MODULE, get(web::script_module))
        .route(routes::APP_CSS, get(web::app_css))
        .route(routes::OPENAPI, get(web::openapi))
        .route(routes::AUTH_CONFIG, get(web::auth_config))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(routes::MAX_BODY_BYTES))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
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
