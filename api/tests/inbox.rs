//! The reviewers' inbox over real HTTP: claims (`POST`/`DELETE /workflows/{id}/claim`),
//! multi-reviewer approval and edit-and-approve through `POST /workflows/{id}/feedback`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

impl Server {
    async fn claim(&self, id: &str, token: &str, body: Option<&Value>) -> Resp {
        let mut request = self
            .client
            .post(format!("{}/workflows/{id}/claim", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.send(request).await
    }

    async fn release(&self, id: &str, token: &str) -> Resp {
        self.send(
            self.client
                .delete(format!("{}/workflows/{id}/claim", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn require_approvals(&self, id: &str, n: u32) {
        let mut wf = self.store.get_workflow(id).await.unwrap().unwrap();
        let version = wf.version;
        wf.config.required_approvals = n;
        wf.version += 1;
        self.store.update_workflow(&wf, version).await.unwrap();
    }
}

fn reason(resp: &Resp) -> String {
    resp.json()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_claim_is_exclusive_visible_and_released_by_its_holder_or_an_admin() {
    let s = Server::start().await;
    s.awaiting("wf-claim", "reviewers").await;

    // Bad input is a 400 naming the field, a non-JSON body a 415; nothing changes.
    let bad = s
        .claim(
            "wf-claim",
            &s.reviewers.rita,
            Some(&json!({"iteration": "one"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.error_fields(), vec!["iteration"]);
    let unknown = s
        .claim(
            "wf-claim",
            &s.reviewers.rita,
            Some(&json!({"iterashun": 1})),
        )
        .await;
    assert_eq!(unknown.error_fields(), vec!["iterashun"]);
    let text = s
        .send(
            s.client
                .post(format!("{}/workflows/wf-claim/claim", s.base))
                .bearer_auth(&s.reviewers.rita)
                .header("content-type", "text/plain")
                .body("1"),
        )
        .await;
    assert_eq!(text.status, 415);
    // Another group's reviewer learns nothing; a stale page cannot claim a newer draft.
    assert_eq!(
        s.claim("wf-claim", &s.reviewers.mark, None).await.status,
        404
    );
    let ahead = s
        .claim(
            "wf-claim",
            &s.reviewers.rita,
            Some(&json!({"iteration": 2})),
        )
        .await;
    assert_eq!(
        (ahead.status, reason(&ahead).as_str()),
        (409, "unknown_iteration")
    );
    assert!(s
        .store
        .get_workflow("wf-claim")
        .await
        .unwrap()
        .unwrap()
        .pending_review
        .unwrap()
        .claim
        .is_none());

    // rita claims; the queue and the workflow show it; no token anywhere.
    let claimed = s
        .claim(
            "wf-claim",
            &s.reviewers.rita,
            Some(&json!({"iteration": 1})),
        )
        .await;
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    s.assert_clean(&claimed);
    assert_eq!(claimed.json()["claim"]["reviewer"], "rita");
    let queue = s.get("/reviews", Some(&s.reviewers.ada)).await;
    assert_eq!(queue.json()["items"][0]["claim"]["reviewer"], "rita");
    let view = s.get("/workflows/wf-claim", Some(&s.reviewers.ada)).await;
    assert_eq!(view.json()["review"]["claim"]["reviewer"], "rita");
    s.assert_clean(&view);

    // ada (admin) can neither claim nor decide while rita holds it …
    let taken = s.claim("wf-claim", &s.reviewers.ada, None).await;
    assert_eq!(
        (taken.status, reason(&taken).as_str()),
        (409, "claimed_by_other")
    );
    assert!(taken.json()["message"].as_str().unwrap().contains("rita"));
    let decided = s
        .feedback("wf-claim", &s.reviewers.ada, "ada-1", &approve(1))
        .await;
    assert_eq!(
        (decided.status, reason(&decided).as_str()),
        (409, "claimed_by_other")
    );
    assert!(s.resumer.delivered.lock().unwrap().is_empty());
    // … but may release it.
    let released = s.release("wf-claim", &s.reviewers.ada).await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(released.json()["claim"], Value::Null);

    // rita claims again and releases her own; releasing nothing is a 200 too.
    assert_eq!(
        s.claim("wf-claim", &s.reviewers.rita, None).await.status,
        200
    );
    assert_eq!(s.release("wf-claim", &s.reviewers.rita).await.status, 200);
    assert_eq!(s.release("wf-claim", &s.reviewers.rita).await.status, 200);

    // A claim lapses after claim_ttl (30 min): then anyone may decide.
    assert_eq!(
        s.claim("wf-claim", &s.reviewers.rita, None).await.status,
        200
    );
    s.clock.advance(chrono::Duration::minutes(31));
    let after = s
        .feedback("wf-claim", &s.reviewers.ada, "ada-2", &approve(1))
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
    let finished = s.claim("wf-claim", &s.reviewers.rita, None).await;
    assert_eq!(
        (finished.status, reason(&finished).as_str()),
        (409, "workflow_finished")
    );
    // The workflow's claim log: every claim and release (the admin's named), no renewals, no
    // lapses, nothing for the refused attempts.
    let view = s.get("/workflows/wf-claim", Some(&s.reviewers.ada)).await;
    let log: Vec<String> = view.json()["claim_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}{}",
                e["reviewer"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["by"]
                    .as_str()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        log,
        [
            "rita claimed",
            "rita released by ada",
            "rita claimed",
            "rita released",
            "rita claimed",
        ]
    );
}

#[tokio::test]
async fn two_reviewers_approve_a_two_approval_workflow() {
    let s = Server::start().await;
    s.awaiting("wf-two", "reviewers").await;
    s.require_approvals("wf-two", 2).await;

    let first = s
        .feedback("wf-two", &s.reviewers.rita, "rita-1", &approve(1))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["status"], "awaiting_review");
    assert!(s.resumer.delivered.lock().unwrap().is_empty());
    let view = s.get("/workflows/wf-two", Some(&s.reviewers.rita)).await;
    assert_eq!(view.json()["review"]["approved_by"], json!(["rita"]));
    assert_eq!(view.json()["review"]["required_approvals"], 2);

    let again = s
        .feedback("wf-two", &s.reviewers.rita, "rita-2", &approve(1))
        .await;
    assert_eq!(
        (again.status, reason(&again).as_str()),
        (409, "already_approved")
    );
    // The replay of the first answers as the first did.
    let replay = s
        .feedback("wf-two", &s.reviewers.rita, "rita-1", &approve(1))
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    let second = s
        .feedback("wf-two", &s.reviewers.ada, "ada-1", &approve(1))
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.json()["status"], "approved");
    assert_eq!(s.resumer.delivered.lock().unwrap().len(), 1);
    let view = s.get("/workflows/wf-two", Some(&s.reviewers.rita)).await;
    assert_eq!(view.json()["decisions"][0]["reviewer"], "ada");
    assert_eq!(view.json()["decisions"][0]["co_approvers"], json!(["rita"]));
}

#[tokio::test]
async fn edit_and_approve_makes_the_reviewers_version_final() {
    let s = Server::start().await;
    s.awaiting("wf-edit", "reviewers").await;
    let edit = |value: &str| {
        json!({"iteration": 1, "decision": "approve",
            "corrections": [{"field": "tagline", "value": value}]})
    };
    let bad = s
        .feedback("wf-edit", &s.reviewers.rita, "e-0", &edit(""))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.error_fields(), vec!["corrections[0].value"]);

    let done = s
        .feedback(
            "wf-edit",
            &s.reviewers.rita,
            "e-1",
            &edit("Roasted for early risers"),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["status"], "approved");
    let view = s.get("/workflows/wf-edit", Some(&s.reviewers.rita)).await;
    let view = view.json();
    assert_eq!(view["decisions"][0]["edited"], true);
    assert_eq!(view["artifact"]["iteration"], 2);
    assert_eq!(view["artifact"]["generator"], "person:rita");
    assert_eq!(
        view["artifact"]["content"]["tagline"],
        "Roasted for early risers"
    );
    // The agent was not asked again: one delivery, an approval.
    let delivered = s.resumer.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1["decision"], "approve");
}

#[tokio::test]
async fn the_queue_filters_by_group_and_by_who_works_on_it() {
    let s = Server::start().await;
    s.awaiting("wf-mine", "reviewers").await;
    s.awaiting("wf-free", "reviewers").await;
    s.awaiting("wf-mkt", "marketing").await;
    assert_eq!(s.claim("wf-mine", &s.reviewers.ada, None).await.status, 200);
    let ids = |path: &'static str| queue_ids(&s, path, &s.reviewers.ada);
    assert_eq!(ids("/reviews").await, ["wf-free", "wf-mine", "wf-mkt"]);
    assert_eq!(ids("/reviews?reviewer_group=marketing").await, ["wf-mkt"]);
    assert_eq!(ids("/reviews?claim=mine").await, ["wf-mine"]);
    assert_eq!(ids("/reviews?claim=unclaimed").await, ["wf-free", "wf-mkt"]);
    assert_eq!(ids("/reviews?claim=others").await, Vec::<String>::new());
    // rita sees ada's claim as someone else's, and never marketing's workflow.
    let r = s
        .get("/reviews?claim=others", Some(&s.reviewers.rita))
        .await;
    assert_eq!(r.json()["items"][0]["workflow_id"], "wf-mine");
    let r = s
        .get("/reviews?reviewer_group=marketing", Some(&s.reviewers.rita))
        .await;
    assert_eq!(r.json()["items"], json!([]));
    let bad = s
        .get(
            "/reviews?claim=someone&reviewer_group=a%20b",
            Some(&s.reviewers.ada),
        )
        .await;
    assert_eq!(bad.status, 400);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["claim", "reviewer_group"]);
}

/// Claims have their own per-caller bucket (a claim storm cannot starve decisions, and one
/// reviewer's storm does not limit another); a body over 64 KiB is a 413; neither changes
/// anything.
#[tokio::test]
async fn claims_are_rate_limited_per_caller_and_big_bodies_are_refused() {
    let resumer = std::sync::Arc::new(hitl_domain::testing::RecordingResumer::default());
    let s = Server::start_limited(resumer.clone(), resumer, 3, 6).await;
    s.awaiting("wf-cl", "reviewers").await;
    for _ in 0..3 {
        assert_eq!(s.claim("wf-cl", &s.reviewers.rita, None).await.status, 200);
    }
    let limited = s.claim("wf-cl", &s.reviewers.rita, None).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(s.release("wf-cl", &s.reviewers.rita).await.status, 429);
    // Decisions are another bucket, and ada another caller.
    let decided = s
        .feedback("wf-cl", &s.reviewers.rita, "rita-cl", &approve(1))
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let big = json!({"iteration": 1, "pad": "x".repeat(70 * 1024)});
    let r = s.claim("wf-cl", &s.reviewers.ada, Some(&big)).await;
    assert_eq!(r.status, 413, "{}", r.body);
}

/// Two valid ID tokens of one person (same issuer and `sub`) whose display names differ — one
/// with a verified email, one without (an email changed while an older token is still valid).
fn two_tokens_of_rita(k: &oidc::Key) -> (String, String) {
    let verified = oidc::token(
        k,
        &oidc::claims(json!({"email": "rita@example.com", "email_verified": true})),
    );
    let unverified = oidc::token(
        k,
        &oidc::claims(json!({"email": "rita@example.com", "email_verified": false})),
    );
    (verified, unverified)
}

#[tokio::test]
async fn one_person_with_two_id_tokens_counts_once_toward_the_quorum() {
    let k = oidc::key("k1");
    let s = Server::start_with_issuer(oidc::verifier(&[&k], Default::default())).await;
    let (verified, unverified) = two_tokens_of_rita(&k);
    s.awaiting("wf-one", "reviewers").await;
    s.require_approvals("wf-one", 2).await;

    let first = s.feedback("wf-one", &verified, "rita-1", &approve(1)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["status"], "awaiting_review");
    let view = s.get("/workflows/wf-one", Some(&unverified)).await;
    assert_eq!(
        view.json()["review"]["approved_by"],
        json!(["rita@example.com [sub-rita]"])
    );
    // The other token is the same person: refused, not a second approval.
    let second = s
        .feedback("wf-one", &unverified, "rita-2", &approve(1))
        .await;
    assert_eq!(
        (second.status, reason(&second).as_str()),
        (409, "already_approved"),
        "{}",
        second.body
    );
    // One person, one idempotency scope: the other token's retry of the first key replays.
    let replay = s
        .feedback("wf-one", &unverified, "rita-1", &approve(1))
        .await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let wf = s.store.get_workflow("wf-one").await.unwrap().unwrap();
    assert_eq!(
        wf.status,
        hitl_domain::model::WorkflowStatus::AwaitingReview
    );
    assert_eq!(wf.pending_review.unwrap().approvals.len(), 1);
    assert!(s.resumer.delivered.lock().unwrap().is_empty());

    // A claim taken with one token is held by the person, whichever token they decide with.
    s.awaiting("wf-held", "reviewers").await;
    let claim = s.claim("wf-held", &verified, None).await;
    assert_eq!(claim.status, 200, "{}", claim.body);
    // The queue lists it as the person's own under the other token too.
    let mine = s.get("/reviews?claim=mine", Some(&unverified)).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let listed = mine.json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["workflow_id"].as_str())
        .collect();
    assert_eq!(ids, ["wf-held"], "{}", mine.body);
    let decided = s
        .feedback(
            "wf-held",
            &unverified,
            "rita-3",
            &request_changes(1, "Warmer tagline"),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
}

#[tokio::test]
async fn an_issuer_subject_named_like_a_local_reviewer_is_not_that_reviewer() {
    let k = oidc::key("k1");
    let s = Server::start_with_issuer(oidc::verifier(&[&k], Default::default())).await;
    // An ID token whose subject and username are the local reviewer's name.
    let namesake = oidc::token(
        &k,
        &oidc::claims(json!({"sub": "rita", "cognito:username": "rita"})),
    );
    s.awaiting("wf-ns", "reviewers").await;
    let claim = s.claim("wf-ns", &s.reviewers.rita, None).await;
    assert_eq!(claim.status, 200, "{}", claim.body);

    let pre_empt = s
        .feedback("wf-ns", &namesake, "k-shared", &approve(1))
        .await;
    assert_eq!(
        (pre_empt.status, reason(&pre_empt).as_str()),
        (409, "claimed_by_other"),
        "{}",
        pre_empt.body
    );
    let release = s.release("wf-ns", &namesake).await;
    assert_eq!(
        (release.status, reason(&release).as_str()),
        (409, "claimed_by_other")
    );

    // The local reviewer decides with a key; the namesake's same key is not a replay of it.
    let body = request_changes(1, "Warmer tagline");
    let own = s.feedback("wf-ns", &s.reviewers.rita, "k-ns", &body).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let replay = s.feedback("wf-ns", &namesake, "k-ns", &body).await;
    assert_eq!(
        replay.header("idempotent-replayed"),
        None,
        "{}",
        replay.body
    );
    assert_eq!(
        (replay.status, reason(&replay).as_str()),
        (409, "already_decided"),
        "{}",
        replay.body
    );
}

#[tokio::test]
async fn group_names_are_matched_exactly() {
    let k = oidc::key("k1");
    let s = Server::start_with_issuer(oidc::verifier(&[&k], Default::default())).await;
    s.awaiting("wf-groups", "reviewers").await;
    for groups in [
        json!([" admin "]),
        json!(["admin "]),
        json!(["Admin"]),
        json!(" admin"),
        json!([" reviewers"]),
    ] {
        let t = oidc::token(
            &k,
            &oidc::claims(json!({"sub": "mallory", "cognito:groups": groups})),
        );
        let view = s.get("/workflows/wf-groups", Some(&t)).await;
        assert_eq!(view.status, 404, "groups {groups} may read: {}", view.body);
        let decided = s.feedback("wf-groups", &t, "m-1", &approve(1)).await;
        assert_eq!(
            decided.status, 404,
            "groups {groups} may decide: {}",
            decided.body
        );
    }
    let exact = oidc::token(
        &k,
        &oidc::claims(json!({"sub": "ada", "cognito:groups": ["admin"]})),
    );
    assert_eq!(
        s.get("/workflows/wf-groups", Some(&exact)).await.status,
        200
    );
}

/// Issue 28 at the API door, for the second built-in type: nested and whole-list corrections
/// are judged by the product description's schema (the path and the reason named, nothing
/// changed), and an edit-and-approve with a whole list and an item field becomes the final
/// version.
#[tokio::test]
async fn product_description_corrections_are_judged_by_its_schema_at_the_api() {
    use hitl_domain::model::TaskToken;
    use hitl_domain::rules;
    use hitl_domain::store::contract::sample_workflow;
    let s = Server::start().await;
    let product = hitl_domain::types::builtin("product-description").unwrap();
    let mut wf = sample_workflow("wf-pd");
    wf.config.artifact_type = product.reference();
    let now = s.now();
    s.store.create_workflow(&wf).await.unwrap();
    let draft =
        hitl_domain::types::fill_draft(&product, &serde_json::to_value(&wf.subject).unwrap());
    assert!(product.validate_artifact(&draft).is_empty(), "{draft}");
    s.store
        .put_artifact("wf-pd", &artifact(1, draft.clone(), now))
        .await
        .unwrap();
    let drafted = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
    s.store.update_workflow(&drafted, 1).await.unwrap();
    let waiting =
        rules::request_review(&drafted, 1, TaskToken::new(task_token("wf-pd", 1)), now).unwrap();
    s.store.update_workflow(&waiting, 2).await.unwrap();

    let decide = |decision: &str, field: &str, value: &str| {
        json!({"iteration": 1, "decision": decision, "comments": "See the corrections.",
            "corrections": [{"field": field, "value": value}]})
    };
    for (n, (field, value, wrong, says)) in [
        (
            "audience.extra",
            "x",
            "corrections[0].field",
            "cannot be corrected",
        ),
        (
            "specs[0].value",
            &"x".repeat(121),
            "corrections[0].value",
            "120",
        ),
        ("bullets", r#"["only one"]"#, "corrections[0].value", "2"),
        (
            "bullets",
            r#"["ok item", 7]"#,
            "corrections[0].value",
            "bullets[1]",
        ),
        (
            "specs",
            r#"[{"name": "Weight"}]"#,
            "corrections[0].value",
            "value",
        ),
        (
            "audience.segment",
            "aliens",
            "corrections[0].value",
            "consumers",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let r = s
            .feedback(
                "wf-pd",
                &s.reviewers.rita,
                &format!("pd-bad-{n}"),
                &decide("request_changes", field, value),
            )
            .await;
        assert_eq!(r.status, 400, "{field}={value}: {}", r.body);
        assert_eq!(r.error_fields(), vec![wrong], "{field}: {}", r.body);
        assert!(
            r.body.contains(says),
            "{field}: {} must say {says:?}",
            r.body
        );
    }
    let view = s
        .get("/workflows/wf-pd", Some(&s.reviewers.rita))
        .await
        .json();
    assert_eq!(
        view["status"], "awaiting_review",
        "the refusals changed nothing"
    );
    assert_eq!(view["artifact"]["content"], draft);
    assert!(view["feedback"].as_array().unwrap().is_empty(), "{view}");

    let bullets = json!([
        "Lights the page, not the room",
        "Folds flat",
        "Two-year warranty"
    ]);
    let edit = json!({"iteration": 1, "decision": "approve", "corrections": [
        {"field": "bullets", "value": bullets.to_string()},
        {"field": "specs[0].value", "value": "3 kg"},
    ]});
    let done = s
        .feedback("wf-pd", &s.reviewers.rita, "pd-edit", &edit)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["status"], "approved");
    let view = s
        .get("/workflows/wf-pd", Some(&s.reviewers.rita))
        .await
        .json();
    let content = &view["artifact"]["content"];
    assert_eq!(content["bullets"], bullets, "{view}");
    assert_eq!(content["specs"][0]["value"], "3 kg", "{view}");
    assert_eq!(
        content["headline"], draft["headline"],
        "untouched fields stay"
    );
    assert_eq!(view["artifact_type"]["name"], "product-description");
    // The view's changes are item-level: every bullet that differs, the spec's value.
    let changed: Vec<&str> = view["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"specs[0].value"), "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|f| f.starts_with("bullets[") || *f == "specs[0].value"),
        "{changed:?}"
    );
}

/// Issue 30: the queue is searched by subject name, subject id or workflow id, and filtered by
/// artifact type and category; bad values are refused naming the parameter.
#[tokio::test]
async fn the_queue_is_searched_and_filtered_by_type_and_category() {
    use hitl_domain::model::TaskToken;
    use hitl_domain::rules;
    use hitl_domain::store::contract::sample_workflow;
    let s = Server::start().await;
    let now = s.now();
    for (id, name, category, kind) in [
        ("wf-cedar", "Cedar Candles", "home", "brand-metadata"),
        ("wf-lumen", "Lumen Lamp", "lighting", "product-description"),
        ("wf-alpha", "Alpha Roasters", "food", "brand-metadata"),
    ] {
        let mut wf = sample_workflow(id);
        wf.subject.name = name.into();
        wf.subject.id = format!("s-{id}");
        wf.subject.category = Some(category.into());
        wf.config.artifact_type = hitl_domain::types::builtin(kind).unwrap().reference();
        let wf = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
        let wf = rules::request_review(&wf, 1, TaskToken::new(task_token(id, 1)), now).unwrap();
        s.store.create_workflow(&wf).await.unwrap();
    }
    let ids = |path: &'static str| queue_ids(&s, path, &s.reviewers.rita);
    assert_eq!(ids("/reviews?q=cedar").await, ["wf-cedar"]);
    assert_eq!(ids("/reviews?q=S-WF-AL").await, ["wf-alpha"]);
    assert_eq!(ids("/reviews?q=wf-lu").await, ["wf-lumen"]);
    assert_eq!(
        ids("/reviews?type=brand-metadata").await,
        ["wf-alpha", "wf-cedar"]
    );
    assert_eq!(
        ids("/reviews?type=product-description&q=lamp").await,
        ["wf-lumen"]
    );
    assert_eq!(ids("/reviews?category=FOOD").await, ["wf-alpha"]);
    assert!(ids("/reviews?q=nothing-like-it").await.is_empty());
    let r = s
        .get(
            "/reviews?q=%20&type=Brand&category=",
            Some(&s.reviewers.rita),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["category", "q", "type"]);
    let item = s
        .get("/reviews?q=lumen", Some(&s.reviewers.rita))
        .await
        .json();
    assert_eq!(item["items"][0]["artifact_type"], "product-description");
}

/// The workflow ids of `GET path` (a queue) for `token`, sorted; the answer must be 200.
async fn queue_ids(s: &Server, path: &str, token: &str) -> Vec<String> {
    let r = s.get(path, Some(token)).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    let mut ids: Vec<String> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["workflow_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}
