//! The reviewers' web page end to end in a real headless Chromium, journeys on `hitl serve`
//! with a fresh data dir each, among them:
//! - `tests/e2e/review_page.mjs` (playwright-core) signs in, requests changes with a field
//!   correction, checks the highlighted diff of iteration 2, provokes a stale 409 from a second
//!   tab and approves; screenshots in `<workspace>/target/artifacts/review-page/`;
//! - `tests/e2e/review_page_a11y.mjs` drives two workflows by keyboard only, asserting focus and
//!   live-region announcements after each step, runs axe-core's WCAG 2.1 A/AA rules in every
//!   view and checks reflow at 320 px and 200 % zoom; screenshots at 1280 and 320 px in
//!   `<workspace>/target/artifacts/review-page-a11y/`;
//! - `tests/e2e/identity_page.mjs` signs one person out and another in (reviewer token and
//!   OIDC) and checks that nothing of the first session is ever shown to the second.
//!
//! The outcomes are then checked through `hitl --json status`.
//!
//! Needs Node.js, playwright-core and axe-core in `<workspace>/.tools/node_modules` and Debian
//! Chromium at `/usr/bin/chromium` (`HITL_CHROMIUM` overrides): `scripts/setup-test-tools.sh`
//! installs them. Anything missing fails the test; it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{hitl_ok, serve, serve_with, workspace};
use serde_json::Value;

/// The whole browser journey normally takes well under 30 s; this bounds a hang.
const JOURNEY_TIMEOUT: Duration = Duration::from_secs(240);
const SCREENSHOTS: &[&str] = &[
    "01-wrong-token.png",
    "02-queue.png",
    "03-draft.png",
    "04-request-changes.png",
    "05-diff.png",
    "06-stale-409.png",
    "07-approved.png",
    "08-queue-empty.png",
];
/// Must match CORRECTED in review_page.mjs.
const CORRECTED_TAGLINE: &str = "Good mornings, <b>brewed</b> & ready";
const SETUP: &str =
    "run scripts/setup-test-tools.sh (installs playwright-core into .tools/ and Debian Chromium)";

fn hitl_json(data: &Path, args: &[&str]) -> Value {
    serde_json::from_slice(&hitl_ok(data, args).stdout).unwrap()
}

/// `node` (or `HITL_NODE`), checked to run.
fn node() -> PathBuf {
    let node = std::env::var_os("HITL_NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from);
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => node,
        Ok(out) => panic!(
            "`{} --version` failed ({}): the review page test needs Node.js; {SETUP}",
            node.display(),
            out.status
        ),
        Err(e) => panic!(
            "cannot run `{}` ({e}): the review page test needs Node.js; {SETUP}",
            node.display()
        ),
    }
}

/// `<workspace>/.tools/node_modules`, checked to hold playwright-core and axe-core.
fn node_modules(root: &Path) -> PathBuf {
    let modules = root.join(".tools").join("node_modules");
    for (package, why) in [
        ("playwright-core", "drives Chromium"),
        ("axe-core", "checks the page's accessibility"),
    ] {
        let manifest = modules.join(package).join("package.json");
        assert!(
            manifest.is_file(),
            "{package} not found at {}: the review page test {why} with it; {SETUP}",
            manifest.display()
        );
    }
    modules
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("HITL_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "Chromium not found at {}: the review page test needs a real browser; {SETUP} \
         or point HITL_CHROMIUM at one.",
        path.display()
    );
    path
}

/// A fresh `<workspace>/target/artifacts/<name>/`: old screenshots must not pass for new.
fn artifacts_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join("target").join("artifacts").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    dir
}

