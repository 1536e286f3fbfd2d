//! `hitl report`: learning analytics over the local store (GitHub issue 6).
//!
//! This module only gathers records ([`collect`]) and handles arguments and output ([`run`]);
//! the figures are computed by [`hitl_domain::analytics::compute`] and rendered here, by the
//! pure renderers of [`text`] (`render_table`, `render_json`) and [`html`] (`render_html`).

pub mod html;
pub mod text;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use hitl_domain::analytics::{self, ReportOptions};
use hitl_domain::model::{FeedbackEntry, Workflow};
use hitl_domain::store::{collect_report_records, CollectProgress, WorkflowStore};

/// Output format of `hitl report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Terminal tables.
    Table,
    /// The full report as JSON (undefined rates are `null`).
    Json,
    /// A self-contained HTML page with charts.
    Html,
}

/// Arguments of `hitl report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Look-back window ending now: a whole number and a unit s, m, h, d or w (30d, 12h, 2w).
    /// Finished workflows count when they completed inside it; open ones always count.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Output format [default: table; json with the global --json].
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A subject that reached this many rounds is listed as problematic.
    #[arg(long, default_value_t = analytics::DEFAULT_STALE_ROUNDS)]
    pub stale_rounds: u32,
    /// Only workflows of this reviewer group.
    #[arg(long)]
    pub reviewer_group: Option<String>,
    /// Only subjects of this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Only workflows of this artifact type (every figure, corrected paths included, is then
    /// that type's; the per-type table is shown either way).
    #[arg(long = "type", value_name = "NAME")]
    pub artifact_type: Option<String>,
    /// Length of the most-corrected-fields and feedback-theme lists.
    #[arg(long, default_value_t = analytics::DEFAULT_TOP_N)]
    pub top: usize,
    /// Count smoke-test workflows too (left out by default).
    #[arg(long)]
    pub include_smoke: bool,
    /// The review page's address (e.g. http://127.0.0.1:8080/ for `hitl serve`, or the stack's
    /// ReviewPageUrl): in the HTML report each workflow id links to its view there.
    #[arg(long, value_name = "URL", value_parser = html::parse_page_url)]
    pub page_url: Option<url::Url>,
    /// A generator's price per million tokens, input/output, e.g.
    /// `--price openai:gpt-4o-mini=0.15/0.60` (repeat for each generator): the report then shows
    /// what an approved artifact cost.
    #[arg(long = "price", value_name = "GENERATOR=IN/OUT", value_parser = analytics::parse_price)]
    pub prices: Vec<(String, analytics::Price)>,
}

/// Loads every workflow a report since `since` can use, with its feedback audit trail
/// ([`collect_report_records`]); with `show_progress`, reports progress on standard error.
pub async fn collect(
    store: &dyn WorkflowStore,
    since: DateTime<Utc>,
    show_progress: bool,
) -> anyhow::Result<(Vec<Workflow>, HashMap<String, Vec<FeedbackEntry>>)> {
    let mut report_progress = |step: CollectProgress| {
        if show_progress {
            eprintln!("{}", progress_line(step));
        }
    };
    let records = collect_report_records(store, since, &mut report_progress)
        .await
        .context("reading workflows and their feedback from the store")?;
    Ok((records.workflows, records.feedback))
}

/// One progress line of [`collect`].
pub fn progress_line(step: CollectProgress) -> String {
    match step {
        CollectProgress::Listing {
            status,
            pages,
            kept,
        } => format!("report: listed {status} (pages read: {pages}, workflows kept: {kept})"),
        CollectProgress::Feedback { done, total } => {
            format!("report: loaded feedback of {done}/{total} workflows")
        }
    }
}

/// The report options `args` ask for, for a window ending at `now`.
pub fn options(now: DateTime<Utc>, args: &ReportArgs) -> anyhow::Result<ReportOptions> {
    let lookback = analytics::parse_lookback(&args.since)
        .map_err(anyhow::Error::msg)
        .context("invalid --since")?;
    Ok(ReportOptions {
        since: Some(now - lookback),
        // Open-ended: "up to now". A bound at `now` would drop a workflow completed at this
        // very instant of the virtual clock.
        until: None,
        reviewer_group: args.reviewer_group.clone(),
        category: args.category.clone(),
        artifact_type: args.artifact_type.clone(),
        stale_rounds: args.stale_rounds,
        top_n: args.top,
        include_smoke: args.include_smoke,
    })
}

impl ReportArgs {
    /// The HTML options `--page-url` asks for. Workflow ids are links only in the HTML report:
    /// `--page-url` with another format is refused rather than silently ignored.
    pub fn html_options(&self, format: ReportFormat) -> anyhow::Result<html::HtmlOptions> {
        if self.page_url.is_some() && format != ReportFormat::Html {
            anyhow::bail!(
                "--page-url links workflow ids in the HTML report; it has no effect with --format {}: add --format html or leave --page-url out",
                format!("{format:?}").to_lowercase()
            );
        }
        Ok(html::HtmlOptions {
            page_url: self.page_url.clone(),
        })
    }

