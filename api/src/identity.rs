//! Who is calling. On AWS the API Gateway HTTP API's JWT authorizer has already verified the
//! token and passes its claims in the Lambda request context ([`JwtClaims`]); locally a
//! reviewers file maps bearer tokens (stored only as SHA-256 hashes) to reviewers
//! ([`ReviewerTokens`]). Neither ever logs a token.

use std::path::Path;

use hitl_domain::identity;
use http::header::AUTHORIZATION;
use http::request::Parts;
use lambda_http::request::RequestContext;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The group that may decide every workflow (the domain's, so the API's reads and the
/// processor's writes agree on who is an admin).
pub use hitl_domain::feedback::ADMIN_GROUP;
/// Group whose members may read the learning analytics (`GET /analytics`), with admins.
pub const ANALYST_GROUP: &str = "analyst";
/// Claim read for groups on AWS unless configured otherwise.
pub const DEFAULT_GROUPS_CLAIM: &str = "cognito:groups";
/// Claims tried, in order, for the reviewer's display name on AWS unless configured otherwise
/// (`email` only counts when `email_verified` is true: users can often change it, and it need
/// be neither verified nor unique).
pub const DEFAULT_NAME_CLAIMS: [&str; 4] = ["email", "cognito:username", "username", "sub"];
/// Environment variable naming the groups claim (`feedback-api`).
pub const GROUPS_CLAIM_ENV: &str = "HITL_GROUPS_CLAIM";
/// Environment variable naming the claim used as reviewer name (`feedback-api`).
pub const NAME_CLAIM_ENV: &str = "HITL_NAME_CLAIM";

/// An authenticated reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The stable identity approvals, claims and idempotency scopes are matched on
    /// (`oidc:<issuer>|<sub>` for a verified token, `name:<folded>` for a local reviewer
    /// token; see `hitl_domain::identity`). Never the display name.
    pub id: String,
    /// Name recorded in the audit trail: the display name, with the stable subject in
    /// brackets when they differ (`rita@example.com [5b1c…]`). A label only.
    pub name: String,
    /// Groups the reviewer belongs to, exactly as the credential names them.
    pub groups: Vec<String>,
}

impl Identity {
    /// An identity from a verified OIDC token: the display name and the issuer's stable
    /// subject (`sub`), which with the issuer is the identity.
    pub fn oidc(display: &str, issuer: &str, subject: &str, groups: Vec<String>) -> Self {
        let name = if display == subject || subject.is_empty() {
            display.to_owned()
        } else {
            format!("{display} [{subject}]")
        };
        Self {
            id: identity::oidc_id(issuer, subject),
            name,
            groups,
        }
    }

    /// A local reviewer (the reviewers file): the name is the identity, normalised.
    pub fn local(name: &str, groups: Vec<String>) -> Self {
        Self {
            id: identity::declared_id(name),
            name: identity::canonical_name(name),
            groups,
        }
    }

    /// Whether this reviewer may decide workflows of `group` (members of the group and admins).
    pub fn may_review(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group || g == ADMIN_GROUP)
    }

    /// Whether this caller may read the learning analytics (analysts and admins).
    pub fn may_read_analytics(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g == ANALYST_GROUP || g == ADMIN_GROUP)
    }
}

/// Why a request is not authenticated. The text never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// No credential was presented.
    #[error("missing credentials: send Authorization: Bearer <token>")]
    Missing,
    /// The credential is not known or not well-formed.
    #[error("invalid credentials")]
    Invalid,
}

/// Resolves the caller of a request.
pub trait IdentitySource: Send + Sync {
    /// Identifies the caller from the request head.
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError>;
}

/// Identity from the claims the HTTP API JWT authorizer verified (Cognito user pools or any
/// OIDC issuer). The Lambda receives them in `requestContext.authorizer.jwt.claims`, where
/// array claims arrive as a string such as `"[reviewers admin]"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims {
    /// Claims tried in order for the reviewer's name.
    pub name_claims: Vec<String>,
    /// Claim holding the groups.
    pub groups_claim: String,
}

