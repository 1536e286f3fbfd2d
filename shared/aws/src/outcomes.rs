//! The outcome publisher on AWS: envelopes to S3 (skipping an identical object, so a retried
//! task writes one object version) and `Workflow Finished` events to EventBridge.

use async_trait::async_trait;
use hitl_domain::error::HandlerError;
use hitl_domain::outcome::{EVENT_DETAIL_TYPE, EVENT_SOURCE};
use hitl_domain::ports::OutcomePublisher;
use serde_json::Value;

/// S3 metadata key holding the envelope's content hash.
pub const CONTENT_HASH_METADATA: &str = "content-sha256";

/// S3 + EventBridge.
#[derive(Debug, Clone)]
pub struct AwsOutcomePublisher {
    s3: aws_sdk_s3::Client,
    events: aws_sdk_eventbridge::Client,
    bucket: String,
    bus: String,
}

impl AwsOutcomePublisher {
    /// Wraps the clients, the bucket and the bus name (`default` for the default bus).
    pub fn new(
        s3: aws_sdk_s3::Client,
        events: aws_sdk_eventbridge::Client,
        bucket: impl Into<String>,
        bus: impl Into<String>,
    ) -> Self {
        Self {
            s3,
            events,
            bucket: bucket.into(),
            bus: bus.into(),
        }
    }
}

fn failed(what: &str, err: impl std::error::Error) -> HandlerError {
    HandlerError::PublishFailed(format!(
        "{what}: {}",
        aws_sdk_s3::error::DisplayErrorContext(err)
    ))
}

#[async_trait]
impl OutcomePublisher for AwsOutcomePublisher {
    async fn store_envelope(
        &self,
        key: &str,
        body: &[u8],
        content_hash: &str,
    ) -> Result<String, HandlerError> {
        let location = format!("s3://{}/{key}", self.bucket);
        // The same outcome published again (a retried task) is already there: no new version.
        let existing = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match existing {
            Ok(head) => {
                let same = head
                    .metadata()
                    .and_then(|m| m.get(CONTENT_HASH_METADATA))
                    .is_some_and(|h| h == content_hash);
                if same {
                    return Ok(location);
                }
            }
            Err(err) => {
                let not_found = err
                    .as_service_error()
                    .is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found)
                    || err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404);
                if !not_found {
                    return Err(failed("reading the existing envelope", err));
                }
            }
        }
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .metadata(CONTENT_HASH_METADATA, content_hash)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
            .send()
            .await
            .map_err(|e| failed("storing the envelope", e))?;
        Ok(location)
    }

    async fn emit_finished(&self, detail: &Value) -> Result<(), HandlerError> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(EVENT_DETAIL_TYPE)
            .detail(detail.to_string())
            .event_bus_name(&self.bus)
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| failed("putting the event", e))?;
        if out.failed_entry_count() > 0 {
            let reason = out
                .entries()
                .iter()
                .find_map(|e| e.error_message())
                .unwrap_or("unknown");
            return Err(HandlerError::PublishFailed(format!(
                "EventBridge refused the event: {reason}"
            )));
        }
        Ok(())
    }
}
