//! One notification to several channels (the notification log and a webhook, say).

use std::sync::Arc;

use async_trait::async_trait;
use hitl_domain::error::HandlerError;
use hitl_domain::ports::{Notification, Notifier};

/// Publishes to every channel in order; each is tried even when an earlier one failed, and
/// the failures are reported together (the caller's retry then publishes to all again, which
/// the webhook's delivery id makes harmless for its receivers).
pub struct Fanout(Vec<Arc<dyn Notifier>>);

impl Fanout {
    /// Over `channels`.
    pub fn new(channels: Vec<Arc<dyn Notifier>>) -> Self {
        Self(channels)
    }
}

#[async_trait]
impl Notifier for Fanout {
    async fn publish(&self, notification: &Notification) -> Result<(), HandlerError> {
        let mut failures = Vec::new();
        for channel in &self.0 {
            if let Err(e) = channel.publish(notification).await {
                failures.push(e.to_string());
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::NotificationFailed(failures.join("; ")))
        }
    }
}
