//! Learning analytics over the hand-built fixture of `hitl_domain::analytics::fixture`
//! (its doc comment has the full table). Every expected value is a literal worked out by hand;
//! the comment beside it shows the arithmetic.
//!
//! In the window `[2026-01-01, 2026-02-01)`:
//! * completed = approved {a (it1), b (it2), c (it3), f (it1)} + escalated and left unresolved
//!   {d (iteration_limit, it3), e (review_timeout, it1)} = 6;
//! * failed = {g} = 1; in progress = {h (it1), i (it3)} = 2 (wf-late was created after `until`);
//! * awaiting resolution = {w (escalated review_timeout at it1, no resolution yet)} = 1;
//! * out: wf-old (completed 2025-12-01), wf-smoke (smoke test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::Duration;
use hitl_domain::analytics::fixture::{self, jan, window_options};
use hitl_domain::analytics::{
    comment_phrases, compute, nearest_rank, normalise_comment, parse_lookback, rate, Bucket,
    Counts, FieldCount, Ratio, Report, ReportOptions, TermCount,
};
use hitl_domain::model::{Decision, EscalationReason, FeedbackEntry, Workflow, WorkflowStatus};
use hitl_domain::store::contract::sample_workflow;

fn sample_report() -> Report {
    let (workflows, feedback) = fixture::sample_set();
    compute(&workflows, &feedback, &window_options())
}

fn close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("rate should be defined");
    assert!((a - expected).abs() < 1e-12, "{a} != {expected}");
}

fn terms(list: &[TermCount]) -> Vec<(&str, usize)> {
    list.iter().map(|t| (t.term.as_str(), t.entries)).collect()
}

#[test]
fn counts_follow_the_window_rules() {
    let r = sample_report();
    // Compared as the JSON document `GET /analytics` serves.
    assert_eq!(
        serde_json::to_value(&r.counts).unwrap(),
        serde_json::json!({
            "completed": 6,           // a b c f (approved) + d e (escalated, left unresolved)
            "approved": 4,            // a b c f
            "escalated": 2,           // d e
            "failed": 1,              // g
            "in_progress": 2,         // h i (wf-late created 02-03 >= until)
            "awaiting_resolution": 1, // w (escalated, no resolution yet)
            "smoke_excluded": 1,      // wf-smoke
        })
    );
}

/// Issue 31 item 14: an escalation still waiting for a person's resolution was counted as a
/// completed workflow (and as an escalation in every rate and in the weekly trend).
#[test]
fn an_escalation_awaiting_resolution_is_in_no_completed_figure() {
    let r = sample_report();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["counts"]["awaiting_resolution"], 1); // w
    assert_eq!((r.counts.completed, r.counts.escalated), (6, 2)); // not 7, 3
    assert_eq!(
        (r.escalations.overall.count, r.escalations.overall.of),
        (2, 6)
    );
    assert_eq!(
        (r.first_draft_approval.count, r.first_draft_approval.of),
        (2, 6)
    );
    // review_timeout: e only (w waits)
    assert_eq!(
        (
            r.escalations.by_reason[2].reason.as_str(),
            r.escalations.by_reason[2].ratio.count
        ),
        ("review_timeout", 1)
    );
    // w was escalated on 01-27 (W05): no completion that week, so the trend ends in W04.
    assert_eq!(r.weekly.last().map(|w| w.week.as_str()), Some("2026-W04"));
    // Listed as a problem, marked as waiting; e (left unresolved) is not waiting.
    let waiting: Vec<(&str, bool)> = json["problematic_subjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "escalated")
        .map(|p| {
            (
                p["workflow_id"].as_str().unwrap(),
                p["awaiting_resolution"] == true,
            )
        })
        .collect();
    assert_eq!(waiting, [("wf-d", false), ("wf-e", false), ("wf-w", true)]);
}

#[test]
fn an_escalation_counts_as_completed_once_finished_with() {
    let (mut workflows, feedback) = fixture::sample_set();
    // The SLA passes for w on 01-29: left unresolved, completed in W05.
    for wf in &mut workflows {
        if wf.id == "wf-w" {
            if let Some(e) = wf.escalation.as_mut() {
                e.unresolved_at = Some(jan(29, 9));
            }
            wf.completed_at = Some(jan(29, 9));
        }
    }
    let r = compute(&workflows, &feedback, &window_options());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["counts"]["awaiting_resolution"], 0);
    assert_eq!((r.counts.completed, r.counts.escalated), (7, 3));
    assert_eq!(r.escalations.resolutions.unresolved, 3); // d e w
    assert_eq!(r.weekly.last().map(|w| w.week.as_str()), Some("2026-W05"));

    // Resolved by a person: completed as well.
    for wf in &mut workflows {
        if wf.id == "wf-w" {
            wf.status = WorkflowStatus::Resolved;
            if let Some(e) = wf.escalation.as_mut() {
                e.unresolved_at = None;
            }
        }
    }
    let r = compute(&workflows, &feedback, &window_options());
    assert_eq!((r.counts.completed, r.counts.escalated), (7, 3));
}

