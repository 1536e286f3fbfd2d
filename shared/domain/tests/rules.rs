//! Rule tests: the loop driven through the pure rules as the state machine drives it, plus
//! property tests over arbitrary operation sequences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, TimeZone, Utc};
use hitl_domain::model::{
    Decision, Delivery, EscalationReason, ResolutionDetails, TaskToken, Workflow, WorkflowStatus,
};
use hitl_domain::rules::{self, IterationVerdict, Rejection, Submission};
use hitl_domain::store::contract::sample_workflow;
use proptest::prelude::*;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap()
}

fn submit(iteration: u32, decision: Decision, comments: &str) -> Submission {
    // (resolutions set `resolution` themselves)
    Submission {
        resolution: None,
        iteration,
        decision,
        reviewer: "rita".into(),
        reviewer_id: "name:rita".into(),
        comments: comments.into(),
        corrections: vec![],
        idempotency_key: format!("k-{iteration}-{comments}"),
    }
}

/// Generates, requests review and applies `decision` for the current iteration.
fn review_round(wf: &Workflow, decision: Decision, comments: &str) -> Workflow {
    let i = wf.iteration;
    let wf = rules::record_artifact(wf, i, &format!("h{i}"), now())
        .unwrap()
        .unwrap();
    let wf = rules::request_review(&wf, i, TaskToken::new(format!("t{i}")), now()).unwrap();
    rules::decide(&wf, &submit(i, decision, comments), now())
        .unwrap()
        .workflow
}

#[test]
fn with_max_ten_the_tenth_rejection_escalates_when_the_eleventh_would_start() {
    let mut wf = sample_workflow("limit");
    assert_eq!(wf.config.max_iterations, 10);
    for round in 1..=10 {
        wf = review_round(&wf, Decision::RequestChanges, &format!("change {round}"));
        let (verdict, next) = rules::check_iteration(&wf, round, now()).unwrap();
        if round < 10 {
            assert_eq!(verdict, IterationVerdict::Continue { next: round + 1 });
            wf = next.unwrap();
        } else {
            assert_eq!(
                verdict,
                IterationVerdict::Escalate {
                    reason: EscalationReason::IterationLimit
                }
            );
            assert!(next.is_none());
        }
    }
    assert_eq!(wf.iteration, 10);
    assert_eq!(wf.decisions.len(), 10);
    let escalated = rules::escalate(&wf, EscalationReason::IterationLimit, "limit", None, now())
        .unwrap()
        .unwrap();
    assert_eq!(escalated.status, WorkflowStatus::Escalated);
}

#[test]
fn approval_after_three_revisions() {
    let mut wf = sample_workflow("approve");
    for round in 1..=3 {
        wf = review_round(&wf, Decision::RequestChanges, &format!("round {round}"));
        wf = rules::check_iteration(&wf, round, now())
            .unwrap()
            .1
            .unwrap();
    }
    let wf = review_round(&wf, Decision::Approve, "ok");
    assert_eq!(wf.status, WorkflowStatus::Approved);
    assert_eq!(wf.iteration, 4);
    rules::confirm_approval(&wf).unwrap();
}

#[test]
fn the_same_feedback_twice_in_a_row_is_no_progress() {
    let mut wf = sample_workflow("same");
    wf = review_round(&wf, Decision::RequestChanges, "Make it  BOLDER!");
    wf = rules::check_iteration(&wf, 1, now()).unwrap().1.unwrap();
    wf = review_round(&wf, Decision::RequestChanges, "make it bolder");
    let (verdict, _) = rules::check_iteration(&wf, 2, now()).unwrap();
    assert_eq!(
        verdict,
        IterationVerdict::Escalate {
            reason: EscalationReason::NoProgress
        }
    );
}