/// Width and height from a PNG's signature and IHDR chunk; panics if it is not a PNG.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Runs `tests/e2e/<script>` with `env`; returns (success, stdout, stderr). Node runs in its
/// own process group so that a hang is ended together with the Chromium it started.
fn run_journey(
    root: &Path,
    script: &str,
    env: &[(&str, &str)],
    artifacts: &Path,
    scratch: &Path,
) -> (bool, String, String) {
    let stdout_path = scratch.join("node.stdout");
    let stderr_path = scratch.join("node.stderr");
    let mut command = Command::new(node());
    command
        .arg(root.join("tests").join("e2e").join(script))
        .env("NODE_PATH", node_modules(root))
        .env("HITL_CHROMIUM", chromium())
        .env("HITL_E2E_ARTIFACTS", artifacts);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .current_dir(root)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::from(File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > JOURNEY_TIMEOUT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "the review page journey did not finish within {JOURNEY_TIMEOUT:?}\n\
                 stdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&stdout_path).unwrap_or_default(),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (
        status.success(),
        std::fs::read_to_string(&stdout_path).unwrap(),
        std::fs::read_to_string(&stderr_path).unwrap(),
    )
}

/// One browser script's run against a served data dir.
struct Journey<'a> {
    root: &'a Path,
    artifacts: &'a Path,
    scratch: &'a Path,
    server_log: &'a Path,
    token: &'a str,
}

impl Journey<'_> {
    /// Runs `tests/e2e/<script>` with the reviewer token and `env`; fails the test (with the
    /// script's output and the server log) unless it exits 0 and prints `passed`; the token
    /// must appear in neither stream. Returns stdout.
    fn expect_passed(&self, script: &str, env: &[(&str, &str)], passed: &str) -> String {
        let mut env = env.to_vec();
        env.push(("HITL_E2E_TOKEN", self.token));
        let (ok, stdout, stderr) =
            run_journey(self.root, script, &env, self.artifacts, self.scratch);
        println!("{stdout}");
        eprintln!("{stderr}");
        assert!(
            ok,
            "{script} failed (screenshots in {}):\n{stdout}\n{stderr}\nserver log:\n{}",
            self.artifacts.display(),
            std::fs::read_to_string(self.server_log).unwrap_or_default()
        );
        assert!(
            stdout.contains(passed),
            "{script} must report \"{passed}\":\n{stdout}"
        );
        assert!(
            !stdout.contains(self.token) && !stderr.contains(self.token),
            "the reviewer token must not be printed"
        );
        stdout
    }
}

