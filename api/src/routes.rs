//! Every route of the router and every status code it can answer with, in one table. The
//! router registers its paths from these constants and a test compares the table with
//! `api/openapi.yaml`, so the description cannot drift from the code.

use hitl_domain::rules::Rejection;

/// Liveness probe.
pub const HEALTHZ: &str = "/healthz";
/// The review queue of the caller.
pub const REVIEWS: &str = "/reviews";
/// The escalations the caller's groups resolve.
pub const ESCALATIONS: &str = "/escalations";
/// One workflow.
pub const WORKFLOW: &str = "/workflows/{id}";
/// Submitting a decision (POST) and paging the audit trail (GET).
pub const FEEDBACK: &str = "/workflows/{id}/feedback";
/// Resolving an escalated workflow (its escalation group and admins).
pub const RESOLUTION: &str = "/workflows/{id}/resolution";
/// Claiming (POST) and releasing (DELETE) the iteration under review.
pub const CLAIM: &str = "/workflows/{id}/claim";
/// Learning analytics (analysts and admins).
pub const ANALYTICS: &str = "/analytics";
/// The artifact types (issue 28).
pub const TYPES: &str = "/types";
/// One artifact type, at its current version or `?version=`.
pub const TYPE: &str = "/types/{name}";
/// The review web page.
pub const INDEX: &str = "/";
/// The page's script.
pub const APP_JS: &str = "/app.js";
/// The page's script modules (a fixed set, imported by `/app.js`).
pub const SCRIPT_MODULE: &str = "/js/{file}";
/// The page's stylesheet.
pub const APP_CSS: &str = "/app.css";
/// This API's OpenAPI description.
pub const OPENAPI: &str = "/openapi.yaml";
/// How the review page signs reviewers in (token or OpenID Connect settings).
pub const AUTH_CONFIG: &str = "/auth/config";

/// One route: method, path (OpenAPI template syntax, which axum 0.8 shares) and the status
/// codes it can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// Lower-case HTTP method, as OpenAPI spells it.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Whether the caller must be authenticated.
    pub authenticated: bool,
    /// Every status the route can answer with.
    pub statuses: &'static [u16],
}

/// The routes of [`crate::router`].
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "get",
        path: HEALTHZ,
        authenticated: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "get",
        path: REVIEWS,
        authenticated: true,
        statuses: &[200, 400, 401, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: ESCALATIONS,
        authenticated: true,
        statuses: &[200, 400, 401, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: WORKFLOW,
        authenticated: true,
        statuses: &[200, 401, 404, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: FEEDBACK,
        authenticated: true,
        statuses: &[200, 400, 401, 404, 500, 503],
    },
    RouteSpec {
        method: "post",
        path: FEEDBACK,
        authenticated: true,
        statuses: &[200, 400, 401, 404, 409, 413, 415, 429, 500, 503],
    },
    RouteSpec {
        method: "post",
        path: RESOLUTION,
        authenticated: true,
        statuses: &[200, 400, 401, 404, 409, 413, 415, 429, 500, 503],
    },
    RouteSpec {
        method: "post",
        path: CLAIM,
        authenticated: true,
        statuses: &[200, 400, 401, 404, 409, 413, 415, 429, 500, 503],
    },
    RouteSpec {
        method: "delete",
        path: CLAIM,
        authenticated: true,
        statuses: &[200, 401, 404, 409, 429, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: ANALYTICS,
        authenticated: true,
        statuses: &[200, 400, 401, 403, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: TYPES,
        authenticated: true,
        statuses: &[200, 401, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: TYPE,
        authenticated: true,
        statuses: &[200, 400, 401, 404, 500, 503],
    },
    RouteSpec {
        method: "get",
        path: INDEX,
        authenticated: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "get",
        path: APP_JS,
        authenticated: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "get",
        path: SCRIPT_MODULE,
        authenticated: false,
        statuses: &[200, 404],
    },
    RouteSpec {
        method: "get",
        path: APP_CSS,
        authenticated: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "get",
        path: OPENAPI,
        authenticated: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "get",
        path: AUTH_CONFIG,
        authenticated: false,
        statuses: &[200],
    },
];

/// Largest accepted request body: 64 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest look-back `GET /analytics` accepts, in days (bounds the work of one request).
pub const MAX_ANALYTICS_DAYS: i64 = 400;

/// The 409 reason of a submission whose idempotency key was used before for another body
/// (the processor's, not a rule's).
pub const KEY_REUSED_REASON: &str = "idempotency_key_reused";

/// `reason` values of 409 responses: every rejection of the rules (one list, in the domain)
/// and the reused key. The OpenAPI enum, the page's messages and API.md's tables are checked
/// against it (`api/tests/conflict_reasons.rs`).
pub const CONFLICT_REASONS: [&str; Rejection::NAMES.len() + 1] = {
    let mut reasons = [KEY_REUSED_REASON; Rejection::NAMES.len() + 1];
    let mut i = 0;
    while i < Rejection::NAMES.len() {
        reasons[i] = Rejection::NAMES[i];
        i += 1;
    }
    reasons
};
