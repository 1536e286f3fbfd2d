//! The router over real HTTP: every documented status, idempotent replay, a 200-request race,
//! and that task tokens never reach a response or the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Duration;
use common::*;
use hitl_domain::feedback::client_key;
use hitl_domain::model::{FeedbackOutcome, WorkflowStatus};
use hitl_domain::ports::ResumeError;
use serde_json::{json, Value};

// ---- public routes --------------------------------------------------------------------------

#[tokio::test]
async fn health_page_assets_and_description_are_public() {
    let s = Server::start().await;
    let health = s.get("/healthz", None).await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let page = s.get("/", None).await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    assert!(page.body.contains("app.js") && page.body.contains("app.css"));
    for (path, kind) in [
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
        ("/openapi.yaml", "application/yaml"),
    ] {
        let r = s.get(path, None).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
    }
    let missing = s.get("/nope", None).await;
    assert_eq!(
        (missing.status, missing.json()["error"].clone()),
        (404, json!("no_route"))
    );
}

// ---- 401 ------------------------------------------------------------------------------------

#[tokio::test]
async fn every_authenticated_route_answers_401_without_valid_credentials() {
    let s = Server::start().await;
    s.awaiting("wf-401", "reviewers").await;
    let url = |p: &str| format!("{}{p}", s.base);
    let attempts = [
        s.client.get(url("/reviews")),
        s.client
            .get(url("/reviews"))
            .bearer_auth("hitl_not-a-token"),
        s.client
            .get(url("/workflows/wf-401"))
            .header("authorization", format!("Basic {}", s.reviewers.rita)),
        s.client
            .post(url("/workflows/wf-401/feedback"))
            .header("content-type", "application/json")
            .header("idempotency-key", "k-401")
            .body(approve(1).to_string()),
        s.client.get(url("/analytics")),
    ];
    for request in attempts {
        let r = s.send(request).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.json()["error"], "unauthenticated");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    assert!(s.store.list_feedback("wf-401").await.unwrap().is_empty());
}

// ---- GET /reviews ---------------------------------------------------------------------------