#[test]
fn an_escalation_awaiting_resolution_is_counted_like_an_open_workflow() {
    let (workflows, feedback) = fixture::sample_set();
    // Created 01-23 09:00: counted whatever `since` says, but not when created after `until`.
    let count = |since, until| {
        let options = ReportOptions {
            since: Some(since),
            until: Some(until),
            ..window_options()
        };
        serde_json::to_value(compute(&workflows, &feedback, &options).counts).unwrap()
            ["awaiting_resolution"]
            .clone()
    };
    assert_eq!(count(jan(31, 0), jan(31, 12)), 1);
    assert_eq!(count(jan(1, 0), jan(23, 9)), 0);
}

#[test]
fn first_draft_approval_rate() {
    let r = sample_report();
    // approved at iteration 1: a, f → 2 of 6 completed = 0.333…
    assert_eq!(
        (r.first_draft_approval.count, r.first_draft_approval.of),
        (2, 6)
    );
    close(r.first_draft_approval.rate, 2.0 / 6.0);
}

#[test]
fn iterations_to_approval_distribution() {
    let d = sample_report().iterations_to_approval;
    // approval iterations a=1, b=2, c=3, f=1 → sorted [1, 1, 2, 3]
    assert_eq!(d.count, 4);
    assert_eq!(
        d.histogram,
        vec![
            Bucket {
                iterations: 1,
                count: 2
            }, // a, f
            Bucket {
                iterations: 2,
                count: 1
            }, // b
            Bucket {
                iterations: 3,
                count: 1
            }, // c
        ]
    );
    // median: k = ⌈0.5·4⌉ = 2 → x₂ = 1
    assert_eq!(d.median, Some(1));
    // p90: k = ⌈0.9·4⌉ = ⌈3.6⌉ = 4 → x₄ = 3
    assert_eq!(d.p90, Some(3));
    assert_eq!(d.max, Some(3));
}

#[test]
fn histogram_keeps_empty_buckets_between() {
    let (mut workflows, feedback) = fixture::sample_set();
    // Move c's approval from iteration 3 to 5: buckets 1..=5, with 3 and 4 empty.
    for wf in &mut workflows {
        if wf.id == "wf-c" {
            wf.iteration = 5;
            wf.decisions.last_mut().unwrap().iteration = 5;
        }
    }
    let d = compute(&workflows, &feedback, &window_options()).iterations_to_approval;
    let counts: Vec<(u32, usize)> = d
        .histogram
        .iter()
        .map(|b| (b.iterations, b.count))
        .collect();
    assert_eq!(counts, vec![(1, 2), (2, 1), (3, 0), (4, 0), (5, 1)]);
    // sorted [1, 1, 2, 5]: p90 k = 4 → 5
    assert_eq!((d.median, d.p90, d.max), (Some(1), Some(5), Some(5)));
}

#[test]
fn escalation_rates_overall_and_by_reason() {
    let e = sample_report().escalations;
    // 2 escalated of 6 completed
    assert_eq!((e.overall.count, e.overall.of), (2, 6));
    close(e.overall.rate, 2.0 / 6.0);
    let by: Vec<(&str, usize, usize)> = e
        .by_reason
        .iter()
        .map(|r| (r.reason.as_str(), r.ratio.count, r.ratio.of))
        .collect();
    assert_eq!(
        by,
        vec![
            ("iteration_limit", 1, 6), // d
            ("no_progress", 0, 6),
            ("review_timeout", 1, 6), // e
            ("invalid_draft", 0, 6),
            ("rejected_by_reviewer", 0, 6),
        ]
    );
    close(e.by_reason[0].ratio.rate, 1.0 / 6.0);
    close(e.by_reason[1].ratio.rate, 0.0);
}

#[test]
fn most_corrected_fields() {
    let r = sample_report();
    // Applied request_changes entries in scope: b1, c1, c2, d1, d2, d3, i1, i2.
    // tagline: b1 + c1 + c2 + i2 = 4 corrections in {b, c, i} = 3 workflows
    // description: d1 + d2 = 2 in {d}; colors.primary: c1 = 1; name: i1 = 1
    // Left out: "slogan" (b's rejected entry), "legacy" (wf-old, outside the window).
    // Ties (1 each) are ordered by field name: colors.primary < name.
    let fc = |field: &str, corrections, workflows| FieldCount {
        field: field.into(),
        corrections,
        workflows,
    };
    assert_eq!(
        r.most_corrected_fields,
        vec![
            fc("tagline", 4, 3),
            fc("description", 2, 1),
            fc("colors.primary", 1, 1),
            fc("name", 1, 1),
        ]
    );
}

