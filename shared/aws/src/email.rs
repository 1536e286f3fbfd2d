//! Email notifications on AWS through SES v2 (issue 30): each notification goes to the
//! addresses of its group (`HITL_EMAIL_TO`), from `HITL_EMAIL_FROM` (an identity the stack
//! verifies), as plain text that names the subject, the deadline both ways and the link to
//! the workflow on the review page — the same text as the SMTP channel's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use hitl_domain::error::HandlerError;
use hitl_domain::ports::{Notification, Notifier};

/// Sends notifications with SES v2 `SendEmail`.
#[derive(Debug, Clone)]
pub struct SesNotifier {
    ses: aws_sdk_sesv2::Client,
    from: String,
    to: BTreeMap<String, Vec<String>>,
}

impl SesNotifier {
    /// From `from` to the addresses per group in `to`.
    pub fn new(
        ses: aws_sdk_sesv2::Client,
        from: String,
        to: BTreeMap<String, Vec<String>>,
    ) -> Self {
        Self { ses, from, to }
    }
}

fn text(data: String) -> Result<Content, HandlerError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| HandlerError::NotificationFailed(format!("building the email: {e}")))
}

#[async_trait]
impl Notifier for SesNotifier {
    fn channel(&self) -> &str {
        "email"
    }

    /// SES v2's simple content sets its own `Message-ID`; the delivery id is not carried.
    async fn send(&self, notification: &Notification, _: &str) -> Result<(), HandlerError> {
        let Some(to) = self.to.get(&notification.reviewer_group) else {
            tracing::info!(group = %notification.reviewer_group, "no email address for this group");
            return Ok(());
        };
        let message = Message::builder()
            .subject(text(notification.email_subject())?)
            .body(
                Body::builder()
                    .text(text(notification.email_text())?)
                    .build(),
            )
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                HandlerError::NotificationFailed(format!(
                    "SES SendEmail: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(e)
                ))
            })
    }
}
