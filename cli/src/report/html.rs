//! A self-contained HTML page for a [`Report`]: inline CSS and inline SVG charts, no scripts,
//! no external resources.
//!
//! Stable hooks for tests and styling:
//! * iterations histogram (`#fig-iterations`): one `<rect class="bar">` per histogram bucket;
//! * weekly trend (`#fig-trend`), with two weeks or more: one `<circle class="point SERIES">`
//!   per week with completions and per series, `SERIES` ∈ `approval`, `first-draft`,
//!   `escalation`, joined by `<polyline class="line SERIES">` segments; with one week (a line
//!   needs two): a sentence saying so (`<p class="single-week">`) and one
//!   `<rect class="rate SERIES">` bar per series instead of lone points;
//! * most-corrected fields (`#fig-fields`): one `<rect class="hbar">` per field;
//! * problematic subjects (`#problematic`): with a review page address
//!   ([`HtmlOptions::page_url`]) each workflow id is an `<a class="workflow">` link to
//!   `<page>/#/workflows/<id>`, the review page's workflow view; without one, plain `<code>`.

use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use super::text::{
    describe_scope, describe_wait, format_opt, format_rate, format_wait, problem_status,
    single_week_note,
};
use hitl_domain::analytics::{Report, WeekTrend};

/// How the page is rendered beyond the report's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlOptions {
    /// The review page's address (`hitl report --page-url`): workflow ids link to its workflow
    /// view. Validated by [`parse_page_url`].
    pub page_url: Option<Url>,
}

/// Parses a review page address for [`HtmlOptions::page_url`]: an absolute `http` or `https`
/// URL without a query or fragment (the link adds its own `#/workflows/<id>`).
pub fn parse_page_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| {
        format!("{text:?} is not an absolute URL ({e}); give the review page's address, e.g. https://review.example.com/")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{text:?} is a {} URL; the review page's address starts with http:// or https://",
            url.scheme()
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} has a query or #fragment; give the review page's address without them \
             (each link adds #/workflows/<id>)"
        ));
    }
    Ok(url)
}

