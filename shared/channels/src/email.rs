//! Email over SMTP (issue 30): each notification goes to the addresses configured for its
//! group, as plain text that names the subject, the deadline both ways and the link to the
//! workflow on the review page. The `Message-ID` is the notification's [`delivery_id`], so a
//! retried notification is the same message to the mail system and to threads that
//! deduplicate on it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hitl_domain::error::HandlerError;
use hitl_domain::ports::{Notification, Notifier};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Addresses per group: `reviewers=rita@example.com,sam@example.com;escalations=olga@example.com`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients(BTreeMap<String, Vec<Mailbox>>);

impl Recipients {
    /// Reads the `group=address,address;group=address` form with the domain's parser (the
    /// one SES uses), then each address as an RFC 5322 mailbox; a malformed entry or address
    /// is refused naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut groups = BTreeMap::new();
        for (group, addresses) in hitl_domain::ports::parse_email_recipients(text)? {
            let mailboxes = addresses
                .iter()
                .map(|a| {
                    a.parse::<Mailbox>()
                        .map_err(|e| format!("{a:?} (group {group}) is not an email address: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            groups.insert(group, mailboxes);
        }
        Ok(Self(groups))
    }

    /// The addresses of `group` (none: the group gets no email).
    pub fn of(&self, group: &str) -> &[Mailbox] {
        self.0.get(group).map_or(&[], Vec::as_slice)
    }
}

/// Sends notifications by SMTP.
pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Recipients,
}

impl std::fmt::Debug for EmailNotifier {
    // The transport holds the credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("from", &self.from.to_string())
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// Over the SMTP server at `url` (`smtp://host:port` in the clear for a local relay,
    /// `smtp://host:587?tls=required` for STARTTLS, `smtps://host:465` for TLS), signing in
    /// with the URL's user and `password` when given; from `from`, to `to`.
    pub fn new(
        url: &str,
        password: Option<String>,
        from: &str,
        to: Recipients,
    ) -> Result<Self, HandlerError> {
        let config = |m: String| HandlerError::Config(m);
        let parsed =
            url::Url::parse(url).map_err(|e| config(format!("the SMTP URL is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(config(format!(
                "the SMTP URL must start with smtp:// or smtps://, not {}://",
                parsed.scheme()
            )));
        }
        if parsed.password().is_some() {
            return Err(config(
                "the SMTP URL must not hold a password: give it in its own variable".into(),
            ));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| config(format!("the SMTP URL: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(password) = password {
            builder = builder.credentials(Credentials::new(parsed.username().to_owned(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from: from
                .parse()
                .map_err(|e| config(format!("the sender {from:?} is not an email address: {e}")))?,
            to,
        })
    }

    /// The message for `notification` to `to`.
    pub fn message(
        &self,
        notification: &Notification,
        to: &[Mailbox],
        id: &str,
    ) -> Result<Message, HandlerError> {
        // The id may hold `/` (the outbox's `wf-…/review_requested/2`): kept to what a
        // Message-ID's left part allows.
        let id: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(notification.email_subject())
            .message_id(Some(format!("<{id}@hitl>")))
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            builder = builder.to(address.clone());
        }
        builder
            .body(notification.email_text())
            .map_err(|e| HandlerError::NotificationFailed(format!("building the email: {e}")))
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn channel(&self) -> &str {
        "email"
    }

    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        self.mail(notification, delivery_id).await
    }
}

impl EmailNotifier {
    async fn mail(&self, notification: &Notification, id: &str) -> Result<(), HandlerError> {
        let to = self.to.of(&notification.reviewer_group);
        if to.is_empty() {
            tracing::info!(group = %notification.reviewer_group, "no email address for this group");
            return Ok(());
        }
        let message = self.message(notification, to, id)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| HandlerError::NotificationFailed(format!("email: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::webhook::delivery_id;
    use hitl_domain::ports::NotificationKind;

    fn notification() -> Notification {
        Notification {
            kind: NotificationKind::ReviewRequested,
            workflow_id: "wf-1".into(),
            subject_name: "Cedar\r\nBcc: x@evil.example Candles".into(),
            iteration: 2,
            reviewer_group: "reviewers".into(),
            reason: None,
            message: "Draft 2 of Cedar Candles is ready for review; decide by 2026-12-10 09:00 UTC (in 72 h).".into(),
            link: Some("http://127.0.0.1:8080/#/workflows/wf-1".into()),
        }
    }

    #[test]
    fn recipients_are_read_per_group_and_bad_entries_are_named() {
        let r = Recipients::parse(
            "reviewers=rita@example.com, sam@example.com; escalations=Olga <olga@example.com>",
        )
        .unwrap();
        assert_eq!(r.of("reviewers").len(), 2);
        assert_eq!(r.of("escalations")[0].email.to_string(), "olga@example.com");
        assert!(r.of("marketing").is_empty());
        for (bad, says) in [
            ("reviewers", "not group=address"),
            ("=a@example.com", "names no group"),
            ("reviewers=", "has no address"),
            (
                "reviewers=not-an-address",
                "\"not-an-address\" (group reviewers)",
            ),
            ("", "no group=address"),
        ] {
            let err = Recipients::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_message_is_one_subject_line_with_the_link_and_a_stable_id() {
        let to = Recipients::parse("reviewers=rita@example.com").unwrap();
        let email = EmailNotifier::new(
            "smtp://127.0.0.1:2525",
            None,
            "HITL <hitl@example.com>",
            to.clone(),
        )
        .unwrap();
        let n = notification();
        let text = String::from_utf8(
            email
                .message(&n, to.of("reviewers"), &delivery_id(&n))
                .unwrap()
                .formatted(),
        )
        .unwrap();
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers.to_ascii_lowercase().contains("\r\nbcc:"),
            "{headers}"
        );
        assert!(
            headers
                .contains("Subject: Review requested: CedarBcc: x@evil.example Candles, draft 2"),
            "{headers}"
        );
        assert!(
            headers.contains(&format!("Message-ID: <{}@hitl>", delivery_id(&n))),
            "{headers}"
        );
        assert!(
            text.contains("Open it on the review page: http://127.0.0.1:8080/#/workflows/wf-1"),
            "{text}"
        );
        // Through the outbox: its delivery id, kept to a Message-ID's characters.
        let outbox = String::from_utf8(
            email
                .message(&n, to.of("reviewers"), "wf-1/review_requested/2")
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            outbox.contains("Message-ID: <wf-1.review_requested.2@hitl>"),
            "{outbox}"
        );
    }

    #[test]
    fn bad_settings_are_configuration_errors() {
        let to = Recipients::parse("reviewers=rita@example.com").unwrap();
        for (url, from, says) in [
            (
                "http://mail.example.com",
                "hitl@example.com",
                "smtp:// or smtps://",
            ),
            (
                "smtp://user:secret@mail.example.com",
                "hitl@example.com",
                "must not hold a password",
            ),
            ("smtp://mail.example.com", "not an address", "sender"),
        ] {
            let err = EmailNotifier::new(url, None, from, to.clone()).unwrap_err();
            assert_eq!(err.name().as_str(), "ConfigError");
            assert!(err.to_string().contains(says), "{url}: {err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }
}
