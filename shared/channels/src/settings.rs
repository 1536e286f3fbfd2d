//! The chat and webhook channels of a deployment as one JSON document, so that on AWS they can
//! live in one Secrets Manager secret (the template's `NotificationChannelsSecret`, handed to
//! the functions that notify as `HITL_NOTIFICATION_CHANNELS`):
//!
//! ```json
//! {
//!   "slack_webhooks": { "reviewers": "https://hooks.slack.com/services/…", "escalations": "…" },
//!   "webhook_url": "https://hooks.example.com/hitl",
//!   "webhook_secret": "at least 16 bytes, shared with the receiver"
//! }
//! ```
//!
//! For a webhook per group, `"webhook_urls": {"reviewers": "https://…", "escalations": "…"}`
//! instead of `webhook_url` (a group not named gets no post). Every key is optional; an empty
//! `webhook_url`/`webhook_secret` string or an empty object turns its channel off, while an
//! empty URL inside an object is an error (its group would get nothing). An unknown key is
//! refused (a misspelt `slack_webhook` must not silently send nothing), and every error names the
//! key or group at fault, never a value: the URLs and the secret are credentials.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use hitl_domain::error::HandlerError;
use hitl_domain::ports::Notifier;

use crate::slack::{SlackNotifier, SlackWebhooks};
use crate::webhook::{WebhookNotifier, WebhookTargets};

/// What the JSON document holds.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    slack_webhooks: BTreeMap<String, String>,
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    webhook_urls: BTreeMap<String, String>,
    #[serde(default)]
    webhook_secret: Option<String>,
}

/// The channels a settings document turns on, checked.
pub struct ChannelSettings {
    slack: Option<SlackWebhooks>,
    webhook: Option<(WebhookTargets, String)>,
}

impl std::fmt::Debug for ChannelSettings {
    // The groups and whether a webhook is set; never a URL or the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSettings")
            .field("slack", &self.slack)
            .field("webhook", &self.webhook.is_some())
            .finish()
    }
}

