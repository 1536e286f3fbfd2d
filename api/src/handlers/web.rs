//! The review web page and the OpenAPI description, embedded at compile time: plain HTML, CSS
//! and JavaScript with no external resources, served with a strict Content-Security-Policy.

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
/// The modules `app.js` imports, served under `/js/` by file name (nothing else is).
pub const SCRIPT_MODULES: [(&str, &str); 13] = [
    ("api.js", include_str!("../../web/js/api.js")),
    ("auth.js", include_str!("../../web/js/auth.js")),
    ("claims.js", include_str!("../../web/js/claims.js")),
    ("decision.js", include_str!("../../web/js/decision.js")),
    ("editor.js", include_str!("../../web/js/editor.js")),
    ("escalation.js", include_str!("../../web/js/escalation.js")),
    ("messages.js", include_str!("../../web/js/messages.js")),
    ("page.js", include_str!("../../web/js/page.js")),
    ("queue.js", include_str!("../../web/js/queue.js")),
    ("session.js", include_str!("../../web/js/session.js")),
    ("state.js", include_str!("../../web/js/state.js")),
    (
        "submissions.js",
        include_str!("../../web/js/submissions.js"),
    ),
    ("workflow.js", include_str!("../../web/js/workflow.js")),
];
const APP_CSS: &str = include_str!("../../web/app.css");
const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's policy: [`CSP`], with the issuer's origins allowed for `fetch` when reviewers
/// sign in with an issuer (the code exchange, refresh and revocation go there).
fn csp(origins: &[String]) -> String {
    if origins.is_empty() {
        return CSP.to_owned();
    }
    CSP.replace(
        "connect-src 'self'",
        &format!("connect-src 'self' {}", origins.join(" ")),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    with_policy(content_type, body, CSP.to_owned())
}

fn with_policy(content_type: &'static str, body: &'static str, policy: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static(CSP)),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) async fn index(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> Response {
    let origins = state.page_auth.connect_origins();
    with_policy("text/html; charset=utf-8", INDEX_HTML, csp(&origins))
}

/// `GET /auth/config`: how the page signs reviewers in (public: it holds no secret).
pub(crate) async fn auth_config(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> axum::Json<crate::oidc::PageAuth> {
    axum::Json(state.page_auth.as_ref().clone())
}

pub(crate) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /js/{file}`: one of [`SCRIPT_MODULES`]; any other name is a 404.
pub(crate) async fn script_module(file: Result<Path<String>, PathRejection>) -> Response {
    let module = file
        .ok()
        .and_then(|Path(file)| SCRIPT_MODULES.iter().find(|(name, _)| *name == file));
    match module {
        Some((_, body)) => asset("text/javascript; charset=utf-8", body),
        None => ApiError::NotFound("no such script module".into()).into_response(),
    }
}

pub(crate) async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

pub(crate) async fn openapi() -> Response {
    asset("application/yaml; charset=utf-8", OPENAPI_YAML)
}
