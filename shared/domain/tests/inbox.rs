//! The reviewers' inbox rules: claims, multi-reviewer approval (quorum) and edit-and-approve,
//! example by example and as properties over arbitrary sequences of reviewers' actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hitl_domain::model::{Decision, ResolutionDetails, TaskToken, Workflow, WorkflowStatus};
use hitl_domain::rules::{self, Rejection, Submission};
use hitl_domain::store::contract::sample_workflow;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap()
}

/// A workflow waiting for the review of iteration 1 (requested at `t0`), needing `required`
/// approvals.
fn awaiting(required: u32) -> Workflow {
    let mut wf = sample_workflow("inbox");
    wf.config.required_approvals = required;
    let wf = rules::record_artifact(&wf, 1, "h1", t0()).unwrap().unwrap();
    rules::request_review(&wf, 1, TaskToken::new("t1"), t0()).unwrap()
}

fn decision(reviewer: &str, decision: Decision, key: &str) -> Submission {
    Submission {
        iteration: 1,
        decision,
        reviewer: reviewer.into(),
        reviewer_id: hitl_domain::identity::declared_id(reviewer),
        comments: if decision == Decision::RequestChanges {
            "shorter tagline".into()
        } else {
            String::new()
        },
        corrections: vec![],
        idempotency_key: key.into(),
        resolution: None,
    }
}

fn approve(wf: &Workflow, reviewer: &str, at: DateTime<Utc>) -> Result<Workflow, Rejection> {
    rules::decide(
        wf,
        &decision(
            reviewer,
            Decision::Approve,
            &format!("{reviewer}-{}", wf.version),
        ),
        at,
    )
    .map(|a| a.workflow)
}

#[test]
fn two_distinct_approvals_approve_and_only_the_second_is_delivered() {
    let wf = awaiting(2);
    let first = rules::decide(&wf, &decision("ana", Decision::Approve, "a1"), t0()).unwrap();
    assert_eq!(
        first.task_token, None,
        "nothing to deliver short of the quorum"
    );
    assert_eq!(first.workflow.status, WorkflowStatus::AwaitingReview);
    assert!(first.workflow.decisions.is_empty());
    let summary = first.workflow.review_summary(t0()).unwrap();
    assert_eq!(summary.approved_by, vec!["ana".to_owned()]);
    assert_eq!(summary.required_approvals, 2);

    // The same reviewer again (another key) counts once: refused, specifically.
    let again = rules::decide(
        &first.workflow,
        &decision("ana", Decision::Approve, "a2"),
        t0(),
    );
    assert!(matches!(again, Err(Rejection::AlreadyApproved { .. })));
    assert_eq!(again.unwrap_err().name(), "already_approved");

    let second = rules::decide(
        &first.workflow,
        &decision("ben", Decision::Approve, "b1"),
        t0(),
    )
    .unwrap();
    assert_eq!(second.task_token, Some(TaskToken::new("t1")));
    assert_eq!(second.workflow.status, WorkflowStatus::Approved);
    let record = second.workflow.decisions.last().unwrap();
    assert_eq!(record.reviewer, "ben");
    assert_eq!(record.co_approvers, vec!["ana".to_owned()]);
}

#[test]
fn a_request_for_changes_ends_the_round_despite_partial_approvals() {
    let wf = approve(&awaiting(3), "ana", t0()).unwrap();
    let applied =
        rules::decide(&wf, &decision("ben", Decision::RequestChanges, "b1"), t0()).unwrap();
    assert_eq!(applied.workflow.status, WorkflowStatus::Revising);
    assert!(applied.workflow.pending_review.is_none());
    assert_eq!(applied.task_token, Some(TaskToken::new("t1")));
}

#[test]
fn a_retried_review_request_keeps_approvals_and_claims() {
    let wf = rules::claim(
        &approve(&awaiting(2), "ana", t0()).unwrap(),
        "ben",
        None,
        t0(),
    )
    .unwrap();
    let retried = rules::request_review(&wf, 1, TaskToken::new("t1b"), t0()).unwrap();
    let summary = retried.review_summary(t0()).unwrap();
    assert_eq!(summary.approved_by, vec!["ana".to_owned()]);
    assert_eq!(summary.claim.unwrap().reviewer, "ben");
}