impl Default for JwtClaims {
    fn default() -> Self {
        Self {
            name_claims: DEFAULT_NAME_CLAIMS
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            groups_claim: DEFAULT_GROUPS_CLAIM.to_owned(),
        }
    }
}

impl JwtClaims {
    /// Defaults, overridden by `HITL_NAME_CLAIM` and `HITL_GROUPS_CLAIM` when set.
    pub fn from_env() -> Self {
        let mut claims = Self::default();
        if let Some(name) = std::env::var(NAME_CLAIM_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            claims.name_claims = vec![name.trim().to_owned()];
        }
        if let Some(groups) = std::env::var(GROUPS_CLAIM_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            claims.groups_claim = groups.trim().to_owned();
        }
        claims
    }

    /// Builds the identity from the authorizer's claim map (every value a string; array
    /// claims flattened to `"[a b]"`). Prefer [`Self::from_token_payload`]: this map cannot
    /// tell a group named `Brand admin` from the groups `Brand` and `admin`.
    pub fn from_claims(
        &self,
        claims: &std::collections::HashMap<String, String>,
    ) -> Result<Identity, AuthError> {
        let payload: serde_json::Map<String, serde_json::Value> = claims
            .iter()
            .map(|(k, v)| {
                let value = if k == &self.groups_claim {
                    // Only unambiguous shapes: a JSON array, or one group without separators.
                    match serde_json::from_str::<Vec<String>>(v) {
                        Ok(list) => serde_json::json!(list),
                        Err(_) => serde_json::json!(unambiguous_group(v)),
                    }
                } else {
                    serde_json::Value::String(v.clone())
                };
                (k.clone(), value)
            })
            .collect();
        self.from_token_payload(&payload)
    }

    /// Builds the identity from a verified token's payload (real JSON: the groups claim is an
    /// array). The stable `sub` is recorded with a display name; `email` is used as the
    /// display name only when `email_verified` is true.
    pub fn from_token_payload(
        &self,
        payload: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Identity, AuthError> {
        let text = |claim: &str| {
            payload
                .get(claim)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let email_verified = match payload.get("email_verified") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        let subject = text("sub")
            .or_else(|| text("cognito:username"))
            .ok_or(AuthError::Invalid)?;
        // A subject is unique only within its issuer: the issuer is part of the identity.
        let issuer = text("iss").ok_or(AuthError::Invalid)?;
        let display = self
            .name_claims
            .iter()
            .filter(|c| c.as_str() != "email" || email_verified)
            .find_map(|c| text(c))
            .unwrap_or(subject);
        // Group names are matched exactly: `" admin "` is not `admin`.
        let groups = match payload.get(&self.groups_claim) {
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .filter_map(serde_json::Value::as_str)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(serde_json::Value::String(one)) => unambiguous_group(one),
            _ => Vec::new(),
        };
        Ok(Identity::oidc(display, issuer, subject, groups))
    }
}

/// One group from a claim string, or none when the string could hold several: the bracket
/// form of HTTP APIs (`[a b]`) and comma lists cannot tell a group name with a space from two
/// groups, so they grant nothing (the verified token's own JSON array is read instead).
fn unambiguous_group(raw: &str) -> Vec<String> {
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if inner.is_empty() || inner.contains(|c: char| c.is_whitespace() || c == ',' || c == '"') {
        return Vec::new();
    }
    vec![inner.to_owned()]
}

/// The payload of a JWT (`header.payload.signature`), decoded but NOT verified: call it only
/// on a token something else has verified (the API Gateway JWT authorizer, or
/// `hitl serve --oidc-*`).
pub fn jwt_payload(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl IdentitySource for JwtClaims {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let claims = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        };
        match claims {
            Some(claims) if !claims.is_empty() => {
                // The authorizer verified the bearer token before this request reached us; its
                // payload has the claims with their real JSON types. Use it when it is the
                // token the authorizer saw (same subject), else the flattened claim map.
                let payload = bearer_token(parts).ok().and_then(jwt_payload).filter(|p| {
                    p.get("sub").and_then(|v| v.as_str()) == claims.get("sub").map(String::as_str)
                });
                match payload {
                    Some(payload) => self.from_token_payload(&payload),
                    None => self.from_claims(claims),
                }
            }
            _ => Err(AuthError::Missing),
        }
    }
}

/// One entry of the local reviewers file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewerRecord {
    /// Name recorded in the audit trail.
    pub name: String,
    /// Groups (`reviewers`, `admin`, …).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Hex SHA-256 of the reviewer's bearer token. The token itself is never stored.
    pub token_sha256: String,
}

