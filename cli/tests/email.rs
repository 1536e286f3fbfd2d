//! Email notifications over SMTP (issue 30) against a real SMTP server: `aiosmtpd` (PyPI,
//! pinned, installed by `scripts/setup-test-tools.sh` into `.tools/venv-smtp`) receives what
//! `hitl` sends into a Maildir. A review request reaches the reviewer group's address, an
//! escalation the escalation group's, each naming the subject, the deadline both ways and the
//! link to the workflow on the review page. A missing server is a failure, never a skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::workspace;
use serde_json::Value;

/// aiosmtpd on a free loopback port, delivering into a Maildir; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    fn start(dir: &Path) -> Self {
        let python = workspace().join(".tools/venv-smtp/bin/python");
        assert!(
            python.is_file(),
            "{} is missing: run scripts/setup-test-tools.sh (installs aiosmtpd)",
            python.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.join("maildir");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far, as text (line ends as `\n`, the quoted-printable
    /// body decoded).
    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| decode(&std::fs::read_to_string(f).unwrap().replace("\r\n", "\n")))
            .collect()
    }
}

/// The message with its quoted-printable body decoded (soft line breaks joined, `=XX` bytes).
fn decode(message: &str) -> String {
    let (head, body) = message.split_once("\n\n").unwrap_or((message, ""));
    let body = body.replace("=\n", "");
    let raw = body.as_bytes();
    let mut bytes = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let hex = body
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) if raw[i] == b'=' => {
                bytes.push(b);
                i += 3;
            }
            _ => {
                bytes.push(raw[i]);
                i += 1;
            }
        }
    }
    format!("{head}\n\n{}", String::from_utf8_lossy(&bytes))
}

fn hitl_with_mail(data: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HITL_SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .env("HITL_EMAIL_FROM", "HITL <hitl@example.com>")
        .env(
            "HITL_EMAIL_TO",
            "reviewers=rita@example.com,sam@example.com;escalations=olga@example.com",
        )
        .env("HITL_REVIEW_PAGE_URL", "http://127.0.0.1:8080/")
        .output()
        .unwrap()
}

fn header<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    message
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
        .collect()
}

#[test]
fn review_requests_and_escalations_are_emailed_to_their_groups() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(dir.path());
    let data = dir.path().join("data");
    let subject = r#"{"id":"b-mail","name":"Cedar Candles"}"#;
    let out = hitl_with_mail(
        &data,
        smtp.port,
        &[
            "--json",
            "start",
            "--max-iterations",
            "1",
            "--subject",
            subject,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = started["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = format!("http://127.0.0.1:8080/#/workflows/{id}");

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let request = messages[0].clone();
    assert_eq!(header(&request, "From"), ["HITL <hitl@example.com>"]);
    assert_eq!(
        header(&request, "To"),
        ["rita@example.com, sam@example.com"],
        "{request}"
    );
    assert_eq!(
        header(&request, "Subject"),
        ["Review requested: Cedar Candles, draft 1"]
    );
    assert!(request.contains("(in 72 h)."), "{request}");
    assert!(
        request.contains(&format!("Review it: {link}")) && request.matches(&link).count() == 1,
        "{request}"
    );
    let message_id = header(&request, "Message-ID")[0].to_owned();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@hitl>"),
        "{message_id}"
    );

    // Changes requested at the limit: the workflow escalates; the escalation group is mailed.
    let out = hitl_with_mail(
        &data,
        smtp.port,
        &["feedback", &id, "--request-changes", "Not on brand"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    // By subject: two messages of one second are not ordered by their maildir names (the
    // microseconds in them are not zero-padded).
    let escalation = messages
        .iter()
        .find(|m| header(m, "Subject").join("").starts_with("Escalated"))
        .unwrap_or_else(|| panic!("no escalation: {messages:#?}"))
        .clone();
    assert_eq!(
        header(&escalation, "To"),
        ["olga@example.com"],
        "{escalation}"
    );
    assert_eq!(
        header(&escalation, "Subject"),
        ["Escalated: Cedar Candles, draft 1"]
    );
    assert!(
        escalation.contains("Reason: iteration_limit"),
        "{escalation}"
    );
    assert!(escalation.contains(&link), "{escalation}");
    assert_ne!(header(&escalation, "Message-ID")[0], message_id);
}

#[test]
fn an_smtp_server_without_its_sender_or_recipients_is_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let refused = |env: &[(&str, &str)], says: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
            .arg("--data-dir")
            .arg(&data)
            .args(["start", "--subject", r#"{"id":"b","name":"B"}"#])
            .env("HITL_SMTP_URL", "smtp://127.0.0.1:2525")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{env:?}: {err}");
    };
    refused(
        &[("HITL_EMAIL_FROM", "hitl@example.com")],
        "HITL_SMTP_URL is set but HITL_EMAIL_TO is not",
    );
    refused(
        &[("HITL_EMAIL_TO", "reviewers=rita@example.com")],
        "HITL_SMTP_URL is set but HITL_EMAIL_FROM is not",
    );
    refused(
        &[
            ("HITL_EMAIL_FROM", "hitl@example.com"),
            ("HITL_EMAIL_TO", "reviewers=not-an-address"),
        ],
        "HITL_EMAIL_TO: \"not-an-address\" (group reviewers) is not an email address",
    );
    let listed = common::hitl_ok(&data, &["--json", "list"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]), "nothing was started");
}
