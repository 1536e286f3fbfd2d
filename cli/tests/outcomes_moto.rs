//! Issue 18 with the real SDK clients against moto server: the publisher stores an approved
//! workflow's envelope in a versioned bucket (read back byte for byte; a retried publication
//! adds no version) and emits `Workflow Finished` on the default bus, captured by a rule into
//! an SQS queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::moto::Moto;
use hitl_aws::outcomes::AwsOutcomePublisher;
use hitl_domain::ports::OutcomePublisher;
use serde_json::{json, Value};

#[tokio::test]
async fn envelopes_land_in_s3_once_and_events_reach_a_rule_target() {
    let moto = Moto::start().await;
    let sdk = moto.sdk().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    s3.create_bucket()
        .bucket("hitl-outcomes")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket("hitl-outcomes")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name("finished")
        .send()
        .await
        .unwrap();
    let queue_url = queue.queue_url().unwrap().to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("hitl-finished")
        .event_pattern(
            json!({"source": ["hitl.orchestrator"], "detail-type": ["Workflow Finished"]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("hitl-finished")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let publisher = AwsOutcomePublisher::new(s3.clone(), events, "hitl-outcomes", "default");
    let key = "metadata/dev/brand-1/wf-1.json";
    let body = br#"{"schema_version":"1.0","workflow_id":"wf-1"}"#;
    let first = publisher.store_envelope(key, body, "hash-1").await.unwrap();
    let again = publisher.store_envelope(key, body, "hash-1").await.unwrap();
    assert_eq!(first, "s3://hitl-outcomes/metadata/dev/brand-1/wf-1.json");
    assert_eq!(first, again);
    let versions = s3
        .list_object_versions()
        .bucket("hitl-outcomes")
        .prefix(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        versions.versions().len(),
        1,
        "a retried publication adds no version"
    );
    let object = s3
        .get_object()
        .bucket("hitl-outcomes")
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("application/json"));
    let read = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(&read[..], &body[..]);

    publisher
        .emit_finished(&json!({"workflow_id": "wf-1", "outcome": "approved", "location": first}))
        .await
        .unwrap();
    let mut received: Option<Value> = None;
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = out.messages().first() {
            received = serde_json::from_str(m.body().unwrap()).ok();
            break;
        }
    }
    let event = received.expect("the event reached the rule's queue");
    assert_eq!(event["source"], "hitl.orchestrator");
    assert_eq!(event["detail-type"], "Workflow Finished");
    assert_eq!(event["detail"]["workflow_id"], "wf-1");
    assert_eq!(
        event["detail"]["location"],
        "s3://hitl-outcomes/metadata/dev/brand-1/wf-1.json"
    );
}
