//! Email notifications on AWS (issue 30): `hitl_aws::email::SesNotifier` sends through SES v2
//! with the real SDK client, against moto's SES; what moto received is read back from its
//! state (`/moto-api/data.json`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::moto::Moto;
use hitl_aws::email::SesNotifier;
use hitl_domain::ports::{parse_email_recipients, Notification, NotificationKind, Notifier};
use serde_json::Value;

fn notification(group: &str) -> Notification {
    Notification {
        kind: NotificationKind::ReviewRequested,
        workflow_id: "wf-ses".into(),
        subject_name: "Cedar Candles".into(),
        iteration: 2,
        reviewer_group: group.into(),
        reason: None,
        message: "Draft 2 of Cedar Candles is ready for review; decide by 2026-12-10 09:00 UTC (in 72 h).".into(),
        link: Some("https://review.example.com/#/workflows/wf-ses".into()),
    }
}

async fn sent(moto: &Moto) -> Vec<Value> {
    let state: Value = reqwest::get(format!("{}/moto-api/data.json", moto.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_emailed_through_ses_to_their_group() {
    let moto = Moto::start().await;
    let sdk = moto.sdk().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ses.create_email_identity()
        .email_identity("hitl@example.com")
        .send()
        .await
        .unwrap();
    let to = parse_email_recipients(
        "reviewers=rita@example.com,sam@example.com;escalations=olga@example.com",
    )
    .unwrap();
    let email = SesNotifier::new(ses, "hitl@example.com".into(), to);

    email.publish(&notification("reviewers")).await.unwrap();
    // A group without addresses gets no email (and that is not a failure).
    email.publish(&notification("marketing")).await.unwrap();

    let messages = sent(&moto).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let m = &messages[0];
    assert_eq!(m["source"], "hitl@example.com");
    assert_eq!(
        m["destinations"]["ToAddresses"],
        serde_json::json!(["rita@example.com", "sam@example.com"])
    );
    assert_eq!(m["subject"], "Review requested: Cedar Candles, draft 2");
    let body = m["body"].as_str().unwrap();
    assert!(body.contains("(in 72 h)."), "{body}");
    assert!(
        body.contains("Open it on the review page: https://review.example.com/#/workflows/wf-ses"),
        "{body}"
    );
    assert!(
        body.contains("Workflow wf-ses · iteration 2 · group reviewers"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_sender_is_a_notification_failure_naming_ses() {
    let moto = Moto::start().await;
    let sdk = moto.sdk().await;
    let to = parse_email_recipients("reviewers=rita@example.com").unwrap();
    let email = SesNotifier::new(
        aws_sdk_sesv2::Client::new(&sdk),
        "nobody@example.com".into(),
        to,
    );
    let err = email.publish(&notification("reviewers")).await.unwrap_err();
    assert_eq!(err.name().as_str(), "NotificationFailed", "{err}");
    assert!(err.to_string().contains("SES SendEmail"), "{err}");
    assert!(sent(&moto).await.is_empty());
}

#[test]
fn recipients_are_read_per_group_and_bad_entries_are_named() {
    let r = parse_email_recipients(
        "reviewers=rita@example.com, sam@example.com; escalations=Olga Berg <olga@example.com>",
    )
    .unwrap();
    assert_eq!(r["reviewers"], ["rita@example.com", "sam@example.com"]);
    assert_eq!(r["escalations"], ["Olga Berg <olga@example.com>"]);
    for (bad, says) in [
        ("reviewers", "not group=address"),
        ("=a@example.com", "names no group"),
        ("reviewers=", "has no address"),
        (
            "reviewers=rita",
            "\"rita\" (group reviewers) is not an email address",
        ),
        (
            "reviewers=Rita <rita@exa mple.com>",
            "is not an email address",
        ),
        (
            "reviewers=Rita <rita@example.com",
            "is not an email address",
        ),
        ("", "no group=address"),
    ] {
        let err = parse_email_recipients(bad).unwrap_err();
        assert!(err.contains(says), "{bad}: {err}");
    }
}