#[tokio::test]
async fn the_queue_holds_only_what_the_caller_may_decide_newest_first_and_pages() {
    let s = Server::start().await;
    // GIVEN 5 workflows for `reviewers` and 3 for `marketing`, interleaved in time
    let mut expected_reviewers = Vec::new();
    for i in 0..8 {
        let group = if i % 3 == 1 { "marketing" } else { "reviewers" };
        let mut wf = awaiting(&format!("wf-q{i}"), group, s.now());
        wf.updated_at = s.now() + Duration::minutes(i);
        s.store.create_workflow(&wf).await.unwrap();
        if group == "reviewers" {
            expected_reviewers.insert(0, wf.id.clone());
        }
    }
    s.escalated("wf-q-finished").await;
    let ids = |r: &Resp| -> Vec<String> {
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["workflow_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // WHEN rita lists her queue THEN she sees only `reviewers` workflows, newest first
    let all = s.get("/reviews", Some(&s.reviewers.rita)).await;
    assert_eq!(all.status, 200);
    assert_eq!(ids(&all), expected_reviewers);
    assert!(all.json().get("next_cursor").is_none());
    let first = &all.json()["items"][0];
    assert_eq!(first["iteration"], 1);
    assert_eq!(first["reviewer_group"], "reviewers");
    assert!(first["deadline"].is_string());
    // mark sees marketing only; ada (admin) sees all eight
    let mark = s.get("/reviews", Some(&s.reviewers.mark)).await;
    assert_eq!(ids(&mark), ["wf-q7", "wf-q4", "wf-q1"]);
    let ada = s.get("/reviews?limit=100", Some(&s.reviewers.ada)).await;
    assert_eq!(ids(&ada).len(), 8);
    // pages of two, following the cursor, concatenate to the full list
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/reviews?limit=2&cursor={c}"),
            None => "/reviews?limit=2".to_owned(),
        };
        let page = s.get(&path, Some(&s.reviewers.rita)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = ids(&page);
        assert!(items.len() <= 2);
        paged.extend(items);
        cursor = page.json()["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(paged, expected_reviewers);
    // Issue 14: a cursor is sealed: it names no workflow in clear, and one that was altered
    // (or is the plain store cursor of before, or from another server) is a 400.
    let first = s.get("/reviews?limit=1", Some(&s.reviewers.rita)).await;
    let sealed = first.json()["next_cursor"].as_str().unwrap().to_owned();
    let ids_in_clear = ids(&ada);
    assert!(ids_in_clear.iter().all(|id| !sealed.contains(id.as_str())));
    let mut altered = sealed.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let r = s
        .get(
            &format!("/reviews?cursor={altered}"),
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(
        (r.status, r.error_fields()),
        (400, vec!["cursor".to_owned()])
    );
    // bad parameters are field errors
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=101", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("sort=asc", "sort"),
    ] {
        let r = s
            .get(&format!("/reviews?{query}"), Some(&s.reviewers.rita))
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.error_fields(), [field], "{query}");
    }
}

// ---- GET /workflows/{id} --------------------------------------------------------------------

#[tokio::test]
async fn the_workflow_view_has_draft_changes_feedback_and_deadline_but_no_token() {
    let s = Server::start().await;
    let wf = s.second_iteration("wf-view").await;
    let r = s.get("/workflows/wf-view", Some(&s.reviewers.rita)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["workflow_id"], "wf-view");
    assert_eq!(v["subject"]["name"], "Acme Coffee");
    assert_eq!(v["status"], "awaiting_review");
    assert_eq!(v["iteration"], 2);
    assert_eq!(v["review"]["iteration"], 2);
    let deadline = wf.pending_review.as_ref().unwrap().deadline;
    assert_eq!(
        v["deadline"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        deadline
    );
    assert_eq!(v["artifact"]["iteration"], 2);
    assert_eq!(v["artifact"]["content"]["tagline"], "Good mornings, brewed");
    assert_eq!(v["previous_iteration"], 1);
    assert_eq!(
        v["changes"],
        json!([
            {"field": "colors.secondary", "change": "added", "after": "#445566"},
            {"field": "tagline", "change": "changed", "before": "Discover Acme Coffee", "after": "Good mornings, brewed"}
        ])
    );
    assert_eq!(v["feedback"][0]["reviewer"], "sam");
    assert_eq!(v["feedback"][0]["comments"], "Make the tagline warmer.");
    assert_eq!(v["feedback"][0]["outcome"], "applied");
    assert_eq!(v["decisions"][0]["decision"], "request_changes");
    assert_eq!(
        v["correctable_fields"],
        json!(hitl_domain::metadata::brand_type().hints.correctable)
    );
    // the record holds tokens (pending review and the decision) — the answer does not
    assert!(wf.decisions[0].task_token.is_some());
    assert!(!r.body.contains(TOKEN_MARK));
    // other groups get the same 404 as unknown ids (issue 14), admins may look
    let mark = s.get("/workflows/wf-view", Some(&s.reviewers.mark)).await;
    assert_eq!(
        (mark.status, mark.json()["error"].clone()),
        (404, json!("not_found"))
    );
    let ada = s.get("/workflows/wf-view", Some(&s.reviewers.ada)).await;
    assert_eq!(ada.status, 200);
    let missing = s.get("/workflows/wf-nope", Some(&s.reviewers.rita)).await;
    assert_eq!(
        (missing.status, missing.json()["error"].clone()),
        (404, json!("not_found"))
    );
    let long = s
        .get(
            &format!("/workflows/{}", "x".repeat(200)),
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(long.status, 404);
}

#[tokio::test]
async fn the_workflow_view_says_whether_the_viewer_may_decide_or_resolve() {
    // GIVEN a workflow reviewed by `reviewers` whose escalations `marketing` resolves
    let s = Server::start().await;
    let mut wf = awaiting("wf-may", "reviewers", s.now());
    wf.config.escalation_group = "marketing".into();
    s.store.create_workflow(&wf).await.unwrap();
    // WHEN its reviewer, its escalation group and an admin open it THEN each view says what
    // that viewer may do: the escalation group sees the draft but may not decide it
    let mut may = Vec::new();
    for (who, token) in [
        ("rita", &s.reviewers.rita),
        ("mark", &s.reviewers.mark),
        ("ada", &s.reviewers.ada),
    ] {
        let r = s.get("/workflows/wf-may", Some(token)).await;
        assert_eq!(r.status, 200, "{who}: {}", r.body);
        let v = r.json();
        may.push((
            v["viewer"].as_str().unwrap().to_owned(),
            v["viewer_may_decide"].clone(),
            v["viewer_may_resolve"].clone(),
        ));
    }
    assert_eq!(
        may,
        [
            ("rita".to_owned(), json!(true), json!(false)),
            ("mark".to_owned(), json!(false), json!(true)),
            ("ada".to_owned(), json!(true), json!(true)),
        ]
    );
}

// ---- POST /workflows/{id}/feedback ----------------------------------------------------------

#[tokio::test]
async fn an_applied_decision_resumes_and_a_replay_returns_the_identical_answer() {
    let s = Server::start().await;
    s.awaiting("wf-ok", "reviewers").await;
    let body = json!({"iteration": 1, "decision": "request_changes", "comments": "Warmer, please.",
        "corrections": [{"field": "tagline", "value": "Good mornings, brewed"}]});
    let first = s
        .feedback("wf-ok", &s.reviewers.rita, "key-ok-1", &body)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let v = first.json();
    assert_eq!(v["outcome"], "applied");
    assert_eq!(v["status"], "revising");
    assert_eq!(v["decision"], "request_changes");
    assert_eq!(v["idempotency_key"], "key-ok-1");
    assert_eq!(first.header("idempotent-replayed"), None);
    // the execution was resumed with the decision
    let delivered = s.resumer.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0, task_token("wf-ok", 1));
    assert_eq!(
        client_key(delivered[0].1["feedback_key"].as_str().unwrap()),
        "key-ok-1"
    );
    // the reviewer's identity is in the audit trail
    let trail = s.store.list_feedback("wf-ok").await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        (trail[0].reviewer.as_str(), trail[0].channel.as_str()),
        ("rita", "api")
    );
    // WHEN the same submission is replayed (same key, same body, even re-ordered keys)
    let reordered = json!({"corrections": [{"value": "Good mornings, brewed", "field": "tagline"}],
        "comments": "Warmer, please.", "decision": "request_changes", "iteration": 1});
    let again = s
        .feedback("wf-ok", &s.reviewers.rita, "key-ok-1", &reordered)
        .await;
    // THEN the answer is identical and nothing changed
    assert_eq!(
        (again.status, again.body.as_str()),
        (first.status, first.body.as_str())
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.store.list_feedback("wf-ok").await.unwrap().len(), 1);
    let wf = s.store.get_workflow("wf-ok").await.unwrap().unwrap();
    assert_eq!(wf.decisions.len(), 1);
}

#[tokio::test]
async fn invalid_submissions_get_field_level_400s_and_record_nothing() {
    let s = Server::start().await;
    s.awaiting("wf-400", "reviewers").await;
    let post = |key: Option<&str>, body: String| {
        let mut r = s
            .client
            .post(format!("{}/workflows/wf-400/feedback", s.base))
            .bearer_auth(&s.reviewers.rita)
            .header("content-type", "application/json; charset=utf-8")
            .body(body);
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        r
    };
    let cases: Vec<(Option<&str>, String, Vec<&str>)> = vec![
        (None, approve(1).to_string(), vec!["Idempotency-Key"]),
        (Some("bad key!"), approve(1).to_string(), vec!["Idempotency-Key"]),
        (Some("k1"), "{not json".into(), vec!["body"]),
        (Some("k1"), "[1,2]".into(), vec!["body"]),
        (Some("k1"), json!({"decision": "approve"}).to_string(), vec!["iteration"]),
        (Some("k1"), json!({"iteration": 0, "decision": "approve"}).to_string(), vec!["iteration"]),
        (Some("k1"), json!({"iteration": "1", "decision": "maybe"}).to_string(), vec!["iteration", "decision"]),
        (Some("k1"), json!({"iteration": 1, "decision": "request_changes"}).to_string(), vec!["comments"]),
        (Some("k1"), json!({"iteration": 1, "decision": "reject", "comments": "off-brand", "corrections": [{"field": "tagline", "value": "x"}]}).to_string(), vec!["corrections"]),
        (Some("k1"), json!({"iteration": 1, "decision": "request_changes", "corrections": [{"field": "keywords[", "value": "x"}, {"field": "tagline"}]}).to_string(), vec!["corrections[1].value", "corrections[0].field"]),
        (Some("k1"), json!({"iteration": 1, "decision": "approve", "comments": "c".repeat(4001)}).to_string(), vec!["comments"]),
        (Some("k1"), json!({"iteration": 1, "decision": "approve", "reviewer": "someone-else"}).to_string(), vec!["reviewer"]),
    ];
    for (key, body, fields) in cases {
        let r = s.send(post(key, body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.error_fields(), fields, "{body}");
        for e in r.json()["errors"].as_array().unwrap() {
            assert!(!e["message"].as_str().unwrap().is_empty());
        }
    }
    assert!(s.store.list_feedback("wf-400").await.unwrap().is_empty());
    assert!(s.resumer.delivered.lock().unwrap().is_empty());
}

/// Issue 19: a correction that breaks the artifact schema used to be accepted (200, workflow
/// `revising`) and then failed the workflow at regeneration. It is now a 400 naming the value.
#[tokio::test]
async fn corrections_that_break_the_artifact_schema_are_refused_at_the_door() {
    let s = Server::start().await;
    s.awaiting("wf-typo", "reviewers").await;
    let cases = [
        (
            json!([{"field": "colors.primary", "value": "red"}]),
            "corrections[0].value",
            "must be #RRGGBB",
        ),
        (
            json!([{"field": "description", "value": "Too short"}]),
            "corrections[0].value",
            "must be 20..=2000 characters, got 9",
        ),
        (
            json!([{"field": "tone", "value": "grumpy"}]),
            "corrections[0].value",
            "\"grumpy\" is not one of friendly, premium, playful, professional, bold",
        ),
        (
            json!([{"field": "tagline", "value": " "}]),
            "corrections[0].value",
            "must not be empty",
        ),
        (
            json!([{"field": "tagline", "value": "Fine"}, {"field": "colors.secondary", "value": "#12345"}]),
            "corrections[1].value",
            "must be #RRGGBB",
        ),
    ];
    for (i, (corrections, field, message)) in cases.into_iter().enumerate() {
        let body = json!({"iteration": 1, "decision": "request_changes", "comments": "fix it", "corrections": corrections});
        let r = s
            .send(
                s.client
                    .post(format!("{}/workflows/wf-typo/feedback", s.base))
                    .bearer_auth(&s.reviewers.rita)
                    .header("idempotency-key", format!("typo-{i}"))
                    .json(&body),
            )
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.error_fields(), [field], "{body}");
        assert_eq!(r.json()["errors"][0]["message"], message, "{body}");
    }
    // Nothing was recorded, nothing resumed, and the workflow still waits for a decision.
    assert!(s.store.list_feedback("wf-typo").await.unwrap().is_empty());
    assert!(s.resumer.delivered.lock().unwrap().is_empty());
    let wf = s.store.get_workflow("wf-typo").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
}

/// Issue 19: JSON has one number type, so `1.0` is the integer 1; the range is 1..=50 and the
/// message says so.
#[tokio::test]
async fn iteration_accepts_integral_numbers_and_states_its_range() {
    let s = Server::start().await;
    s.awaiting("wf-num", "reviewers").await;
    let post = |key: &str, body: String| {
        s.client
            .post(format!("{}/workflows/wf-num/feedback", s.base))
            .bearer_auth(&s.reviewers.rita)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body)
    };
    for (body, message) in [
        (
            r#"{"iteration":4294967296,"decision":"approve"}"#,
            "must be an integer from 1 to 50, got 4294967296",
        ),
        (
            r#"{"iteration":51,"decision":"approve"}"#,
            "must be an integer from 1 to 50, got 51",
        ),
        (
            r#"{"iteration":1.5,"decision":"approve"}"#,
            "must be an integer from 1 to 50, got 1.5",
        ),
        (
            r#"{"iteration":1e300,"decision":"approve"}"#,
            "must be an integer from 1 to 50, got 1e+300",
        ),
    ] {
        let r = s.send(post("range", body.to_owned())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.error_fields(), ["iteration"], "{body}");
        assert_eq!(r.json()["errors"][0]["message"], message, "{body}");
    }
    let r = s
        .send(post(
            "one-point-oh",
            r#"{"iteration":1.0,"decision":"approve"}"#.to_owned(),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let wf = s.store.get_workflow("wf-num").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::Approved);
}

/// Issue 14: one principal could flood submissions. Each caller has its own token bucket: past
/// the burst it gets 429 with Retry-After (nothing recorded), while another caller is served.
#[tokio::test]
async fn submissions_are_rate_limited_per_principal_with_retry_after() {
    let resumer = Arc::new(hitl_domain::testing::RecordingResumer::default());
    let s = Server::start_limited(resumer.clone(), resumer, 3, 6).await;
    s.awaiting("wf-rl", "reviewers").await;
    let stale = json!({"iteration": 2, "decision": "approve"});
    for i in 0..3 {
        let r = s
            .feedback("wf-rl", &s.reviewers.rita, &format!("rl-{i}"), &stale)
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
    }
    let limited = s.feedback("wf-rl", &s.reviewers.rita, "rl-4", &stale).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.json()["error"], "too_many_requests");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    // ada (admin) is a different principal: still served.
    let other = s
        .feedback("wf-rl", &s.reviewers.ada, "rl-ada", &approve(1))
        .await;
    assert_eq!(other.status, 200, "{}", other.body);
    let trail = s.store.list_feedback("wf-rl").await.unwrap();
    assert_eq!(
        trail.len(),
        4,
        "three rejections and the approval; the 429 wrote nothing"
    );
}

/// Issue 14: rejections are recorded up to a cap per submitter (and per workflow), so one
/// member cannot grow the trail without bound either; past it they are answered, not stored.
#[tokio::test]
async fn recorded_rejections_are_capped_per_submitter() {
    let s = Server::start().await;
    s.awaiting("wf-cap", "reviewers").await;
    let stale = json!({"iteration": 2, "decision": "approve"});
    let cap = hitl_domain::feedback::MAX_RECORDED_REJECTIONS_PER_PRINCIPAL;
    for i in 0..cap + 5 {
        let r = s
            .feedback("wf-cap", &s.reviewers.rita, &format!("cap-{i}"), &stale)
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(r.json()["reason"], "unknown_iteration");
    }
    assert_eq!(s.store.list_feedback("wf-cap").await.unwrap().len(), cap);
    // ada's own rejections are still recorded.
    let r = s
        .feedback("wf-cap", &s.reviewers.ada, "cap-ada", &stale)
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        s.store.list_feedback("wf-cap").await.unwrap().len(),
        cap + 1
    );
}

/// Issue 14: non-members used to get 403 (telling them the workflow exists) and their
/// attempts were written into the workflow's audit trail. They get the same 404 as for an
/// unknown workflow, and nothing is written.
#[tokio::test]
async fn reviewers_of_other_groups_get_404_and_nothing_is_recorded() {
    let s = Server::start().await;
    s.awaiting("wf-403", "reviewers").await;
    let unknown = s
        .feedback("wf-nope", &s.reviewers.mark, "k-mark", &approve(1))
        .await;
    let r = s
        .feedback("wf-403", &s.reviewers.mark, "k-mark", &approve(1))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"], "not_found");
    assert_eq!(
        r.json()["message"].as_str().unwrap().replace("wf-403", "X"),
        unknown.json()["message"]
            .as_str()
            .unwrap()
            .replace("wf-nope", "X"),
        "indistinguishable from an unknown workflow"
    );
    let view = s.get("/workflows/wf-403", Some(&s.reviewers.mark)).await;
    assert_eq!(view.status, 404, "{}", view.body);
    // A member's key replayed by a non-member is not answered either.
    s.feedback("wf-403", &s.reviewers.rita, "k-rita", &approve(1))
        .await;
    let replay = s
        .feedback("wf-403", &s.reviewers.mark, "k-rita", &approve(1))
        .await;
    assert_eq!(replay.status, 404, "{}", replay.body);
    assert!(replay.header("idempotent-replayed").is_none());
    let trail = s.store.list_feedback("wf-403").await.unwrap();
    assert_eq!(trail.len(), 1, "only rita's decision");
    assert_eq!(trail[0].reviewer, "rita");
}

#[tokio::test]
async fn an_unknown_workflow_is_404() {
    let s = Server::start().await;
    let r = s
        .feedback("wf-missing", &s.reviewers.rita, "k-404", &approve(1))
        .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("not_found"))
    );
}