/// Adds reviewer `olga` (groups `escalations` and `reviewers`); returns her bearer token.
fn add_escalation_reviewer(data: &Path) -> String {
    hitl_json(
        data,
        &[
            "--json",
            "reviewers",
            "add",
            "olga",
            "--groups",
            "escalations,reviewers",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Adds reviewer `rita` (group `reviewers`); returns her bearer token.
fn add_reviewer(data: &Path) -> String {
    hitl_json(
        data,
        &[
            "--json",
            "reviewers",
            "add",
            "rita",
            "--groups",
            "reviewers",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts one workflow and returns its id; it waits for review at iteration 1.
fn start_workflow(data: &Path, request_id: &str, subject_id: &str, name: &str) -> String {
    let subject = serde_json::json!({"id": subject_id, "name": name, "category": "food"});
    let started = hitl_json(
        data,
        &[
            "--json",
            "start",
            "--request-id",
            request_id,
            "--subject",
            &subject.to_string(),
        ],
    );
    assert_eq!(started["workflows"][0]["status"], "awaiting_review");
    started["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_reviewer_requests_changes_then_approves_on_the_review_page_in_chromium() {
    let root = workspace();
    // Fail fast, with the setup hint, before building any state.
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, "review-page");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token = add_reviewer(&data);
    let id = start_workflow(&data, "page-e2e", "page-1", "Page Brand");

    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve(&data, Some(&server_log));

    let clock = Instant::now();
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &token,
    };
    journey.expect_passed(
        "review_page.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_WORKFLOW", &id),
            ("HITL_E2E_REVIEWER", "rita"),
        ],
        "review-page e2e passed: 14 steps",
    );
    println!("journey took {:?}", clock.elapsed());

    for name in SCREENSHOTS {
        let path = artifacts.join(name);
        assert!(path.is_file(), "screenshot {} is missing", path.display());
        let (width, height) = png_size(&path);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            width >= 1000 && height >= 300 && size > 10_000,
            "screenshot {} looks empty: {width}x{height}, {size} bytes",
            path.display()
        );
    }

    // The same outcome, seen from outside the browser.
    let status = hitl_json(&data, &["--json", "status", &id]);
    assert_eq!(status["status"], "approved", "{status:#}");
    assert_eq!(status["iteration"], 2, "{status:#}");
    assert_eq!(
        status["artifact"]["content"]["tagline"], CORRECTED_TAGLINE,
        "{status:#}"
    );
    let feedback = status["feedback"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str, &str)> = feedback
        .iter()
        .map(|f| {
            (
                f["iteration"].as_u64().unwrap(),
                f["decision"].as_str().unwrap(),
                f["reviewer"].as_str().unwrap(),
                f["outcome"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        summary.iter().filter(|f| f.3 == "applied").count(),
        2,
        "{status:#}"
    );
    assert!(
        summary.contains(&(1, "request_changes", "rita", "applied")),
        "{summary:?}"
    );
    assert!(
        summary.contains(&(2, "approve", "rita", "applied")),
        "{summary:?}"
    );
    // The stale decision from the second tab is on record but was not applied.
    assert!(
        summary
            .iter()
            .any(|f| f.0 == 1 && f.1 == "approve" && f.2 == "rita" && f.3 != "applied"),
        "{summary:?}"
    );
    let request = feedback
        .iter()
        .find(|f| f["decision"] == "request_changes")
        .unwrap();
    assert_eq!(request["channel"], "api");
    assert_eq!(
        request["corrections"],
        serde_json::json!([{"field": "tagline", "value": CORRECTED_TAGLINE}])
    );
    let history = String::from_utf8_lossy(&hitl_ok(&data, &["history", &id]).stdout).into_owned();
    assert!(history.contains("WorkflowApproved"), "{history}");
}

/// Every view of the accessibility journey, in the order the script reaches them.
const A11Y_VIEWS: &[&str] = &[
    "01-sign-in",
    "02-wrong-token",
    "03-queue",
    "04-workflow",
    "05-validation-error",
    "06-approved",
    "07-diff",
    "08-queue-empty",
    "09-not-found",
    "10-signed-out",
];

#[test]
fn the_review_page_is_usable_by_keyboard_and_passes_axe_and_reflow_checks_in_chromium() {
    let root = workspace();
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, "review-page-a11y");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token = add_reviewer(&data);
    let first = start_workflow(&data, "a11y-a", "a11y-1", "Alpha Roasters");
    let second = start_workflow(&data, "a11y-b", "a11y-2", "Bravo Bakery");

    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve(&data, Some(&server_log));
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &token,
    };
    let stdout = journey.expect_passed(
        "review_page_a11y.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_WORKFLOW_A", &first),
            ("HITL_E2E_WORKFLOW_B", &second),
        ],
        "review-page a11y passed: 14 steps",
    );
    for view in A11Y_VIEWS {
        assert!(
            stdout.contains(&format!("  {view}: axe ")),
            "view {view} was not audited:\n{stdout}"
        );
        for (suffix, width) in [("1280", 1280), ("320", 320)] {
            let path = artifacts.join(format!("{view}-{suffix}.png"));
            assert!(path.is_file(), "screenshot {} is missing", path.display());
            assert_eq!(png_size(&path).0, width, "{}", path.display());
        }
    }

    // What the keyboard did, seen from outside the browser: A got one change request (the
    // invalid attempt changed nothing) and was approved at iteration 2; B approved at once.
    let a = hitl_json(&data, &["--json", "status", &first]);
    assert_eq!(
        (a["status"].as_str(), a["iteration"].as_u64()),
        (Some("approved"), Some(2)),
        "{a:#}"
    );
    assert_eq!(
        a["artifact"]["content"]["colors"]["primary"], "#1A2B3C",
        "{a:#}"
    );
    let decisions: Vec<(&str, &str)> = a["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["decision"].as_str().unwrap(),
                f["outcome"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [("request_changes", "applied"), ("approve", "applied")],
        "{a:#}"
    );
    let b = hitl_json(&data, &["--json", "status", &second]);
    assert_eq!(
        (b["status"].as_str(), b["iteration"].as_u64()),
        (Some("approved"), Some(1)),
        "{b:#}"
    );
}

/// Must match RESOLVED_TAGLINE in escalation_page.mjs.
const RESOLVED_TAGLINE: &str = "Roasted for early risers";

/// Issues 15/16: a reviewer rejects a draft, and the escalation group's queue and resolution form, in Chromium
/// (`tests/e2e/escalation_page.mjs`): one escalation extended by two iterations with guidance,
/// one resolved with a final version edited in the page (after a JSON typo and a schema error,
/// both refused with the field named). axe runs on the queue, the escalation and the error.
#[test]
fn the_escalation_group_extends_and_resolves_on_the_review_page_in_chromium() {
    let root = workspace();
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, "escalation-page");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token = add_escalation_reviewer(&data);
    let escalate = |request: &str, subject: &str, name: &str| {
        let subject = serde_json::json!({"id": subject, "name": name, "category": "food"});
        let started = hitl_json(
            &data,
            &[
                "--json",
                "start",
                "--request-id",
                request,
                "--max-iterations",
                "1",
                "--subject",
                &subject.to_string(),
            ],
        );
        let id = started["workflows"][0]["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        hitl_ok(
            &data,
            &["feedback", &id, "--request-changes", "Not on brand"],
        );
        id
    };
    let a = escalate("esc-page-a", "esc-a", "Alpha Roasters");
    let b = escalate("esc-page-b", "esc-b", "Beta Beans");
    let c = start_workflow(&data, "esc-page-c", "esc-c", "Gamma Grounds");

    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve(&data, Some(&server_log));
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &token,
    };
    journey.expect_passed(
        "escalation_page.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_WORKFLOW_A", &a),
            ("HITL_E2E_WORKFLOW_B", &b),
            ("HITL_E2E_WORKFLOW_C", &c),
        ],
        "escalation page passed: 9 steps",
    );

    // The outcomes, seen from outside the browser.
    let extended = hitl_json(&data, &["--json", "status", &a]);
    assert_eq!(extended["status"], "awaiting_review", "{extended:#}");
    assert_eq!(
        (
            extended["iteration"].as_u64(),
            extended["max_iterations"].as_u64()
        ),
        (Some(2), Some(3)),
        "{extended:#}"
    );
    let trail = extended["feedback"].as_array().unwrap();
    let extend = trail.iter().find(|f| f["decision"] == "extend").unwrap();
    assert_eq!(extend["reviewer"], "olga");
    assert_eq!(extend["channel"], "api");
    assert_eq!(
        extend["comments"],
        "Lead with the morning ritual, not the beans."
    );
    let resolved = hitl_json(&data, &["--json", "status", &b]);
    assert_eq!(resolved["status"], "resolved", "{resolved:#}");
    assert_eq!(resolved["artifact"]["content"]["tagline"], RESOLVED_TAGLINE);
    assert_eq!(
        resolved["artifact"]["content"]["colors"]["primary"],
        "#1A2B3C"
    );
    let refusals = resolved["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] != "applied")
        .count();
    assert_eq!(
        refusals, 0,
        "the refused attempts changed nothing: {resolved:#}"
    );
    let rejected = hitl_json(&data, &["--json", "status", &c]);
    assert_eq!(rejected["status"], "escalated", "{rejected:#}");
    assert_eq!(rejected["escalation"]["reason"], "rejected_by_reviewer");
    assert_eq!(rejected["feedback"][0]["reviewer"], "olga");
}

