//! A hand-built set of workflows and feedback for the analytics tests (feature
//! `test-support`). Every record starts from [`sample_workflow`] and is mutated by hand, so the
//! expected figures in `shared/tests/analytics.rs` can be worked out on paper.
//!
//! Window: `[2026-01-01, 2026-02-01)`. ISO weeks: W02 starts Mon 2026-01-05, W03 Mon 01-12,
//! W04 Mon 01-19.
//!
//! | id | status | rounds | completed | group / category | decisions (turnaround) | applied change requests (comments → corrected fields) |
//! |----|--------|--------|-----------|------------------|------------------------|-------------------------------------------------------|
//! | wf-a | approved it1 | 1 | 01-06 (W02) | reviewers / food | approve 1h | — (an approve entry "Looks great, ship it.") |
//! | wf-b | approved it2 | 2 | 01-07 (W02) | reviewers / food | 2h, 30m | "Tagline is too long." → tagline (plus a *rejected* entry → slogan) |
//! | wf-c | approved it3 | 3 | 01-13 (W03) | reviewers / fashion | 4h, 1h, 3h | "The tagline is too long; colors feel off-brand." → tagline, colors.primary; "Tagline too long, and the colors are still off-brand!" → tagline |
//! | wf-d | escalated iteration_limit at it3, left unresolved | 3 | 01-14 (W03) | reviewers / food | 8h, 2h, 1h | "Description is vague." → description; "Description still vague." → description; "Tone is wrong." |
//! | wf-e | escalated review_timeout at it1, left unresolved | 1 | 01-21 (W04) | reviewers / food | — | — |
//! | wf-f | approved it1 | 1 | 01-22 (W04) | legal / food | approve 6h | — |
//! | wf-g | failed | 1 | 01-15 | reviewers / food | — | — |
//! | wf-h | generating | 1 | open, created 01-20 | reviewers / food | — | — |
//! | wf-i | awaiting_review it3 | 3 | open, created 01-10 | reviewers / food | 10m, 10m | "Name feels generic." → name; "" → tagline |
//! | wf-w | escalated review_timeout at it1, awaiting resolution | 1 | not completed (escalated 01-27), created 01-23 | reviewers / food | — | — |
//! | wf-late | generating | 1 | open, created 02-03 (after `until`: out) | reviewers / food | — | — |
//! | wf-old | approved it2 | 2 | 2025-12-01 (before `since`: out) | reviewers / food | 1d, 1d | "Old feedback." → legacy |
//! | wf-smoke | approved it1, smoke | 1 | 01-08 (smoke: out) | reviewers / food | approve 1m | — |
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::ReportOptions;
use crate::model::{
    Correction, Decision, DecisionRecord, Escalation, EscalationReason, Failure, FeedbackEntry,
    FeedbackOutcome, SmokeScenario, Workflow, WorkflowStatus,
};
use crate::store::contract::sample_workflow;

/// `y-m-d h:00:00Z`.
pub fn ymdh(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().unwrap()
}

/// January 2026, day `d`, hour `h` (UTC).
pub fn jan(d: u32, h: u32) -> DateTime<Utc> {
    ymdh(2026, 1, d, h)
}

/// The report window of the fixture: `[2026-01-01, 2026-02-01)`, `stale_rounds` 3, top 5.
pub fn window_options() -> ReportOptions {
    ReportOptions {
        since: Some(jan(1, 0)),
        until: Some(ymdh(2026, 2, 1, 0)),
        top_n: 5,
        ..ReportOptions::default()
    }
}

/// A decision record requested at `requested_at` and decided `seconds` later.
pub fn decision(
    iteration: u32,
    decision: Decision,
    requested_at: DateTime<Utc>,
    seconds: i64,
) -> DecisionRecord {
    DecisionRecord {
        resolution: None,
        co_approvers: Vec::new(),
        claimed_at: None,
        edited: false,
        reminders_sent: 0,
        iteration,
        decision,
        reviewer: "rita".into(),
        feedback_key: format!("key-{iteration}-{}", decision.as_str()),
        fingerprint: format!("fp-{iteration}"),
        requested_at,
        decided_at: requested_at + Duration::seconds(seconds),
        task_token: None,
        delivery: None,
    }
}