#[test]
fn comment_normalisation_is_deterministic() {
    assert_eq!(
        normalise_comment("The tagline is too long; colors feel off-brand."),
        vec!["tagline", "too", "long", "colors", "feel", "off", "brand"]
    );
    // Apostrophes are deleted, not split on; case folds; digits stay.
    assert_eq!(
        normalise_comment("DON'T use 2 emojis — it’s   TOO much!"),
        vec!["dont", "use", "2", "emojis", "too", "much"]
    );
    assert_eq!(normalise_comment(" ... "), Vec::<String>::new());
    // Phrases only join neighbours inside a clause, both non-stop words.
    assert_eq!(
        comment_phrases("Tagline too long, and the colors are still off-brand!"),
        vec!["tagline too", "too long", "still off", "off brand"]
    );
    assert_eq!(comment_phrases("Tagline is too long."), vec!["too long"]);
}

#[test]
fn feedback_themes() {
    let th = sample_report().feedback_themes;
    // Comments of the applied change requests (i2 is empty): b1 c1 c2 d1 d2 d3 i1 = 7.
    assert_eq!(th.comments_analysed, 7);
    // Entries mentioning each word (once per entry):
    //   tagline, too, long: b1 c1 c2 = 3
    //   brand, colors, off: c1 c2 = 2; description, vague: d1 d2 = 2; still: c2 d2 = 2
    //   feel, feels, generic, name, tone, wrong: 1
    // Top 5, count desc then alphabetical: long, tagline, too (3); brand, colors (2).
    assert_eq!(
        terms(&th.words),
        vec![
            ("long", 3),
            ("tagline", 3),
            ("too", 3),
            ("brand", 2),
            ("colors", 2)
        ]
    );
    // Phrases: "too long" b1 c1 c2 = 3; "off brand" c1 c2 = 2; then the ones of count 1 in
    // alphabetical order: "colors feel" < "description still" < "feel off" < "feels generic" …
    assert_eq!(
        terms(&th.phrases),
        vec![
            ("too long", 3),
            ("off brand", 2),
            ("colors feel", 1),
            ("description still", 1),
            ("feel off", 1),
        ]
    );
}

