//! The webhook channel: one `POST` of JSON per notification to a configured URL, signed.
//!
//! **Where.** One URL for every group (`https://hooks.example.com/hitl`), or one per group
//! (`reviewers=https://…/review;escalations=https://…/oncall`: a group not named gets no post,
//! as with Slack). Errors and logs name the URL's scheme and host only: a path or query may
//! carry a receiver's token.
//!
//! **What is sent.** The body is the notification (`kind`, `workflow_id`, `subject_name`,
//! `iteration`, `reviewer_group`, `reason`, `message`, `link`) plus `delivery_id` and
//! `sent_at`. Never a task token: notifications carry none.
//!
//! **Headers.** `X-Hitl-Timestamp` (Unix seconds when signed), `X-Hitl-Signature`
//! (`v1=` and the hex HMAC-SHA256, keyed with the shared secret, of `{timestamp}.{body}`) and
//! `X-Hitl-Delivery` (the delivery id). A receiver recomputes the signature over the raw body
//! it received, compares in constant time, and refuses a timestamp more than five minutes
//! away from its clock ([`verify`] does all three; docs/NOTIFICATIONS.md has the recipe in
//! Python).
//!
//! **Delivery.** A 2xx answer is delivered. 429, 5xx, a timeout or a connection that fails are
//! retried with backoff (0.2 s, 0.4 s, 0.8 s) inside a budget (10 s by default); any other
//! status is a failure at once. Through the notification outbox (`hitl_domain::notify`) a
//! failure is kept and retried later, and the delivery id is the outbox record's
//! (`wf-…/review_requested/2`), the same on every attempt; published directly it is a hash of
//! the notification. Receivers drop a delivery id they have already seen: the outbox resends
//! only after a crash between the receiver's answer and the record's write, so the channel is
//! at least once, and exactly once for a receiver that keeps the ids of a day.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use hitl_domain::error::HandlerError;
use hitl_domain::ports::{Clock, Notification, Notifier, SystemClock};

/// Unix seconds when the request was signed.
pub const TIMESTAMP_HEADER: &str = "x-hitl-timestamp";
/// `v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
pub const SIGNATURE_HEADER: &str = "x-hitl-signature";
/// The notification's delivery id (stable across retries and re-publications).
pub const DELIVERY_HEADER: &str = "x-hitl-delivery";
/// How far a timestamp may be from the receiver's clock (replay window).
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// Shortest secret accepted, in bytes.
pub(crate) const MIN_SECRET_BYTES: usize = 16;
/// Waits before the 2nd, 3rd and 4th attempt.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];

type HmacSha256 = Hmac<Sha256>;

/// The signature header's value for `body` signed at `timestamp` with `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // An HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a received webhook is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is missing or not a number.
    #[error("the timestamp header is missing or not Unix seconds")]
    BadTimestamp,
    /// The timestamp is outside the replay window.
    #[error("the timestamp is {0} s away from now, more than the {max} s allowed", max = TOLERANCE.as_secs())]
    Stale(i64),
    /// The signature header is missing, malformed or does not match.
    #[error("the signature does not match the body")]
    BadSignature,
}

/// Checks a received webhook: the timestamp is within [`TOLERANCE`] of `now` and the
/// signature is the HMAC of `{timestamp}.{body}` (compared in constant time).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or(VerifyError::BadTimestamp)?;
    let skew = now.timestamp() - timestamp;
    if skew.unsigned_abs() > TOLERANCE.as_secs() {
        return Err(VerifyError::Stale(skew));
    }
    let given = signature
        .and_then(|s| s.trim().strip_prefix("v1="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::BadSignature)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| VerifyError::BadSignature)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

/// The delivery id of a notification published outside the notification outbox: the first 32
/// hex digits of the SHA-256 of its JSON (the domain's `content_delivery_id`).
pub use hitl_domain::ports::content_delivery_id as delivery_id;

/// Where a webhook posts: one URL for every group, or one per group.
#[derive(Clone)]
pub enum WebhookTargets {
    /// Every notification to this URL.
    All(reqwest::Url),
    /// A notification to its group's URL; other groups get none.
    PerGroup(BTreeMap<String, reqwest::Url>),
}

impl std::fmt::Debug for WebhookTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All(url) => f.debug_tuple("All").field(&shown(url)).finish(),
            Self::PerGroup(urls) => f
                .debug_map()
                .entries(urls.iter().map(|(g, u)| (g, shown(u))))
                .finish(),
        }
    }
}