#[test]
fn an_edit_needs_a_single_approver_workflow() {
    let mut s = decision("ana", Decision::Approve, "e1");
    s.resolution = Some(ResolutionDetails {
        final_artifact: Some(serde_json::json!({"name": "Acme"})),
        final_hash: Some("hfinal".into()),
        ..Default::default()
    });
    let refused = rules::decide(&awaiting(2), &s, t0()).unwrap_err();
    assert_eq!(refused.name(), "edit_needs_single_approval");

    let applied = rules::decide(&awaiting(1), &s, t0()).unwrap();
    assert_eq!(applied.workflow.status, WorkflowStatus::Approved);
    // The reviewer's version is the next artifact; the agent's draft stays as it was.
    assert_eq!(applied.workflow.artifact_iteration, 2);
    assert_eq!(applied.workflow.artifact_hash.as_deref(), Some("hfinal"));
    assert!(applied.workflow.decisions[0].edited);
}

#[test]
fn a_claim_is_exclusive_until_released_or_expired() {
    let wf = awaiting(1);
    let claimed = rules::claim(&wf, "ana", Some(1), t0()).unwrap();
    let claim = claimed.review_summary(t0()).unwrap().claim.unwrap();
    assert_eq!(claim.expires_at, t0() + Duration::minutes(30));

    // Another reviewer can neither claim nor decide, nor release it.
    let later = t0() + Duration::minutes(5);
    let refused = rules::claim(&claimed, "ben", None, later).unwrap_err();
    assert_eq!(refused.name(), "claimed_by_other");
    let refused = rules::decide(&claimed, &decision("ben", Decision::Approve, "b"), later);
    assert_eq!(refused.unwrap_err().name(), "claimed_by_other");
    assert_eq!(
        rules::release(&claimed, "ben", false, later)
            .unwrap_err()
            .name(),
        "claimed_by_other"
    );

    // The holder renews (same claimed_at, later expiry) and decides; the claim ends with it.
    let renewed = rules::claim(&claimed, "ana", None, later).unwrap();
    let claim = renewed
        .pending_review
        .as_ref()
        .unwrap()
        .claim
        .clone()
        .unwrap();
    assert_eq!(claim.claimed_at, t0());
    assert_eq!(claim.expires_at, later + Duration::minutes(30));
    let decided = rules::decide(&renewed, &decision("ana", Decision::Approve, "a"), later).unwrap();
    assert_eq!(decided.workflow.decisions[0].claimed_at, Some(t0()));

    // An admin may release anyone's claim; an expired claim is nobody's.
    let released = rules::release(&claimed, "root", true, later)
        .unwrap()
        .unwrap();
    assert!(released.review_summary(later).unwrap().claim.is_none());
    let expired = t0() + Duration::minutes(31);
    assert!(rules::claim(&claimed, "ben", None, expired).is_ok());
    assert!(rules::decide(&claimed, &decision("ben", Decision::Approve, "b"), expired).is_ok());
    assert_eq!(
        rules::release(&claimed, "ben", false, expired).unwrap(),
        None
    );
}

#[test]
fn claims_are_refused_specifically() {
    let wf = awaiting(1);
    assert_eq!(
        rules::claim(&wf, "ana", Some(2), t0()).unwrap_err().name(),
        "unknown_iteration"
    );
    let after_deadline = t0() + Duration::hours(73);
    assert_eq!(
        rules::claim(&wf, "ana", None, after_deadline)
            .unwrap_err()
            .name(),
        "review_timed_out"
    );
    let approved = approve(&wf, "ana", t0()).unwrap();
    assert_eq!(
        rules::claim(&approved, "ben", None, t0())
            .unwrap_err()
            .name(),
        "workflow_finished"
    );
    let partial = approve(&awaiting(2), "ana", t0()).unwrap();
    assert_eq!(
        rules::claim(&partial, "ana", None, t0())
            .unwrap_err()
            .name(),
        "already_approved"
    );
    // A claim never outlives the review SLA.
    let near_deadline = t0() + Duration::hours(72) - Duration::minutes(10);
    let claimed = rules::claim(&wf, "ana", None, near_deadline).unwrap();
    assert_eq!(
        claimed.pending_review.unwrap().claim.unwrap().expires_at,
        t0() + Duration::hours(72)
    );
}