/// An applied feedback entry of `workflow_id`.
pub fn applied(
    workflow_id: &str,
    iteration: u32,
    decision: Decision,
    comments: &str,
    fields: &[&str],
) -> FeedbackEntry {
    FeedbackEntry {
        resolution: None,
        workflow_id: workflow_id.to_owned(),
        idempotency_key: format!("{workflow_id}-{iteration}-{}", decision.as_str()),
        request_fingerprint: format!("rf-{workflow_id}-{iteration}"),
        iteration,
        decision,
        reviewer: "rita".into(),
        comments: comments.to_owned(),
        corrections: fields
            .iter()
            .map(|f| Correction {
                field: (*f).to_owned(),
                value: format!("new {f}"),
            })
            .collect(),
        channel: "test".into(),
        received_at: jan(1, 0),
        outcome: FeedbackOutcome::Applied {
            status: match decision {
                Decision::Approve => WorkflowStatus::Approved,
                Decision::RequestChanges
                | Decision::Reject
                | Decision::Extend
                | Decision::Reassign => WorkflowStatus::Revising,
                Decision::Resolve => WorkflowStatus::Resolved,
                Decision::Abandon => WorkflowStatus::Abandoned,
            },
        },
    }
}

fn base(id: &str, name: &str, created_at: DateTime<Utc>) -> Workflow {
    let mut wf = sample_workflow(id);
    wf.subject.name = name.to_owned();
    wf.created_at = created_at;
    wf.updated_at = created_at;
    wf
}

fn finish(mut wf: Workflow, status: WorkflowStatus, at: DateTime<Utc>) -> Workflow {
    wf.status = status;
    wf.completed_at = Some(at);
    wf.updated_at = at;
    wf
}

/// An approved workflow: changes requested at iterations `1..iteration`, approved at `iteration`.
pub fn approved(
    id: &str,
    name: &str,
    created_at: DateTime<Utc>,
    decisions: Vec<DecisionRecord>,
) -> Workflow {
    let mut wf = base(id, name, created_at);
    let last = decisions.last().cloned().unwrap();
    wf.iteration = last.iteration;
    wf.artifact_iteration = last.iteration;
    wf.decisions = decisions;
    finish(wf, WorkflowStatus::Approved, last.decided_at)
}

/// An escalated workflow that was finished with: left unresolved at `at` (the escalation SLA
/// passed), so it counts as completed.
pub fn escalated(
    id: &str,
    name: &str,
    created_at: DateTime<Utc>,
    iteration: u32,
    reason: EscalationReason,
    at: DateTime<Utc>,
    decisions: Vec<DecisionRecord>,
) -> Workflow {
    let mut wf = base(id, name, created_at);
    wf.iteration = iteration;
    wf.artifact_iteration = iteration;
    wf.decisions = decisions;
    wf.escalation = Some(Escalation {
        awaiting: None,
        unresolved_at: Some(at),
        reason,
        detail: format!("escalated: {reason}"),
        iteration,
        escalated_at: at,
    });
    finish(wf, WorkflowStatus::Escalated, at)
}

/// `escalated`, still waiting for a person's resolution (its escalation SLA not passed):
/// not completed.
pub fn awaiting_resolution(mut escalated: Workflow) -> Workflow {
    if let Some(e) = escalated.escalation.as_mut() {
        e.unresolved_at = None;
    }
    escalated
}