/// The reviewers' inbox in Chromium, two reviewers in two browser contexts: a claim seen and
/// respected, an edit-and-approve, and a two-approval workflow approved by both
/// (tests/e2e/inbox_page.mjs); screenshots in target/artifacts/inbox-page.
#[test]
fn two_reviewers_claim_edit_and_approve_on_the_review_page_in_chromium() {
    let root = workspace();
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, "inbox-page");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token = add_reviewer(&data);
    let sam = hitl_json(
        &data,
        &["--json", "reviewers", "add", "sam", "--groups", "reviewers"],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = start_workflow(&data, "inbox-one", "inbox-1", "Solo Roasters");
    let subject = serde_json::json!({"id": "inbox-2", "name": "Duo Beans", "category": "food"});
    let two = hitl_json(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "inbox-two",
            "--required-approvals",
            "2",
            "--subject",
            &subject.to_string(),
        ],
    )["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve(&data, Some(&server_log));
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &token,
    };
    let stdout = journey.expect_passed(
        "inbox_page.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_TOKEN_B", &sam),
            ("HITL_E2E_WORKFLOW_ONE", &one),
            ("HITL_E2E_WORKFLOW_TWO", &two),
        ],
        "inbox page passed: 9 steps",
    );
    assert!(!stdout.contains(&sam), "sam's token must not be printed");
    for name in [
        "01-queue.png",
        "02-claimed.png",
        "03-claimed-by-other.png",
        "04-edited-and-approved.png",
        "05-one-of-two.png",
        "06-two-of-two.png",
    ] {
        assert!(
            artifacts.join(name).is_file(),
            "screenshot {name} is missing"
        );
    }

    // The outcomes, seen from outside the browser.
    let edited = hitl_json(&data, &["--json", "status", &one]);
    assert_eq!(edited["status"], "approved", "{edited:#}");
    assert_eq!(edited["iteration"], 1, "no agent round: {edited:#}");
    assert_eq!(
        edited["artifact"]["content"]["tagline"],
        "Roasted for early risers"
    );
    let trail = edited["feedback"].as_array().unwrap();
    let refused = trail
        .iter()
        .find(|f| f["reviewer"] == "sam")
        .expect("sam's refused approval is on record");
    assert_eq!(refused["reason"], "claimed_by_other");
    let both = hitl_json(&data, &["--json", "status", &two]);
    assert_eq!(both["status"], "approved", "{both:#}");
    let approvers: Vec<&str> = both["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reviewer"].as_str().unwrap())
        .collect();
    assert_eq!(approvers.len(), 2, "{both:#}");
    assert!(approvers.contains(&"rita") && approvers.contains(&"sam"));
}

