//! Notification channels beyond SNS and the local log (issue 30): a generic webhook that
//! signs what it sends, so a receiver can check it came from this deployment, unchanged and
//! recently.

pub mod fanout;
pub mod webhook;

pub use fanout::Fanout;
pub use webhook::{
    delivery_id, sign, verify, VerifyError, WebhookNotifier, DELIVERY_HEADER, SIGNATURE_HEADER,
    TIMESTAMP_HEADER, TOLERANCE,
};