/// The local reviewers file (`reviewers.json`): `{"reviewers": [ReviewerRecord, …]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewersFile {
    /// Known reviewers.
    #[serde(default)]
    pub reviewers: Vec<ReviewerRecord>,
}

/// Failures reading or writing the reviewers file.
#[derive(Debug, Error)]
pub enum ReviewersFileError {
    /// I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The content is not a reviewers file.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The new reviewer is not valid.
    #[error("{0}")]
    Invalid(String),
}

/// Hex SHA-256 of a token, as stored in the reviewers file.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random bearer token (256 bits, `hitl_` + 64 hex digits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// How every token of `hitl reviewers add` starts (an OIDC token never does: it is a JWT).
pub const TOKEN_PREFIX: &str = "hitl_";

impl ReviewersFile {
    /// Reads a file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Self, ReviewersFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ReviewersFileError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let file: Self = serde_json::from_str(&text).map_err(|e| ReviewersFileError::Format {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        for r in &file.reviewers {
            if hex::decode(&r.token_sha256).map(|h| h.len()) != Ok(32) {
                return Err(ReviewersFileError::Format {
                    path: path.display().to_string(),
                    message: format!("reviewer {:?}: token_sha256 must be 64 hex digits", r.name),
                });
            }
        }
        Ok(file)
    }

    /// Writes the file (owner-only permissions on Unix).
    pub fn save(&self, path: &Path) -> Result<(), ReviewersFileError> {
        let io = |source| ReviewersFileError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::files::create_owner_only_dir(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| ReviewersFileError::Format {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        crate::files::write_owner_only(path, (text + "\n").as_bytes()).map_err(io)
    }

    /// Adds (or replaces) a reviewer with a fresh token and returns the token. Only its hash
    /// is kept.
    pub fn add(&mut self, name: &str, groups: &[String]) -> Result<String, ReviewersFileError> {
        let name = identity::check_name(name)
            .map_err(|why| ReviewersFileError::Invalid(format!("reviewer name: {why}")))?;
        let name = name.as_str();
        let groups: Vec<String> = groups
            .iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        if groups.is_empty() {
            return Err(ReviewersFileError::Invalid(
                "give at least one group (e.g. --groups reviewers)".into(),
            ));
        }
        let token = new_token();
        // One person, one entry: a name that folds to an existing one replaces it.
        let key = identity::name_key(name);
        self.reviewers
            .retain(|r| identity::name_key(&r.name) != key);
        self.reviewers.push(ReviewerRecord {
            name: name.to_owned(),
            groups,
            token_sha256: token_sha256(&token),
        });
        Ok(token)
    }

    /// Removes a reviewer (their token stops working).
    pub fn remove(&mut self, name: &str) -> Result<(), ReviewersFileError> {
        let before = self.reviewers.len();
        let key = identity::name_key(name);
        self.reviewers
            .retain(|r| identity::name_key(&r.name) != key);
        if self.reviewers.len() == before {
            return Err(ReviewersFileError::Invalid(format!(
                "no reviewer named {:?}",
                name.trim()
            )));
        }
        Ok(())
    }

    /// Gives a reviewer a fresh token (the old one stops working) and returns it.
    pub fn rotate(&mut self, name: &str) -> Result<String, ReviewersFileError> {
        let record = self
            .reviewers
            .iter_mut()
            .find(|r| identity::name_key(&r.name) == identity::name_key(name))
            .ok_or_else(|| {
                ReviewersFileError::Invalid(format!("no reviewer named {:?}", name.trim()))
            })?;
        let token = new_token();
        record.token_sha256 = token_sha256(&token);
        Ok(token)
    }
}

/// [`ReviewerTokens`] that follow their file: whenever the reviewers file changes (its
/// modification time, size or inode), the next request reloads it, so `hitl reviewers
/// remove` and `rotate` take effect on a running `hitl serve` at once. A file that cannot be
/// read keeps nobody signed in (fail closed) until it can.
#[derive(Debug)]
pub struct WatchedReviewerTokens {
    path: std::path::PathBuf,
    state: std::sync::RwLock<(Option<FileStamp>, ReviewerTokens)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

impl WatchedReviewerTokens {
    /// Loads `path` now (a missing file means no reviewers yet).
    pub fn load(path: &Path) -> Result<Self, ReviewersFileError> {
        let tokens = ReviewerTokens::load(path)?;
        Ok(Self {
            path: path.to_owned(),
            state: std::sync::RwLock::new((stamp(path), tokens)),
        })
    }

    /// Number of known reviewers.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether no reviewer is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn current(&self) -> ReviewerTokens {
        let now = stamp(&self.path);
        if let Ok(state) = self.state.read() {
            if state.0 == now {
                return state.1.clone();
            }
        }
        let tokens = ReviewerTokens::load(&self.path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reviewers file unreadable; nobody is signed in until it is fixed");
            ReviewerTokens::default()
        });
        if let Ok(mut state) = self.state.write() {
            *state = (now, tokens.clone());
        }
        tokens
    }
}