/// The OIDC test issuer (tests/e2e/oidc_issuer.mjs), killed when dropped.
struct Issuer(std::process::Child);

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the test issuer (keys generated per run; ID tokens live `ttl` seconds) for client
/// `hitl-page` with `users` (`name:group+group,…`); returns it with its URL.
fn start_issuer(root: &Path, ttl: u32, users: &str) -> (Issuer, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(node())
        .arg(root.join("tests").join("e2e").join("oidc_issuer.mjs"))
        .args([
            "--client-id=hitl-page".to_owned(),
            format!("--users={users}"),
            format!("--ttl={ttl}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let issuer = serde_json::from_str::<serde_json::Value>(&line)
        .unwrap_or_else(|e| panic!("the test issuer did not start ({e}): {line:?}"))["issuer"]
        .as_str()
        .unwrap()
        .to_owned();
    (Issuer(child), issuer)
}

/// OpenID Connect sign-in end to end (tests/e2e/oidc_page.mjs): redirect, login at the test
/// issuer, callback with PKCE, queue, decide, a second tab sharing the session, a silent
/// refresh, refused forged tokens, sign-out in both tabs.
#[test]
fn a_reviewer_signs_in_with_oidc_and_pkce_in_chromium() {
    let root = workspace();
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, "oidc-page");
    let (_issuer, issuer) = start_issuer(&root, 12, "rita:reviewers");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token = add_reviewer(&data);
    let id = start_workflow(&data, "oidc-e2e", "oidc-1", "Open Id Roasters");
    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve_with(
        &data,
        Some(&server_log),
        &["--oidc-issuer", &issuer, "--oidc-audience", "hitl-page"],
    );
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &token,
    };
    journey.expect_passed(
        "oidc_page.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_ISSUER", &issuer),
            ("HITL_E2E_WORKFLOW", &id),
        ],
        "oidc page passed: 8 steps",
    );
    let status = hitl_json(&data, &["--json", "status", &id]);
    assert_eq!(status["status"], "approved", "{status:#}");
    let decision = &status["feedback"][0];
    assert_eq!(decision["reviewer"], "rita [sub-rita]");
    assert_eq!(decision["channel"], "api");
    let log = std::fs::read_to_string(&server_log).unwrap_or_default();
    assert!(!log.contains("eyJ"), "no token in the server log:\n{log}");
}