#[test]
fn problematic_subjects() {
    let r = sample_report();
    // Escalated: d (3 rounds), e (1 round), w (1 round, waiting). ≥ 3 rounds: c (approved at
    // 3), d, i (open at 3). Order: rounds desc, then workflow id: c, d, i (3) then e, w (1).
    let got: Vec<(&str, u32, WorkflowStatus, Option<EscalationReason>)> = r
        .problematic_subjects
        .iter()
        .map(|p| {
            (
                p.workflow_id.as_str(),
                p.rounds,
                p.status,
                p.escalation_reason,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("wf-c", 3, WorkflowStatus::Approved, None),
            (
                "wf-d",
                3,
                WorkflowStatus::Escalated,
                Some(EscalationReason::IterationLimit)
            ),
            ("wf-i", 3, WorkflowStatus::AwaitingReview, None),
            (
                "wf-e",
                1,
                WorkflowStatus::Escalated,
                Some(EscalationReason::ReviewTimeout)
            ),
            (
                "wf-w",
                1,
                WorkflowStatus::Escalated,
                Some(EscalationReason::ReviewTimeout)
            ),
        ]
    );
    assert_eq!(r.problematic_subjects[0].subject_name, "Cobalt Couture");
    assert_eq!(
        r.problematic_subjects[0].category.as_deref(),
        Some("fashion")
    );

    // With the threshold at 2, b (approved at iteration 2) joins, after the 3-round ones:
    // c d i (3), b (2), e w (1).
    let (workflows, feedback) = fixture::sample_set();
    let options = ReportOptions {
        stale_rounds: 2,
        ..window_options()
    };
    let ids: Vec<String> = compute(&workflows, &feedback, &options)
        .problematic_subjects
        .into_iter()
        .map(|p| p.workflow_id)
        .collect();
    assert_eq!(ids, ["wf-c", "wf-d", "wf-i", "wf-b", "wf-e", "wf-w"]);
}

#[test]
fn reviewer_turnaround() {
    let t = sample_report().reviewer_turnaround;
    // Decisions of workflows in scope (seconds):
    //   a 3600 | b 7200 1800 | c 14400 3600 10800 | d 28800 7200 3600 | f 21600 | i 600 600
    //   = 12 decisions; sorted: 600 600 1800 3600 3600 3600 7200 7200 10800 14400 21600 28800
    assert_eq!(t.decisions, 12);
    // median k = ⌈0.5·12⌉ = 6 → 3600; p90 k = ⌈0.9·12⌉ = ⌈10.8⌉ = 11 → 21600
    assert_eq!(t.median_seconds, Some(3600));
    assert_eq!(t.p90_seconds, Some(21_600));
    assert_eq!(t.max_seconds, Some(28_800));
    // Every one of them waited: none was made within a second of its request.
    assert_eq!(serde_json::to_value(&t).unwrap()["immediate"], 0);
}

/// Issue 31 item 14: after a smoke run the report said "reviewer turnaround 0s". The
/// synthetic reviewer decides milliseconds after the request (no virtual time passes), and
/// whole seconds round that down to 0. The report says how many decisions did not wait.
#[test]
fn turnaround_says_how_many_decisions_did_not_wait() {
    let mut instant = fixture::decision(1, Decision::Approve, jan(6, 8), 0);
    instant.decided_at = instant.requested_at + Duration::milliseconds(300);
    let mut also = fixture::decision(1, Decision::Approve, jan(6, 9), 0);
    also.decided_at = also.requested_at + Duration::milliseconds(999);
    let workflows = vec![
        fixture::approved("wf-1", "One", jan(5, 9), vec![instant]),
        fixture::approved("wf-2", "Two", jan(5, 9), vec![also]),
    ];
    let r = compute(&workflows, &HashMap::new(), &window_options());
    let t = serde_json::to_value(&r.reviewer_turnaround).unwrap();
    assert_eq!(t["decisions"], 2);
    assert_eq!(t["immediate"], 2, "{t}");
    assert_eq!(t["median_seconds"], 0);

    // One decision that waited 2 h (virtual time moved between request and decision).
    let waited = fixture::decision(1, Decision::Approve, jan(7, 8), 7200);
    let mut workflows = workflows;
    workflows.push(fixture::approved("wf-3", "Three", jan(5, 9), vec![waited]));
    let r = compute(&workflows, &HashMap::new(), &window_options());
    let t = serde_json::to_value(&r.reviewer_turnaround).unwrap();
    assert_eq!(
        (t["decisions"].clone(), t["immediate"].clone()),
        (3.into(), 2.into())
    );
    assert_eq!(t["max_seconds"], 7200);
}

/// week, week start, completed, approved, escalated, median iterations
type WeekRow<'a> = (&'a str, String, usize, usize, usize, Option<u32>);

