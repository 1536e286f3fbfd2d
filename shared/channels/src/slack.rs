//! The Slack channel: each notification posted to the Slack incoming webhook of its group, as a
//! Block Kit message — what happened as the header, the message, the workflow, iteration and
//! group as context, and an **Open review** button that links to the workflow on the review
//! page (when the page's URL is known). Never a task token: notifications carry none.
//!
//! Configured per group, as email is: `reviewers=https://hooks.slack.com/services/…;escalations=…`
//! (`HITL_SLACK_WEBHOOKS`). An incoming webhook's URL is its credential, so the URLs are never
//! logged (errors name the group, not the URL) and must be `https://` (plain `http://` only to a
//! loopback address, for tests). A group without a webhook gets no Slack message.
//!
//! **Delivery.** One attempt per call: a 2xx answer is sent; anything else (Slack answers 400
//! `invalid_payload`, 403, 404 `no_service`, 410 `channel_is_archived`, 429 with `Retry-After`,
//! 5xx) fails with the status and Slack's short reason, and the notification outbox retries it
//! with backoff (`hitl_domain::notify`). Slack does not deduplicate incoming-webhook posts, so a
//! crash between Slack's answer and the outbox's write can repeat one message; the message's
//! context names the delivery id so a repeat can be recognised.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use hitl_domain::error::HandlerError;
use hitl_domain::ports::{Notification, Notifier};

/// Longest header Slack accepts (plain text).
const HEADER_LIMIT: usize = 150;
/// Longest section text Slack accepts.
const SECTION_LIMIT: usize = 3000;
/// Time allowed for one post.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The incoming webhook of each group.
#[derive(Clone)]
pub struct SlackWebhooks(BTreeMap<String, url::Url>);

impl std::fmt::Debug for SlackWebhooks {
    // The URLs are credentials: only the groups are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl SlackWebhooks {
    /// Parses `group=url;group=url`. A malformed entry, a URL that does not parse, or one that
    /// is not `https://` (`http://` to a loopback address is allowed, for tests) is refused
    /// naming its group — never the URL, which is a secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pairs = Vec::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((group, raw)) = entry.split_once('=') else {
                return Err("an entry is not group=https://hooks.slack.com/…".into());
            };
            pairs.push((group, raw));
        }
        Self::from_pairs(pairs)
    }

    /// The same rules over `(group, url)` pairs (the AWS settings hold them as a JSON object).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut hooks = BTreeMap::new();
        for (group, raw) in pairs {
            let group = group.trim();
            if group.is_empty() {
                return Err("an entry names no group".into());
            }
            let url = url::Url::parse(raw.trim())
                .map_err(|e| format!("group {group}: the webhook URL does not parse ({e})"))?;
            let loopback = url.host().is_some_and(|h| {
                matches!(h, url::Host::Ipv4(ip) if ip.is_loopback())
                    || matches!(h, url::Host::Domain("localhost"))
            });
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                other => {
                    return Err(format!(
                        "group {group}: the webhook URL must be https:// (got {other}://)"
                    ))
                }
            }
            if hooks.insert(group.to_owned(), url).is_some() {
                return Err(format!("group {group} is named twice"));
            }
        }
        if hooks.is_empty() {
            return Err("no group=url entry".into());
        }
        Ok(Self(hooks))
    }

    /// The groups that have a webhook.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Slack's `mrkdwn` escaping: `&`, `<` and `>` (so a subject name cannot make a link or a
/// mention).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clipped(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(limit - 1).collect();
        cut.push('…');
        cut
    }
}

/// The Block Kit message for `notification` (`text` is the fallback for notifications and
/// screen readers).
pub fn message(notification: &Notification, delivery_id: &str) -> Value {
    let header = clipped(&notification.email_subject(), HEADER_LIMIT);
    let mut context = format!(
        "Workflow `{}` · iteration {} · group {}",
        escape(&notification.workflow_id),
        notification.iteration,
        escape(&notification.reviewer_group)
    );
    if let Some(reason) = &notification.reason {
        context.push_str(&format!(" · reason {}", escape(reason)));
    }
    context.push_str(&format!(" · delivery `{}`", escape(delivery_id)));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn",
            "text": clipped(&escape(&notification.message), SECTION_LIMIT)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}),
    ];
    if let Some(link) = &notification.link {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "action_id": "open_review",
            "style": "primary",
            "text": {"type": "plain_text", "text": "Open review"},
            "url": link,
        }]}));
    }
    json!({
        "text": format!("{header}: {}", notification.message),
        "blocks": blocks,
    })
}

