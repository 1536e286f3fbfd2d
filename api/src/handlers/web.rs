//! The review web page and the OpenAPI description, embedded at compile time: plain HTML, CSS
//! and JavaScript with no external resources, served with a strict Content-Security-Policy.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
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

pub(crate) async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

pub(crate) async fn openapi() -> Response {
    asset("application/yaml; charset=utf-8", OPENAPI_YAML)
}