async fn conflict(s: &Server, id: &str, key: &str, body: &Value) -> (String, Resp) {
    let r = s.feedback(id, &s.reviewers.rita, key, body).await;
    assert_eq!(r.status, 409, "{id}: {}", r.body);
    let v = r.json();
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    (v["reason"].as_str().unwrap().to_owned(), r)
}

#[tokio::test]
async fn every_conflict_says_which_one_it_is_and_replays_identically() {
    let s = Server::start().await;
    // stale_iteration: the workflow moved on to iteration 2
    s.second_iteration("wf-stale").await;
    let (reason, stale) = conflict(&s, "wf-stale", "k-stale", &approve(1)).await;
    assert_eq!(reason, "stale_iteration");
    let (_, replay) = conflict(&s, "wf-stale", "k-stale", &approve(1)).await;
    assert_eq!(replay.body, stale.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    // unknown_iteration: a future iteration
    assert_eq!(
        conflict(&s, "wf-stale", "k-future", &approve(3)).await.0,
        "unknown_iteration"
    );
    // already_decided: a second decision with another key
    s.awaiting("wf-decided", "reviewers").await;
    assert_eq!(
        s.feedback("wf-decided", &s.reviewers.rita, "k-first", &approve(1))
            .await
            .status,
        200
    );
    let (reason, decided) = conflict(
        &s,
        "wf-decided",
        "k-second",
        &request_changes(1, "too late"),
    )
    .await;
    assert_eq!(reason, "already_decided");
    assert!(decided.json()["message"].as_str().unwrap().contains("rita"));
    // idempotency_key_reused: the winning key with a different body
    let (reason, _) = conflict(&s, "wf-decided", "k-first", &request_changes(1, "other")).await;
    assert_eq!(reason, "idempotency_key_reused");
    // not_awaiting_review: the first draft is still being generated
    s.generating("wf-generating").await;
    assert_eq!(
        conflict(&s, "wf-generating", "k-gen", &approve(1)).await.0,
        "not_awaiting_review"
    );
    // workflow_finished: escalated
    s.escalated("wf-finished").await;
    assert_eq!(
        conflict(&s, "wf-finished", "k-fin", &approve(2)).await.0,
        "workflow_finished"
    );
    // review_timed_out: past the deadline
    s.awaiting("wf-late", "reviewers").await;
    s.clock.advance(Duration::hours(73));
    assert_eq!(
        conflict(&s, "wf-late", "k-late", &approve(1)).await.0,
        "review_timed_out"
    );
    // every rejection except the reused key is in the audit trail; only one resume happened
    assert_eq!(
        s.store.list_feedback("wf-stale").await.unwrap().len(),
        3,
        "sam's + 2"
    );
    assert_eq!(s.store.list_feedback("wf-decided").await.unwrap().len(), 2);
    assert_eq!(s.resumer.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_review_timed_out_while_resuming_is_a_409() {
    let s = Server::start().await;
    s.awaiting("wf-race-timeout", "reviewers").await;
    // Step Functions' own timer fired: the task is closed and its history says "timed out".
    *s.resumer.fate.lock().unwrap() = Some(hitl_domain::ports::TaskFate::TimedOut);
    s.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::TaskClosed("TaskTimedOut".into())));
    let (reason, _) = conflict(&s, "wf-race-timeout", "k-rt", &approve(1)).await;
    assert_eq!(reason, "review_timed_out");
    let wf = s
        .store
        .get_workflow("wf-race-timeout")
        .await
        .unwrap()
        .unwrap();
    // Kept, marked late, never revoked: the execution's timeout path escalates it.
    assert_eq!(wf.decisions.len(), 1);
    assert!(matches!(
        wf.decisions[0].delivery,
        Some(hitl_domain::model::Delivery::Late { .. })
    ));
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let s = Server::start().await;
    s.awaiting("wf-413", "reviewers").await;
    let big = json!({"iteration": 1, "decision": "approve", "comments": "x".repeat(70 * 1024)});
    let r = s.feedback("wf-413", &s.reviewers.rita, "k-413", &big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["error"], "payload_too_large");
    assert!(s.store.list_feedback("wf-413").await.unwrap().is_empty());
}

#[tokio::test]
async fn bodies_that_are_not_json_are_415() {
    let s = Server::start().await;
    s.awaiting("wf-415", "reviewers").await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = s
            .client
            .post(format!("{}/workflows/wf-415/feedback", s.base))
            .bearer_auth(&s.reviewers.rita)
            .header("idempotency-key", "k-415")
            .body(approve(1).to_string());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let r = s.send(request).await;
        assert_eq!(r.status, 415, "{content_type:?}");
        assert_eq!(r.json()["error"], "unsupported_media_type");
    }
    assert!(s.store.list_feedback("wf-415").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_resume_is_503_with_retry_after_and_the_same_key_completes_it() {
    let s = Server::start().await;
    s.awaiting("wf-503", "reviewers").await;
    s.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::Transient("ThrottlingException".into())));
    let r = s
        .feedback("wf-503", &s.reviewers.rita, "k-503", &approve(1))
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.json()["error"], "unavailable");
    // the decision is recorded …
    let wf = s.store.get_workflow("wf-503").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::Approved);
    assert!(s.resumer.delivered.lock().unwrap().is_empty());
    // … and retrying with the same key delivers it
    let retry = s
        .feedback("wf-503", &s.reviewers.rita, "k-503", &approve(1))
        .await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.json()["status"], "approved");
    assert_eq!(s.resumer.delivered.lock().unwrap().len(), 1);
    assert_eq!(s.store.list_feedback("wf-503").await.unwrap().len(), 1);
}