/// The fixture set: workflows and their feedback, keyed by workflow id.
pub fn sample_set() -> (Vec<Workflow>, HashMap<String, Vec<FeedbackEntry>>) {
    use Decision::{Approve, RequestChanges as Changes};
    let mut workflows = Vec::new();
    let mut feedback: HashMap<String, Vec<FeedbackEntry>> = HashMap::new();

    workflows.push(approved(
        "wf-a",
        "Acme Coffee",
        jan(5, 9),
        vec![decision(1, Approve, jan(6, 8), 3600)],
    ));
    feedback.insert(
        "wf-a".into(),
        vec![applied("wf-a", 1, Approve, "Looks great, ship it.", &[])],
    );

    workflows.push(approved(
        "wf-b",
        "Blue Bakery",
        jan(5, 9),
        vec![
            decision(1, Changes, jan(6, 10), 7200),
            decision(2, Approve, jan(7, 10), 1800),
        ],
    ));
    let mut rejected = applied("wf-b", 1, Changes, "ignore me", &["slogan"]);
    rejected.idempotency_key = "wf-b-late".into();
    rejected.outcome = FeedbackOutcome::Rejected {
        reason: "already_decided".into(),
        message: "iteration 1 was decided".into(),
    };
    feedback.insert(
        "wf-b".into(),
        vec![
            applied("wf-b", 1, Changes, "Tagline is too long.", &["tagline"]),
            rejected,
            applied("wf-b", 2, Approve, "", &[]),
        ],
    );

    let mut c = approved(
        "wf-c",
        "Cobalt Couture",
        jan(11, 9),
        vec![
            decision(1, Changes, jan(12, 8), 14_400),
            decision(2, Changes, jan(12, 14), 3600),
            decision(3, Approve, jan(13, 8), 10_800),
        ],
    );
    c.subject.category = Some("fashion".into());
    workflows.push(c);
    feedback.insert(
        "wf-c".into(),
        vec![
            applied(
                "wf-c",
                1,
                Changes,
                "The tagline is too long; colors feel off-brand.",
                &["tagline", "colors.primary"],
            ),
            applied(
                "wf-c",
                2,
                Changes,
                "Tagline too long, and the colors are still off-brand!",
                &["tagline"],
            ),
        ],
    );

    let mut d = escalated(
        "wf-d",
        "Delta Dairy",
        jan(12, 9),
        3,
        EscalationReason::IterationLimit,
        jan(14, 9),
        vec![
            decision(1, Changes, jan(13, 8), 28_800),
            decision(2, Changes, jan(13, 18), 7200),
            decision(3, Changes, jan(14, 8), 3600),
        ],
    );
    d.config.max_iterations = 3;
    workflows.push(d);
    feedback.insert(
        "wf-d".into(),
        vec![
            applied(
                "wf-d",
                1,
                Changes,
                "Description is vague.",
                &["description"],
            ),
            applied(
                "wf-d",
                2,
                Changes,
                "Description still vague.",
                &["description"],
            ),
            applied("wf-d", 3, Changes, "Tone is wrong.", &[]),
        ],
    );

    workflows.push(escalated(
        "wf-e",
        "Echo Eats",
        jan(18, 9),
        1,
        EscalationReason::ReviewTimeout,
        jan(21, 9),
        vec![],
    ));

    let mut f = approved(
        "wf-f",
        "Fern Foods",
        jan(21, 9),
        vec![decision(1, Approve, jan(22, 6), 21_600)],
    );
    f.config.reviewer_group = "legal".into();
    workflows.push(f);

    let mut g = finish(
        base("wf-g", "Gala Grill", jan(15, 9)),
        WorkflowStatus::Failed,
        jan(15, 10),
    );
    g.failure = Some(Failure {
        error: "States.TaskFailed".into(),
        cause: "agent unavailable".into(),
        failed_at: jan(15, 10),
    });
    workflows.push(g);

    workflows.push(base("wf-h", "Harbor Honey", jan(20, 9)));

    let mut i = base("wf-i", "Indigo Ice", jan(10, 9));
    i.status = WorkflowStatus::AwaitingReview;
    i.iteration = 3;
    i.artifact_iteration = 3;
    i.decisions = vec![
        decision(1, Changes, jan(10, 10), 600),
        decision(2, Changes, jan(11, 10), 600),
    ];
    i.updated_at = jan(12, 9);
    workflows.push(i);
    feedback.insert(
        "wf-i".into(),
        vec![
            applied("wf-i", 1, Changes, "Name feels generic.", &["name"]),
            applied("wf-i", 2, Changes, "", &["tagline"]),
        ],
    );

    workflows.push(awaiting_resolution(escalated(
        "wf-w",
        "Willow Wines",
        jan(23, 9),
        1,
        EscalationReason::ReviewTimeout,
        jan(27, 9),
        vec![],
    )));

    workflows.push(base("wf-late", "Lima Latte", ymdh(2026, 2, 3, 9)));

    workflows.push(approved(
        "wf-old",
        "Olive Oil Co",
        ymdh(2025, 11, 28, 9),
        vec![
            decision(1, Changes, ymdh(2025, 11, 29, 9), 86_400),
            decision(2, Approve, ymdh(2025, 11, 30, 9), 86_400),
        ],
    ));
    feedback.insert(
        "wf-old".into(),
        vec![applied("wf-old", 1, Changes, "Old feedback.", &["legacy"])],
    );

    let mut smoke = approved(
        "wf-smoke",
        "Smoke Test Brand",
        jan(8, 8),
        vec![decision(1, Approve, jan(8, 9), 60)],
    );
    smoke.smoke = Some(SmokeScenario::ApproveFirst);
    workflows.push(smoke);

    (workflows, feedback)
}