#[derive(Debug, Clone)]
enum Act {
    Claim(usize),
    Release(usize, bool),
    Approve(usize),
    RequestChanges(usize),
    /// Minutes pass.
    Wait(i64),
}

const REVIEWERS: [&str; 5] = ["ana", "ben", "cai", "dee", "eli"];

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => (0usize..5).prop_map(Act::Claim),
        1 => (0usize..5, any::<bool>()).prop_map(|(r, a)| Act::Release(r, a)),
        4 => (0usize..5).prop_map(Act::Approve),
        1 => (0usize..5).prop_map(Act::RequestChanges),
        2 => (1i64..40).prop_map(Act::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A quorum is never reached with fewer distinct approvers; a claim is exclusive until it
    /// expires or is released; no decision is applied against another reviewer's live claim.
    #[test]
    fn inbox_invariants_hold(required in 1u32..=5, acts in prop::collection::vec(act(), 0..60)) {
        let mut wf = awaiting(required);
        let mut now = t0();
        for (n, a) in acts.iter().enumerate() {
            let before = wf.clone();
            let live = before.pending_review.as_ref().and_then(|p| p.live_claim(now)).cloned();
            let result = match a {
                Act::Wait(minutes) => {
                    now += Duration::minutes(*minutes);
                    continue;
                }
                Act::Claim(r) => rules::claim(&before, REVIEWERS[*r], None, now).map(Some),
                Act::Release(r, admin) => rules::release(&before, REVIEWERS[*r], *admin, now),
                Act::Approve(r) => rules::decide(&before, &decision(REVIEWERS[*r], Decision::Approve, &format!("k{n}")), now).map(|a| Some(a.workflow)),
                Act::RequestChanges(r) => rules::decide(&before, &decision(REVIEWERS[*r], Decision::RequestChanges, &format!("k{n}")), now).map(|a| Some(a.workflow)),
            };
            let actor = match a {
                Act::Claim(r) | Act::Release(r, _) | Act::Approve(r) | Act::RequestChanges(r) => REVIEWERS[*r],
                Act::Wait(_) => unreachable!(),
            };
            if let Ok(Some(next)) = result {
                // Nobody but the holder (or an admin releasing) changes a live claim's iteration.
                if let Some(held) = &live {
                    let admin_release = matches!(a, Act::Release(_, true));
                    prop_assert!(held.reviewer == actor || admin_release,
                        "{actor} acted with {} holding the claim: {a:?}", held.reviewer);
                }
                prop_assert_eq!(next.version, before.version + 1);
                if let Some(p) = &next.pending_review {
                    let distinct: BTreeSet<&str> = p.approvals.iter().map(|a| a.reviewer.as_str()).collect();
                    prop_assert_eq!(distinct.len(), p.approvals.len(), "an approver counted twice");
                    prop_assert!(p.approvals.len() < required as usize);
                }
                if next.status == WorkflowStatus::Approved {
                    let record = next.decisions.last().unwrap();
                    let mut approvers: BTreeSet<&str> = record.co_approvers.iter().map(String::as_str).collect();
                    approvers.insert(record.reviewer.as_str());
                    prop_assert_eq!(approvers.len(), required as usize, "approved by {:?}", approvers);
                }
                wf = next;
            }
            if wf.status.is_terminal() || wf.status == WorkflowStatus::Revising {
                break;
            }
        }
    }
}

