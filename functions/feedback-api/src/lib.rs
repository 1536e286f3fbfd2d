//! The reviewers' HTTP API on Lambda: the shared [`hitl_api::router`] behind an API Gateway
//! HTTP API whose JWT authorizer (Cognito user pool) has already verified the caller; the
//! identity comes from the verified claims in the request context.
//!
//! Environment: `HITL_TABLE_NAME` (DynamoDB table), `HITL_CURSOR_KEY` (key material of the
//! sealed page cursors, shared by all instances; from a generated secret), optional
//! `HITL_GROUPS_CLAIM` (default `cognito:groups`) and `HITL_NAME_CLAIM` (default: the first of
//! `email` when verified, `cognito:username`, `username`, `sub`).

use std::sync::Arc;

use hitl_api::{AppState, JwtClaims};
use hitl_app::Ports;

/// The router over `ports`, with identities taken from the JWT authorizer's claims.
pub fn app(ports: Ports, claims: JwtClaims) -> axum::Router {
    hitl_api::router(
        AppState::over(ports, Arc::new(claims))
            .with_cursor_seal(hitl_api::cursor::CursorSeal::from_env())
            .with_page_auth(hitl_api::oidc::PageAuth::from_env()),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use hitl_domain::model::{Artifact, WorkflowStatus};
    use hitl_domain::ports::Clock;

    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::{awaiting_review, MemoryStore};
    use hitl_domain::testing::{FixedClock, RecordingResumer};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    const TOKEN: &str = "tok-secret-feedback-api";

    struct Fixture {
        app: axum::Router,
        store: Arc<dyn WorkflowStore>,
        resumer: Arc<RecordingResumer>,
    }

    async fn setup() -> Fixture {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let clock = Arc::new(FixedClock::default());
        let wf = awaiting_review("wf-api-1", TOKEN, clock.now());
        store.create_workflow(&wf).await.unwrap();
        let content = json!({"name": "Acme Coffee", "tagline": "Discover Acme Coffee"});
        store
            .put_artifact(
                "wf-api-1",
                &Artifact {
                    iteration: 1,
                    hash: hitl_domain::metadata::content_hash(&content),
                    content,
                    generator: "local-generator".into(),
                    created_at: clock.now(),
                    usage: None,
                },
            )
            .await
            .unwrap();
        let resumer = Arc::new(RecordingResumer::default());
        Fixture {
            app: app(
                Ports::new(store.clone(), clock).with_resumer(resumer.clone()),
                JwtClaims::default(),
            ),
            store,
            resumer,
        }
    }

    async fn invoke(app: &axum::Router, fixture: &str) -> (u16, Value) {
        let request = lambda_http::request::from_str(fixture).unwrap();
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(!text.contains(TOKEN), "task token leaked: {text}");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    #[tokio::test]
    async fn the_queue_uses_the_authorizer_claims() {
        let f = setup().await;
        let (status, body) = invoke(&f.app, include_str!("../fixtures/get-reviews.json")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["items"][0]["workflow_id"], "wf-api-1");
    }

    #[tokio::test]
    async fn without_authorizer_claims_the_caller_is_unauthenticated() {
        let f = setup().await;
        let (status, body) = invoke(
            &f.app,
            include_str!("../fixtures/get-reviews-no-authorizer.json"),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "unauthenticated");
    }

    #[tokio::test]
    async fn the_page_needs_no_authorizer() {
        let f = setup().await;
        let (status, body) = invoke(&f.app, include_str!("../fixtures/get-page.json")).await;
        assert_eq!(status, 200);
        assert!(body
            .as_str()
            .unwrap()
            .contains("<title>HITL review</title>"));
    }

    #[tokio::test]
    async fn a_decision_is_recorded_under_the_claimed_identity_and_resumes() {
        let f = setup().await;
        let (status, body) = invoke(&f.app, include_str!("../fixtures/post-feedback.json")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "revising");
        let trail = f.store.list_feedback("wf-api-1").await.unwrap();
        assert_eq!(trail.len(), 1);
        // The verified email as display name, with the stable subject (issue 14).
        assert_eq!(
            trail[0].reviewer,
            "rita@example.com [5b1c3f4e-0000-4000-8000-000000000001]"
        );
        assert_eq!(trail[0].channel, "api");
        assert_eq!(f.resumer.delivered.lock().unwrap()[0].0, TOKEN);
        let (status, again) = invoke(&f.app, include_str!("../fixtures/post-feedback.json")).await;
        assert_eq!(
            (status, &again),
            (200, &body),
            "a replay answers identically"
        );
        let (status, view) = invoke(&f.app, include_str!("../fixtures/get-workflow.json")).await;
        assert_eq!(status, 200);
        assert_eq!(
            view["feedback"][0]["reviewer"],
            "rita@example.com [5b1c3f4e-0000-4000-8000-000000000001]"
        );
    }

    #[tokio::test]
    async fn a_reviewer_of_another_group_gets_404_and_nothing_is_recorded() {
        let f = setup().await;
        let (status, body) = invoke(
            &f.app,
            include_str!("../fixtures/post-feedback-wrong-group.json"),
        )
        .await;
        assert_eq!(status, 404, "{body}");
        assert!(f.store.list_feedback("wf-api-1").await.unwrap().is_empty());
        let wf = f.store.get_workflow("wf-api-1").await.unwrap().unwrap();
        assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
        assert!(f.resumer.delivered.lock().unwrap().is_empty());
    }
}