#[test]
fn feedback_rejections_are_specific() {
    let wf = sample_workflow("rej");
    let generating = rules::decide(&wf, &submit(1, Decision::Approve, ""), now()).unwrap_err();
    assert_eq!(generating.name(), "not_awaiting_review");
    let wf = rules::record_artifact(&wf, 1, "h", now()).unwrap().unwrap();
    let waiting = rules::request_review(&wf, 1, TaskToken::new("t"), now()).unwrap();
    assert!(matches!(
        rules::decide(&waiting, &submit(2, Decision::Approve, ""), now()).unwrap_err(),
        Rejection::UnknownIteration {
            submitted: 2,
            current: 1
        }
    ));
    let late = now() + Duration::hours(73);
    assert_eq!(
        rules::decide(&waiting, &submit(1, Decision::Approve, ""), late)
            .unwrap_err()
            .name(),
        "review_timed_out"
    );
    let decided = rules::decide(&waiting, &submit(1, Decision::Approve, ""), now())
        .unwrap()
        .workflow;
    assert_eq!(
        rules::decide(&decided, &submit(1, Decision::RequestChanges, "x"), now())
            .unwrap_err()
            .name(),
        "already_decided"
    );
    let next = rules::decide(&waiting, &submit(1, Decision::RequestChanges, "x"), now())
        .unwrap()
        .workflow;
    let advanced = rules::check_iteration(&next, 1, now()).unwrap().1.unwrap();
    assert!(matches!(
        rules::decide(&advanced, &submit(1, Decision::Approve, ""), now()).unwrap_err(),
        Rejection::StaleIteration {
            submitted: 1,
            current: 2
        }
    ));
    let timed_out = rules::escalate(
        &waiting,
        EscalationReason::ReviewTimeout,
        "late",
        None,
        now(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        rules::decide(&timed_out, &submit(1, Decision::Approve, ""), now())
            .unwrap_err()
            .name(),
        "review_timed_out"
    );
    let failed = rules::fail(&waiting, "X", "y", now()).unwrap();
    assert_eq!(
        rules::decide(&failed, &submit(1, Decision::Approve, ""), now())
            .unwrap_err()
            .name(),
        "workflow_finished"
    );
}

#[test]
fn check_iteration_is_idempotent_after_advancing() {
    let wf = review_round(&sample_workflow("idem"), Decision::RequestChanges, "x");
    let (v1, next) = rules::check_iteration(&wf, 1, now()).unwrap();
    let next = next.unwrap();
    let (v2, again) = rules::check_iteration(&next, 1, now()).unwrap();
    assert_eq!(v1, v2);
    assert!(again.is_none());
}

#[derive(Debug, Clone)]
enum Op {
    Artifact,
    Review,
    Decide(bool, u32, u8),
    Check,
    Escalate,
    Fail,
    Settle(u8),
    TimeoutEscalate,
    /// Escalation as a human task (with a token): waits for a resolution.
    EscalateWaiting,
    /// A resolution: 0 resolve, 1 extend by `n`, 2 reassign, 3 abandon.
    Resolve(u8, u32),
    /// The escalation SLA ran out.
    Unresolved,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Artifact),
        3 => Just(Op::Review),
        4 => (any::<bool>(), 0u32..4, 0u8..3).prop_map(|(a, d, c)| Op::Decide(a, d, c)),
        3 => Just(Op::Check),
        1 => Just(Op::Escalate),
        1 => Just(Op::Fail),
        2 => (0u8..3).prop_map(Op::Settle),
        1 => Just(Op::TimeoutEscalate),
        2 => Just(Op::EscalateWaiting),
        3 => (0u8..4, 1u32..60).prop_map(|(k, n)| Op::Resolve(k, n)),
        1 => Just(Op::Unresolved),
    ]
}