#[test]
fn weekly_trend() {
    let weeks = sample_report().weekly;
    let rows: Vec<WeekRow> = weeks
        .iter()
        .map(|w| {
            (
                w.week.as_str(),
                w.week_start.to_string(),
                w.completed,
                w.approved,
                w.escalated,
                w.median_iterations,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // W02: a (01-06, it1), b (01-07, it2); median of [1, 2]: k = 1 → 1
            ("2026-W02", "2026-01-05".into(), 2, 2, 0, Some(1)),
            // W03: c (01-13, it3), d (01-14, escalated); median of [3] → 3
            ("2026-W03", "2026-01-12".into(), 2, 1, 1, Some(3)),
            // W04: e (01-21, escalated), f (01-22, it1); median of [1] → 1
            ("2026-W04", "2026-01-19".into(), 2, 1, 1, Some(1)),
        ]
    );
    close(weeks[0].first_draft_approval_rate, 0.5); // a of {a, b}
    close(weeks[1].first_draft_approval_rate, 0.0); // none of {c, d}
    close(weeks[2].first_draft_approval_rate, 0.5); // f of {e, f}
    close(weeks[0].approval_rate, 1.0); // 2 / 2
    close(weeks[1].escalation_rate, 0.5); // 1 / 2
}

#[test]
fn weekly_trend_fills_gap_weeks_with_nulls() {
    let (mut workflows, feedback) = fixture::sample_set();
    // Drop W03's completions (c, d): W02 and W04 remain, W03 must still be listed, empty.
    workflows.retain(|w| w.id != "wf-c" && w.id != "wf-d");
    let weeks = compute(&workflows, &feedback, &window_options()).weekly;
    let labels: Vec<(&str, usize)> = weeks
        .iter()
        .map(|w| (w.week.as_str(), w.completed))
        .collect();
    // W02 (a, b), W03 empty, W04 (e, f)
    assert_eq!(
        labels,
        vec![("2026-W02", 2), ("2026-W03", 0), ("2026-W04", 2)]
    );
    assert_eq!(weeks[1].approval_rate, None);
    assert_eq!(weeks[1].first_draft_approval_rate, None);
    assert_eq!(weeks[1].median_iterations, None);
}

#[test]
fn filters_by_reviewer_group_and_category() {
    let (workflows, feedback) = fixture::sample_set();
    let legal = compute(
        &workflows,
        &feedback,
        &ReportOptions {
            reviewer_group: Some("legal".into()),
            ..window_options()
        },
    );
    // only f: approved at iteration 1 → 1 of 1
    assert_eq!((legal.counts.completed, legal.counts.approved), (1, 1));
    assert_eq!(legal.counts.in_progress, 0); // h and i belong to "reviewers"
    close(legal.first_draft_approval.rate, 1.0);
    assert_eq!(legal.reviewer_turnaround.median_seconds, Some(21_600));

    let fashion = compute(
        &workflows,
        &feedback,
        &ReportOptions {
            category: Some("fashion".into()),
            ..window_options()
        },
    );
    // only c: approved at iteration 3 → first-draft 0 of 1
    assert_eq!((fashion.counts.completed, fashion.counts.approved), (1, 1));
    close(fashion.first_draft_approval.rate, 0.0);
    assert_eq!(fashion.iterations_to_approval.median, Some(3));
    // c's corrections: tagline ×2, colors.primary ×1
    assert_eq!(fashion.most_corrected_fields[0].corrections, 2);
}

#[test]
fn window_bounds_are_inclusive_exclusive() {
    let (workflows, feedback) = fixture::sample_set();
    // a completed at 01-06 09:00, f at 01-22 12:00.
    let options = ReportOptions {
        since: Some(jan(6, 9)),   // a exactly at since: in
        until: Some(jan(22, 12)), // f exactly at until: out
        ..window_options()
    };
    let r = compute(&workflows, &feedback, &options);
    // completed: a b c d e (f out) = 5; approved a b c = 3
    assert_eq!((r.counts.completed, r.counts.approved), (5, 3));
    // wf-h (created 01-20) and wf-i (01-10) are open and created before until → 2
    assert_eq!(r.counts.in_progress, 2);
}

#[test]
fn smoke_workflows_can_be_included() {
    let (workflows, feedback) = fixture::sample_set();
    let r = compute(
        &workflows,
        &feedback,
        &ReportOptions {
            include_smoke: true,
            ..window_options()
        },
    );
    // + wf-smoke (approved at 1): completed 7, first-draft 3 of 7
    assert_eq!(r.counts.smoke_excluded, 0);
    assert_eq!(
        (r.first_draft_approval.count, r.first_draft_approval.of),
        (3, 7)
    );
}

#[test]
fn input_order_does_not_matter() {
    let (mut workflows, feedback) = fixture::sample_set();
    let forward = compute(&workflows, &feedback, &window_options());
    workflows.reverse();
    assert_eq!(compute(&workflows, &feedback, &window_options()), forward);
}

#[test]
fn no_data_gives_null_rates_not_nan() {
    let r = compute(&[], &HashMap::new(), &ReportOptions::default());
    assert_eq!(r.counts, Counts::default());
    assert_eq!(
        r.first_draft_approval,
        Ratio {
            count: 0,
            of: 0,
            rate: None
        }
    );
    assert_eq!(r.escalations.overall.rate, None);
    assert!(r
        .escalations
        .by_reason
        .iter()
        .all(|x| x.ratio.rate.is_none()));
    assert!(r.iterations_to_approval.histogram.is_empty());
    assert_eq!(r.iterations_to_approval.median, None);
    assert_eq!(r.reviewer_turnaround.median_seconds, None);
    assert!(r.weekly.is_empty() && r.problematic_subjects.is_empty());
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["first_draft_approval"]["rate"].is_null());
    assert!(json["escalations"]["overall"]["rate"].is_null());
    assert!(json["iterations_to_approval"]["median"].is_null());
    assert!(!serde_json::to_string(&r).unwrap().contains("NaN"));
}

fn escalated(id: &str, reason: EscalationReason, iteration: u32) -> Workflow {
    fixture::escalated(id, "Zed", jan(5, 9), iteration, reason, jan(7, 9), vec![])
}