impl IdentitySource for WatchedReviewerTokens {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let token = bearer_token(parts)?;
        self.current().lookup(token).ok_or(AuthError::Invalid)
    }
}

/// Local identity: `Authorization: Bearer <token>` checked against the reviewers file's hashes
/// in constant time (every entry is compared, whether or not an earlier one matched).
#[derive(Debug, Clone, Default)]
pub struct ReviewerTokens {
    entries: Vec<([u8; 32], Identity)>,
}

impl ReviewerTokens {
    /// From a loaded file.
    pub fn new(file: &ReviewersFile) -> Self {
        let entries = file
            .reviewers
            .iter()
            .filter_map(|r| {
                let hash: [u8; 32] = hex::decode(&r.token_sha256).ok()?.try_into().ok()?;
                Some((hash, Identity::local(&r.name, r.groups.clone())))
            })
            .collect();
        Self { entries }
    }

    /// Reads the reviewers file.
    pub fn load(path: &Path) -> Result<Self, ReviewersFileError> {
        Ok(Self::new(&ReviewersFile::load(path)?))
    }

    /// Number of known reviewers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no reviewer is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity owning `token`, if any.
    pub fn lookup(&self, token: &str) -> Option<Identity> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (hash, identity) in &self.entries {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(identity.clone());
            }
        }
        found
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Invalid)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(token.trim())
}

