//! OpenID Connect sign-in: JWT verification for `hitl serve` with `jsonwebtoken` (signature
//! against the issuer's JSON Web Key Set, `iss`, `aud`, `exp`/`nbf` with a small leeway; only
//! asymmetric algorithms), and the settings the review page needs for the authorization-code
//! flow with PKCE. Fetching the discovery document and keys is the caller's (the CLI's), so the
//! Lambda that links this crate carries no HTTP client; on AWS the HTTP API's JWT authorizer
//! verifies tokens and the page's settings come from the environment.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::request::Parts;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::identity::{bearer_token, AuthError, Identity, IdentitySource, JwtClaims};

/// Seconds of clock skew accepted on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;
/// How often the caller should fetch the key set again (keys rotate; an unknown `kid` also
/// triggers a fetch).
pub const JWKS_REFRESH: Duration = Duration::from_secs(600);
/// Algorithms a token may be signed with: asymmetric only (never `none` or an HMAC secret).
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
];
/// Scopes the page asks for.
pub const SCOPES: &str = "openid email profile";
/// The issuer (environment of the API function on AWS).
pub const OIDC_ISSUER_ENV: &str = "OIDC_ISSUER";
/// The review page's public client id.
pub const OIDC_CLIENT_ID_ENV: &str = "OIDC_CLIENT_ID";
/// The issuer's authorization endpoint.
pub const OIDC_AUTHORIZATION_ENDPOINT_ENV: &str = "OIDC_AUTHORIZATION_ENDPOINT";
/// The issuer's token endpoint.
pub const OIDC_TOKEN_ENDPOINT_ENV: &str = "OIDC_TOKEN_ENDPOINT";
/// The issuer's sign-out endpoint (optional).
pub const OIDC_END_SESSION_ENDPOINT_ENV: &str = "OIDC_END_SESSION_ENDPOINT";
/// The issuer's token revocation endpoint (optional, RFC 7009).
pub const OIDC_REVOCATION_ENDPOINT_ENV: &str = "OIDC_REVOCATION_ENDPOINT";

/// The parts of the discovery document this server and the page use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// `issuer`.
    pub issuer: String,
    /// Where the page sends the reviewer to sign in.
    pub authorization_endpoint: String,
    /// Where the page exchanges the code and refreshes tokens.
    pub token_endpoint: String,
    /// The issuer's signing keys.
    pub jwks_uri: String,
    /// Where the page signs the reviewer out at the issuer, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// Where the page revokes the refresh token on sign-out (RFC 7009), if the issuer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
}

/// What the review page needs to sign reviewers in (`GET /auth/config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PageAuth {
    /// Paste a bearer token (`hitl reviewers add`): the zero-setup default.
    Token,
    /// OpenID Connect authorization code with PKCE.
    Oidc {
        /// The issuer.
        issuer: String,
        /// The public client the page is.
        client_id: String,
        /// Sign-in endpoint.
        authorization_endpoint: String,
        /// Token endpoint (code exchange and refresh).
        token_endpoint: String,
        /// Sign-out endpoint, if any: on "Sign out" the page sends the browser there with
        /// `client_id`, `logout_uri` (Amazon Cognito's name) and `post_logout_redirect_uri`
        /// (OpenID Connect RP-Initiated Logout), both the page's own address, so the issuer's
        /// session ends too.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_session_endpoint: Option<String>,
        /// Token revocation endpoint (RFC 7009), if any: the page revokes the refresh token on
        /// "Sign out".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revocation_endpoint: Option<String>,
        /// Scopes to ask for.
        scope: String,
        /// Whether reviewer tokens (`hitl reviewers add`) are accepted too (locally).
        reviewer_tokens: bool,
    },
}

impl PageAuth {
    /// The page settings from the environment of the API function on AWS (`OIDC_ISSUER`,
    /// `OIDC_CLIENT_ID`, `OIDC_AUTHORIZATION_ENDPOINT`, `OIDC_TOKEN_ENDPOINT`, optional
    /// `OIDC_END_SESSION_ENDPOINT` and `OIDC_REVOCATION_ENDPOINT`): `Token` when any required
    /// one is missing.
    pub fn from_env() -> Self {
        let var = |value: Result<String, std::env::VarError>| {
            value
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match (
            var(std::env::var(OIDC_ISSUER_ENV)),
            var(std::env::var(OIDC_CLIENT_ID_ENV)),
            var(std::env::var(OIDC_AUTHORIZATION_ENDPOINT_ENV)),
            var(std::env::var(OIDC_TOKEN_ENDPOINT_ENV)),
        ) {
            (Some(issuer), Some(client_id), Some(authorization_endpoint), Some(token_endpoint)) => {
                Self::Oidc {
                    issuer,
                    client_id,
                    authorization_endpoint,
                    token_endpoint,
                    end_session_endpoint: var(std::env::var(OIDC_END_SESSION_ENDPOINT_ENV)),
                    revocation_endpoint: var(std::env::var(OIDC_REVOCATION_ENDPOINT_ENV)),
                    scope: SCOPES.to_owned(),
                    reviewer_tokens: false,
                }
            }
            _ => Self::Token,
        }
    }

    /// The origin the page must be allowed to `fetch` for the code exchange and refresh (the
    /// token endpoint's), for the Content-Security-Policy's `connect-src`.
    pub fn token_origin(&self) -> Option<String> {
        let Self::Oidc { token_endpoint, .. } = self else {
            return None;
        };
        origin(token_endpoint)
    }

    /// Every origin the page must be allowed to `fetch`: the token endpoint's and, when it is
    /// another one, the revocation endpoint's (a valid `scheme://host[:port]` each).
    pub fn connect_origins(&self) -> Vec<String> {
        let Self::Oidc {
            token_endpoint,
            revocation_endpoint,
            ..
        } = self
        else {
            return Vec::new();
        };
        let mut origins: Vec<String> = std::iter::once(token_endpoint)
            .chain(revocation_endpoint)
            .filter_map(|endpoint| origin(endpoint))
            .collect();
        origins.dedup();
        origins
    }
}

/// `scheme://host[:port]` of an http(s) URL — everything before the path — or `None` when it
/// is not one (nothing that could widen the policy gets through).
fn origin(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let valid = matches!(scheme, "https" | "http")
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| format!("{scheme}://{authority}"))
}

