//! Real-browser check of the analytics HTML report: renders the hand-built fixture set to
//! `target/artifacts/report.html`, loads it in headless Debian Chromium, counts the chart
//! elements in the DOM Chromium built, and takes `target/artifacts/report.png`.
//!
//! Needs `/usr/bin/chromium` (install with `scripts/install-chromium.sh`; `HITL_CHROMIUM`
//! overrides the path). A missing browser fails the test; it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hitl_cli::report::html::{parse_page_url, render_html, render_html_with, HtmlOptions};
use hitl_domain::analytics::{compute, fixture};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    let path = std::env::var_os("HITL_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "Chromium not found at {}: the HTML report test needs a real browser. \
         Install it with scripts/install-chromium.sh (Debian package `chromium`) \
         or point HITL_CHROMIUM at one.",
        path.display()
    );
    path
}

fn artifacts_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace");
    let dir = root.join("target").join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `page` with `extra` arguments and a fresh profile; returns stdout.
fn run_chromium(browser: &Path, page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let url = format!("file://{}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::from(File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium did not finish within {BROWSER_TIMEOUT:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        status.success(),
        "Chromium exited with {status}; stderr:\n{stderr}"
    );
    std::fs::read_to_string(&stdout_path).unwrap()
}

/// Elements `<tag …>` whose `class` attribute has the token `class`.
fn count_elements(dom: &str, tag: &str, class: &str) -> usize {
    let open = format!("<{tag}");
    let mut count = 0;
    let mut rest = dom;
    while let Some(pos) = rest.find(&open) {
        let after = &rest[pos + open.len()..];
        rest = after;
        if !after.starts_with([' ', '>', '/', '\n', '\t']) {
            continue; // a longer tag name, e.g. <rectangle
        }
        let end = after.find('>').unwrap_or(after.len());
        let attrs = &after[..end];
        let Some(start) = attrs.find("class=\"") else {
            continue;
        };
        let value = &attrs[start + 7..];
        let value = &value[..value.find('"').unwrap_or(value.len())];
        if value.split_whitespace().any(|token| token == class) {
            count += 1;
        }
    }
    count
}

#[test]
fn html_report_renders_in_chromium() {
    let browser = chromium();
    let (workflows, feedback) = fixture::sample_set();
    let report = compute(&workflows, &feedback, &fixture::window_options());
    let dir = artifacts_dir();
    let page = dir.join("report.html");
    std::fs::write(&page, render_html(&report)).unwrap();

    let dom = run_chromium(&browser, &page, &["--dump-dom".to_owned()]);
    assert!(
        dom.contains("Learning report"),
        "Chromium did not render the report; DOM starts with:\n{}",
        &dom[..dom.len().min(500)]
    );

    // Histogram: one bar per bucket; the fixture approves at iterations 1, 1, 2, 3.
    let buckets = report.iterations_to_approval.histogram.len();
    assert_eq!(buckets, 3);
    assert_eq!(count_elements(&dom, "rect", "bar"), buckets);

    // Trend: one point per week with completions and per series (3 weeks × 3 series).
    let weeks_with_data = report.weekly.iter().filter(|w| w.completed > 0).count();
    assert_eq!(weeks_with_data, 3);
    assert_eq!(count_elements(&dom, "circle", "point"), weeks_with_data * 3);
    for series in ["approval", "first-draft", "escalation"] {
        assert_eq!(
            count_elements(&dom, "circle", series),
            weeks_with_data,
            "{series}"
        );
        assert_eq!(count_elements(&dom, "polyline", series), 1, "{series}");
    }

    // Fields: one bar per field (tagline, description, colors.primary, name).
    assert_eq!(report.most_corrected_fields.len(), 4);
    assert_eq!(count_elements(&dom, "rect", "hbar"), 4);
    // Seven figures, the artifact types table and the generators table.
    assert_eq!(dom.matches("How to read this:").count(), 9);

    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &browser,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600".to_owned(),
        ],
    );
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "screenshot suspiciously small: {} bytes",
        png.len()
    );
}

/// Issue 31 item 14: one week of data is a sentence and one bar per series (it drew three lone
/// dots), and with the review page's address every workflow id is a link Chromium sees.
#[test]
fn single_week_report_with_links_renders_in_chromium() {
    let browser = chromium();
    let (mut workflows, feedback) = fixture::sample_set();
    // a, b (W02, approved) and w (escalated, waiting: not completed, still a problem).
    workflows.retain(|w| ["wf-a", "wf-b", "wf-w"].contains(&w.id.as_str()));
    let report = compute(&workflows, &feedback, &fixture::window_options());
    assert_eq!(report.weekly.len(), 1);
    let options = HtmlOptions {
        page_url: Some(parse_page_url("http://127.0.0.1:8080/").unwrap()),
    };
    let page = artifacts_dir().join("report-single-week.html");
    std::fs::write(&page, render_html_with(&report, &options)).unwrap();

    let dom = run_chromium(&browser, &page, &["--dump-dom".to_owned()]);
    assert!(dom.contains("Learning report"), "not rendered");
    assert_eq!(count_elements(&dom, "circle", "point"), 0, "no lone points");
    assert_eq!(
        count_elements(&dom, "rect", "rate"),
        3,
        "one bar per series"
    );
    assert_eq!(count_elements(&dom, "p", "single-week"), 1);
    assert_eq!(
        count_elements(&dom, "a", "workflow"),
        report.problematic_subjects.len()
    );
    assert!(dom.contains(r#"href="http://127.0.0.1:8080/#/workflows/wf-w""#));
    assert_eq!(count_elements(&dom, "span", "waiting"), 1);
}

#[test]
fn element_counter() {
    let dom = r#"<svg><rect class="bar" x="1"></rect><rect class="hbar"/><rectangle class="bar">
        <rect x="2" class="bar wide"><circle class="point approval"/></svg>"#;
    assert_eq!(count_elements(dom, "rect", "bar"), 2);
    assert_eq!(count_elements(dom, "rect", "hbar"), 1);
    assert_eq!(count_elements(dom, "circle", "approval"), 1);
}