// ---- concurrency ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_submissions_apply_exactly_one_decision() {
    let s = Arc::new(Server::start().await);
    s.awaiting("wf-race", "reviewers").await;
    // GIVEN 40 distinct submissions (alternating approve / request changes), each sent 5 times
    // with its own key, all at once
    let body = |k: usize| match k % 2 {
        0 => approve(1),
        _ => request_changes(1, &format!("change number {k}")),
    };
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        let k = i % 40;
        let b = body(k);
        tasks.push(tokio::spawn(async move {
            let token = if k % 3 == 0 {
                &s.reviewers.ada
            } else {
                &s.reviewers.rita
            };
            let r = s.feedback("wf-race", token, &format!("race-{k}"), &b).await;
            (k, r)
        }));
    }
    let mut by_key: BTreeMap<usize, Vec<Resp>> = BTreeMap::new();
    for t in tasks {
        let (k, r) = t.await.unwrap();
        by_key.entry(k).or_default().push(r);
    }
    // THEN exactly one key was applied; its five requests all got the same 200
    let winners: Vec<usize> = by_key
        .iter()
        .filter(|(_, rs)| rs.iter().any(|r| r.status == 200))
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = winners[0];
    for (k, responses) in &by_key {
        assert_eq!(responses.len(), 5);
        for r in responses {
            assert!(r.status < 500, "5xx: {} {}", r.status, r.body);
            assert_eq!(r.body, responses[0].body, "same key, same answer");
            if *k == winner {
                assert_eq!(r.status, 200);
            } else {
                assert_eq!(r.status, 409, "{}", r.body);
                assert_eq!(r.json()["reason"], "already_decided");
            }
        }
        let fresh = responses
            .iter()
            .filter(|r| r.header("idempotent-replayed").is_none())
            .count();
        assert!(fresh >= 1, "at least one request per key was the original");
    }
    // The audit trail holds each key at most once, one of them applied. Rejections are capped
    // per submitter, but the cap is a count taken before the insert, so submissions racing
    // each other can pass it together: at least the cap is kept, never a key twice. (The exact
    // cap is asserted sequentially in `recorded_rejections_are_capped_per_submitter`.)
    let trail = s.store.list_feedback("wf-race").await.unwrap();
    let keys: BTreeSet<&str> = trail.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), trail.len(), "no key recorded twice");
    let cap = hitl_domain::feedback::MAX_RECORDED_REJECTIONS_PER_PRINCIPAL;
    let ada_keys = (0..40).filter(|k| k % 3 == 0).count();
    for (who, keys_sent) in [("ada", ada_keys), ("rita", 40 - ada_keys)] {
        let recorded = trail.iter().filter(|e| e.reviewer == who).count();
        assert!(
            (keys_sent.min(cap)..=keys_sent).contains(&recorded),
            "{who}: {recorded} entries for {keys_sent} keys (cap {cap})"
        );
    }
    let applied: Vec<_> = trail
        .iter()
        .filter(|e| matches!(e.outcome, FeedbackOutcome::Applied { .. }))
        .collect();
    assert_eq!(applied.len(), 1);
    assert_eq!(
        client_key(&applied[0].idempotency_key),
        format!("race-{winner}")
    );
    let wf = s.store.get_workflow("wf-race").await.unwrap().unwrap();
    assert_eq!(wf.decisions.len(), 1);
    // every resume (the original and any replayed re-delivery) carried the winning decision
    let delivered = s.resumer.delivered.lock().unwrap().clone();
    assert!(!delivered.is_empty());
    for (token, output) in delivered {
        assert_eq!(token, task_token("wf-race", 1));
        assert_eq!(
            client_key(output["feedback_key"].as_str().unwrap()),
            format!("race-{winner}")
        );
    }
}