/// Issue 31: nothing of one person's session is shown to the next, with both sign-in kinds
/// (tests/e2e/identity_page.mjs): rita (reviewers) opens, claims and half-decides a workflow,
/// signs out; olive (escalations only) signs in with her token and lands on her own queue, and
/// the workflow's link shows her no decision form; over OIDC, rita signs out in one tab and nora
/// (marketing) signs in in the other: her queue, then "not available" for the workflow.
#[test]
fn the_next_person_signed_in_sees_nothing_of_the_last_ones_session_in_chromium() {
    let root = workspace();
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, "identity-page");
    let (_issuer, issuer) = start_issuer(
        &root,
        300,
        "rita:reviewers,olive:escalations,nora:marketing",
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let rita = add_reviewer(&data);
    let olive = hitl_json(
        &data,
        &[
            "--json",
            "reviewers",
            "add",
            "olive",
            "--groups",
            "escalations",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = start_workflow(&data, "identity-e2e", "identity-1", "Handover Roasters");
    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve_with(
        &data,
        Some(&server_log),
        &["--oidc-issuer", &issuer, "--oidc-audience", "hitl-page"],
    );
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &rita,
    };
    let stdout = journey.expect_passed(
        "identity_page.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_ISSUER", &issuer),
            ("HITL_E2E_WORKFLOW", &id),
            ("HITL_E2E_SUBJECT", "Handover Roasters"),
            ("HITL_E2E_TOKEN_B", &olive),
        ],
        "identity page passed: 9 steps",
    );
    assert!(
        !stdout.contains(&olive),
        "olive's token must not be printed"
    );

    // Nobody decided anything: rita's typing was never sent, olive and nora could not.
    let status = hitl_json(&data, &["--json", "status", &id]);
    assert_eq!(status["status"], "awaiting_review", "{status:#}");
    assert_eq!(
        status["feedback"].as_array().map_or(0, Vec::len),
        0,
        "{status:#}"
    );
}

/// Must match ADDED in types_page.mjs.
const ADDED: &str = "Added on the review page";