impl IdentitySource for ReviewerTokens {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let token = bearer_token(parts)?;
        self.lookup(token).ok_or(AuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parts(auth: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().uri("/reviews");
        if let Some(a) = auth {
            builder = builder.header(AUTHORIZATION, a);
        }
        builder.body(()).unwrap().into_parts().0
    }

    /// Issue 14: groups were split on spaces and commas, so a group named `Brand admin` (or
    /// `marketing,admin`) granted `admin`. Only unambiguous shapes grant anything now.
    #[test]
    fn only_unambiguous_group_claims_grant_groups() {
        let jwt = JwtClaims::default();
        let groups = |raw: &str| {
            let claims = [
                ("iss".to_owned(), "https://issuer.test".to_owned()),
                ("sub".to_owned(), "s-1".to_owned()),
                ("cognito:groups".to_owned(), raw.to_owned()),
            ]
            .into_iter()
            .collect();
            jwt.from_claims(&claims).unwrap().groups
        };
        assert_eq!(
            groups(r#"["reviewers","Brand admin"]"#),
            ["reviewers", "Brand admin"]
        );
        assert_eq!(groups("[reviewers]"), ["reviewers"]);
        assert_eq!(groups("reviewers"), ["reviewers"]);
        for ambiguous in [
            "[Brand admin]",
            "marketing,admin",
            "[reviewers admin]",
            "[]",
            "",
        ] {
            assert!(groups(ambiguous).is_empty(), "{ambiguous:?} granted groups");
        }
        let payload = serde_json::json!({"iss": "https://issuer.test", "sub": "s-1", "cognito:groups": ["Brand admin"]});
        let id = jwt
            .from_token_payload(payload.as_object().unwrap())
            .unwrap();
        assert!(!id.may_review("reviewers") && id.groups == ["Brand admin"]);
    }

    /// Issue 14: the name came from `email` first, which users can change and need not be
    /// verified. The stable `sub` is recorded; `email` only when verified.
    #[test]
    fn the_subject_is_recorded_and_email_only_when_verified() {
        let jwt = JwtClaims::default();
        let id = |mut payload: serde_json::Value| {
            if let Some(sub) = payload.get("sub").cloned() {
                payload["iss"] = "https://issuer.test".into();
                payload["sub"] = sub;
            }
            jwt.from_token_payload(payload.as_object().unwrap())
                .map(|i| i.name)
        };
        assert_eq!(
            id(serde_json::json!({"sub": "s-1", "email": "ceo@example.com", "cognito:username": "mallory"})).unwrap(),
            "mallory [s-1]"
        );
        assert_eq!(
            id(serde_json::json!({"sub": "s-1", "email": "rita@example.com", "email_verified": true})).unwrap(),
            "rita@example.com [s-1]"
        );
        assert_eq!(id(serde_json::json!({"sub": "s-1"})).unwrap(), "s-1");
        assert_eq!(id(serde_json::json!({})), Err(AuthError::Invalid));
    }

    /// Issue 31: approvals were matched on the display name, which differs between two valid
    /// tokens of one person (`email_verified` true in one, false in the other). The identity
    /// is the issuer and `sub`; the display name is a label.
    #[test]
    fn the_identity_is_issuer_and_subject_whatever_the_display_name() {
        let jwt = JwtClaims::default();
        let identity = |payload: serde_json::Value| {
            jwt.from_token_payload(payload.as_object().unwrap())
                .unwrap()
        };
        let verified = identity(serde_json::json!({"iss": "https://a.test", "sub": "s-1",
            "email": "rita@example.com", "email_verified": true, "cognito:username": "rita"}));
        let unverified = identity(serde_json::json!({"iss": "https://a.test", "sub": "s-1",
            "email": "rita@example.com", "email_verified": false, "cognito:username": "rita"}));
        assert_ne!(verified.name, unverified.name);
        assert_eq!(verified.id, "oidc:https://a.test|s-1");
        assert_eq!(verified.id, unverified.id);
        // Another issuer's `s-1` is another person, and no subject is a local reviewer.
        let elsewhere = identity(serde_json::json!({"iss": "https://b.test", "sub": "s-1"}));
        assert_ne!(elsewhere.id, verified.id);
        let namesake = identity(serde_json::json!({"iss": "https://a.test", "sub": "rita"}));
        assert_ne!(namesake.id, Identity::local("rita", vec![]).id);
        // Without an issuer there is no identity.
        assert_eq!(
            jwt.from_token_payload(serde_json::json!({"sub": "s-1"}).as_object().unwrap()),
            Err(AuthError::Invalid)
        );
    }

    /// Issue 31: `cognito:groups: [" admin "]` granted admin (group names were trimmed).
    #[test]
    fn group_names_are_not_trimmed() {
        let jwt = JwtClaims::default();
        for groups in [
            serde_json::json!([" admin "]),
            serde_json::json!(["admin "]),
            serde_json::json!(" admin"),
        ] {
            let payload = serde_json::json!({"iss": "https://a.test", "sub": "s-1",
                "cognito:groups": groups});
            let id = jwt
                .from_token_payload(payload.as_object().unwrap())
                .unwrap();
            assert!(!id.may_review("reviewers"), "{groups} grants admin");
        }
        let claims = [
            ("iss".to_owned(), "https://a.test".to_owned()),
            ("sub".to_owned(), "s-1".to_owned()),
            ("cognito:groups".to_owned(), " admin ".to_owned()),
        ]
        .into_iter()
        .collect();
        assert!(jwt.from_claims(&claims).unwrap().groups.is_empty());
    }

    /// Local reviewer names are one identity however they are typed, and look-alikes are
    /// refused when added.
    #[test]
    fn local_reviewer_names_are_normalised_and_look_alikes_refused() {
        let mut file = ReviewersFile::default();
        let first = file.add("ann", &["reviewers".into()]).unwrap();
        let again = file.add("ＡＮＮ", &["admin".into()]).unwrap();
        let tokens = ReviewerTokens::new(&file);
        assert_eq!(tokens.len(), 1, "ANN replaced ann");
        assert!(tokens.lookup(&first).is_none());
        assert_eq!(tokens.lookup(&again).unwrap().id, "name:ann");
        for look_alike in ["\u{430}nn", "ann\u{200B}"] {
            let err = file.add(look_alike, &["reviewers".into()]).unwrap_err();
            assert!(err.to_string().starts_with("reviewer name: "), "{err}");
        }
        file.rotate("Ann").unwrap();
        file.remove("ANN").unwrap();
        assert!(file.reviewers.is_empty());
    }

    #[test]
    fn without_a_request_context_the_caller_is_unauthenticated() {
        assert_eq!(
            JwtClaims::default().identify(&parts(Some("Bearer x"))),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn added_token_authenticates_and_only_its_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reviewers.json");
        let mut file = ReviewersFile::load(&path).unwrap();
        let token = file.add("rita", &["reviewers".into()]).unwrap();
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token));
        assert!(text.contains(&token_sha256(&token)));
        let tokens = ReviewerTokens::load(&path).unwrap();
        let bearer = format!("Bearer {token}");
        let id = tokens.identify(&parts(Some(&bearer))).unwrap();
        assert_eq!(id.name, "rita");
        assert!(id.may_review("reviewers"));
        assert!(!id.may_review("marketing"));
        assert_eq!(
            tokens.identify(&parts(Some("Bearer nope"))),
            Err(AuthError::Invalid)
        );
        assert_eq!(tokens.identify(&parts(None)), Err(AuthError::Missing));
        assert_eq!(
            tokens.identify(&parts(Some(&format!("Basic {token}")))),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn re_adding_a_reviewer_replaces_the_old_token() {
        let mut file = ReviewersFile::default();
        let old = file.add("rita", &["reviewers".into()]).unwrap();
        let new = file.add("rita", &["admin".into()]).unwrap();
        let tokens = ReviewerTokens::new(&file);
        assert_eq!(tokens.len(), 1);
        assert!(tokens.lookup(&old).is_none());
        assert_eq!(tokens.lookup(&new).unwrap().groups, ["admin"]);
        assert!(file.add(" ", &["x".into()]).is_err());
        assert!(file.add("bob", &[]).is_err());
    }
}