#[test]
fn all_escalated() {
    let workflows = vec![
        escalated("x1", EscalationReason::NoProgress, 2),
        escalated("x2", EscalationReason::NoProgress, 4),
        escalated("x3", EscalationReason::ReviewTimeout, 1),
    ];
    let r = compute(&workflows, &HashMap::new(), &window_options());
    // first-draft: 0 approved of 3 completed = 0.0 (defined, not null)
    close(r.first_draft_approval.rate, 0.0);
    close(r.escalations.overall.rate, 1.0); // 3 / 3
    close(r.escalations.by_reason[1].ratio.rate, 2.0 / 3.0); // no_progress: x1, x2
    close(r.escalations.by_reason[2].ratio.rate, 1.0 / 3.0); // review_timeout: x3
                                                             // no approvals: empty distribution
    assert_eq!(r.iterations_to_approval.count, 0);
    assert_eq!(r.iterations_to_approval.median, None);
    // all three escalated are problematic; rounds desc: x2 (4), x1 (2), x3 (1)
    let ids: Vec<&str> = r
        .problematic_subjects
        .iter()
        .map(|p| p.workflow_id.as_str())
        .collect();
    assert_eq!(ids, ["x2", "x1", "x3"]);
    // one week (W02), approval 0, escalation 1, median iterations null
    assert_eq!(r.weekly.len(), 1);
    close(r.weekly[0].approval_rate, 0.0);
    close(r.weekly[0].escalation_rate, 1.0);
    assert_eq!(r.weekly[0].median_iterations, None);
}

#[test]
fn in_progress_only() {
    let mut open = sample_workflow("open-1");
    open.status = WorkflowStatus::Revising;
    open.iteration = 4;
    let fresh = sample_workflow("open-2");
    let feedback: HashMap<String, Vec<FeedbackEntry>> = HashMap::from([(
        "open-1".to_owned(),
        vec![fixture::applied(
            "open-1",
            1,
            hitl_domain::model::Decision::RequestChanges,
            "Logo too dark",
            &["logo.color"],
        )],
    )]);
    let r = compute(&[open, fresh], &feedback, &window_options());
    assert_eq!(r.counts.in_progress, 2);
    assert_eq!(r.counts.completed, 0);
    assert_eq!(r.first_draft_approval.rate, None);
    assert_eq!(r.escalations.overall.rate, None);
    assert!(r.weekly.is_empty());
    // Scope-wide figures still see the open workflows.
    assert_eq!(r.most_corrected_fields[0].field, "logo.color");
    assert_eq!(
        terms(&r.feedback_themes.phrases),
        vec![("logo too", 1), ("too dark", 1)]
    );
    let ids: Vec<&str> = r
        .problematic_subjects
        .iter()
        .map(|p| p.workflow_id.as_str())
        .collect();
    assert_eq!(ids, ["open-1"]); // 4 rounds ≥ 3
}

#[test]
fn terminal_without_completed_at_falls_back_to_updated_at() {
    let mut wf = escalated("legacy", EscalationReason::IterationLimit, 10);
    wf.completed_at = None;
    wf.updated_at = jan(9, 9);
    wf.escalation = None; // an old record without the reason
    let r = compute(&[wf], &HashMap::new(), &window_options());
    assert_eq!(r.counts.escalated, 1);
    assert_eq!(r.weekly[0].week, "2026-W02");
    let unknown = r.escalations.by_reason.last().unwrap();
    assert_eq!(
        (unknown.reason.as_str(), unknown.ratio.count),
        ("unknown", 1)
    );
}

#[test]
fn nearest_rank_percentiles() {
    // Textbook example: [15, 20, 35, 40, 50]
    let v = [15, 20, 35, 40, 50];
    assert_eq!(nearest_rank(&v, 5), Some(15)); // ⌈0.25⌉ = 1
    assert_eq!(nearest_rank(&v, 30), Some(20)); // ⌈1.5⌉ = 2
    assert_eq!(nearest_rank(&v, 40), Some(20)); // ⌈2.0⌉ = 2
    assert_eq!(nearest_rank(&v, 50), Some(35)); // ⌈2.5⌉ = 3
    assert_eq!(nearest_rank(&v, 100), Some(50)); // 5
    assert_eq!(nearest_rank(&v, 0), Some(15)); // rank at least 1
    let ten: Vec<u32> = (1..=10).collect();
    assert_eq!(nearest_rank(&ten, 50), Some(5)); // ⌈5⌉ = 5
    assert_eq!(nearest_rank(&ten, 90), Some(9)); // ⌈9⌉ = 9
    assert_eq!(nearest_rank::<u32>(&[], 50), None);
    assert_eq!(rate(0, 0), None);
    assert_eq!(rate(1, 4), Some(0.25));
}

#[test]
fn lookback_parsing() {
    assert_eq!(parse_lookback("30d"), Ok(Duration::days(30)));
    assert_eq!(parse_lookback(" 12h "), Ok(Duration::hours(12)));
    assert_eq!(parse_lookback("2w"), Ok(Duration::weeks(2)));
    assert_eq!(parse_lookback("90m"), Ok(Duration::minutes(90)));
    assert_eq!(parse_lookback("45s"), Ok(Duration::seconds(45)));
    for bad in ["", "d", "30", "30y", "-3d", "3.5d", "99999999999999999w"] {
        assert!(parse_lookback(bad).is_err(), "{bad:?} should be refused");
    }
}

