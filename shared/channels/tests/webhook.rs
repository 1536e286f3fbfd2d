//! Issue 30, the webhook channel, over real HTTP: a local receiver verifies every request as
//! docs/NOTIFICATIONS.md tells receivers to (signature over the raw body, replay window) and
//! answers from a script — retried on 503, delivered once with one delivery id, refused at once
//! on 400, failed after the budget when nobody answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use serde_json::Value;

use hitl_channels::{verify, WebhookNotifier, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use hitl_domain::error::HandlerError;
use hitl_domain::ports::{Notification, NotificationKind, Notifier};

const SECRET: &[u8] = b"whsec-0123456789abcdef";

/// What the receiver saw: per request, whether the signature verified, the delivery id and
/// the body.
#[derive(Default)]
struct Receiver {
    answers: Mutex<Vec<u16>>,
    seen: Mutex<Vec<(bool, String, Value)>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = verify(
        SECRET,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        Utc::now(),
    )
    .is_ok();
    let id = header(DELIVERY_HEADER).unwrap_or_default().to_owned();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.seen.lock().unwrap().push((verified, id, value));
    let mut answers = r.answers.lock().unwrap();
    let status = if answers.is_empty() {
        200
    } else {
        answers.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

async fn receiver(answers: &[u16]) -> (String, Arc<Receiver>) {
    let state = Arc::new(Receiver {
        answers: Mutex::new(answers.to_vec()),
        seen: Mutex::default(),
    });
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn notification(message: &str) -> Notification {
    Notification {
        kind: NotificationKind::ReviewRequested,
        workflow_id: "wf-1".into(),
        subject_name: "Cedar Candles".into(),
        iteration: 2,
        reviewer_group: "reviewers".into(),
        reason: None,
        message: message.into(),
        link: Some("https://review.example/#/workflows/wf-1".into()),
    }
}

#[tokio::test]
async fn a_signed_notification_is_retried_through_a_503_and_carries_one_delivery_id() {
    let (url, r) = receiver(&[503]).await;
    let notifier = WebhookNotifier::new(&url, SECRET).unwrap();
    notifier
        .publish(&notification(
            "Iteration 2 of Cedar Candles waits for review",
        ))
        .await
        .unwrap();
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one 503, then delivered");
    assert!(seen.iter().all(|(verified, _, _)| *verified));
    assert_eq!(seen[0].1, seen[1].1, "a retry carries the same delivery id");
    assert_eq!(seen[0].1.len(), 32);
    let body = &seen[1].2;
    assert_eq!(body["workflow_id"], "wf-1");
    assert_eq!(body["kind"], "review_requested", "{body}");
    assert_eq!(body["delivery_id"], seen[1].1.as_str());
    assert_eq!(body["link"], "https://review.example/#/workflows/wf-1");
    assert!(!body.to_string().to_lowercase().contains("token"), "{body}");

    // Published again (a retried function): the same id, so the receiver can drop it; another
    // notification (a reminder's other message) has another id.
    notifier
        .publish(&notification(
            "Iteration 2 of Cedar Candles waits for review",
        ))
        .await
        .unwrap();
    notifier
        .publish(&notification("Cedar Candles: review due in 1 hour"))
        .await
        .unwrap();
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen[2].1, seen[0].1);
    assert_ne!(seen[3].1, seen[0].1);
}

#[tokio::test]
async fn a_4xx_fails_at_once_and_a_receiver_that_keeps_failing_fails_within_the_budget() {
    let (url, r) = receiver(&[400]).await;
    let err = WebhookNotifier::new(&url, SECRET)
        .unwrap()
        .publish(&notification("m"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HandlerError::NotificationFailed(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("400"), "{err}");
    assert_eq!(r.seen.lock().unwrap().len(), 1, "a 400 is not retried");

    let (url, r) = receiver(&[503, 503, 503, 503, 503]).await;
    let started = std::time::Instant::now();
    let err = WebhookNotifier::new(&url, SECRET)
        .unwrap()
        .with_budget(Duration::from_secs(5))
        .publish(&notification("m"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("after 4 attempt(s)"), "{err}");
    assert_eq!(r.seen.lock().unwrap().len(), 4);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_receiver_with_another_secret_refuses_the_request() {
    let (url, r) = receiver(&[]).await;
    WebhookNotifier::new(&url, b"not-the-receivers-secret")
        .unwrap()
        .publish(&notification("m"))
        .await
        .unwrap();
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].0, "the receiver's check fails for another secret");
}