/// Posts each notification to its group's Slack incoming webhook.
pub struct SlackNotifier {
    hooks: SlackWebhooks,
    http: reqwest::Client,
}

impl SlackNotifier {
    /// Over the groups' webhooks.
    pub fn new(hooks: SlackWebhooks) -> Result<Self, HandlerError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A webhook URL answers where it is; following a redirect would send the message
            // somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HandlerError::Config(format!("Slack HTTP client: {e}")))?;
        Ok(Self { hooks, http })
    }

    async fn post(&self, notification: &Notification, id: &str) -> Result<(), HandlerError> {
        let group = &notification.reviewer_group;
        let Some(url) = self.hooks.0.get(group) else {
            tracing::info!(%group, "no Slack webhook for this group");
            return Ok(());
        };
        let answer = self
            .http
            .post(url.clone())
            .json(&message(notification, id))
            .send()
            .await
            // Without the URL: reqwest's error would print it.
            .map_err(|e| {
                HandlerError::NotificationFailed(format!(
                    "Slack webhook of group {group} not reached: {}",
                    crate::without_url(e)
                ))
            })?;
        let status = answer.status();
        if status.is_success() {
            tracing::info!(workflow_id = %notification.workflow_id, %group, delivery_id = %id,
                "Slack message posted");
            return Ok(());
        }
        let retry_after = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(", retry after {v} s"))
            .unwrap_or_default();
        let reason: String = answer
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        Err(HandlerError::NotificationFailed(format!(
            "Slack webhook of group {group} answered {status}{retry_after}: {reason}"
        )))
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn channel(&self) -> &str {
        "slack"
    }

    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        self.post(notification, delivery_id).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::ports::NotificationKind;

    fn notification(link: Option<&str>) -> Notification {
        Notification {
            kind: NotificationKind::ReviewRequested,
            workflow_id: "wf-1".into(),
            subject_name: "Cedar <!channel> & Candles".into(),
            iteration: 2,
            reviewer_group: "reviewers".into(),
            reason: None,
            message: "Draft 2 of Cedar <!channel> & Candles is ready; decide by 2026-12-10 09:00 UTC (in 72 h).".into(),
            link: link.map(str::to_owned),
        }
    }

    #[test]
    fn the_message_has_a_header_the_text_escaped_and_an_open_review_button() {
        let m = message(
            &notification(Some("https://review.example/#/workflows/wf-1")),
            "wf-1/review_requested/2",
        );
        let blocks = m["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            "Review requested: Cedar <!channel> & Candles, draft 2"
        );
        assert_eq!(
            blocks[0]["text"]["type"], "plain_text",
            "no markup in a header"
        );
        let section = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(
            section.contains("Cedar &lt;!channel&gt; &amp; Candles"),
            "{section}"
        );
        let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
        assert!(
            context.contains("`wf-1`") && context.contains("delivery `wf-1/review_requested/2`")
        );
        let button = &blocks[3]["elements"][0];
        assert_eq!(button["text"]["text"], "Open review");
        assert_eq!(button["url"], "https://review.example/#/workflows/wf-1");
        assert!(m["text"].as_str().unwrap().starts_with("Review requested:"));
        // Without the page's URL: no button.
        let plain = message(&notification(None), "id");
        assert_eq!(plain["blocks"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn webhooks_are_read_per_group_and_bad_entries_are_named_without_the_url() {
        let hooks = SlackWebhooks::parse(
            "reviewers=https://hooks.slack.com/services/T0/B0/secret1; escalations=http://127.0.0.1:9/hook",
        )
        .unwrap();
        assert_eq!(
            hooks.groups().collect::<Vec<_>>(),
            ["escalations", "reviewers"]
        );
        assert!(!format!("{hooks:?}").contains("secret1"), "{hooks:?}");
        for (bad, says) in [
            ("reviewers", "not group="),
            ("=https://hooks.slack.com/x", "names no group"),
            (
                "reviewers=not a url",
                "group reviewers: the webhook URL does not parse",
            ),
            (
                "reviewers=http://hooks.slack.com/services/T0/B0/secret2",
                "must be https://",
            ),
            (
                "a=https://h.example/1;a=https://h.example/2",
                "group a is named twice",
            ),
            ("", "no group=url entry"),
        ] {
            let err = SlackWebhooks::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
