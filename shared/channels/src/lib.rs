//! Notification channels beyond SNS and the local log (issue 30): a generic webhook that
//! signs what it sends, so a receiver can check it came from this deployment, unchanged and
//! recently, email over SMTP to the addresses of each group, and Slack messages with an "Open
//! review" button to each group's incoming webhook; on AWS the webhook and Slack are
//! configured as one JSON document ([`settings`]) kept in Secrets Manager.

pub mod email;
pub mod settings;
pub mod slack;
pub mod webhook;

pub use email::{EmailNotifier, Recipients};
/// One notification to several channels (the domain's).
pub use hitl_domain::ports::Fanout;
pub use settings::ChannelSettings;
pub use slack::{SlackNotifier, SlackWebhooks};
/// An HTTP error without its URL (a webhook's URL can be a credential) but with its causes
/// (connection refused, DNS, TLS), which name no URL.
pub(crate) fn without_url(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

pub use webhook::{
    delivery_id, sign, verify, VerifyError, WebhookNotifier, DELIVERY_HEADER, SIGNATURE_HEADER,
    TIMESTAMP_HEADER, TOLERANCE,
};