/// What `encodeURIComponent` leaves alone, so the review page's `decodeURIComponent` gives the
/// id back unchanged.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The review page's view of `workflow_id` (route `#/workflows/<id>` of `api/web/app.js`).
pub fn workflow_link(page_url: &Url, workflow_id: &str) -> String {
    let id = utf8_percent_encode(workflow_id, COMPONENT).to_string();
    hitl_domain::reminders::review_link(page_url.as_str(), &id)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg:#1c2333; --muted:#5d6678; --line:#e1e5ec; --bg:#f5f6f8; --card:#ffffff;
        --blue:#3563c9; --green:#1e8a4f; --red:#c8452f; --amber:#c27c0e; --violet:#7a4fc4; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1060px; margin: 0 auto; padding: 32px 24px 48px; }
header h1 { font-size: 28px; line-height: 1.2; margin: 0 0 6px; letter-spacing: -0.01em; }
header p { margin: 0; color: var(--muted); font-size: 14px; }
h2 { font-size: 18px; margin: 0 0 2px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin: 22px 0 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.card .value { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.25; }
.card .sub { color: var(--muted); font-size: 13px; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; margin: 16px 0; }
.how { color: var(--muted); font-size: 14px; margin: 0 0 12px; }
.how b { color: var(--fg); font-weight: 600; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.two > .panel { margin: 0; }
@media (max-width: 780px) { .two { grid-template-columns: 1fr; } }
svg { display: block; width: 100%; height: auto; overflow: visible; }
svg text { font-family: inherit; font-size: 14px; fill: var(--muted); }
svg text.value { fill: var(--fg); font-weight: 600; }
svg text.axis-title { font-size: 13px; fill: var(--muted); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: #b9c0cc; stroke-width: 1; }
svg .bar { fill: var(--blue); }
svg .hbar { fill: var(--amber); }
svg .marker { stroke: var(--fg); stroke-width: 1.2; stroke-dasharray: 4 3; }
svg .line { fill: none; stroke-width: 2.2; }
svg .line.approval { stroke: var(--green); }
svg .line.first-draft { stroke: var(--blue); stroke-dasharray: 6 4; }
svg .line.escalation { stroke: var(--red); }
svg .point { stroke: #fff; stroke-width: 1.5; }
svg .point.approval { fill: var(--green); }
svg .point.first-draft { fill: var(--blue); }
svg .point.escalation { fill: var(--red); }
.legend { display: flex; gap: 18px; flex-wrap: wrap; font-size: 13px; color: var(--muted); margin: 6px 0 0; }
.legend span::before { content: ""; display: inline-block; width: 14px; height: 3px; margin: 0 6px 3px 0; vertical-align: middle; border-radius: 2px; }
.legend .approval::before { background: var(--green); }
.legend .first-draft::before { background: var(--blue); }
.legend .escalation::before { background: var(--red); }
table { width: 100%; border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
td.num, th.num { text-align: right; }
tr:last-child td { border-bottom: none; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; line-height: 20px; background: #eef1f6; color: var(--muted); }
.badge.escalated { background: #fbe9e5; color: var(--red); }
.badge.approved { background: #e5f4ec; color: var(--green); }
.badge.failed { background: #f1e9fb; color: var(--violet); }
.badge.waiting { background: #fdf1dc; color: #8a5608; }
.single-week { margin: 4px 0 10px; }
svg .rate.approval { fill: var(--green); }
svg .rate.first-draft { fill: var(--blue); }
svg .rate.escalation { fill: var(--red); }
svg .track { fill: #eef1f6; }
a.workflow { color: var(--blue); }
.empty { color: var(--muted); font-style: italic; margin: 8px 0; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
footer { color: var(--muted); font-size: 13px; margin-top: 24px; }
"#;

fn card(out: &mut String, label: &str, value: &str, sub: &str) {
    let _ = write!(
        out,
        r#"<div class="card"><div class="label">{}</div><div class="value">{}</div><div class="sub">{}</div></div>"#,
        escape(label),
        escape(value),
        escape(sub)
    );
}

/// `{:.1}` without a trailing `.0`, for compact SVG coordinates.
fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// A step giving at most five ticks over `0..=max`.
fn tick_step(max: usize) -> usize {
    max.div_ceil(5).max(1)
}

fn histogram_svg(report: &Report) -> String {
    let d = &report.iterations_to_approval;
    let (w, h) = (1000.0, 290.0);
    let (left, right, top, bottom) = (56.0, 24.0, 24.0, 54.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let most = d.histogram.iter().map(|b| b.count).max().unwrap_or(0);
    let step = tick_step(most);
    let y_max = (most.div_ceil(step) * step).max(1) as f64;
    let y = |v: f64| top + plot_h - v / y_max * plot_h;
    let n = d.histogram.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.6).min(96.0);
    let center = |i: usize| left + slot * (i as f64 + 0.5);

    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="Histogram of iterations to approval">"#
    );
    let mut tick = 0;
    while tick as f64 <= y_max {
        let ty = y(tick as f64);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text x="{}" y="{}" text-anchor="end">{tick}</text>"#,
            num(left),
            num(w - right),
            num(ty),
            num(ty),
            num(left - 8.0),
            num(ty + 4.0)
        );
        tick += step;
    }
    for (i, bucket) in d.histogram.iter().enumerate() {
        let top_y = y(bucket.count as f64);
        let _ = write!(
            s,
            r#"<rect class="bar" x="{}" y="{}" width="{}" height="{}" rx="3"><title>{} iteration(s): {} workflow(s)</title></rect>"#,
            num(center(i) - bar_w / 2.0),
            num(top_y),
            num(bar_w),
            num(top + plot_h - top_y),
            bucket.iterations,
            bucket.count
        );
        let _ = write!(
            s,
            r#"<text class="value" x="{}" y="{}" text-anchor="middle">{}</text><text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            num(center(i)),
            num(top_y - 6.0),
            bucket.count,
            num(center(i)),
            num(top + plot_h + 18.0),
            bucket.iterations
        );
    }
    // Median and p90 markers on their buckets.
    let index_of =
        |v: Option<u32>| v.and_then(|v| d.histogram.iter().position(|b| b.iterations == v));
    let markers: Vec<(usize, &str)> = match (index_of(d.median), index_of(d.p90)) {
        (Some(m), Some(p)) if m == p => vec![(m, "median = p90")],
        (m, p) => m
            .map(|m| (m, "median"))
            .into_iter()
            .chain(p.map(|p| (p, "p90")))
            .collect(),
    };
    for (i, label) in markers {
        let x = center(i) + bar_w / 2.0 + 4.0;
        let _ = write!(
            s,
            r#"<line class="marker" x1="{x}" x2="{x}" y1="{}" y2="{}"/><text x="{}" y="{}">{label}</text>"#,
            num(top),
            num(top + plot_h),
            num(x + 4.0),
            num(top + 10.0),
            x = num(x)
        );
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{l}" x2="{r}" y1="{b}" y2="{b}"/><text class="axis-title" x="{}" y="{}" text-anchor="middle">iteration at which the draft was approved</text><text class="axis-title" x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">workflows</text></svg>"#,
        num(left + plot_w / 2.0),
        num(h - 8.0),
        num(top + plot_h / 2.0),
        num(top + plot_h / 2.0),
        l = num(left),
        r = num(w - right),
        b = num(top + plot_h)
    );
    s
}

type Series = (&'static str, &'static str, fn(&WeekTrend) -> Option<f64>);

const SERIES: [Series; 3] = [
    ("approval", "approved", |w| w.approval_rate),
    ("first-draft", "approved first draft", |w| {
        w.first_draft_approval_rate
    }),
    ("escalation", "escalated", |w| w.escalation_rate),
];

fn trend_svg(weeks: &[WeekTrend]) -> String {
    let (w, h) = (1000.0, 300.0);
    let (left, right, top, bottom) = (60.0, 40.0, 16.0, 64.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let n = weeks.len();
    let x = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |r: f64| top + plot_h - r.clamp(0.0, 1.0) * plot_h;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="Weekly approval and escalation rates">"#
    );
    for pct in [0u32, 25, 50, 75, 100] {
        let ty = y(f64::from(pct) / 100.0);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text x="{}" y="{}" text-anchor="end">{pct}%</text>"#,
            num(left),
            num(w - right),
            num(ty),
            num(ty),
            num(left - 8.0),
            num(ty + 4.0)
        );
    }
    let label_every = n.div_ceil(12).max(1);
    for (i, week) in weeks.iter().enumerate() {
        if i % label_every == 0 || i + 1 == n {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="{}" y="{}" text-anchor="middle">n={}</text>"#,
                num(x(i)),
                num(top + plot_h + 18.0),
                escape(&week.week),
                num(x(i)),
                num(top + plot_h + 33.0),
                week.completed
            );
        }
    }
    for (series, (class, label, value)) in SERIES.into_iter().enumerate() {
        // A small horizontal offset per series keeps points that coincide visible.
        let dx = (series as f64 - 1.0) * 6.0;
        let x = |i: usize| x(i) + dx;
        // Lines join consecutive weeks that both have completions; a week without any breaks it.
        let mut segment: Vec<String> = Vec::new();
        let mut segments: Vec<Vec<String>> = Vec::new();
        for (i, week) in weeks.iter().enumerate() {
            match value(week) {
                Some(r) => segment.push(format!("{},{}", num(x(i)), num(y(r)))),
                None => segments.push(std::mem::take(&mut segment)),
            }
        }
        segments.push(segment);
        for seg in segments.iter().filter(|seg| seg.len() > 1) {
            let _ = write!(
                s,
                r#"<polyline class="line {class}" points="{}"/>"#,
                seg.join(" ")
            );
        }
        for (i, week) in weeks.iter().enumerate() {
            if let Some(r) = value(week) {
                let _ = write!(
                    s,
                    r#"<circle class="point {class}" cx="{}" cy="{}" r="4.5"><title>{}: {label} {} of {} completed</title></circle>"#,
                    num(x(i)),
                    num(y(r)),
                    escape(&week.week),
                    format_rate(Some(r)),
                    week.completed
                );
            }
        }
    }
    let _ = write!(
        s,
        r#"<text class="axis-title" x="{}" y="{}" text-anchor="middle">ISO week of completion (n = workflows completed that week)</text><text class="axis-title" x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">share of completed</text></svg>"#,
        num(left + plot_w / 2.0),
        num(h - 6.0),
        num(top + plot_h / 2.0),
        num(top + plot_h / 2.0)
    );
    s
}

/// One week of data: one labelled horizontal bar per series (0–100 %), not a line chart of
/// lone points.
fn single_week_svg(week: &WeekTrend) -> String {
    let row = 40.0;
    let (w, left, right, top) = (1000.0, 230.0, 90.0, 6.0);
    let plot_w = w - left - right;
    let h = top * 2.0 + row * SERIES.len() as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {}" role="img" aria-label="Approval and escalation rates of {}">"#,
        num(h),
        escape(&week.week)
    );
    for (i, (class, label, value)) in SERIES.into_iter().enumerate() {
        let y0 = top + row * i as f64;
        let rate = value(week);
        let bar_w = rate.map_or(0.0, |r| r.clamp(0.0, 1.0) * plot_w);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{label}</text><rect class="track" x="{}" y="{}" width="{}" height="{}" rx="3"/><rect class="rate {class}" x="{}" y="{}" width="{}" height="{}" rx="3"><title>{}: {label} {} of {} completed</title></rect><text class="value" x="{}" y="{}">{}</text>"#,
            num(left - 10.0),
            num(y0 + row / 2.0 + 4.0),
            num(left),
            num(y0 + 8.0),
            num(plot_w),
            num(row - 16.0),
            num(left),
            num(y0 + 8.0),
            num(bar_w),
            num(row - 16.0),
            escape(&week.week),
            format_rate(rate),
            week.completed,
            num(left + plot_w + 10.0),
            num(y0 + row / 2.0 + 4.0),
            format_rate(rate)
        );
    }
    s.push_str("</svg>");
    s
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

fn fields_svg(report: &Report) -> String {
    let fields = &report.most_corrected_fields;
    let row = 32.0;
    let (w, left, right, top) = (1000.0, 220.0, 60.0, 8.0);
    let h = top * 2.0 + row * fields.len() as f64;
    let plot_w = w - left - right;
    let most = fields
        .iter()
        .map(|f| f.corrections)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {}" role="img" aria-label="Most-corrected fields">"#,
        num(h)
    );
    for (i, field) in fields.iter().enumerate() {
        let y0 = top + row * i as f64;
        let bar_w = (field.corrections as f64 / most * plot_w).max(2.0);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end"><title>{}</title>{}</text><rect class="hbar" x="{}" y="{}" width="{}" height="{}" rx="3"><title>{}: {} correction(s) in {} workflow(s)</title></rect><text class="value" x="{}" y="{}">{}</text>"#,
            num(left - 10.0),
            num(y0 + row / 2.0 + 4.0),
            escape(&field.field),
            escape(&truncate(&field.field, 26)),
            num(left),
            num(y0 + 5.0),
            num(bar_w),
            num(row - 10.0),
            escape(&field.field),
            field.corrections,
            field.workflows,
            num(left + bar_w + 8.0),
            num(y0 + row / 2.0 + 4.0),
            field.corrections
        );
    }
    s.push_str("</svg>");
    s
}

fn table_html(out: &mut String, headers: &[(&str, bool)], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for (head, numeric) in headers {
        let class = if *numeric { r#" class="num""# } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(head));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (cell, (_, numeric)) in row.iter().zip(headers) {
            let class = if *numeric { r#" class="num""# } else { "" };
            // Cells are pre-escaped HTML.
            let _ = write!(out, "<td{class}>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn panel_start(out: &mut String, id: &str, title: &str, how: &str) {
    let _ = write!(
        out,
        r#"<section class="panel" id="{id}"><h2>{}</h2><p class="how"><b>How to read this:</b> {}</p>"#,
        escape(title),
        escape(how)
    );
}

/// The report as one self-contained HTML page, workflow ids unlinked.
pub fn render_html(report: &Report) -> String {
    render_html_with(report, &HtmlOptions::default())
}

/// The report as one self-contained HTML page, rendered with `options`.
pub fn render_html_with(report: &Report, options: &HtmlOptions) -> String {
    let c = &report.counts;
    let d = &report.iterations_to_approval;
    let t = &report.reviewer_turnaround;
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>HITL learning report</title><style>{STYLE}</style></head><body><main><header><h1>Learning report</h1><p>{}</p><p>Approved, escalated and failed workflows are counted by completion time; in-progress ones are those still open that started before the window ended; escalations still waiting for a resolution are counted apart, like open ones, and in no rate.</p></header>"#,
        escape(&describe_scope(report))
    );

    out.push_str(r#"<section class="cards">"#);
    card(
        &mut out,
        "Completed",
        &c.completed.to_string(),
        &format!(
            "{} approved · {} escalated (finished with)",
            c.approved, c.escalated
        ),
    );
    card(
        &mut out,
        "First-draft approval",
        &format_rate(report.first_draft_approval.rate),
        &format!(
            "{} of {} completed",
            report.first_draft_approval.count, report.first_draft_approval.of
        ),
    );
    card(
        &mut out,
        "Escalation rate",
        &format_rate(report.escalations.overall.rate),
        &format!(
            "{} of {} completed",
            report.escalations.overall.count, report.escalations.overall.of
        ),
    );
    card(
        &mut out,
        "Median iterations",
        &format_opt(d.median),
        &format!("p90 {} · max {}", format_opt(d.p90), format_opt(d.max)),
    );
    card(
        &mut out,
        "Reviewer turnaround",
        &format_wait(t, t.median_seconds),
        &if t.nothing_waited() {
            describe_wait(t, "decisions")
        } else {
            format!("median · {}", describe_wait(t, "decisions"))
        },
    );
    card(
        &mut out,
        "Open / waiting / failed",
        &format!(
            "{} / {} / {}",
            c.in_progress, c.awaiting_resolution, c.failed
        ),
        "in progress / escalated, waiting for a resolution / failed (in no rate)",
    );
    out.push_str("</section>");

    panel_start(
        &mut out,
        "fig-iterations",
        "Iterations to approval",
        "each bar counts the approved workflows whose draft was accepted at that iteration; \
         a tall first bar means the agent gets it right first time, a long tail means reviewers \
         need several rounds. Escalated workflows are not in this chart.",
    );
    if d.histogram.is_empty() {
        out.push_str(r#"<p class="empty">No approved workflows in this window.</p>"#);
    } else {
        out.push_str(&histogram_svg(report));
    }
    out.push_str("</section>");

    panel_start(
        &mut out,
        "fig-trend",
        "Weekly trend",
        "share of the workflows completed each week that were approved (green), approved on the \
         first draft (blue, dashed) and escalated (red). Rising blue and falling red mean the \
         agent is learning; weeks with small n swing easily.",
    );
    if report.weekly.is_empty() {
        out.push_str(r#"<p class="empty">No completed workflows in this window.</p>"#);
    } else if let (Some(note), [week]) = (single_week_note(report), report.weekly.as_slice()) {
        let mut note = note;
        if let Some(first) = note.get(..1) {
            note = format!("{}{}.", first.to_uppercase(), note.get(1..).unwrap_or(""));
        }
        let _ = write!(
            out,
            r#"<p class="single-week">{} Its {} completed workflow(s):</p>"#,
            escape(&note),
            week.completed
        );
        out.push_str(&single_week_svg(week));
    } else {
        out.push_str(&trend_svg(&report.weekly));
        out.push_str(r#"<div class="legend">"#);
        for (class, label, _) in SERIES {
            let _ = write!(out, r#"<span class="{class}">{label}</span>"#);
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");

    panel_start(
        &mut out,
        "fig-fields",
        "Most-corrected fields",
        "how many structured corrections reviewers made to each field in applied change \
         requests; the top fields are where the agent's instructions or examples need work.",
    );
    if report.most_corrected_fields.is_empty() {
        out.push_str(r#"<p class="empty">No corrections in this window.</p>"#);
    } else {
        out.push_str(&fields_svg(report));
    }
    out.push_str("</section>");

    out.push_str(r#"<div class="two">"#);
    panel_start(
        &mut out,
        "escalations",
        "Escalations by reason",
        "share of completed workflows handed to a person, per reason. An escalation still \
         waiting for a resolution is not completed yet: it is counted under \"still waiting\" \
         below, in no rate.",
    );
    let rows: Vec<Vec<String>> = report
        .escalations
        .by_reason
        .iter()
        .map(|r| {
            vec![
                format!("<code>{}</code>", escape(&r.reason)),
                r.ratio.count.to_string(),
                format_rate(r.ratio.rate),
            ]
        })
        .collect();
    table_html(
        &mut out,
        &[
            ("reason", false),
            ("escalated", true),
            ("of completed", true),
        ],
        &rows,
    );
    let r = &report.escalations.resolutions;
    let rows = vec![
        vec![
            "still waiting for a resolution".to_owned(),
            c.awaiting_resolution.to_string(),
        ],
        vec!["resolved by a person".to_owned(), r.resolve.to_string()],
        vec!["more iterations granted".to_owned(), r.extend.to_string()],
        vec!["reassigned".to_owned(), r.reassign.to_string()],
        vec!["abandoned".to_owned(), r.abandon.to_string()],
        vec!["left unresolved".to_owned(), r.unresolved.to_string()],
        vec![
            "iterations granted by extend".to_owned(),
            r.iterations_granted.to_string(),
        ],
        vec![
            "time to resolve, median".to_owned(),
            format_wait(&r.time_to_resolve, r.time_to_resolve.median_seconds),
        ],
        vec![
            "time to resolve, p90".to_owned(),
            format_wait(&r.time_to_resolve, r.time_to_resolve.p90_seconds),
        ],
    ];
    table_html(&mut out, &[("resolution", false), ("count", true)], &rows);
    let inbox = &report.inbox;
    let rows = vec![
        vec![
            "decisions on a claimed iteration".to_owned(),
            format!(
                "{} ({})",
                inbox.claimed.count,
                format_rate(inbox.claimed.rate)
            ),
        ],
        vec![
            "time to claim, median".to_owned(),
            format_wait(&inbox.time_to_claim, inbox.time_to_claim.median_seconds),
        ],
        vec![
            "time to claim, p90".to_owned(),
            format_wait(&inbox.time_to_claim, inbox.time_to_claim.p90_seconds),
        ],
        vec![
            "approvals per approved iteration".to_owned(),
            inbox
                .approvals_per_approved_iteration
                .map_or("—".to_owned(), |a| format!("{a:.2}")),
        ],
        vec![
            "approved by several reviewers".to_owned(),
            inbox.multi_approval.to_string(),
        ],
        vec![
            "edit and approve".to_owned(),
            format!(
                "{} ({})",
                inbox.edit_and_approve.count,
                format_rate(inbox.edit_and_approve.rate)
            ),
        ],
    ];
    let rows = rows
        .into_iter()
        .chain([
            vec![
                "reminders sent before a decision".to_owned(),
                inbox.reminders_sent.to_string(),
            ],
            vec![
                "decided only after a reminder".to_owned(),
                format!(
                    "{} ({})",
                    inbox.decided_after_reminder.count,
                    format_rate(inbox.decided_after_reminder.rate)
                ),
            ],
        ])
        .collect::<Vec<_>>();
    table_html(
        &mut out,
        &[("reviewers' inbox", false), ("value", true)],
        &rows,
    );
    out.push_str("</section>");

    let th = &report.feedback_themes;
    panel_start(
        &mut out,
        "themes",
        "Feedback themes",
        &format!(
            "words and two-word phrases that recur in the comments of {} change requests \
             (lowercased, punctuation and common words removed); the count is how many \
             comments mention it.",
            th.comments_analysed
        ),
    );
    if th.words.is_empty() {
        out.push_str(r#"<p class="empty">No change-request comments in this window.</p>"#);
    } else {
        let n = th.words.len().max(th.phrases.len());
        let cell = |list: &[hitl_domain::analytics::TermCount], i: usize| {
            list.get(i).map_or_else(
                || (String::new(), String::new()),
                |t| (escape(&t.term), t.entries.to_string()),
            )
        };
        let rows: Vec<Vec<String>> = (0..n)
            .map(|i| {
                let (w, wc) = cell(&th.words, i);
                let (p, pc) = cell(&th.phrases, i);
                vec![w, wc, p, pc]
            })
            .collect();
        table_html(
            &mut out,
            &[
                ("word", false),
                ("comments", true),
                ("phrase", false),
                ("comments", true),
            ],
            &rows,
        );
    }
    out.push_str("</section></div>");

    panel_start(
        &mut out,
        "problematic",
        "Problematic subjects",
        &format!(
            "escalated workflows and workflows that reached {} or more rounds, most rounds \
             first; open ones, and escalations still waiting for a resolution, can still be \
             helped. {}",
            report.options.stale_rounds,
            if options.page_url.is_some() {
                "Each workflow id opens the workflow on the review page."
            } else {
                "Render with --page-url <review page address> to make each workflow id a link \
                 to the review page."
            }
        ),
    );
    if report.problematic_subjects.is_empty() {
        out.push_str(r#"<p class="empty">None.</p>"#);
    } else {
        let rows: Vec<Vec<String>> = report
            .problematic_subjects
            .iter()
            .map(|p| {
                vec![
                    format!(
                        "{}<br><code>{}</code>",
                        escape(&p.subject_name),
                        escape(&p.subject_id)
                    ),
                    escape(p.category.as_deref().unwrap_or("")),
                    format!(
                        r#"<span class="badge {}">{}</span>"#,
                        if p.awaiting_resolution {
                            "waiting"
                        } else {
                            p.status.as_str()
                        },
                        escape(&problem_status(p))
                    ),
                    p.rounds.to_string(),
                    p.escalation_reason
                        .map(|r| format!("<code>{r}</code>"))
                        .unwrap_or_default(),
                    match &options.page_url {
                        Some(page) => format!(
                            r#"<a class="workflow" href="{}"><code>{}</code></a>"#,
                            escape(&workflow_link(page, &p.workflow_id)),
                            escape(&p.workflow_id)
                        ),
                        None => format!("<code>{}</code>", escape(&p.workflow_id)),
                    },
                ]
            })
            .collect();
        table_html(
            &mut out,
            &[
                ("subject", false),
                ("category", false),
                ("status", false),
                ("rounds", true),
                ("escalation", false),
                ("workflow", false),
            ],
            &rows,
        );
    }
    out.push_str("</section>");

    panel_start(
        &mut out,
        "weekly",
        "Weekly figures",
        "the numbers behind the trend chart, one row per ISO week of completion.",
    );
    if report.weekly.is_empty() {
        out.push_str(r#"<p class="empty">No completed workflows in this window.</p>"#);
    } else {
        let rows: Vec<Vec<String>> = report
            .weekly
            .iter()
            .map(|w| {
                vec![
                    format!(
                        "{} <span class=\"badge\">{}</span>",
                        escape(&w.week),
                        w.week_start
                    ),
                    w.completed.to_string(),
                    w.approved.to_string(),
                    w.escalated.to_string(),
                    format_rate(w.first_draft_approval_rate),
                    format_opt(w.median_iterations),
                ]
            })
            .collect();
        table_html(
            &mut out,
            &[
                ("week", false),
                ("completed", true),
                ("approved", true),
                ("escalated", true),
                ("first-draft rate", true),
                ("median iterations", true),
            ],
            &rows,
        );
    }
    out.push_str("</section>");

    panel_start(
        &mut out,
        "artifact-types",
        "Artifact types",
        "one row per artifact type: how many of its workflows ran and completed, how often the \
         first draft was approved, how often it escalated and how many iterations approvals \
         needed. `hitl report --type NAME` narrows every other figure, the corrected paths \
         included, to one type.",
    );
    if report.artifact_types.is_empty() {
        out.push_str(r#"<p class="empty">No workflows in this window.</p>"#);
    } else {
        let rows: Vec<Vec<String>> = super::text::type_rows(report)
            .into_iter()
            .map(|row| row.iter().map(|cell| escape(cell)).collect())
            .collect();
        table_html(&mut out, &super::text::TYPE_COLUMNS, &rows);
    }
    out.push_str("</section>");

    panel_start(
        &mut out,
        "generators",
        "Generators",
        "one row per generator (who drafted a workflow's first draft): how often its first draft \
         was approved, how many iterations its approved workflows needed, the tokens its drafts \
         used and, with prices given, what an approved artifact cost. Fewer rounds and fewer \
         tokens per approved artifact are better.",
    );
    if report.generators.is_empty() {
        out.push_str(r#"<p class="empty">No drafts recorded in this window.</p>"#);
    } else {
        let rows: Vec<Vec<String>> = super::text::generator_rows(report)
            .into_iter()
            .map(|row| row.iter().map(|cell| escape(cell)).collect())
            .collect();
        table_html(&mut out, &super::text::GENERATOR_COLUMNS, &rows);
    }
    out.push_str("</section>");
    out.push_str(
        "<footer>Rates are over completed workflows (approved, or escalated and finished with: \
         resolved, abandoned or left unresolved); n/a means nothing completed. Medians and p90s \
         use the nearest-rank method; durations are rounded down to the second.</footer></main></body></html>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::analytics::{compute, fixture, ReportOptions};

    fn count(html: &str, needle: &str) -> usize {
        html.matches(needle).count()
    }

    fn sample() -> Report {
        let (workflows, feedback) = fixture::sample_set();
        compute(&workflows, &feedback, &fixture::window_options())
    }

    #[test]
    fn one_bar_per_bucket_and_one_point_per_week_and_series() {
        let report = sample();
        let html = render_html(&report);
        assert_eq!(report.iterations_to_approval.histogram.len(), 3);
        assert_eq!(count(&html, r#"<rect class="bar""#), 3);
        // Three weeks, each with completions, three series.
        assert_eq!(report.weekly.len(), 3);
        assert_eq!(count(&html, r#"<circle class="point "#), 9);
        assert_eq!(count(&html, r#"<circle class="point escalation""#), 3);
        assert_eq!(count(&html, r#"<polyline class="line "#), 3);
        assert_eq!(
            count(&html, r#"<rect class="hbar""#),
            report.most_corrected_fields.len()
        );
        assert_eq!(report.most_corrected_fields.len(), 4);
    }

    #[test]
    fn self_contained() {
        let html = render_html(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<link"));
        assert_eq!(count(&html, "How to read this:"), 9); // seven figures, the types and the generators tables
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn gap_weeks_break_the_line_and_have_no_points() {
        let mut report = sample();
        // Make the middle week empty.
        let w = &mut report.weekly[1];
        w.completed = 0;
        w.approved = 0;
        w.escalated = 0;
        w.approval_rate = None;
        w.escalation_rate = None;
        w.first_draft_approval_rate = None;
        w.median_iterations = None;
        let html = render_html(&report);
        assert_eq!(count(&html, r#"<circle class="point "#), 6);
        // Each series is two single points: no segment long enough for a line.
        assert_eq!(count(&html, "<polyline"), 0);
    }

    /// Issue 31 item 14: one week of data drew three lone dots.
    #[test]
    fn a_single_week_is_a_sentence_and_bars_not_lone_points() {
        let (mut workflows, feedback) = fixture::sample_set();
        workflows.retain(|w| w.id == "wf-a" || w.id == "wf-b"); // both completed in W02
        let report = compute(&workflows, &feedback, &fixture::window_options());
        assert_eq!(report.weekly.len(), 1);
        let html = render_html(&report);
        assert_eq!(count(&html, "<circle"), 0, "no lone points");
        assert_eq!(count(&html, "<polyline"), 0);
        assert!(
            html.contains(
                r#"<p class="single-week">Only one week (2026-W02) has completed workflows: no trend yet"#
            ),
            "{html}"
        );
        // One labelled bar per series: approved 100%, first draft 50% (a of a, b), escalated 0%.
        assert_eq!(count(&html, r#"<rect class="rate "#), 3);
        assert!(
            html.contains(r#"<title>2026-W02: approved first draft 50.0% of 2 completed</title>"#)
        );
        // Two weeks or more: the line chart, with both axes titled.
        let html = render_html(&sample());
        assert!(!html.contains(r#"<p class="single-week">"#));
        assert!(html.contains(">share of completed</text>"));
        assert!(html.contains(">ISO week of completion"));
    }

    /// Issue 31 item 14: workflow ids were not links.
    #[test]
    fn workflow_ids_link_to_the_review_page_when_its_address_is_given() {
        let report = sample();
        let page = parse_page_url("https://review.example.com/hitl/").unwrap();
        let html = render_html_with(
            &report,
            &HtmlOptions {
                page_url: Some(page),
            },
        );
        assert_eq!(
            count(&html, r#"<a class="workflow" href="#),
            report.problematic_subjects.len()
        );
        assert!(html.contains(
            r#"<a class="workflow" href="https://review.example.com/hitl/#/workflows/wf-w"><code>wf-w</code></a>"#
        ));
        // Without an address: plain ids, and the panel says how to get links.
        let plain = render_html(&report);
        assert_eq!(count(&plain, "<a "), 0);
        assert!(plain.contains("<code>wf-w</code>"));
        assert!(plain.contains("--page-url"));
    }

    #[test]
    fn links_encode_the_id_as_the_review_page_decodes_it() {
        let page = parse_page_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            workflow_link(&page, "wf-1"),
            "http://127.0.0.1:8080/#/workflows/wf-1"
        );
        // encodeURIComponent's set: the review page's decodeURIComponent gives the id back.
        assert_eq!(
            workflow_link(&page, "a b/#&é%"),
            "http://127.0.0.1:8080/#/workflows/a%20b%2F%23%26%C3%A9%25"
        );
        for bad in [
            "review.example.com",
            "ftp://x/",
            "http://x/?a=1",
            "http://x/#/",
        ] {
            assert!(parse_page_url(bad).is_err(), "{bad}");
        }
    }

    /// Issue 31 item 14: a waiting escalation is shown as waiting, and nothing-waited turnaround
    /// is not "0s".
    #[test]
    fn waiting_escalations_and_turnaround_that_did_not_wait() {
        let html = render_html(&sample());
        assert!(html.contains(r#"<span class="badge waiting">escalated, waiting</span>"#));
        // Open / waiting / failed: h i / w / g
        assert!(
            html.contains(r#"<div class="value">2 / 1 / 1</div>"#),
            "{html}"
        );
        // Completed: 6 (w is not)
        assert!(html.contains(r#"<div class="label">Completed</div><div class="value">6</div>"#));

        let mut d = fixture::decision(
            1,
            hitl_domain::model::Decision::Approve,
            fixture::jan(6, 8),
            0,
        );
        d.decided_at = d.requested_at + chrono::Duration::milliseconds(5);
        let workflows = vec![fixture::approved(
            "wf-1",
            "One",
            fixture::jan(5, 9),
            vec![d],
        )];
        let html = render_html(&compute(
            &workflows,
            &Default::default(),
            &fixture::window_options(),
        ));
        assert!(
            html.contains(
                r#"<div class="label">Reviewer turnaround</div><div class="value">no wait</div>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn empty_report_has_no_charts() {
        let report = compute(&[], &Default::default(), &ReportOptions::default());
        let html = render_html(&report);
        assert_eq!(count(&html, r#"class="bar""#), 0);
        assert_eq!(count(&html, "<circle"), 0);
        assert!(html.contains("No approved workflows in this window."));
        assert!(html.contains("n/a"));
    }

    #[test]
    fn text_is_escaped() {
        let (mut workflows, mut feedback) = fixture::sample_set();
        for wf in &mut workflows {
            if wf.id == "wf-d" {
                wf.subject.name = "<script>alert(1)</script> & Co".into();
            }
        }
        if let Some(entries) = feedback.get_mut("wf-d") {
            entries[0].corrections[0].field = "desc<b>".into();
        }
        let html = render_html(&compute(&workflows, &feedback, &fixture::window_options()));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert!(html.contains("desc&lt;b&gt;"));
    }
}
