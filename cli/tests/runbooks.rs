//! Runbooks that cannot rot (issue 16): every JSON document and every `hitl` command in the
//! fenced code blocks of `docs/runbooks/*.md` and `docs/DEPLOYMENT.md` is extracted and
//! exercised, so a broken example fails CI.
//!
//! - A start request (`"action": "start_workflow"`, in a ```json block or an `--input '…'`
//!   argument) runs through the local engine on the real definition: neither the request's
//!   execution nor any child may fail.
//! - A brand-metadata artifact passes the artifact schema.
//! - A `hitl …` command runs against a temporary data directory prepared for it (an escalated
//!   workflow for `resolve`, one at the named iteration for `feedback`, …) and must exit 0.
//! - A `hitl aws …` command must parse (run against a closed endpoint, it may fail to connect
//!   but not with a usage error), and its local twin (`status`, `list`, `feedback`, `resolve`,
//!   `start`, `report`: the same argument structs) runs as above. The twin is the command
//!   without `aws`, except `status --status S`, which is `list --status S` (the escalation
//!   runbook says so).
//! - Shell variables are what the document assigns (`export STACK=…`, `ME=…`); any other is
//!   empty, as in a shell: the commands run with USER unset, as in a fresh container (issue 31:
//!   `--by "$USER"` was `--by ""` there).
//!
//! README.md's walk-through (`## Using it locally`) runs as a newcomer runs it: every line in
//! order, in one shell, from the repository root, each expected to exit 0 unless its comment
//! starts `exit N:`. Two lines are treated apart, each named below with its reason
//! ([`README_ALIAS`], [`README_SERVE`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{hitl, hitl_ok, workspace};
use hitl_cli::local::Runtime;
use serde_json::Value;
use statemachine::ExecutionStatus;

/// One fenced code block.
struct Block {
    file: String,
    line: usize,
    lang: String,
    text: String,
}

fn documents() -> Vec<PathBuf> {
    let root = workspace();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs/runbooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.push(root.join("docs/DEPLOYMENT.md"));
    files
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    blocks_in(&name, &text, 1)
}

/// The fenced blocks of `text`, whose first line is line `first_line` of `name`.
fn blocks_in(name: &str, text: &str, first_line: usize) -> Vec<Block> {
    let name = name.to_owned();
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some((i + first_line, lang.trim().to_owned(), String::new()))
            }
            (Some(_), Some(_)) => {
                let (start, lang, body) = open.take().unwrap();
                out.push(Block {
                    file: name.clone(),
                    line: start,
                    lang,
                    text: body,
                });
            }
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The shell lines of a block, continuation lines joined and trailing comments dropped.
fn shell_lines(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in block.text.lines() {
        let line = match line.find("  #").or_else(|| line.find("\t#")) {
            Some(i) if !line.trim_start().starts_with('#') => &line[..i],
            _ => line,
        };
        if line.trim_start().starts_with('#') {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current).trim().to_owned());
            }
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

/// JSON start requests passed as `--input '…'` in shell lines.
fn inline_inputs(line: &str) -> Vec<Value> {
    let words = shlex::split(line).unwrap_or_default();
    words
        .windows(2)
        .filter(|w| w[0] == "--input")
        .filter_map(|w| serde_json::from_str(&w[1]).ok())
        .collect()
}

fn is_start_request(v: &Value) -> bool {
    v["action"] == "start_workflow"
}

fn is_artifact(v: &Value) -> bool {
    v.get("tagline").is_some() && v.get("colors").is_some()
}

/// Runs a start request through the local engine on the real definition; the request's
/// execution and every child must not fail. Returns how many executions ran.
fn run_start_request(input: &Value, label: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(Some(dir.path())).unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        rt.engine
            .start_execution(&rt.state_machine_arn, Some("runbook"), input.clone())
            .await
            .unwrap();
        while rt.settle().await.unwrap() > 0 {}
    });
    let executions = rt.engine.list_executions(None, None).unwrap();
    assert!(!executions.is_empty(), "{label}: nothing ran");
    for e in &executions {
        assert_ne!(
            e.status,
            ExecutionStatus::Failed,
            "{label}: execution {} failed: {:?} {:?}",
            e.name,
            e.error,
            e.cause
        );
    }
    executions.len()
}