// ---- secrets --------------------------------------------------------------------------------

#[tokio::test]
async fn task_tokens_and_reviewer_tokens_never_reach_responses_or_logs() {
    let s = Server::start().await;
    // a tour over every route and answer; `send` checks each body and header
    s.second_iteration("wf-secret").await;
    s.awaiting("wf-secret-2", "reviewers").await;
    s.get("/reviews", Some(&s.reviewers.ada)).await;
    s.get("/workflows/wf-secret", Some(&s.reviewers.rita)).await;
    s.get("/workflows/wf-secret", Some(&s.reviewers.mark)).await;
    s.get("/reviews", Some("hitl_wrong")).await;
    s.feedback("wf-secret", &s.reviewers.rita, "k-s1", &approve(1))
        .await;
    s.feedback("wf-secret", &s.reviewers.mark, "k-s2", &approve(2))
        .await;
    s.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::Transient(format!(
            "InvalidToken: {}",
            task_token("wf-secret", 2)
        ))));
    assert_eq!(
        s.feedback("wf-secret", &s.reviewers.rita, "k-s3", &approve(2))
            .await
            .status,
        503
    );
    assert_eq!(
        s.feedback("wf-secret", &s.reviewers.rita, "k-s3", &approve(2))
            .await
            .status,
        200
    );
    s.resumer
        .script
        .lock()
        .unwrap()
        .push(Err(ResumeError::TaskClosed("TaskTimedOut".into())));
    s.feedback("wf-secret-2", &s.reviewers.rita, "k-s4", &approve(1))
        .await;
    s.get("/workflows/wf-secret", Some(&s.reviewers.rita)).await;
    // the log captured the requests (so capture works) but no secret
    let logs = log_text();
    assert!(
        logs.contains("route=/workflows/{id}/feedback"),
        "capture works"
    );
    assert!(
        logs.contains("feedback applied"),
        "processor logs are captured too"
    );
    assert!(!logs.contains(TOKEN_MARK), "task token in logs");
    for token in [&s.reviewers.rita, &s.reviewers.mark, &s.reviewers.ada] {
        assert!(!logs.contains(token.as_str()), "reviewer token in logs");
    }
}