    /// The format to render: `--format`, else JSON with the global `--json`, else a table.
    /// `--json` with another explicit `--format` is refused rather than silently overridden
    /// (it used to write JSON into the file named for an HTML report).
    pub fn format_with_json(&self, json: bool) -> anyhow::Result<ReportFormat> {
        match (self.format, json) {
            (Some(ReportFormat::Json) | None, true) => Ok(ReportFormat::Json),
            (Some(other), true) => anyhow::bail!(
                "--json asks for JSON but --format {other:?} asks for something else; give one of them"
            ),
            (Some(format), false) => Ok(format),
            (None, false) => Ok(ReportFormat::Table),
        }
    }
}

/// Renders a report in the chosen format.
pub fn render(report: &analytics::Report, format: ReportFormat) -> anyhow::Result<String> {
    render_with(report, format, &html::HtmlOptions::default())
}

/// Renders a report in the chosen format; `html_options` apply to [`ReportFormat::Html`].
pub fn render_with(
    report: &analytics::Report,
    format: ReportFormat,
    html_options: &html::HtmlOptions,
) -> anyhow::Result<String> {
    Ok(match format {
        ReportFormat::Table => text::render_table(report),
        ReportFormat::Json => {
            let mut json = text::render_json(report).context("encoding the report")?;
            json.push('\n');
            json
        }
        ReportFormat::Html => html::render_html_with(report, html_options),
    })
}

/// `hitl report`: collects, computes, renders, and prints or writes the report.
pub async fn run(
    store: &dyn WorkflowStore,
    now: DateTime<Utc>,
    args: ReportArgs,
) -> anyhow::Result<ExitCode> {
    run_with_progress(store, now, args, false).await
}