fn set(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl ChannelSettings {
    /// Parses and checks the document: Slack URLs as [`SlackWebhooks::from_pairs`] checks them,
    /// a webhook URL with its secret (webhooks are signed) of at least 16 bytes.
    pub fn parse(json: &str) -> Result<Self, String> {
        let document: Document = serde_json::from_str(json).map_err(|e| {
            // serde_json's message quotes an unknown key (fine) but may quote a bad value
            // (a credential): keep only its classification and position unless it is a key.
            let text = e.to_string();
            if text.starts_with("unknown field") {
                text
            } else {
                format!(
                    "not the expected JSON object (line {}, column {})",
                    e.line(),
                    e.column()
                )
            }
        })?;
        let slack = if document.slack_webhooks.is_empty() {
            None
        } else {
            Some(
                SlackWebhooks::from_pairs(
                    document
                        .slack_webhooks
                        .iter()
                        .map(|(g, u)| (g.as_str(), u.as_str())),
                )
                .map_err(|e| format!("slack_webhooks: {e}"))?,
            )
        };
        let targets =
            match (set(document.webhook_url), document.webhook_urls.is_empty()) {
                (Some(_), false) => {
                    return Err("webhook_url and webhook_urls are both set: choose one".into())
                }
                (Some(url), true) => Some(WebhookTargets::parse(&url).map_err(|e| {
                    format!("webhook_url: {}", e.trim_start_matches("webhook URL: "))
                })?),
                (None, false) => Some(
                    WebhookTargets::per_group(
                        document
                            .webhook_urls
                            .iter()
                            .map(|(g, u)| (g.as_str(), u.as_str())),
                    )
                    .map_err(|e| format!("webhook_urls: {e}"))?,
                ),
                (None, true) => None,
            };
        let webhook = match (targets, set(document.webhook_secret)) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(
                    "webhook_url(s) is set but webhook_secret is not: webhooks are signed".into(),
                )
            }
            (None, Some(_)) => {
                return Err("webhook_secret is set but neither webhook_url nor webhook_urls".into())
            }
            (Some(targets), Some(secret)) => {
                if secret.len() < crate::webhook::MIN_SECRET_BYTES {
                    return Err(format!(
                        "webhook_secret: at least {} bytes",
                        crate::webhook::MIN_SECRET_BYTES
                    ));
                }
                Some((targets, secret))
            }
        };
        Ok(Self { slack, webhook })
    }

    /// Whether the document turns no channel on.
    pub fn is_empty(&self) -> bool {
        self.slack.is_none() && self.webhook.is_none()
    }

    /// The channels, in a stable order (webhook, then Slack).
    pub fn notifiers(&self) -> Result<Vec<Arc<dyn Notifier>>, HandlerError> {
        let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
        if let Some((targets, secret)) = &self.webhook {
            out.push(Arc::new(WebhookNotifier::to_targets(
                targets.clone(),
                secret.as_bytes(),
            )?));
        }
        if let Some(hooks) = &self.slack {
            out.push(Arc::new(SlackNotifier::new(hooks.clone())?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HOOK: &str = "https://hooks.slack.com/services/T000/B000/SECRETPART";

    #[test]
    fn an_empty_document_turns_nothing_on() {
        for json in [
            "{}",
            r#"{"slack_webhooks": {}, "webhook_url": "", "webhook_secret": ""}"#,
        ] {
            let settings = ChannelSettings::parse(json).unwrap();
            assert!(settings.is_empty(), "{json}");
            assert!(settings.notifiers().unwrap().is_empty());
        }
    }

    #[test]
    fn slack_and_webhook_become_two_channels() {
        let json = format!(
            r#"{{"slack_webhooks": {{"reviewers": "{HOOK}"}},
                "webhook_url": "https://hooks.example.com/hitl",
                "webhook_secret": "0123456789abcdef0123"}}"#
        );
        let settings = ChannelSettings::parse(&json).unwrap();
        let channels: Vec<String> = settings
            .notifiers()
            .unwrap()
            .iter()
            .map(|n| n.channel().to_owned())
            .collect();
        assert_eq!(channels, ["webhook", "slack"]);
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("SECRETPART") && !shown.contains("0123456789"),
            "{shown}"
        );
    }

    #[test]
    fn a_webhook_per_group_is_one_channel() {
        let json = r#"{"webhook_urls": {"reviewers": "https://a.example/r", "escalations": "https://b.example/e"},
                       "webhook_secret": "0123456789abcdef0123"}"#;
        let settings = ChannelSettings::parse(json).unwrap();
        let channels = settings.notifiers().unwrap();
        assert_eq!(channels.len(), 1);
        assert_eq!(channels[0].channel(), "webhook");
        assert!(!format!("{settings:?}").contains("a.example"));
    }

    #[test]
    fn mistakes_are_named_without_the_credentials() {
        let cases = [
            (r#"{"slack_webhook": {}}"#.to_owned(), "unknown field `slack_webhook`"),
            (
                r#"{"webhook_url": "https://hooks.example.com/x"}"#.to_owned(),
                "webhook_url(s) is set but webhook_secret is not",
            ),
            (
                r#"{"webhook_url": "https://hooks.example.com/x", "webhook_secret": "short"}"#
                    .to_owned(),
                "webhook_secret: at least 16 bytes",
            ),
            (
                r#"{"webhook_url": "ftp://hooks.example.com/x", "webhook_secret": "0123456789abcdef"}"#
                    .to_owned(),
                "webhook_url: must be http:// or https://",
            ),
            (
                r#"{"slack_webhooks": {"reviewers": "http://hooks.slack.com/services/T/B/SECRETPART"}}"#
                    .to_owned(),
                "slack_webhooks: group reviewers: the webhook URL must be https://",
            ),
            (
                r#"{"slack_webhooks": {"reviewers": 7}}"#.to_owned(),
                "not the expected JSON object",
            ),
            (r#"{"webhook_secret": "SECRETPART-0123456789"}"#.to_owned(), "webhook_secret is set but neither webhook_url nor webhook_urls"),
            (
                r#"{"webhook_url": "https://a.example/SECRETPART", "webhook_urls": {"r": "https://b.example/"}, "webhook_secret": "0123456789abcdef"}"#
                    .to_owned(),
                "webhook_url and webhook_urls are both set",
            ),
            (
                r#"{"webhook_urls": {"reviewers": "ftp://a.example/SECRETPART"}, "webhook_secret": "0123456789abcdef"}"#
                    .to_owned(),
                "webhook_urls: webhook URL of group reviewers: must be http",
            ),
        ];
        for (json, expected) in cases {
            let error = ChannelSettings::parse(&json).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
            assert!(!error.contains("SECRETPART"), "{json}: {error}");
        }
    }
}