/// Verifies ID tokens of one issuer for one audience (the page's client id).
pub struct OidcVerifier {
    discovery: Discovery,
    audience: String,
    claims: JwtClaims,
    keys: RwLock<JwkSet>,
    on_unknown_kid: Option<Box<dyn Fn() + Send + Sync>>,
    /// When an unknown `kid` last triggered `on_unknown_kid` (at most once per
    /// [`UNKNOWN_KID_BACKOFF`], so tokens with made-up key ids cannot make this server hammer
    /// the issuer).
    last_unknown_kid: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Least time between two key-set fetches triggered by unknown key ids.
pub const UNKNOWN_KID_BACKOFF: Duration = Duration::from_secs(30);

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.discovery.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier of `discovery`'s issuer for tokens issued to `audience`, with its current
    /// keys. `on_unknown_kid` is called (at most once per [`UNKNOWN_KID_BACKOFF`]) when a token
    /// names a key the set does not hold — the issuer may have rotated its keys.
    pub fn new(
        discovery: Discovery,
        keys: JwkSet,
        audience: &str,
        claims: JwtClaims,
        on_unknown_kid: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> Self {
        Self {
            discovery,
            audience: audience.to_owned(),
            claims,
            keys: RwLock::new(keys),
            on_unknown_kid,
            last_unknown_kid: std::sync::Mutex::new(None),
        }
    }

    /// The issuer's discovery document.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// Replaces the key set (after the caller fetched it again).
    pub fn replace_keys(&self, keys: JwkSet) {
        if let Ok(mut slot) = self.keys.write() {
            *slot = keys;
        }
    }

    /// The settings the review page signs in with.
    pub fn page_auth(&self) -> PageAuth {
        PageAuth::Oidc {
            issuer: self.discovery.issuer.clone(),
            client_id: self.audience.clone(),
            authorization_endpoint: self.discovery.authorization_endpoint.clone(),
            token_endpoint: self.discovery.token_endpoint.clone(),
            end_session_endpoint: self.discovery.end_session_endpoint.clone(),
            revocation_endpoint: self.discovery.revocation_endpoint.clone(),
            scope: SCOPES.to_owned(),
            reviewer_tokens: true,
        }
    }

    /// Verifies a token and returns who it names. Refused: a token not signed by one of the
    /// issuer's keys (or with an algorithm outside [`ALGORITHMS`]), another issuer or
    /// audience, expired or not yet valid, or without a subject.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(AuthError::Invalid);
        }
        let key = {
            let keys = self.keys.read().map_err(|_| AuthError::Invalid)?;
            let jwk = match header.kid.as_deref() {
                Some(kid) => keys.find(kid),
                None if keys.keys.len() == 1 => keys.keys.first(),
                None => None,
            };
            match jwk {
                Some(jwk) => DecodingKey::from_jwk(jwk).map_err(|_| AuthError::Invalid)?,
                None => {
                    // Perhaps the issuer rotated its keys: fetch them for the next request.
                    self.refresh_soon();
                    return Err(AuthError::Invalid);
                }
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[self.discovery.issuer.as_str()]);
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &validation,
        )
        .map_err(|_| AuthError::Invalid)?;
        self.claims.from_token_payload(&data.claims)
    }

    fn refresh_soon(&self) {
        let Some(callback) = &self.on_unknown_kid else {
            return;
        };
        if let Ok(mut last) = self.last_unknown_kid.lock() {
            if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_BACKOFF) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        callback();
    }
}

/// `hitl serve`'s callers: the bearer tokens of `hitl reviewers add` (`hitl_…`), and ID tokens
/// of the OIDC issuer when one is configured.
pub struct SignIn {
    tokens: Arc<dyn IdentitySource>,
    oidc: Option<Arc<OidcVerifier>>,
}

impl SignIn {
    /// Reviewer tokens, plus the issuer's tokens if `oidc` is given.
    pub fn new(tokens: Arc<dyn IdentitySource>, oidc: Option<Arc<OidcVerifier>>) -> Self {
        Self { tokens, oidc }
    }
}

impl IdentitySource for SignIn {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let token = bearer_token(parts)?;
        match &self.oidc {
            Some(oidc) if !token.starts_with(crate::identity::TOKEN_PREFIX) => oidc.verify(token),
            _ => self.tokens.identify(parts),
        }
    }
}