/// Issue 28: the whole loop on the page for a type that is not brand metadata
/// (`tests/e2e/types_page.mjs`): request changes with a whole list edited (an item removed,
/// one added), item-level changes on the next draft, edit and approve with an item-level
/// correction, a rejection, an escalation at the iteration limit resolved with a final
/// version edited as a form. Run for `type_name`, whose folder is `folder` when it is not
/// built in; `subject` is a subject of that type (its id and name are replaced).
fn a_type_runs_its_loop_on_the_review_page(
    type_name: &str,
    folder: Option<&Path>,
    subject: Value,
    spec: Value,
) {
    let root = workspace();
    node();
    node_modules(&root);
    chromium();
    let artifacts = artifacts_dir(&root, &format!("types-page-{type_name}"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token = add_escalation_reviewer(&data);
    if let Some(folder) = folder {
        hitl_ok(&data, &["types", "add", folder.to_str().unwrap()]);
    }
    let start = |key: &str, name: &str, max: &str| {
        let mut subject = subject.clone();
        subject["id"] = Value::from(key);
        subject["name"] = Value::from(name);
        let started = hitl_json(
            &data,
            &[
                "--json",
                "start",
                "--type",
                type_name,
                "--request-id",
                key,
                "--max-iterations",
                max,
                "--subject",
                &subject.to_string(),
            ],
        );
        assert_eq!(
            started["workflows"][0]["status"], "awaiting_review",
            "{started:#}"
        );
        started["workflows"][0]["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let edit = start("types-edit", "Lumen One", "5");
    let reject = start("types-reject", "Lumen Two", "5");
    let limit = start("types-limit", "Lumen Three", "1");
    let draft = hitl_json(&data, &["--json", "status", &edit])["artifact"]["content"].clone();
    let list = spec["list"].as_str().unwrap();
    let items = draft[list].as_array().unwrap().len();

    let server_log = dir.path().join("serve.log");
    let (_served, base) = serve(&data, Some(&server_log));
    let journey = Journey {
        root: &root,
        artifacts: &artifacts,
        scratch: dir.path(),
        server_log: &server_log,
        token: &token,
    };
    journey.expect_passed(
        "types_page.mjs",
        &[
            ("HITL_E2E_BASE_URL", &base),
            ("HITL_E2E_WORKFLOW_EDIT", &edit),
            ("HITL_E2E_WORKFLOW_REJECT", &reject),
            ("HITL_E2E_WORKFLOW_LIMIT", &limit),
            ("HITL_E2E_SPEC", &spec.to_string()),
        ],
        "types page passed: 10 steps",
    );

    // The outcomes, seen from outside the browser.
    let approved = hitl_json(&data, &["--json", "status", &edit]);
    assert_eq!(approved["status"], "approved", "{approved:#}");
    let content = &approved["artifact"]["content"];
    let final_list = content[list].as_array().unwrap();
    // The journey removes the first item of a list of two or more, and adds one.
    if items >= 2 {
        assert_eq!(
            final_list.len(),
            items,
            "one item removed, one added: {content:#}"
        );
        assert_ne!(
            final_list[0], draft[list][0],
            "the first item is gone: {content:#}"
        );
    } else {
        assert_eq!(final_list.len(), items + 1, "one item added: {content:#}");
    }
    assert!(
        final_list.last().unwrap().to_string().contains(ADDED),
        "the added item is last: {content:#}"
    );
    let item = spec["item"].as_str().unwrap();
    let (array, rest) = item.split_once("[0]").unwrap();
    let mut at = &content[array][0];
    for key in rest.split('.').filter(|k| !k.is_empty()) {
        at = &at[key];
    }
    assert_eq!(
        at, &spec["item_value"],
        "edit and approve set {item}: {content:#}"
    );
    assert_eq!(approved["decisions"][1]["edited"], true, "{approved:#}");

    let rejected = hitl_json(&data, &["--json", "status", &reject]);
    assert_eq!(rejected["status"], "escalated", "{rejected:#}");
    assert_eq!(rejected["escalation"]["reason"], "rejected_by_reviewer");

    let resolved = hitl_json(&data, &["--json", "status", &limit]);
    assert_eq!(resolved["status"], "resolved", "{resolved:#}");
    let content = &resolved["artifact"]["content"];
    let field = spec["final_field"].as_str().unwrap();
    assert_eq!(content[field], spec["final_good"], "{content:#}");
    let added = content[spec["final_list"].as_str().unwrap()]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .to_string();
    assert!(
        added.contains(ADDED),
        "the item added in the form: {content:#}"
    );
    assert_eq!(resolved["artifact_type"]["name"], type_name, "{resolved:#}");
}

#[test]
fn the_second_built_in_type_runs_its_loop_on_the_review_page_in_chromium() {
    a_type_runs_its_loop_on_the_review_page(
        "product-description",
        None,
        serde_json::json!({"id": "", "name": "", "category": "lighting"}),
        serde_json::json!({
            "type": "product-description",
            "list": "bullets",
            "item": "specs[0].value",
            "item_value": "3 kg",
            "final_field": "summary",
            "final_bad": "Too short",
            "final_good": "A desk lamp that lights the page and not the room, for late readers.",
            "final_list": "specs",
        }),
    );
}

/// The same for a type defined in a temporary folder (a copy of the example release note)
/// and added with `hitl types add`.
#[test]
fn a_type_added_from_a_folder_runs_its_loop_on_the_review_page_in_chromium() {
    let root = workspace();
    let scratch = tempfile::tempdir().unwrap();
    let folder = scratch.path().join("release-note");
    std::fs::create_dir(&folder).unwrap();
    for file in [
        "artifact.schema.json",
        "subject.schema.json",
        "instructions.md",
        "hints.json",
    ] {
        std::fs::copy(
            root.join("examples/types/release-note").join(file),
            folder.join(file),
        )
        .unwrap();
    }
    a_type_runs_its_loop_on_the_review_page(
        "release-note",
        Some(&folder),
        serde_json::json!({"id": "", "name": "", "attributes": {"release": "2.0"}}),
        serde_json::json!({
            "type": "release-note",
            "list": "changes",
            "item": "changes[0].text",
            "item_value": "Dark mode everywhere, on by default",
            "final_field": "title",
            "final_bad": "No",
            "final_good": "What is new in 2.0",
            "final_list": "changes",
        }),
    );
}