#[test]
fn reminders_fire_in_order_once_and_an_outage_sends_one_not_a_burst() {
    // Default reminders 24 h and 1 h before a 72 h deadline; a 90 s offset longer than a
    // shorter SLA never fires.
    let wf = awaiting(1);
    assert_eq!(rules::mark_reminder(&wf, t0() + Duration::hours(47)), None);
    assert_eq!(
        rules::next_reminder_at(&wf),
        Some(t0() + Duration::hours(48))
    );
    let (wf, offset, _) = rules::mark_reminder(&wf, t0() + Duration::hours(48)).unwrap();
    assert_eq!(offset, 24 * 3600);
    assert_eq!(
        rules::mark_reminder(&wf, t0() + Duration::hours(50)),
        None,
        "sent once"
    );
    assert_eq!(
        rules::next_reminder_at(&wf),
        Some(t0() + Duration::hours(71))
    );
    let (wf, offset, _) = rules::mark_reminder(&wf, t0() + Duration::hours(71)).unwrap();
    assert_eq!(offset, 3600);
    assert_eq!(rules::next_reminder_at(&wf), None);
    // The decision carries how many were sent.
    let decided = rules::decide(
        &wf,
        &decision("ana", Decision::Approve, "a"),
        t0() + Duration::hours(71),
    )
    .unwrap();
    assert_eq!(decided.workflow.decisions[0].reminders_sent, 2);

    // After an outage both are due at once: only the more urgent one is sent.
    let late = awaiting(1);
    let (late, offset, _) =
        rules::mark_reminder(&late, t0() + Duration::hours(71) + Duration::minutes(5)).unwrap();
    assert_eq!(offset, 3600);
    assert_eq!(late.pending_review.as_ref().unwrap().reminders_sent, 1);
    assert_eq!(
        rules::mark_reminder(&late, t0() + Duration::hours(71) + Duration::minutes(6)),
        None
    );
    // Past the deadline nothing is sent (a failed send stays in the notification outbox).
    assert_eq!(
        rules::mark_reminder(&awaiting(1), t0() + Duration::hours(73)),
        None
    );

    let mut short = sample_workflow("short");
    short.config.review_timeout_seconds = 7200;
    let short = rules::record_artifact(&short, 1, "h", t0())
        .unwrap()
        .unwrap();
    let short = rules::request_review(&short, 1, TaskToken::new("t"), t0()).unwrap();
    assert_eq!(
        rules::next_reminder_at(&short),
        Some(t0() + Duration::hours(1)),
        "24 h does not fit a 2 h SLA"
    );
}

#[test]
fn an_escalation_waiting_for_a_resolution_is_reminded_too() {
    // Escalated at t0 with the default 7-day escalation SLA: reminders 24 h and 1 h before it
    // ends, to the escalation group.
    let wf = awaiting(1);
    let esc = rules::escalate(
        &wf,
        hitl_domain::model::EscalationReason::ReviewTimeout,
        "late",
        Some(TaskToken::new("esc")),
        t0(),
    )
    .unwrap()
    .unwrap();
    let deadline = t0() + Duration::days(7);
    assert_eq!(
        rules::next_reminder_at(&esc),
        Some(deadline - Duration::hours(24))
    );
    let (esc, offset, target) = rules::mark_reminder(&esc, deadline - Duration::hours(24)).unwrap();
    assert_eq!(
        (offset, target),
        (24 * 3600, rules::ReminderTarget::Resolution)
    );
    assert_eq!(
        rules::mark_reminder(&esc, deadline - Duration::hours(2)),
        None
    );
    // A new token for the same waiting escalation keeps what was sent.
    let retried = rules::escalate(
        &esc,
        hitl_domain::model::EscalationReason::ReviewTimeout,
        "late",
        Some(TaskToken::new("esc-2")),
        deadline - Duration::hours(2),
    )
    .unwrap();
    if let Some(retried) = retried {
        // The new task's timer starts now; the 24 h reminder stays sent.
        let new_deadline = retried
            .escalation
            .as_ref()
            .and_then(|e| e.awaiting.as_ref())
            .unwrap()
            .deadline;
        assert_eq!(
            rules::next_reminder_at(&retried),
            Some(new_deadline - Duration::hours(1))
        );
    }
    assert_eq!(
        rules::mark_reminder(&esc, deadline),
        None,
        "past its deadline"
    );
}