#[test]
fn every_json_document_in_the_runbooks_does_what_it_says() {
    let mut starts = 0;
    let mut artifacts = 0;
    for path in documents() {
        for block in blocks(&path) {
            let label = format!("{}:{}", block.file, block.line);
            let mut docs: Vec<Value> = Vec::new();
            if block.lang == "json" {
                docs.push(
                    serde_json::from_str(&block.text)
                        .unwrap_or_else(|e| panic!("{label}: not JSON: {e}")),
                );
            } else if block.lang == "sh" {
                for line in shell_lines(&block) {
                    docs.extend(inline_inputs(&line));
                }
            }
            for doc in docs {
                if is_start_request(&doc) {
                    let ran = run_start_request(&doc, &label);
                    println!("{label}: start request ran {ran} execution(s), none failed");
                    starts += 1;
                } else if is_artifact(&doc) {
                    let problems = hitl_domain::metadata::validate(&doc);
                    assert!(problems.is_empty(), "{label}: {problems:?}");
                    artifacts += 1;
                }
            }
        }
    }
    // The escalation runbook's restart request and final artifact, the deployment guide's
    // smoke input.
    assert!(starts >= 2, "start requests found: {starts}");
    assert!(artifacts >= 1, "artifacts found: {artifacts}");
}

/// What a command needs in the data directory: a workflow in the right state, as `$WF`.
fn prepare(data: &Path, args: &[String], n: usize) -> Option<String> {
    let sub = args.first().map(String::as_str);
    let request = format!("runbook-{n}");
    let start = |max: &str| {
        let out = hitl_ok(
            data,
            &[
                "--json",
                "start",
                "--request-id",
                &request,
                "--max-iterations",
                max,
                "--subject",
                r#"{"id":"brand-1","name":"Alpha Roasters","category":"food"}"#,
            ],
        );
        let v: Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap())
                .unwrap();
        v["workflows"][0]["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    match sub {
        Some("resolve") => {
            let id = start("1");
            hitl_ok(
                data,
                &["feedback", &id, "--request-changes", "Not on brand"],
            );
            Some(id)
        }
        Some("feedback") => {
            let iteration = args
                .windows(2)
                .find(|w| w[0] == "--iteration")
                .map_or(1, |w| w[1].parse::<u32>().unwrap());
            let id = start("5");
            for round in 1..iteration {
                let comments = format!("Round {round}: warmer");
                hitl_ok(data, &["feedback", &id, "--request-changes", &comments]);
            }
            Some(id)
        }
        Some("status") | Some("list") | Some("report") | Some("history") | Some("export") => {
            let id = start("3");
            Some(id)
        }
        _ => None,
    }
}

/// `hitl aws [--stack X] <sub> …` → the local twin's arguments, when there is one.
fn local_twin(aws_args: &[String]) -> Option<Vec<String>> {
    let mut rest: Vec<String> = Vec::new();
    let mut i = 0;
    while i < aws_args.len() {
        if matches!(aws_args[i].as_str(), "--stack" | "--region") {
            i += 2;
            continue;
        }
        rest = aws_args[i..].to_vec();
        break;
    }
    let sub = rest.first()?.clone();
    match sub.as_str() {
        "status" if rest.get(1).is_some_and(|a| a == "--status") => {
            let mut twin = vec!["list".to_owned()];
            twin.extend_from_slice(&rest[1..]);
            Some(twin)
        }
        "status" | "feedback" | "resolve" | "report" => Some(rest),
        "start" => Some(rest.into_iter().filter(|a| a != "--smoke").collect()),
        _ => None,
    }
}