/// `scheme://host[:port]` of `url`: what errors and logs show.
fn shown(url: &reqwest::Url) -> String {
    match url.port() {
        Some(port) => format!("{}://{}:{port}", url.scheme(), url.host_str().unwrap_or("")),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or("")),
    }
}

fn checked_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("does not parse ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be http:// or https:// with a host".into());
    }
    Ok(url)
}

impl WebhookTargets {
    /// `https://…` (every group) or `group=https://…;group=https://…` (one per group). Errors
    /// name the group, never the URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(url) = reqwest::Url::parse(text) {
            return checked_url(url.as_str())
                .map(Self::All)
                .map_err(|e| format!("webhook URL: {e}"));
        }
        let mut pairs = Vec::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((group, raw)) = entry.split_once('=') else {
                return Err(
                    "webhook URL: neither a URL nor group=https://…;group=https://… entries".into(),
                );
            };
            pairs.push((group, raw));
        }
        Self::per_group(pairs)
    }

    /// One URL per group from `(group, url)` pairs.
    pub fn per_group<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut urls = BTreeMap::new();
        for (group, raw) in pairs {
            let group = group.trim();
            if group.is_empty() {
                return Err("webhook URL: an entry names no group".into());
            }
            let url = checked_url(raw).map_err(|e| format!("webhook URL of group {group}: {e}"))?;
            if urls.insert(group.to_owned(), url).is_some() {
                return Err(format!("webhook URL: group {group} is named twice"));
            }
        }
        if urls.is_empty() {
            return Err("webhook URL: no group=url entry".into());
        }
        Ok(Self::PerGroup(urls))
    }

    /// Where a notification to `group` goes, if anywhere.
    pub fn for_group(&self, group: &str) -> Option<&reqwest::Url> {
        match self {
            Self::All(url) => Some(url),
            Self::PerGroup(urls) => urls.get(group),
        }
    }
}

/// Posts each notification, signed, to its URL.
pub struct WebhookNotifier {
    targets: WebhookTargets,
    secret: Vec<u8>,
    http: reqwest::Client,
    clock: std::sync::Arc<dyn Clock>,
    budget: Duration,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("WebhookNotifier")
            .field("targets", &self.targets)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier posting to `url` — one http(s) URL, or `group=url;group=url`
    /// ([`WebhookTargets::parse`]) — signed with `secret` (at least 16 bytes).
    pub fn new(url: &str, secret: &[u8]) -> Result<Self, HandlerError> {
        let targets = WebhookTargets::parse(url).map_err(HandlerError::Config)?;
        Self::to_targets(targets, secret)
    }

    /// A notifier posting to `targets`, signed with `secret` (at least 16 bytes).
    pub fn to_targets(targets: WebhookTargets, secret: &[u8]) -> Result<Self, HandlerError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(HandlerError::Config(format!(
                "webhook secret: at least {MIN_SECRET_BYTES} bytes (got {})",
                secret.len()
            )));
        }
        // rustls over ring, as every HTTPS client here; an error only says a default exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| HandlerError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            targets,
            secret: secret.to_vec(),
            http,
            clock: std::sync::Arc::new(SystemClock),
            budget: Duration::from_secs(10),
        })
    }

    /// With another clock (timestamps and `sent_at`).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// With another time budget for all attempts of one notification.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The body sent for `notification`.
    fn body(&self, notification: &Notification, id: &str) -> Result<Vec<u8>, HandlerError> {
        let mut value = serde_json::to_value(notification)
            .map_err(|e| HandlerError::NotificationFailed(e.to_string()))?;
        value["delivery_id"] = serde_json::json!(id);
        value["sent_at"] = serde_json::json!(self.clock.now());
        serde_json::to_vec(&value).map_err(|e| HandlerError::NotificationFailed(e.to_string()))
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn channel(&self) -> &str {
        "webhook"
    }

    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        self.post(notification, delivery_id).await
    }
}