/// The inbox figures over three approved workflows, worked by hand:
/// * x: changes requested on iteration 1 (not claimed), then approved on iteration 2 by rita
///   alone, claimed 10 min after the request;
/// * y: approved on iteration 1 by rita after ana (two approvals), claimed after 30 min;
/// * z: approved on iteration 1 with corrections (edit and approve), never claimed.
///
/// Review decisions 4, claimed 2 → 0.5; time to claim {600, 1800} s → median (nearest rank)
/// 600, p90 1800; approvals 3 with 1 + 2 + 1 = 4 approvers → 4/3; several approvers 1; edits
/// 1 of 3 approvals.
#[test]
fn inbox_figures() {
    use hitl_domain::model::Decision;
    let t = jan(5, 9);
    let mut x2 = fixture::decision(2, Decision::Approve, t + Duration::hours(2), 3600);
    x2.claimed_at = Some(t + Duration::hours(2) + Duration::minutes(10));
    let x = fixture::approved(
        "wf-x",
        "X",
        t,
        vec![fixture::decision(1, Decision::RequestChanges, t, 600), x2],
    );
    let mut y1 = fixture::decision(1, Decision::Approve, t, 7200);
    y1.co_approvers = vec!["ana".into()];
    y1.claimed_at = Some(t + Duration::minutes(30));
    let y = fixture::approved("wf-y", "Y", t, vec![y1]);
    let mut z1 = fixture::decision(1, Decision::Approve, t, 60);
    z1.edited = true;
    z1.reminders_sent = 2;
    let z = fixture::approved("wf-z", "Z", t, vec![z1]);
    let report = compute(&[x, y, z], &HashMap::new(), &window_options());
    let inbox = &report.inbox;
    assert_eq!((inbox.claimed.count, inbox.claimed.of), (2, 4));
    close(inbox.claimed.rate, 0.5);
    assert_eq!(inbox.time_to_claim.median_seconds, Some(600));
    assert_eq!(inbox.time_to_claim.p90_seconds, Some(1800));
    close(inbox.approvals_per_approved_iteration, 4.0 / 3.0);
    assert_eq!(inbox.multi_approval, 1);
    assert_eq!(
        (inbox.edit_and_approve.count, inbox.edit_and_approve.of),
        (1, 3)
    );
    // z was decided after two reminders: 2 sent, 1 of 4 review decisions.
    assert_eq!(inbox.reminders_sent, 2);
    assert_eq!(
        (
            inbox.decided_after_reminder.count,
            inbox.decided_after_reminder.of
        ),
        (1, 4)
    );
}

