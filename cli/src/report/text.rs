//! Terminal and JSON renderings of a [`Report`].

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use hitl_domain::analytics::{Report, Turnaround};

/// A rate as a percentage with one decimal (`33.3%`), or `n/a` when undefined.
pub fn format_rate(rate: Option<f64>) -> String {
    match rate {
        Some(r) if r.is_finite() => format!("{:.1}%", r * 100.0),
        _ => "n/a".to_owned(),
    }
}

/// A duration in whole seconds (rounded down) as `<1s`, `45s`, `12m 05s`, `3h 07m` or
/// `2d 04h`; `n/a` when undefined. 0 reads `<1s`: rounded down, it was less than a second.
pub fn format_seconds(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "n/a".to_owned();
    };
    let s = s.max(0);
    match s {
        0 => "<1s".to_owned(),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// What a wait figure (`median_seconds`, `p90_seconds`, …) of `t` shows: `no wait` when every
/// decision came within a second of its request (nothing waited: a figure of 0 there measures
/// nothing), the duration otherwise.
pub fn format_wait(t: &Turnaround, seconds: Option<i64>) -> String {
    if t.nothing_waited() {
        "no wait".to_owned()
    } else {
        format_seconds(seconds)
    }
}

/// The sentence under a turnaround figure: how many decisions, and how many did not wait.
pub fn describe_wait(t: &Turnaround, what: &str) -> String {
    if t.nothing_waited() {
        format!(
            "all {} {what} came within a second of the request: nothing waited",
            t.decisions
        )
    } else if t.immediate > 0 {
        format!(
            "p90 {}, max {}, {} {what}, {} of them within a second",
            format_seconds(t.p90_seconds),
            format_seconds(t.max_seconds),
            t.decisions,
            t.immediate
        )
    } else {
        format!(
            "p90 {}, max {}, {} {what}",
            format_seconds(t.p90_seconds),
            format_seconds(t.max_seconds),
            t.decisions
        )
    }
}

/// A sentence for a trend of fewer than two weeks (a line needs two), `None` otherwise.
pub fn single_week_note(report: &Report) -> Option<String> {
    match report.weekly.as_slice() {
        [week] => Some(format!(
            "only one week ({}) has completed workflows: no trend yet, a trend needs two or more \
             weeks",
            week.week
        )),
        _ => None,
    }
}

/// The status shown for a problematic subject: `escalated, waiting` for an escalation still
/// waiting for a resolution, the workflow status otherwise.
pub fn problem_status(p: &hitl_domain::analytics::ProblemSubject) -> String {
    if p.awaiting_resolution {
        "escalated, waiting".to_owned()
    } else {
        p.status.to_string()
    }
}

/// An optional whole number, or `n/a`.
pub fn format_opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
}