impl WebhookNotifier {
    async fn post(&self, notification: &Notification, id: &str) -> Result<(), HandlerError> {
        let group = &notification.reviewer_group;
        let Some(url) = self.targets.for_group(group) else {
            tracing::info!(%group, "no webhook for this group");
            return Ok(());
        };
        let shown = shown(url);
        let body = self.body(notification, id)?;
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut attempt = 0usize;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let timestamp = self.clock.now().timestamp();
            let sent = self
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, sign(&self.secret, timestamp, &body))
                .header(DELIVERY_HEADER, id)
                .body(body.clone())
                .timeout(remaining.max(Duration::from_millis(1)))
                .send()
                .await;
            let why = match sent {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(workflow_id = %notification.workflow_id, delivery_id = %id,
                        attempts = attempt + 1, "webhook delivered");
                    return Ok(());
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    format!("answered {}", r.status())
                }
                Ok(r) => {
                    return Err(HandlerError::NotificationFailed(format!(
                        "webhook {shown} answered {} (not retried)",
                        r.status()
                    )))
                }
                // Without the URL: reqwest's error would print it whole.
                Err(e) => format!("not reached: {}", crate::without_url(e)),
            };
            let wait = BACKOFF.get(attempt).copied();
            match wait {
                Some(wait) if tokio::time::Instant::now() + wait < deadline => {
                    tracing::warn!(workflow_id = %notification.workflow_id, delivery_id = %id,
                        attempt = attempt + 1, "webhook {why}; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => {
                    return Err(HandlerError::NotificationFailed(format!(
                        "webhook {shown} {why} after {} attempt(s)",
                        attempt + 1
                    )))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let secret = b"0123456789abcdef-secret";
        let now = Utc::now();
        let t = now.timestamp();
        let body = br#"{"workflow_id":"wf-1"}"#;
        let signature = sign(secret, t, body);
        assert!(signature.starts_with("v1=") && signature.len() == 3 + 64);
        let ts = t.to_string();
        assert_eq!(
            verify(secret, Some(&ts), Some(&signature), body, now),
            Ok(())
        );
        let altered = br#"{"workflow_id":"wf-2"}"#;
        assert_eq!(
            verify(secret, Some(&ts), Some(&signature), altered, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(
                b"another-secret-of-16",
                Some(&ts),
                Some(&signature),
                body,
                now
            ),
            Err(VerifyError::BadSignature)
        );
        let later = (t + 1).to_string();
        assert_eq!(
            verify(secret, Some(&later), Some(&signature), body, now),
            Err(VerifyError::BadSignature),
            "the timestamp is signed too"
        );
        let old = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify(secret, Some(&ts), Some(&signature), body, old),
            Err(VerifyError::Stale(301))
        );
        assert_eq!(
            verify(secret, None, Some(&signature), body, now),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(secret, Some(&ts), Some("v0=abc"), body, now),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_bad_url_or_a_short_secret_is_a_configuration_error() {
        for (url, secret) in [
            ("ftp://example.com/hook", "0123456789abcdef"),
            ("not a url", "0123456789abcdef"),
            ("https://example.com/hook", "short"),
        ] {
            let err = WebhookNotifier::new(url, secret.as_bytes()).unwrap_err();
            assert!(matches!(err, HandlerError::Config(_)), "{url}: {err:?}");
        }
        let ok = WebhookNotifier::new("https://example.com/hook", b"0123456789abcdef").unwrap();
        assert!(!format!("{ok:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn one_url_serves_every_group_and_a_list_serves_the_groups_it_names() {
        let all = WebhookTargets::parse("https://hooks.example.com/hitl?token=T0KEN").unwrap();
        assert!(all.for_group("reviewers").is_some() && all.for_group("anyone").is_some());
        let per = WebhookTargets::parse(
            "reviewers=https://hooks.example.com/r?token=T0KEN; escalations=http://10.0.0.7:8080/e",
        )
        .unwrap();
        assert_eq!(per.for_group("reviewers").unwrap().path(), "/r");
        assert_eq!(per.for_group("escalations").unwrap().port(), Some(8080));
        assert!(per.for_group("legal").is_none());
        for shown in [format!("{all:?}"), format!("{per:?}")] {
            assert!(!shown.contains("T0KEN") && !shown.contains("/r"), "{shown}");
        }
    }

    #[test]
    fn a_bad_list_names_the_group_not_the_url() {
        for (text, expected) in [
            (
                "reviewers=ftp://hooks.example.com/T0KEN",
                "webhook URL of group reviewers: must be http",
            ),
            (
                "reviewers=",
                "webhook URL of group reviewers: does not parse",
            ),
            (
                "=https://hooks.example.com/T0KEN",
                "an entry names no group",
            ),
            (
                "a=https://x.example/T0KEN;a=https://y.example/T0KEN",
                "group a is named twice",
            ),
            ("hooks.example.com/T0KEN", "neither a URL nor group="),
        ] {
            let error = WebhookTargets::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("T0KEN"), "{text}: {error}");
        }
    }
}