fn apply(wf: &Workflow, op: &Op) -> Option<Workflow> {
    let i = wf.iteration;
    match op {
        Op::Artifact => rules::record_artifact(wf, i, &format!("h{i}"), now())
            .ok()
            .flatten(),
        Op::Review => rules::request_review(wf, i, TaskToken::new("t"), now()).ok(),
        Op::Decide(approve, delta, comment) => {
            let decision = if *approve {
                Decision::Approve
            } else {
                Decision::RequestChanges
            };
            let iteration = (i + 1).saturating_sub(*delta).max(1);
            rules::decide(
                wf,
                &submit(iteration, decision, &format!("c{comment}")),
                now(),
            )
            .ok()
            .map(|a| a.workflow)
        }
        Op::Check => rules::check_iteration(wf, i, now())
            .ok()
            .and_then(|(_, n)| n),
        Op::Escalate => rules::escalate(wf, EscalationReason::NoProgress, "p", None, now())
            .ok()
            .flatten(),
        Op::Fail => rules::fail(wf, "E", "c", now()),
        Op::Settle(kind) => wf.decisions.last().and_then(|d| {
            let outcome = match kind {
                0 => Delivery::Delivered { at: now() },
                1 => Delivery::Late { at: now() },
                _ => Delivery::Closed {
                    at: now(),
                    detail: "closed".into(),
                },
            };
            rules::settle_delivery(wf, &d.feedback_key, outcome, now())
        }),
        Op::TimeoutEscalate => {
            rules::escalate(wf, EscalationReason::ReviewTimeout, "t", None, now())
                .ok()
                .flatten()
        }
        Op::EscalateWaiting => rules::escalate(
            wf,
            EscalationReason::IterationLimit,
            "l",
            Some(TaskToken::new(format!("esc-{}", wf.version))),
            now(),
        )
        .ok()
        .flatten(),
        Op::Resolve(kind, n) => {
            let (decision, details) = match kind {
                0 => (
                    Decision::Resolve,
                    ResolutionDetails {
                        final_artifact: Some(serde_json::json!({"name": "x"})),
                        ..Default::default()
                    },
                ),
                1 => (
                    Decision::Extend,
                    ResolutionDetails {
                        extra_iterations: Some(*n),
                        ..Default::default()
                    },
                ),
                2 => (
                    Decision::Reassign,
                    ResolutionDetails {
                        reviewer_group: Some("leads".into()),
                        ..Default::default()
                    },
                ),
                _ => (Decision::Abandon, ResolutionDetails::default()),
            };
            let mut s = submit(i, decision, &format!("r{}", wf.version));
            s.resolution = Some(details);
            rules::decide(wf, &s, now()).ok().map(|a| a.workflow)
        }
        Op::Unresolved => rules::mark_unresolved(wf, now()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn invariants_hold_for_any_operation_sequence(max in 1u32..=50, ops in prop::collection::vec(op(), 0..120)) {
        let mut wf = sample_workflow("prop");
        wf.config.max_iterations = max;
        for op in &ops {
            let before = wf.clone();
            if let Some(next) = apply(&wf, op) {
                match op {
                    Op::Settle(_) => {
                        // Delivery bookkeeping changes nothing else, in any status, and settles
                        // only a pending delivery.
                        prop_assert_eq!(next.status, before.status);
                        prop_assert_eq!(next.iteration, before.iteration);
                        prop_assert_eq!(next.decisions.len(), before.decisions.len());
                        prop_assert!(before.pending_delivery().is_some());
                    }
                    Op::TimeoutEscalate if before.status == WorkflowStatus::Approved => {
                        // The one way out of a terminal status: the execution's wait timed out
                        // before the approval reached it. The decision is kept, marked late.
                        // (the latest decision of the iteration: a reassigned draft is decided again)
                        let d = before.decisions.iter().rev().find(|d| d.iteration == before.iteration);
                        let undelivered = d.is_some_and(|d| !d.delivery.as_ref().is_some_and(Delivery::is_delivered));
                        prop_assert!(undelivered, "escalated an approval that was delivered");
                        prop_assert_eq!(next.status, WorkflowStatus::Escalated);
                        prop_assert_eq!(next.decisions.len(), before.decisions.len());
                        let late = next.decisions.iter().any(|d| matches!(d.delivery, Some(Delivery::Late { .. })));
                        prop_assert!(late, "no late decision");
                    }
                    Op::EscalateWaiting | Op::Resolve(..) | Op::Unresolved
                        if before.status == WorkflowStatus::Escalated =>
                    {
                        // Out of an escalation only by a resolution while it waits, by a new
                        // token for the waiting task, or by the SLA running out.
                        let waiting = before.escalation.as_ref().is_some_and(|e| e.awaiting.is_some());
                        let expired = next.escalation.as_ref().is_some_and(|e| e.unresolved_at.is_some());
                        prop_assert!(waiting || expired || matches!(op, Op::EscalateWaiting), "{:?} from {:?}", op, before.escalation);
                        if let Op::Resolve(..) = op {
                            prop_assert!(next.decisions.last().is_some_and(|d| d.decision.is_resolution()));
                        }
                    }
                    Op::Unresolved if matches!(before.status, WorkflowStatus::Resolved | WorkflowStatus::Abandoned) => {
                        // A resolved or abandoned workflow changes again only when its
                        // resolution never reached the execution (the escalation wait timed
                        // out first): back to escalated, unresolved, the resolution kept late.
                        let r = before.decisions.iter().rev().find(|d| d.decision.is_resolution());
                        prop_assert!(r.is_some_and(|r| !r.delivery.as_ref().is_some_and(Delivery::is_delivered)));
                        prop_assert_eq!(next.status, WorkflowStatus::Escalated);
                    }
                    _ => {
                        // No transition out of a terminal status.
                        prop_assert!(!before.status.is_terminal(), "{:?} changed terminal {:?}", op, before.status);
                    }
                }
                // A delivered decision stays delivered; decisions are never removed.
                for (b, n) in before.decisions.iter().zip(&next.decisions) {
                    if b.delivery.as_ref().is_some_and(Delivery::is_delivered) {
                        prop_assert_eq!(&b.delivery, &n.delivery);
                    }
                    prop_assert_eq!(&b.feedback_key, &n.feedback_key);
                }
                prop_assert!(next.decisions.len() >= before.decisions.len());
                // Every applied change bumps the version by exactly one.
                prop_assert_eq!(next.version, before.version + 1);
                wf = next;
            }
            // The iteration never exceeds the limit; `extend` never takes the limit past 50.
            prop_assert!(wf.iteration <= wf.config.max_iterations);
            prop_assert!(wf.config.max_iterations <= 50);
            prop_assert!(wf.config.max_iterations >= max);
            // Within a round (between resolutions) at most one review decision per iteration,
            // in iteration order.
            for round in wf.decisions.split(|d| d.decision.is_resolution()) {
                let iterations: Vec<u32> = round.iter().map(|d| d.iteration).collect();
                prop_assert!(iterations.windows(2).all(|w| w[0] < w[1]), "{:?}", iterations);
            }
            // A pending review exists exactly when awaiting review.
            prop_assert_eq!(wf.pending_review.is_some(), wf.status == WorkflowStatus::AwaitingReview);
        }
    }
}

/// Issue 18: a workflow that ended but whose outcome could not be published after the
/// definition's retries is recorded failed with the cause (never "approved but not published"
/// silently); any other failure leaves a finished workflow as it is.
#[test]
fn only_an_unpublished_outcome_turns_a_finished_workflow_failed() {
    assert_eq!(
        rules::UNPUBLISHED_ERROR,
        hitl_domain::ErrorName::PublishFailed.as_str()
    );
    let approved = review_round(&sample_workflow("pub"), Decision::Approve, "ok");
    assert_eq!(approved.status, WorkflowStatus::Approved);
    assert!(rules::fail(&approved, "States.Runtime", "x", now()).is_none());
    let failed = rules::fail(&approved, "PublishFailed", "bucket unreachable", now()).unwrap();
    assert_eq!(failed.status, WorkflowStatus::Failed);
    assert_eq!(failed.failure.unwrap().cause, "bucket unreachable");
    let escalated = rules::escalate(
        &sample_workflow("esc"),
        EscalationReason::NoProgress,
        "p",
        None,
        now(),
    )
    .unwrap()
    .unwrap();
    assert!(rules::fail(&escalated, "PublishFailed", "x", now()).is_some());
}

#[test]
fn rejection_names_list_every_variant_once_and_nothing_else() {
    let names: Vec<&str> = hitl_domain::testing::one_rejection_of_each_kind()
        .iter()
        .map(Rejection::name)
        .collect();
    assert_eq!(names.len(), 14, "one example per variant");
    for name in &names {
        assert!(
            Rejection::NAMES.contains(name),
            "{name} is missing from Rejection::NAMES"
        );
    }
    for listed in Rejection::NAMES {
        assert!(
            names.contains(&listed),
            "Rejection::NAMES lists {listed}, which no variant is named"
        );
    }
    let distinct: std::collections::BTreeSet<&str> = Rejection::NAMES.into_iter().collect();
    assert_eq!(
        distinct.len(),
        Rejection::NAMES.len(),
        "a name listed twice"
    );
}