// ---- a retry while the first delivery is still in flight ------------------------------------

/// Step Functions semantics: the first `SendTaskSuccess` for a token that completes wins; later
/// ones fail with `TaskTimedOut` ("task does not exist anymore"). The first call is held until a
/// second call has completed, to reproduce a client retry racing the original request.
#[derive(Default)]
struct GatedStepFunctions {
    used: std::sync::Mutex<BTreeSet<String>>,
    calls: std::sync::atomic::AtomicUsize,
    first_entered: tokio::sync::Notify,
    second_done: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl hitl_domain::ports::ExecutionResumer for GatedStepFunctions {
    async fn resume(
        &self,
        token: &hitl_domain::model::TaskToken,
        _output: &Value,
    ) -> Result<(), ResumeError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 0 {
            self.first_entered.notify_one();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.second_done.notified(),
            )
            .await;
        }
        let fresh = self.used.lock().unwrap().insert(token.expose().to_owned());
        if n == 1 {
            self.second_done.notify_one();
        }
        if fresh {
            Ok(())
        } else {
            Err(ResumeError::TaskClosed("TaskTimedOut".into()))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_racing_the_original_request_does_not_revoke_the_decision() {
    let gate = Arc::new(GatedStepFunctions::default());
    let s = Arc::new(
        Server::start_with(
            gate.clone(),
            Arc::new(hitl_domain::testing::RecordingResumer::default()),
        )
        .await,
    );
    s.awaiting("wf-retry", "reviewers").await;
    let original = {
        let s = s.clone();
        tokio::spawn(async move {
            s.feedback("wf-retry", &s.reviewers.rita, "k-retry", &approve(1))
                .await
        })
    };
    gate.first_entered.notified().await;
    let retry = s
        .feedback("wf-retry", &s.reviewers.rita, "k-retry", &approve(1))
        .await;
    let original = original.await.unwrap();
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(original.status, 200, "{}", original.body);
    let wf = s.store.get_workflow("wf-retry").await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::Approved);
}

// ---- GET /analytics -------------------------------------------------------------------------

#[tokio::test]
async fn analytics_is_the_json_report_for_analysts_and_admins_only() {
    let s = Server::start().await;
    s.awaiting("wf-open", "reviewers").await;
    let esc = s.escalated("wf-esc").await;
    // Its escalation SLA passed: left unresolved, a completed escalation.
    let unresolved = hitl_domain::rules::mark_unresolved(&esc, s.now()).unwrap();
    s.store
        .update_workflow(&unresolved, esc.version)
        .await
        .unwrap();
    // Another still waits for a person's resolution: not completed (issue 31, item 14).
    s.escalated("wf-waiting").await;
    s.second_iteration("wf-two").await;

    for token in [&s.reviewers.rita, &s.reviewers.mark] {
        let r = s.get("/analytics", Some(token)).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.json()["error"], "forbidden");
    }
    for token in [&s.reviewers.anna, &s.reviewers.ada] {
        let r = s.get("/analytics?since=2w", Some(token)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        let report = r.json();
        // One escalated and left unresolved (completed), one escalation waiting for a
        // resolution (not completed), two still open; nothing approved.
        assert_eq!(report["counts"]["completed"], 1, "{}", report["counts"]);
        assert_eq!(report["counts"]["escalated"], 1);
        assert_eq!(report["counts"]["awaiting_resolution"], 1);
        assert_eq!(report["counts"]["in_progress"], 2);
        assert_eq!(report["escalations"]["overall"]["count"], 1);
        assert_eq!(report["escalations"]["overall"]["rate"], 1.0);
        // 0 of 1 completed approved at the first draft: a defined rate of 0.
        assert_eq!(report["first_draft_approval"]["rate"], 0.0);
        // sam's correction of iteration 1 of wf-two is in the corrected fields.
        assert_eq!(report["most_corrected_fields"][0]["field"], "tagline");
        assert_eq!(report["most_corrected_fields"][0]["corrections"], 1);
    }
    // The same figures as the pure computation over the same records.
    let r = s
        .get("/analytics?top=1&stale_rounds=2", Some(&s.reviewers.anna))
        .await;
    let options = hitl_domain::analytics::ReportOptions {
        since: Some(s.now() - Duration::days(30)),
        top_n: 1,
        stale_rounds: 2,
        ..Default::default()
    };
    let records = hitl_domain::store::collect_report_records(
        s.store.as_ref(),
        s.now() - Duration::days(30),
        &mut |_| {},
    )
    .await
    .unwrap();
    let expected = hitl_domain::analytics::compute(&records.workflows, &records.feedback, &options);
    assert_eq!(r.json(), serde_json::to_value(&expected).unwrap());
}

#[tokio::test]
async fn analytics_rejects_bad_parameters_field_by_field() {
    let s = Server::start().await;
    let r = s
        .get(
            "/analytics?since=30y&include_smoke=yes&top=0&stale_rounds=x&colour=red",
            Some(&s.reviewers.anna),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["colour", "include_smoke", "since", "stale_rounds", "top"]
    );
    // A multi-byte character where the unit goes is a 400, not a dropped connection.
    for since in ["%C2%80", "1%C2%80", "%E2%82%AC"] {
        let r = s
            .get(&format!("/analytics?since={since}"), Some(&s.reviewers.ada))
            .await;
        assert_eq!(
            (r.status, r.error_fields()),
            (400, vec!["since".to_owned()]),
            "{since}: {}",
            r.body
        );
    }
    let r = s.get("/analytics?since=401d", Some(&s.reviewers.ada)).await;
    assert_eq!(
        (r.status, r.error_fields()),
        (400, vec!["since".to_owned()])
    );
    let r = s
        .get(
            "/analytics?since=400d&include_smoke=true",
            Some(&s.reviewers.ada),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["options"]["include_smoke"], true);
}

/// Issue 14: the whole audit trail used to be returned with the workflow, so a flooded trail
/// made the view larger than Lambda's 6 MB response limit. The view carries the newest page
/// (10 entries) and the total; older pages come from `GET /workflows/{id}/feedback?page=N`;
/// even a trail of the largest entries keeps every response under 1 MB.
#[tokio::test]
async fn the_trail_is_paged_and_every_response_stays_under_one_megabyte() {
    use hitl_domain::model::{Correction, Decision, FeedbackEntry};
    let s = Server::start().await;
    s.awaiting("wf-big", "reviewers").await;
    for i in 0..hitl_domain::feedback::MAX_RECORDED_REJECTIONS {
        let entry = FeedbackEntry {
            resolution: None,
            workflow_id: "wf-big".into(),
            idempotency_key: format!("big-{i:03}"),
            request_fingerprint: "fp".into(),
            iteration: 1,
            decision: Decision::RequestChanges,
            reviewer: format!("r{}", i % 7),
            comments: "é".repeat(hitl_domain::feedback::MAX_COMMENT_CHARS),
            corrections: (0..hitl_domain::feedback::MAX_CORRECTIONS)
                .map(|_| Correction {
                    field: "description".into(),
                    value: "ü".repeat(hitl_domain::feedback::MAX_CORRECTION_CHARS),
                })
                .collect(),
            channel: "api".into(),
            received_at: s.now() + Duration::seconds(i as i64),
            outcome: FeedbackOutcome::Rejected {
                reason: "stale_iteration".into(),
                message: "m".into(),
            },
        };
        s.store.record_feedback(&entry, None).await.unwrap();
    }
    let view = s.get("/workflows/wf-big", Some(&s.reviewers.rita)).await;
    assert_eq!(view.status, 200);
    assert!(
        view.body.len() < 1_000_000,
        "view is {} bytes",
        view.body.len()
    );
    let v = view.json();
    assert_eq!(v["feedback_total"], 200);
    assert_eq!(v["feedback"].as_array().unwrap().len(), 10);
    let last = s
        .get(
            "/workflows/wf-big/feedback?page=20",
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(last.status, 200, "{}", last.body);
    assert!(last.body.len() < 1_000_000);
    println!(
        "trail of 200 largest entries: view {} bytes, page {} bytes",
        view.body.len(),
        last.body.len()
    );
    assert_eq!(
        (last.json()["page"].clone(), last.json()["pages"].clone()),
        (json!(20), json!(20))
    );
    let oldest = &last.json()["items"][0];
    assert_eq!(
        oldest["reviewer"], "r0",
        "page 20 starts with the oldest entry"
    );
    let mark = s
        .get("/workflows/wf-big/feedback", Some(&s.reviewers.mark))
        .await;
    assert_eq!(mark.status, 404);
    let bad = s
        .get("/workflows/wf-big/feedback?page=0", Some(&s.reviewers.rita))
        .await;
    assert_eq!(
        (bad.status, bad.error_fields()),
        (400, vec!["page".to_owned()])
    );
}

/// Issue 14: 200 half-sent requests stayed open after 45 s and starved real requests. The
/// server drops a connection whose request head does not arrive within the header timeout,
/// and serves at most `max_connections` at once.
#[tokio::test]
async fn half_sent_requests_are_dropped_and_real_ones_still_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store: Arc<dyn hitl_domain::store::WorkflowStore> =
        Arc::new(hitl_sqlite::SqliteStore::in_memory().unwrap());
    let state = hitl_api::AppState::new(
        store,
        Arc::new(hitl_domain::testing::RecordingResumer::default()),
        Arc::new(hitl_domain::testing::FixedClock::default()),
        Arc::new(hitl_api::ReviewerTokens::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = hitl_api::ServeLimits {
        header_read_timeout: std::time::Duration::from_millis(500),
        request_timeout: std::time::Duration::from_secs(5),
        max_connections: 8,
        max_connections_per_client: 8,
    };
    tokio::spawn(hitl_api::serve_with(listener, state, limits));
    // Eight slow clients take every slot with a request head they never finish.
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(c);
    }
    // After the header timeout the server has closed them (read sees EOF or an error)...
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for c in &mut slow {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(std::time::Duration::from_secs(2), c.read(&mut buf))
            .await
            .expect("the server answered or closed")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            n == 0 || text.contains("408") || text.contains("400"),
            "{text}"
        );
    }
    // ...and a real request is served.
    let ok = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// The `./x.js` and `./js/x.js` modules a script imports, by file name.
fn imported_modules(script: &str) -> Vec<String> {
    script
        .lines()
        .filter(|l| l.starts_with("import "))
        .filter_map(|l| l.split(" from '").nth(1))
        .filter_map(|from| from.strip_suffix("';"))
        .map(|path| {
            path.trim_start_matches("./")
                .trim_start_matches("js/")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn every_module_of_the_page_script_is_served_under_the_policy_and_nothing_else() {
    let s = common::Server::start().await;
    let page = s.get("/", None).await;
    assert!(
        page.body.contains(r#"<script type="module" src="app.js">"#),
        "the page loads its script as a module"
    );
    // Follow the imports from /app.js: every module is served as JavaScript with the CSP.
    let mut seen = std::collections::BTreeSet::new();
    let app = s.get("/app.js", None).await;
    let mut queue = imported_modules(&app.body);
    assert!(!queue.is_empty(), "app.js imports no module");
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let r = s.get(&format!("/js/{name}"), None).await;
        assert_eq!(r.status, 200, "/js/{name}");
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/javascript"),
            "/js/{name}"
        );
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("script-src 'self'"),
            "/js/{name}"
        );
        queue.extend(imported_modules(&r.body));
    }
    // Every file under api/web/js is reached from app.js (none is dead or forgotten).
    let on_disk: std::collections::BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/web/js"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
    assert_eq!(
        seen, on_disk,
        "modules imported from app.js vs files in api/web/js"
    );
    for path in ["/js/nope.js", "/js/..%2Fapp.js", "/js/app.js", "/js/api"] {
        let r = s.get(path, None).await;
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (404, json!("not_found")),
            "{path}"
        );
    }
}

#[test]
fn the_import_reader_reads_both_module_paths() {
    let script =
        "// x\nimport { a, b } from './js/api.js';\nimport { c } from './page.js';\nconst d = 1;\n";
    assert_eq!(imported_modules(script), ["api.js", "page.js"]);
}

#[test]
fn the_page_modules_import_each_other_without_a_circle() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web/js");
    let imports: BTreeMap<String, Vec<String>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            (
                e.file_name().into_string().unwrap(),
                imported_modules(&text),
            )
        })
        .collect();
    // Depth-first: a module met again while its own imports are being walked closes a circle.
    fn walk<'a>(
        name: &'a str,
        imports: &'a BTreeMap<String, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(name) {
            return;
        }
        assert!(
            !path.contains(&name),
            "import circle: {} -> {name}",
            path.join(" -> ")
        );
        path.push(name);
        for next in imports.get(name).into_iter().flatten() {
            walk(next, imports, path, done);
        }
        path.pop();
        done.insert(name);
    }
    let mut done = BTreeSet::new();
    for name in imports.keys() {
        walk(name, &imports, &mut Vec::new(), &mut done);
    }
}