/// [`run`], optionally reporting progress on standard error (`hitl aws report`).
pub async fn run_with_progress(
    store: &dyn WorkflowStore,
    now: DateTime<Utc>,
    args: ReportArgs,
    show_progress: bool,
) -> anyhow::Result<ExitCode> {
    let options = options(now, &args)?;
    let format = args.format.unwrap_or(ReportFormat::Table);
    let html_options = args.html_options(format)?;
    let since = options.since.unwrap_or(now);
    let (workflows, feedback) = collect(store, since, show_progress).await?;
    let prices = args.prices.iter().cloned().collect();
    let report = analytics::compute(&workflows, &feedback, &options).priced(&prices);
    let rendered = render_with(&report, format, &html_options)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, rendered)
                .with_context(|| format!("writing the report to {}", path.display()))?;
            eprintln!("report written to {}", path.display());
        }
        None => print!("{rendered}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::TimeZone;
    use clap::Parser;
    use hitl_domain::model::{
        Decision, DecisionRecord, FeedbackOutcome, Subject, WorkflowConfig, WorkflowStatus,
    };
    use hitl_sqlite::SqliteStore;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ReportArgs,
    }

    fn parse(argv: &[&str]) -> ReportArgs {
        Wrapper::try_parse_from(std::iter::once("report").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    fn jan(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 9, 0, 0)
            .single()
            .unwrap()
    }

    /// A workflow record; terminal ones complete at `at`, open ones were created then.
    fn workflow(id: &str, status: WorkflowStatus, at: DateTime<Utc>) -> Workflow {
        let terminal = status.is_terminal();
        Workflow {
            status,
            artifact_iteration: 1,
            decisions: if status == WorkflowStatus::Approved {
                vec![DecisionRecord {
                    resolution: None,
                    co_approvers: Vec::new(),
                    claimed_at: None,
                    edited: false,
                    reminders_sent: 0,
                    iteration: 1,
                    decision: Decision::Approve,
                    reviewer: "rita".into(),
                    feedback_key: format!("{id}-k"),
                    fingerprint: "fp".into(),
                    requested_at: at - chrono::Duration::hours(1),
                    decided_at: at,
                    task_token: None,
                    delivery: None,
                }]
            } else {
                vec![]
            },
            updated_at: at,
            completed_at: terminal.then_some(at),
            ..Workflow::new(
                id.to_owned(),
                "req".into(),
                Subject {
                    id: format!("brand-{id}"),
                    name: format!("Brand {id}"),
                    category: None,
                    attributes: Default::default(),
                },
                WorkflowConfig::default(),
                at - chrono::Duration::days(1),
            )
        }
    }

    fn entry(workflow_id: &str, key: &str, field: &str) -> FeedbackEntry {
        FeedbackEntry {
            resolution: None,
            workflow_id: workflow_id.to_owned(),
            idempotency_key: key.to_owned(),
            request_fingerprint: format!("rf-{key}"),
            iteration: 1,
            decision: Decision::RequestChanges,
            reviewer: "rita".into(),
            comments: "Tagline too long".into(),
            corrections: vec![hitl_domain::model::Correction {
                field: field.to_owned(),
                value: "x".into(),
            }],
            channel: "test".into(),
            received_at: jan(2),
            outcome: FeedbackOutcome::Applied {
                status: WorkflowStatus::Revising,
            },
        }
    }

    /// 120 approved in January (more than one page), one approved in 2025, one open from 2025,
    /// one escalated and one failed in January.
    async fn seeded_store() -> SqliteStore {
        let store = SqliteStore::in_memory().unwrap();
        for i in 0..120 {
            let at = jan(2 + (i % 20)) + chrono::Duration::minutes(i64::from(i));
            let wf = workflow(&format!("ok-{i:03}"), WorkflowStatus::Approved, at);
            store.create_workflow(&wf).await.unwrap();
        }
        let old_at = Utc.with_ymd_and_hms(2025, 12, 1, 9, 0, 0).single().unwrap();
        for wf in [
            workflow("old", WorkflowStatus::Approved, old_at),
            workflow("open-old", WorkflowStatus::AwaitingReview, old_at),
            workflow("esc", WorkflowStatus::Escalated, jan(10)),
            workflow("failed", WorkflowStatus::Failed, jan(11)),
        ] {
            store.create_workflow(&wf).await.unwrap();
        }
        store
            .record_feedback(&entry("esc", "k1", "tagline"), None)
            .await
            .unwrap();
        store
            .record_feedback(&entry("esc", "k2", "tagline"), None)
            .await
            .unwrap();
        store
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]);
        assert_eq!(args.since, "30d");
        assert_eq!(args.format, None);
        assert_eq!(args.format_with_json(false).unwrap(), ReportFormat::Table);
        assert_eq!(args.format_with_json(true).unwrap(), ReportFormat::Json);
        assert_eq!(args.stale_rounds, 3);
        assert!(args.out.is_none());
        let args = parse(&[
            "--since",
            "2w",
            "--format",
            "html",
            "--out",
            "r.html",
            "--stale-rounds",
            "5",
        ]);
        assert_eq!(args.format, Some(ReportFormat::Html));
        assert!(
            args.format_with_json(true).is_err(),
            "--json with --format html is refused"
        );
        assert_eq!(args.out, Some(PathBuf::from("r.html")));
        let options = options(jan(29), &args).unwrap();
        assert_eq!(options.since, Some(jan(15)));
        assert_eq!(options.until, None);
        assert_eq!(options.stale_rounds, 5);
        assert!(Wrapper::try_parse_from(["report", "--format", "pdf"]).is_err());
        let bad = parse(&["--since", "30y"]);
        let message = format!("{:#}", super::options(jan(29), &bad).unwrap_err());
        assert!(message.contains("--since"), "{message}");
    }

    #[tokio::test]
    async fn collect_pages_every_status_and_loads_feedback() {
        let store = seeded_store().await;
        let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
        let (workflows, feedback) = collect(&store, since, false).await.unwrap();
        // 120 approved (two pages) + esc + failed + open-old (open: always kept); not "old".
        assert_eq!(workflows.len(), 123);
        assert!(workflows.iter().any(|w| w.id == "open-old"));
        assert!(!workflows.iter().any(|w| w.id == "old"));
        assert_eq!(feedback.len(), 123);
        assert_eq!(feedback["esc"].len(), 2);
        assert!(feedback["ok-000"].is_empty());

        let report = analytics::compute(
            &workflows,
            &feedback,
            &ReportOptions {
                since: Some(since),
                ..ReportOptions::default()
            },
        );
        // 120 approved at iteration 1 + 1 escalated = 121 completed; failed and open apart.
        assert_eq!(report.counts.completed, 121);
        assert_eq!(report.first_draft_approval.count, 120);
        assert_eq!((report.counts.failed, report.counts.in_progress), (1, 1));
        assert_eq!(report.most_corrected_fields[0].corrections, 2);
    }

    #[tokio::test]
    async fn run_writes_each_format() {
        let store = seeded_store().await;
        let dir = tempfile::tempdir().unwrap();
        for (format, marker) in [
            (ReportFormat::Table, "HITL learning report"),
            (ReportFormat::Json, "\"first_draft_approval\""),
            (ReportFormat::Html, "<!DOCTYPE html>"),
        ] {
            let out = dir.path().join(format!("report-{format:?}"));
            let mut args = parse(&["--since", "30d"]);
            args.format = Some(format);
            args.out = Some(out.clone());
            run(&store, jan(31), args).await.unwrap();
            let text = std::fs::read_to_string(&out).unwrap();
            assert!(text.contains(marker), "{format:?}: {text}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report-Json")).unwrap())
                .unwrap();
        assert_eq!(json["counts"]["completed"], 121);
    }
}