/// A window bound, or the given word when open.
pub(crate) fn format_bound(at: Option<DateTime<Utc>>, open: &str) -> String {
    at.map_or_else(
        || open.to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// One line describing the window and filters.
pub(crate) fn describe_scope(report: &Report) -> String {
    let o = &report.options;
    let mut line = format!(
        "{} to {}",
        format_bound(o.since, "the beginning"),
        format_bound(o.until, "now")
    );
    if let Some(group) = &o.reviewer_group {
        let _ = write!(line, "; reviewer group {group}");
    }
    if let Some(category) = &o.category {
        let _ = write!(line, "; category {category}");
    }
    if let Some(artifact_type) = &o.artifact_type {
        let _ = write!(line, "; artifact type {artifact_type}");
    }
    if report.counts.smoke_excluded > 0 {
        let _ = write!(
            line,
            "; {} smoke-test workflow(s) left out",
            report.counts.smoke_excluded
        );
    }
    line
}

/// Left-aligned columns separated by two spaces, indented by two, with a rule under the head.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::from(" ");
        for (cell, width) in cells.iter().zip(&widths) {
            let pad = width.saturating_sub(cell.chars().count());
            let _ = write!(out, " {cell}{}  ", " ".repeat(pad));
        }
        format!("{}\n", out.trim_end())
    };
    let mut out = line(headers.to_vec());
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    out.push_str(&line(rule.iter().map(String::as_str).collect()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn bar(count: usize, max: usize, width: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let n = (count * width).div_ceil(max);
    "█".repeat(n)
}

/// Readable terminal tables, one section per figure.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let c = &report.counts;
    let _ = writeln!(out, "HITL learning report");
    let _ = writeln!(out, "Window: {}", describe_scope(report));
    let _ = writeln!(
        out,
        "(approved/escalated/failed counted by completion time; in-progress = open now, started before the window end;\n waiting = escalated and still waiting for a resolution: not completed, in no rate)\n"
    );

    let _ = writeln!(out, "Workflows");
    out.push_str(&table(
        &[
            "completed",
            "approved",
            "escalated",
            "failed",
            "in progress",
            "waiting",
        ],
        &[vec![
            c.completed.to_string(),
            c.approved.to_string(),
            c.escalated.to_string(),
            c.failed.to_string(),
            c.in_progress.to_string(),
            c.awaiting_resolution.to_string(),
        ]],
    ));

    let t = &report.reviewer_turnaround;
    let _ = writeln!(out, "\nHeadline figures");
    out.push_str(&table(
        &["figure", "value", "basis"],
        &[
            vec![
                "first-draft approval rate".into(),
                format_rate(report.first_draft_approval.rate),
                format!(
                    "{} of {} completed approved at iteration 1",
                    report.first_draft_approval.count, report.first_draft_approval.of
                ),
            ],
            vec![
                "escalation rate".into(),
                format_rate(report.escalations.overall.rate),
                format!(
                    "{} of {} completed",
                    report.escalations.overall.count, report.escalations.overall.of
                ),
            ],
            vec![
                "reviewer turnaround (median)".into(),
                format_wait(t, t.median_seconds),
                describe_wait(t, "decisions"),
            ],
        ],
    ));

    let d = &report.iterations_to_approval;
    let _ = writeln!(
        out,
        "\nIterations to approval ({} approved; median {}, p90 {}, max {})",
        d.count,
        format_opt(d.median),
        format_opt(d.p90),
        format_opt(d.max)
    );
    if d.histogram.is_empty() {
        let _ = writeln!(out, "  no approved workflows in this window");
    } else {
        let most = d.histogram.iter().map(|b| b.count).max().unwrap_or(0);
        let rows: Vec<Vec<String>> = d
            .histogram
            .iter()
            .map(|b| {
                vec![
                    b.iterations.to_string(),
                    b.count.to_string(),
                    bar(b.count, most, 30),
                ]
            })
            .collect();
        out.push_str(&table(&["iterations", "workflows", ""], &rows));
    }

    let _ = writeln!(out, "\nEscalations by reason");
    let rows: Vec<Vec<String>> = report
        .escalations
        .by_reason
        .iter()
        .map(|r| {
            vec![
                r.reason.clone(),
                r.ratio.count.to_string(),
                format_rate(r.ratio.rate),
            ]
        })
        .collect();
    out.push_str(&table(&["reason", "escalated", "of completed"], &rows));

    let r = &report.escalations.resolutions;
    let _ = writeln!(out, "\nEscalation resolutions");
    let rows = vec![
        vec![
            "still waiting for a resolution".to_owned(),
            c.awaiting_resolution.to_string(),
        ],
        vec!["resolved by a person".to_owned(), r.resolve.to_string()],
        vec!["more iterations granted".to_owned(), r.extend.to_string()],
        vec!["reassigned".to_owned(), r.reassign.to_string()],
        vec!["abandoned".to_owned(), r.abandon.to_string()],
        vec![
            "left unresolved (SLA passed)".to_owned(),
            r.unresolved.to_string(),
        ],
        vec![
            "iterations granted by extend".to_owned(),
            r.iterations_granted.to_string(),
        ],
        vec![
            "time to resolve, median".to_owned(),
            format_wait(&r.time_to_resolve, r.time_to_resolve.median_seconds),
        ],
        vec![
            "time to resolve, 90th percentile".to_owned(),
            format_wait(&r.time_to_resolve, r.time_to_resolve.p90_seconds),
        ],
    ];
    out.push_str(&table(&["", "workflows"], &rows));

    let inbox = &report.inbox;
    let _ = writeln!(out, "\nReviewers' inbox");
    let rows = vec![
        vec![
            "decisions on a claimed iteration".to_owned(),
            inbox.claimed.count.to_string(),
            format_rate(inbox.claimed.rate),
        ],
        vec![
            "time to claim, median".to_owned(),
            format_wait(&inbox.time_to_claim, inbox.time_to_claim.median_seconds),
            String::new(),
        ],
        vec![
            "time to claim, 90th percentile".to_owned(),
            format_wait(&inbox.time_to_claim, inbox.time_to_claim.p90_seconds),
            String::new(),
        ],
        vec![
            "approvals per approved iteration".to_owned(),
            inbox
                .approvals_per_approved_iteration
                .map_or("—".to_owned(), |a| format!("{a:.2}")),
            String::new(),
        ],
        vec![
            "approved by several reviewers".to_owned(),
            inbox.multi_approval.to_string(),
            String::new(),
        ],
        vec![
            "edit and approve".to_owned(),
            inbox.edit_and_approve.count.to_string(),
            format_rate(inbox.edit_and_approve.rate),
        ],
        vec![
            "reminders sent before a decision".to_owned(),
            inbox.reminders_sent.to_string(),
            String::new(),
        ],
        vec![
            "decided only after a reminder".to_owned(),
            inbox.decided_after_reminder.count.to_string(),
            format_rate(inbox.decided_after_reminder.rate),
        ],
    ];
    out.push_str(&table(&["", "value", "rate"], &rows));

    let _ = writeln!(out, "\nMost-corrected fields");
    if report.most_corrected_fields.is_empty() {
        let _ = writeln!(out, "  no corrections in this window");
    } else {
        let rows: Vec<Vec<String>> = report
            .most_corrected_fields
            .iter()
            .map(|f| {
                vec![
                    f.field.clone(),
                    f.corrections.to_string(),
                    f.workflows.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(&["field", "corrections", "workflows"], &rows));
    }

    let th = &report.feedback_themes;
    let _ = writeln!(
        out,
        "\nFeedback themes ({} change-request comments)",
        th.comments_analysed
    );
    if th.words.is_empty() {
        let _ = writeln!(out, "  no change-request comments in this window");
    } else {
        let n = th.words.len().max(th.phrases.len());
        let cell = |list: &[hitl_domain::analytics::TermCount], i: usize| {
            list.get(i).map_or_else(
                || (String::new(), String::new()),
                |t| (t.term.clone(), t.entries.to_string()),
            )
        };
        let rows: Vec<Vec<String>> = (0..n)
            .map(|i| {
                let (w, wc) = cell(&th.words, i);
                let (p, pc) = cell(&th.phrases, i);
                vec![w, wc, p, pc]
            })
            .collect();
        out.push_str(&table(&["word", "comments", "phrase", "comments"], &rows));
    }

    let _ = writeln!(
        out,
        "\nProblematic subjects (escalated, or {}+ rounds; \"escalated, waiting\" = no resolution yet)",
        report.options.stale_rounds
    );
    if report.problematic_subjects.is_empty() {
        let _ = writeln!(out, "  none");
    } else {
        let rows: Vec<Vec<String>> = report
            .problematic_subjects
            .iter()
            .map(|p| {
                vec![
                    p.subject_name.clone(),
                    p.subject_id.clone(),
                    p.category.clone().unwrap_or_default(),
                    problem_status(p),
                    p.rounds.to_string(),
                    p.escalation_reason
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                    p.workflow_id.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "subject",
                "id",
                "category",
                "status",
                "rounds",
                "escalation",
                "workflow",
            ],
            &rows,
        ));
    }

    let _ = writeln!(out, "\nWeekly trend (ISO week of completion)");
    if report.weekly.is_empty() {
        let _ = writeln!(out, "  no completed workflows in this window");
    } else {
        let rows: Vec<Vec<String>> = report
            .weekly
            .iter()
            .map(|w| {
                vec![
                    w.week.clone(),
                    w.completed.to_string(),
                    w.approved.to_string(),
                    w.escalated.to_string(),
                    format_rate(w.first_draft_approval_rate),
                    format_opt(w.median_iterations),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "week",
                "completed",
                "approved",
                "escalated",
                "first-draft rate",
                "median iterations",
            ],
            &rows,
        ));
        if let Some(note) = single_week_note(report) {
            let _ = writeln!(out, "  {note}");
        }
    }

    let _ = writeln!(
        out,
        "\nArtifact types (--type NAME narrows every figure to one)"
    );
    if report.artifact_types.is_empty() {
        let _ = writeln!(out, "  no workflows in this window");
    } else {
        let headers: Vec<&str> = TYPE_COLUMNS.iter().map(|(h, _)| *h).collect();
        out.push_str(&table(&headers, &type_rows(report)));
    }

    let _ = writeln!(
        out,
        "\nGenerators (who drafted each workflow's first draft; cost at --price)"
    );
    if report.generators.is_empty() {
        let _ = writeln!(out, "  no drafts recorded in this window");
    } else {
        let headers: Vec<&str> = GENERATOR_COLUMNS.iter().map(|(h, _)| *h).collect();
        out.push_str(&table(&headers, &generator_rows(report)));
    }
    out
}

/// The columns of the per-type table, and whether each is numeric.
pub const TYPE_COLUMNS: [(&str, bool); 7] = [
    ("type", false),
    ("workflows", true),
    ("completed", true),
    ("first-draft rate", true),
    ("escalation rate", true),
    ("mean iterations", true),
    ("versions", true),
];

/// One row per artifact type (cells as text; the HTML renderer escapes them).
pub fn type_rows(report: &Report) -> Vec<Vec<String>> {
    report
        .artifact_types
        .iter()
        .map(|t| {
            vec![
                t.artifact_type.clone(),
                t.workflows.to_string(),
                t.completed.to_string(),
                format_rate(t.first_draft_approval.rate),
                format_rate(t.escalation_rate.rate),
                t.mean_iterations_to_approval
                    .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1}")),
                t.versions.len().to_string(),
            ]
        })
        .collect()
}

/// The columns of the per-generator table, and whether each is numeric.
pub const GENERATOR_COLUMNS: [(&str, bool); 9] = [
    ("generator", false),
    ("workflows", true),
    ("first-draft rate", true),
    ("mean iterations", true),
    ("drafts", true),
    ("tokens in", true),
    ("tokens out", true),
    ("tokens / approved", true),
    ("cost / approved", true),
];

/// One row per generator (cells as text; the HTML renderer escapes them).
pub fn generator_rows(report: &Report) -> Vec<Vec<String>> {
    report
        .generators
        .iter()
        .map(|g| {
            vec![
                g.generator.clone(),
                g.workflows.to_string(),
                format_rate(g.first_draft_approval.rate),
                g.mean_iterations_to_approval
                    .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1}")),
                g.drafts.to_string(),
                g.input_tokens.to_string(),
                g.output_tokens.to_string(),
                g.tokens_per_approved
                    .map_or_else(|| "n/a".to_owned(), |t| format!("{t:.0}")),
                g.cost_per_approved
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.4}")),
            ]
        })
        .collect()
}

/// The report as pretty-printed JSON (undefined rates are `null`).
pub fn render_json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::analytics::{compute, fixture, ReportOptions};
    use hitl_domain::model::Decision;

    #[test]
    fn formats() {
        assert_eq!(format_rate(Some(1.0 / 3.0)), "33.3%");
        assert_eq!(format_rate(None), "n/a");
        assert_eq!(format_rate(Some(f64::NAN)), "n/a");
        assert_eq!(format_seconds(Some(45)), "45s");
        assert_eq!(format_seconds(Some(725)), "12m 05s");
        assert_eq!(format_seconds(Some(3600)), "1h 00m");
        assert_eq!(format_seconds(Some(2 * 86_400 + 4 * 3600 + 59)), "2d 04h");
        assert_eq!(format_seconds(None), "n/a");
        // Whole seconds are rounded down: 0 means less than a second, not a measured 0.
        assert_eq!(format_seconds(Some(0)), "<1s");
    }

    #[test]
    fn table_shows_every_section() {
        let (workflows, feedback) = fixture::sample_set();
        let report = compute(&workflows, &feedback, &fixture::window_options());
        let text = render_table(&report);
        for needle in [
            "first-draft approval rate",
            "33.3%",
            "Iterations to approval (4 approved; median 1, p90 3, max 3)",
            "iteration_limit",
            "tagline",
            "too long",
            "Cobalt Couture",
            "2026-W03",
            "1 smoke-test workflow(s) left out",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // Columns line up: every row of the workflows table has the same layout.
        let lines: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "Workflows")
            .take(4)
            .collect();
        assert_eq!(lines[1].find("approved"), Some(14), "{lines:?}");
        // "  6" padded to the width of "completed", then the next column at the same offset.
        assert_eq!(lines[3].find('4'), Some(14), "{lines:?}");
    }

    fn sample() -> Report {
        let (workflows, feedback) = fixture::sample_set();
        compute(&workflows, &feedback, &fixture::window_options())
    }

    /// Issue 31 item 14: after a smoke run "reviewer turnaround 0s": the synthetic reviewer
    /// decides milliseconds after the request, which whole seconds round down to 0.
    #[test]
    fn turnaround_of_decisions_that_did_not_wait_is_not_shown_as_0s() {
        let workflows: Vec<_> = (0..3)
            .map(|i| {
                let mut d = fixture::decision(1, Decision::Approve, fixture::jan(6 + i, 8), 0);
                d.decided_at = d.requested_at + chrono::Duration::milliseconds(40);
                fixture::approved(&format!("wf-{i}"), "Brand", fixture::jan(5, 9), vec![d])
            })
            .collect();
        let report = compute(&workflows, &Default::default(), &fixture::window_options());
        let text = render_table(&report);
        let line = text
            .lines()
            .find(|l| l.contains("reviewer turnaround"))
            .unwrap();
        assert!(line.contains("no wait"), "{line}");
        assert!(
            line.contains("all 3 decisions came within a second of the request"),
            "{line}"
        );
        assert!(!line.contains("0s"), "{line}");
        // Decisions that waited keep their durations (the fixture's median is 1 h).
        let text = render_table(&sample());
        let line = text
            .lines()
            .find(|l| l.contains("reviewer turnaround"))
            .unwrap();
        assert!(
            line.contains("1h 00m") && !line.contains("no wait"),
            "{line}"
        );
    }

    /// Issue 31 item 14: an escalation still waiting for a resolution was counted as completed.
    #[test]
    fn an_escalation_awaiting_resolution_is_shown_as_waiting_not_completed() {
        let text = render_table(&sample());
        let lines: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "Workflows")
            .take(4)
            .collect();
        assert!(lines[1].trim_end().ends_with("waiting"), "{lines:?}");
        // completed 6 (not 7), approved 4, escalated 2 (not 3), failed 1, in progress 2, waiting 1
        let figures: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(figures, ["6", "4", "2", "1", "2", "1"], "{lines:?}");
        let willow = text.lines().find(|l| l.contains("Willow Wines")).unwrap();
        assert!(willow.contains("escalated, waiting"), "{willow}");
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.trim_start().starts_with("still waiting for a resolution"))
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(row.last(), Some(&"1"), "{text}");
    }

    /// Issue 31 item 14: one week of data is no trend; the report says so.
    #[test]
    fn a_single_week_says_there_is_no_trend_yet() {
        let (mut workflows, feedback) = fixture::sample_set();
        workflows.retain(|w| w.id == "wf-a" || w.id == "wf-b"); // both completed in W02
        let text = render_table(&compute(&workflows, &feedback, &fixture::window_options()));
        assert!(
            text.contains(
                "only one week (2026-W02) has completed workflows: no trend yet, a trend needs two or more weeks"
            ),
            "{text}"
        );
        assert!(!render_table(&sample()).contains("no trend yet"));
    }

    #[test]
    fn empty_report_renders_without_nan() {
        let report = compute(&[], &Default::default(), &ReportOptions::default());
        let text = render_table(&report);
        assert!(text.contains("no approved workflows in this window"));
        assert!(text.contains("n/a"));
        assert!(!text.contains("NaN"));
        let json = render_json(&report).unwrap();
        assert!(!json.contains("NaN"));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(value["first_draft_approval"]["rate"].is_null());
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