// ---- GET /types (issue 28) ------------------------------------------------------------------

#[tokio::test]
async fn types_are_listed_and_served_at_the_current_or_a_named_version_to_signed_in_callers() {
    let s = Server::start().await;
    assert_eq!(s.get("/types", None).await.status, 401);
    assert_eq!(s.get("/types/brand-metadata", None).await.status, 401);

    let r = s.get("/types", Some(&s.reviewers.rita)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.assert_clean(&r);
    let list = r.json();
    let names: Vec<&str> = list["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["brand-metadata", "product-description"]);
    let brand = &list["types"][0];
    let version = brand["version"].as_str().unwrap().to_owned();
    assert_eq!(brand["versions"], json!([version.clone()]));
    assert_eq!(
        version,
        hitl_domain::types::builtin("brand-metadata")
            .unwrap()
            .version
    );

    let r = s
        .get("/types/product-description", Some(&s.reviewers.rita))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["current"], true);
    assert_eq!(t["artifact_schema"]["type"], "object");
    assert!(
        t["hints"]["correctable"].as_array().unwrap().len() > 1,
        "{t}"
    );
    assert!(
        t["instructions"].as_str().unwrap().contains("{{subject."),
        "{t}"
    );

    // The exact version a workflow records, upper-case hex accepted.
    let r = s
        .get(
            &format!("/types/brand-metadata?version={}", version.to_uppercase()),
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["version"].clone()),
        (200, json!(version))
    );

    let r = s
        .get(
            "/types/brand-metadata?version=0000000000000000",
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.body.contains("has no version 0000000000000000"),
        "{}",
        r.body
    );
    // A workflow's view names its type and version (what to ask /types for) and labels its
    // correctable fields from the type's hints.
    s.awaiting("wf-typed", "reviewers").await;
    let view = s
        .get("/workflows/wf-typed", Some(&s.reviewers.rita))
        .await
        .json();
    assert_eq!(view["artifact_type"]["name"], "brand-metadata", "{view}");
    assert_eq!(view["artifact_type"]["version"], json!(version));
    let forms = &view["correction_forms"];
    assert_eq!(forms["tagline"]["label"], "Tagline", "{view}");
    assert_eq!(forms["tagline"]["max_length"], 160);
    assert_eq!(forms["colors.primary"]["widget"], "colour");
    assert_eq!(
        forms["tone"]["options"],
        json!(["friendly", "premium", "playful", "professional", "bold"])
    );

    let r = s.get("/types/recipe", Some(&s.reviewers.rita)).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("not_found"))
    );
    let r = s
        .get(
            "/types/brand-metadata?version=latest&format=yaml",
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["format", "version"]);
}