/// Issue 29: which generator needs fewer human rounds, and what its drafts cost. Two models:
/// `openai:small` drafted wf-s1 (approved at iteration 1, 300 + 50 tokens) and wf-s2 (approved
/// at iteration 3: three drafts of 300 + 50); `openai:large` drafted wf-l1 (escalated at the
/// limit after 2 drafts of 1,000 + 200). The local generator reports no usage.
#[test]
fn per_generator_figures_compare_rounds_tokens_and_cost() {
    use hitl_domain::analytics::{first_generator, Price};
    use hitl_domain::model::{DraftRecord, Usage};
    fn drafted(mut wf: Workflow, generator: &str, n: u32, input: u64, output: u64) -> Workflow {
        wf.drafts = (1..=n)
            .map(|iteration| DraftRecord {
                iteration,
                generator: generator.into(),
                usage: Some(Usage {
                    model: generator.into(),
                    input_tokens: input,
                    output_tokens: output,
                    latency_ms: 100,
                }),
            })
            .collect();
        wf
    }
    let at = |d, h| jan(d, h);
    let approve = |it, day| fixture::decision(it, Decision::Approve, at(day, 9), 1);
    let change = |it, day| fixture::decision(it, Decision::RequestChanges, at(day, 9), 1);
    let s1 = drafted(
        fixture::approved("wf-s1", "S1", at(5, 8), vec![approve(1, 6)]),
        "openai:small",
        1,
        300,
        50,
    );
    let s2 = drafted(
        fixture::approved(
            "wf-s2",
            "S2",
            at(5, 8),
            vec![change(1, 6), change(2, 7), approve(3, 8)],
        ),
        "openai:small",
        3,
        300,
        50,
    );
    let l1 = drafted(
        fixture::escalated(
            "wf-l1",
            "L1",
            at(5, 8),
            2,
            EscalationReason::IterationLimit,
            at(9, 9),
            vec![change(1, 6), change(2, 7)],
        ),
        "openai:large",
        2,
        1_000,
        200,
    );
    let mut local = fixture::approved("wf-local", "Local", at(5, 8), vec![approve(1, 6)]);
    local.drafts = vec![DraftRecord {
        iteration: 1,
        generator: "local-generator".into(),
        usage: None,
    }];
    let workflows = vec![s1, s2, l1, local];
    assert_eq!(first_generator(&workflows[0]), Some("openai:small"));
    let prices = std::collections::BTreeMap::from([(
        "openai:small".to_owned(),
        Price {
            input_per_million: 0.15,
            output_per_million: 0.60,
        },
    )]);
    let report = compute(&workflows, &HashMap::new(), &window_options()).priced(&prices);
    let by: HashMap<&str, _> = report
        .generators
        .iter()
        .map(|g| (g.generator.as_str(), g))
        .collect();
    assert_eq!(by.len(), 3, "{:?}", report.generators);

    let small = by["openai:small"];
    assert_eq!((small.workflows, small.completed, small.drafts), (2, 2, 4));
    assert_eq!(small.first_draft_approval, Ratio::new(1, 2));
    close(small.mean_iterations_to_approval, 2.0); // (1 + 3) / 2
    assert_eq!((small.input_tokens, small.output_tokens), (1_200, 200)); // 4 × 300, 4 × 50
    close(small.tokens_per_approved, 700.0); // (350 + 1,050) / 2
    close(small.cost, 0.000_3); // (1,200 × 0.15 + 200 × 0.60) / 1e6
    close(small.cost_per_approved, 0.000_15); // both approved: 0.0003 / 2

    let large = by["openai:large"];
    assert_eq!((large.workflows, large.completed, large.drafts), (1, 1, 2));
    assert_eq!(large.first_draft_approval, Ratio::new(0, 1));
    assert_eq!(large.mean_iterations_to_approval, None);
    assert_eq!(large.tokens_per_approved, None);
    assert_eq!(large.cost, None, "no price given");

    let local = by["local-generator"];
    assert_eq!((local.input_tokens, local.output_tokens), (0, 0));
    assert_eq!(local.first_draft_approval, Ratio::new(1, 1));
}

/// Issue 28: one row per artifact type, and `artifact_type` narrows every figure (the
/// corrected paths included) to one type.
#[test]
fn groups_and_filters_by_artifact_type() {
    let (mut workflows, feedback) = fixture::sample_set();
    let product = hitl_domain::types::builtin("product-description")
        .unwrap()
        .reference();
    // c (fashion, approved at iteration 3 after corrections) is a product description.
    for w in workflows.iter_mut().filter(|w| w.id == "wf-c") {
        w.config.artifact_type = product.clone();
    }
    let all = compute(&workflows, &feedback, &window_options());
    let names: Vec<&str> = all
        .artifact_types
        .iter()
        .map(|t| t.artifact_type.as_str())
        .collect();
    assert_eq!(names, ["brand-metadata", "product-description"]);
    let brand = &all.artifact_types[0];
    let described = &all.artifact_types[1];
    assert_eq!(
        brand.workflows + described.workflows,
        all.counts.completed
            + all.counts.in_progress
            + all.counts.failed
            + all.counts.awaiting_resolution
    );
    assert_eq!(brand.completed + described.completed, all.counts.completed);
    assert_eq!((described.workflows, described.completed), (1, 1));
    close(described.first_draft_approval.rate, 0.0);
    close(described.escalation_rate.rate, 0.0);
    assert_eq!(described.mean_iterations_to_approval, Some(3.0));
    assert_eq!(described.versions, vec![product.version]);

    let only = compute(
        &workflows,
        &feedback,
        &ReportOptions {
            artifact_type: Some("product-description".into()),
            ..window_options()
        },
    );
    assert_eq!((only.counts.completed, only.counts.approved), (1, 1));
    assert_eq!(only.iterations_to_approval.median, Some(3));
    assert_eq!(only.artifact_types.len(), 1);
    // c's corrections only: tagline ×2, colors.primary ×1
    assert_eq!(only.most_corrected_fields[0].corrections, 2);
    assert_eq!(
        only.most_corrected_fields
            .iter()
            .map(|f| f.corrections)
            .sum::<usize>(),
        3
    );
    let none = compute(
        &workflows,
        &feedback,
        &ReportOptions {
            artifact_type: Some("recipe".into()),
            ..window_options()
        },
    );
    assert_eq!(none.counts.completed, 0);
    assert!(none.artifact_types.is_empty());
}