/// The shell variables a document assigns in its blocks (`export A=x B=y`, `WF=wf-…`), in
/// order; values that are command substitutions or placeholders are left out.
fn assignments(blocks: &[Block]) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for block in blocks.iter().filter(|b| b.lang == "sh") {
        for line in shell_lines(block) {
            let Some(words) = shlex::split(&line) else {
                continue;
            };
            let words: Vec<&String> = words.iter().skip_while(|w| *w == "export").collect();
            let pairs: Vec<(&str, &str)> = words.iter().filter_map(|w| w.split_once('=')).collect();
            let is_assignment = |name: &str| {
                name.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if words.is_empty()
                || pairs.len() != words.len()
                || !pairs.iter().all(|(name, _)| is_assignment(name))
            {
                continue;
            }
            for (name, value) in pairs {
                if !value.contains("$(") && !value.contains('<') {
                    vars.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
    vars
}

/// `line` with its shell variables expanded as a shell would in the test's environment: `$WF`
/// is the workflow prepared for the command, a variable the document assigns has that value,
/// any other (`$USER` among them: the test runs with USER unset) is empty. Quotes stay, so an
/// empty `"$USER"` is an empty argument, as in a shell.
fn substitute(line: &str, wf: Option<&str>, vars: &[(String, String)]) -> String {
    let mut line = line.to_owned();
    // Command substitutions in the examples: a fixed value stands in.
    while let Some(start) = line.find("$(date") {
        let end = line[start..]
            .find(')')
            .map_or(line.len(), |e| start + e + 1);
        line.replace_range(start..end, "20261128120000");
    }
    let mut out = String::new();
    let mut rest = line.as_str();
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => (braced, ""),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if name.is_empty() {
            out.push('$');
        } else if name == "WF" {
            out.push_str(wf.unwrap_or("wf-none"));
        } else if let Some((_, value)) = vars.iter().rev().find(|(n, _)| n == name) {
            out.push_str(value);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn run_in(dir: &Path, data: &Path, args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hitl"));
    // As in a fresh container or CI job: no USER, so `--by "$USER"` would be `--by ""`.
    cmd.env_remove("USER");
    cmd.current_dir(dir).arg("--data-dir").arg(data).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn every_hitl_command_in_the_runbooks_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A `--final @final.json` reads the runbook's own artifact.
    let mut ran = 0;
    for path in documents() {
        let all = blocks(&path);
        if let Some(artifact) = all
            .iter()
            .filter(|b| b.lang == "json")
            .filter_map(|b| serde_json::from_str::<Value>(&b.text).ok())
            .find(is_artifact)
        {
            std::fs::write(dir.path().join("final.json"), artifact.to_string()).unwrap();
        }
        let vars = assignments(&all);
        for block in all.iter().filter(|b| b.lang == "sh") {
            for line in shell_lines(block) {
                if !line.starts_with("hitl ") {
                    continue;
                }
                let label = format!("{}:{}: {line}", block.file, block.line);
                let words = shlex::split(&substitute(&line, Some("wf-probe"), &vars))
                    .unwrap_or_else(|| panic!("{label}: unbalanced quotes"));
                let args: Vec<String> = words[1..].to_vec();
                let (local, aws) = if args.first().is_some_and(|a| a == "aws") {
                    (local_twin(&args[1..]), true)
                } else {
                    (Some(args.clone()), false)
                };
                if aws {
                    // Parses: against a closed endpoint it may fail to connect, never with a
                    // usage error.
                    let out = run_in(
                        dir.path(),
                        &data,
                        &args,
                        &[
                            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
                            ("AWS_ACCESS_KEY_ID", "runbook"),
                            ("AWS_SECRET_ACCESS_KEY", "runbook"),
                            ("AWS_REGION", "eu-west-1"),
                            ("AWS_MAX_ATTEMPTS", "1"),
                        ],
                    );
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        !stderr.contains("For more information, try '--help'"),
                        "{label}: does not parse: {stderr}"
                    );
                }
                let Some(local) = local else {
                    println!("{label}: parses (no local twin)");
                    continue;
                };
                let wf = prepare(&data, &local, ran);
                let words = shlex::split(&substitute(&line, wf.as_deref(), &vars)).unwrap();
                let twin = if aws {
                    local_twin(&words[2..]).unwrap()
                } else {
                    words[1..].to_vec()
                };
                let out = run_in(dir.path(), &data, &twin, &[]);
                assert!(
                    out.status.success(),
                    "{label}: `hitl {}` failed (exit {:?}):\n{}\n{}",
                    twin.join(" "),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                println!("{label}: ran as `hitl {}`", twin.join(" "));
                ran += 1;
            }
        }
    }
    // The escalation runbook alone has its five resolutions, status and restart.
    assert!(ran >= 8, "commands run: {ran}");
    assert!(hitl(&data, &["list"]).status.success());
}

/// The README line that defines `hitl` as `cargo run`: not run, because the test puts the
/// binary cargo built for it on PATH as `hitl` (a `cargo run` inside the test would wait for
/// the build lock the test run holds, or rebuild).
const README_ALIAS: &str = "alias hitl='cargo run -q -p hitl --'";
/// The README line that runs until Ctrl-C: run in the background until it prints its address,
/// then stopped; on port 0 instead of the README's 8080, which another program on a shared
/// machine may hold.
const README_SERVE: (&str, &str) = ("--addr 127.0.0.1:8080", "--addr 127.0.0.1:0");

/// One line of the README's walk-through: where it is, the command, the exit status its
/// comment announces (`# exit N: …`; 0 without one).
struct ReadmeLine {
    line: usize,
    command: String,
    expected_exit: i32,
}

/// The first ```sh block under `## Using it locally` in README.md.
fn readme_walk_through() -> Vec<ReadmeLine> {
    let text = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let heading = text
        .find("\n## Using it locally\n")
        .expect("README.md has a section `## Using it locally`")
        + 1;
    let first_line = text[..heading].lines().count() + 1;
    let section = &text[heading..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let block = blocks_in("README.md", section, first_line)
        .into_iter()
        .find(|b| b.lang == "sh")
        .expect("`## Using it locally` has a ```sh block");
    block
        .text
        .lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty() && !raw.trim_start().starts_with('#'))
        .map(|(i, raw)| {
            let (command, comment) = match raw.find("  #") {
                Some(at) => (raw[..at].trim_end(), raw[at + 3..].trim()),
                None => (raw.trim_end(), ""),
            };
            let expected_exit = comment
                .strip_prefix("exit ")
                .and_then(|c| c.split(':').next())
                .map_or(0, |n| {
                    n.trim().parse().unwrap_or_else(|_| {
                        panic!(
                            "README.md:{}: `# exit N:` needs a number",
                            block.line + 1 + i
                        )
                    })
                });
            ReadmeLine {
                line: block.line + 1 + i,
                command: command.to_owned(),
                expected_exit,
            }
        })
        .collect()
}

/// Single-quotes `text` for sh.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[test]
fn the_readme_walk_through_runs_in_order_as_written() {
    let lines = readme_walk_through();
    assert_eq!(
        lines.iter().filter(|l| l.command == README_ALIAS).count(),
        1,
        "the walk-through no longer defines `{README_ALIAS}`: update README_ALIAS"
    );
    let serve: Vec<&ReadmeLine> = lines
        .iter()
        .filter(|l| l.command.starts_with("hitl serve"))
        .collect();
    assert!(
        serve.len() == 1 && serve[0].command.contains(README_SERVE.0),
        "the walk-through's `hitl serve` line changed: update README_SERVE"
    );

    // One shell runs every line in order, so variables (`wf=$(hitl start --quiet …)`) carry
    // over; after each line its exit status is checked, and a mismatch is recorded (the run
    // goes on, so one test run names every line that fails).
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_hitl"), bin.join("hitl")).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let failures = dir.path().join("failures");
    let serve_log = dir.path().join("serve.log");
    let mut script = String::from("set -o pipefail\n");
    let mut run = 0;
    for l in &lines {
        let at = format!("README.md:{}", l.line);
        script.push_str(&format!(
            "echo {} >&2\n",
            sh_quote(&format!("+ {at}: {}", l.command))
        ));
        if l.command == README_ALIAS {
            println!("{at}: not run (the test's PATH has the built `hitl`)");
            continue;
        }
        let record = |what: &str| {
            format!(
                "echo {} {what} >> {}",
                sh_quote(&format!("{at}: `{}`", l.command)),
                sh_quote(&failures.to_string_lossy())
            )
        };
        if l.command.starts_with("hitl serve") {
            let command = l.command.replace(README_SERVE.0, README_SERVE.1);
            let log = sh_quote(&serve_log.to_string_lossy());
            script.push_str(&format!(
                "{command} > {log} 2>&1 &\n\
                 serve_pid=$!\n\
                 for _ in $(seq 1 200); do grep -q 'http://' {log} && break; kill -0 $serve_pid 2>/dev/null || break; sleep 0.1; done\n\
                 if grep -q 'http://' {log}; then kill $serve_pid; wait $serve_pid 2>/dev/null; \
                 else kill $serve_pid 2>/dev/null; {}; cat {log} >&2; fi\n",
                record("\"did not start serving\"")
            ));
            println!("{at}: run in the background until it served, as `{command}`");
            run += 1;
            continue;
        }
        // `eval`: a line that is not valid shell fails alone (status 2) instead of ending
        // the run; it still runs in this shell, so its assignments carry over.
        script.push_str(&format!("eval {}\n", sh_quote(&l.command)));
        script.push_str(&format!(
            "rc=$?; if [ \"$rc\" -ne {} ]; then {}; fi\n",
            l.expected_exit,
            record(&format!("\"exited $rc, expected {}\"", l.expected_exit))
        ));
        run += 1;
    }
    // Reached only when bash ran to the end (a syntax error stops it with status 2).
    script.push_str("exit 0\n");
    let script_path = dir.path().join("walk-through.sh");
    std::fs::write(&script_path, &script).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg(&script_path)
        .current_dir(workspace())
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        // Should the walk-through not choose its own fresh data directory, it still does not
        // touch the checkout's `./.hitl` (and the check below fails).
        .env("HITL_DATA_DIR", dir.path().join("unused-data"))
        .env_remove("USER")
        .output()
        .unwrap();
    let failed = std::fs::read_to_string(&failures).unwrap_or_default();
    assert!(
        failed.is_empty() && out.status.success(),
        "README.md's walk-through does not run as written:\n{failed}\n--- output ---\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run >= 20, "lines run: {run}");
    // It ran in a fresh data directory of its own (`mktemp -d`, under the test's TMPDIR).
    let fresh = std::fs::read_dir(&tmp)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.path().join("workflows.sqlite").exists());
    assert!(fresh, "the walk-through did not use a fresh data directory");
    println!("README.md: {run} lines ran in order as written");
}