#[test]
fn a_partial_approval_is_counted_apart_and_reports_no_review_latency() {
    use hitl_domain::metrics;
    let names = |records: &[serde_json::Value]| -> Vec<String> {
        records
            .iter()
            .map(|r| {
                let metric = r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                match r["Decision"].as_str() {
                    Some(d) => format!("{metric}:{d}"),
                    None => metric,
                }
            })
            .collect()
    };
    let wf = awaiting(2);
    let later = t0() + Duration::minutes(30);
    let first = rules::decide(&wf, &decision("ana", Decision::Approve, "a1"), later).unwrap();
    assert_eq!(
        names(&metrics::decision_applied(
            &wf,
            &first,
            Decision::Approve,
            later
        )),
        ["FeedbackReceived:partial_approval"]
    );
    let done = later + Duration::minutes(30);
    let second = rules::decide(
        &first.workflow,
        &decision("ben", Decision::Approve, "b1"),
        done,
    )
    .unwrap();
    let records = metrics::decision_applied(&first.workflow, &second, Decision::Approve, done);
    assert_eq!(
        names(&records),
        ["FeedbackReceived:approve", "ReviewLatency"]
    );
    // Latency runs from the review request to the decision that ended it.
    assert_eq!(records[1]["ReviewLatency"], 3600.0);
    // One approval is enough: an approval as before.
    let single = awaiting(1);
    let applied = rules::decide(&single, &decision("ana", Decision::Approve, "s1"), later).unwrap();
    assert_eq!(
        names(&metrics::decision_applied(
            &single,
            &applied,
            Decision::Approve,
            later
        )),
        ["FeedbackReceived:approve", "ReviewLatency"]
    );
}

#[test]
fn the_claim_log_records_claims_and_releases_but_not_renewals() {
    use hitl_domain::model::{ClaimAction, CLAIM_LOG_LIMIT};
    let wf = awaiting(1);
    let t = |m: i64| t0() + Duration::minutes(m);
    let claimed = rules::claim(&wf, "ana", Some(1), t(1)).unwrap();
    let renewed = rules::claim(&claimed, "ana", None, t(5)).unwrap();
    assert_eq!(
        renewed.claim_log, claimed.claim_log,
        "a renewal is not an entry"
    );
    let released = rules::release(&renewed, "ana", false, t(6))
        .unwrap()
        .unwrap();
    let taken = rules::claim(&released, "ben", None, t(7)).unwrap();
    // An admin frees ben's claim: the entry names both.
    let freed = rules::release(&taken, "ops", true, t(8)).unwrap().unwrap();
    let log: Vec<(ClaimAction, &str, Option<&str>, u32)> = freed
        .claim_log
        .iter()
        .map(|e| (e.action, e.reviewer.as_str(), e.by.as_deref(), e.iteration))
        .collect();
    assert_eq!(
        log,
        [
            (ClaimAction::Claimed, "ana", None, 1),
            (ClaimAction::Released, "ana", None, 1),
            (ClaimAction::Claimed, "ben", None, 1),
            (ClaimAction::Released, "ben", Some("ops"), 1),
        ]
    );
    assert_eq!(freed.claim_log[3].at, t(8));
    // Releasing when nothing is held writes nothing, so logs nothing.
    assert!(rules::release(&freed, "ana", false, t(9))
        .unwrap()
        .is_none());
    // A claim/release loop cannot grow the record without bound: the newest entries stay.
    let mut looped = freed;
    for i in 0..40 {
        looped = rules::claim(&looped, "cai", None, t(10 + i)).unwrap();
        looped = rules::release(&looped, "cai", false, t(10 + i))
            .unwrap()
            .unwrap();
    }
    assert_eq!(looped.claim_log.len(), CLAIM_LOG_LIMIT);
    assert_eq!(looped.claim_log.last().unwrap().at, t(49));
    assert_eq!(
        looped.claim_log.last().unwrap().action,
        ClaimAction::Released
    );
}
