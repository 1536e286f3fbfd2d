//! The local-only commands (history, redrive, advance-time, notifications, validate, exec);
//! the operator commands shared with `hitl aws` are in `operate.rs`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::args::read_input;
use hitl_cli::format::{human, parse_duration, printable, table};
use hitl_cli::local::Runtime;

/// `hitl exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Path to an ASL definition.
    pub definition: PathBuf,
    /// Execution input: inline JSON or @file.
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Extra `${Name}=value` substitutions (the project's function ARNs are predefined).
    #[arg(long = "substitution", value_name = "NAME=VALUE")]
    pub substitutions: Vec<String>,
}

/// The execution ARN of a workflow id, or the ARN itself.
async fn execution_arn(runtime: &Runtime, id: &str) -> Result<String> {
    if id.starts_with("arn:") {
        return Ok(id.to_owned());
    }
    crate::operate::load(runtime.store.as_ref(), id, "hitl")
        .await?
        .execution_arn
        .ok_or_else(|| anyhow!("workflow {id} has no execution"))
}

/// `hitl redrive`: RedriveExecution on the local engine; prints one JSON line with the
/// execution's status afterwards (exit 1 when it is refused or fails again).
pub(crate) async fn redrive(runtime: &Runtime, id: &str) -> Result<ExitCode> {
    let arn = execution_arn(runtime, id).await?;
    if let Err(e) = runtime.engine.redrive_execution(&arn).await {
        println!(
            "{}",
            json!({"status": "REFUSED", "error": e.name(), "cause": e.to_string()})
        );
        return Ok(ExitCode::from(1));
    }
    runtime.settle().await?;
    let d = runtime.engine.describe_execution(&arn)?;
    println!(
        "{}",
        json!({"execution_arn": arn, "status": d.status.as_str(), "output": d.output, "error": d.error, "cause": d.cause})
    );
    Ok(match d.status {
        statemachine::ExecutionStatus::Failed
        | statemachine::ExecutionStatus::TimedOut
        | statemachine::ExecutionStatus::Aborted => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

pub(crate) async fn history(runtime: &Runtime, id: &str, as_json: bool) -> Result<ExitCode> {
    let arn = execution_arn(runtime, id).await?;
    let events = runtime.engine.get_execution_history(&arn)?;
    if as_json {
        println!("{}", serde_json::to_string(&events)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let v = serde_json::to_value(e).unwrap_or_default();
            vec![
                v["id"].to_string(),
                v["timestamp"].as_str().unwrap_or_default().to_owned(),
                v["type"].as_str().unwrap_or_default().to_owned(),
                v["details"]["name"]
                    .as_str()
                    .or(v["details"]["error"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["ID", "TIMESTAMP", "TYPE", "STATE / ERROR"], &rows)
    );
    println!("{} event(s) — {arn}", rows.len());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn advance(runtime: &Runtime, duration: &str, as_json: bool) -> Result<ExitCode> {
    let by = parse_duration(duration).map_err(|e| anyhow!(e))?;
    if by < chrono::Duration::zero() {
        bail!("time only moves forward");
    }
    // The clock stops at every engine timer and every reminder on the way, so each fires at
    // its own time and in order (see `hitl_cli::jump`).
    let jump = hitl_cli::jump::advance_clock(runtime, by).await?;
    let now = jump.now.unwrap_or_else(|| runtime.clock.now());
    if as_json {
        println!(
            "{}",
            json!({
                "now": now,
                "reminders": jump.reminders,
                "notifications": jump.notifications,
                "stops": jump.stops,
                "report": jump.engine_reports.join("; "),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "virtual clock advanced by {} to {}",
        human(by),
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let lines = jump_lines(&jump);
    if lines.is_empty() {
        let next = match hitl_cli::jump::next_due(runtime, now).await? {
            Some(due) => format!(
                "; next: {} at {}",
                match due {
                    hitl_cli::jump::Due::Timer(_) => "a workflow timer (timeout or wait)",
                    hitl_cli::jump::Due::Reminder(_) => "a reminder",
                },
                due.at().format("%Y-%m-%d %H:%M:%S UTC")
            ),
            None => "; nothing waits for time".to_owned(),
        };
        println!("nothing fired in that time{next}");
    }
    for (_, line) in lines {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per thing that fired during a jump, in time order: the reminders sent, and every
/// other notification the jump caused (escalations, review requests, finished workflows).
fn jump_lines(jump: &hitl_cli::jump::ClockJump) -> Vec<(chrono::DateTime<chrono::Utc>, String)> {
    let mut lines: Vec<_> = jump
        .reminders
        .iter()
        .map(|r| {
            let line = format!(
                "{} reminder sent at {}: {} iteration {} ({} before the deadline {})",
                r.about,
                r.sent_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.workflow_id,
                r.iteration,
                human(chrono::Duration::seconds(
                    i64::try_from(r.offset_seconds).unwrap_or(0)
                )),
                r.deadline.format("%Y-%m-%d %H:%M UTC"),
            );
            (r.sent_at, line)
        })
        .collect();
    for v in &jump.notifications {
        let kind = v["kind"].as_str().unwrap_or("?");
        // Reminders are listed above, from what the sweep reported.
        if kind.ends_with("_reminder") {
            continue;
        }
        let Some(at) = v["at"]
            .as_str()
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
            .map(|a| a.with_timezone(&chrono::Utc))
        else {
            continue;
        };
        let detail = &v["detail"];
        let workflow = v["workflow_id"]
            .as_str()
            .or_else(|| detail["workflow_id"].as_str())
            .unwrap_or("?");
        let reason = v["reason"]
            .as_str()
            .map_or_else(String::new, |r| format!(" ({})", printable(r)));
        let message = v["message"]
            .as_str()
            .or_else(|| detail["outcome"].as_str())
            .unwrap_or("");
        lines.push((
            at,
            format!(
                "{} at {}: {}{reason}: {}",
                kind.replace('_', " "),
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                printable(workflow),
                printable(message)
            ),
        ));
    }
    lines.sort_by_key(|(at, _)| *at);
    lines
}

/// `hitl notifications`: the local notification log (review requests, reminders,
/// escalations, `Workflow Finished` events), optionally only the last `since` of virtual time.
pub(crate) async fn notifications(
    runtime: &Runtime,
    since: Option<&str>,
    as_json: bool,
) -> Result<ExitCode> {
    let cutoff = match since {
        Some(s) => {
            Some(runtime.clock.now() - parse_duration(s).map_err(|e| anyhow!("--since: {e}"))?)
        }
        None => None,
    };
    let text = std::fs::read_to_string(&runtime.notifications).unwrap_or_default();
    let mut rows = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let at = v["at"]
            .as_str()
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
            .map(|a| a.with_timezone(&chrono::Utc));
        if let (Some(cutoff), Some(at)) = (cutoff, at) {
            if at < cutoff {
                continue;
            }
        }
        if cutoff.is_some() && at.is_none() {
            continue;
        }
        rows.push((at, v));
    }
    if as_json {
        for (_, v) in &rows {
            println!("{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(at, v)| {
            let detail = &v["detail"];
            vec![
                at.map_or("—".into(), |a| a.format("%Y-%m-%d %H:%M:%S").to_string()),
                v["kind"].as_str().unwrap_or("?").to_owned(),
                v["workflow_id"]
                    .as_str()
                    .or_else(|| detail["workflow_id"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                printable(
                    v["message"]
                        .as_str()
                        .or_else(|| detail["outcome"].as_str())
                        .unwrap_or(""),
                ),
            ]
        })
        .collect();
    if body.is_empty() {
        println!(
            "no notifications{}",
            if since.is_some() { " in that time" } else { "" }
        );
    } else {
        println!(
            "{}",
            table(&["AT (UTC)", "KIND", "WORKFLOW", "MESSAGE"], &body)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn validate(path: &std::path::Path) -> Result<ExitCode> {
    let raw = crate::args::read_file(path)?;
    let names = statemachine::substitution_names(&raw);
    let mut values = hitl_cli::local::substitutions();
    for name in names {
        values
            .entry(name.clone())
            .or_insert_with(|| format!("arn:aws:lambda:local:000000000000:function:{name}"));
    }
    let resolved = statemachine::substitute(&raw, &values)?;
    let definition = match statemachine::Definition::parse(&resolved) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return Ok(ExitCode::from(1));
        }
    };
    let errors = statemachine::validate(&definition);
    if errors.is_empty() {
        println!("{}: valid", path.display());
        Ok(ExitCode::SUCCESS)
    } else {
        for e in &errors {
            eprintln!("{}: {e}", path.display());
        }
        eprintln!("{} error(s)", errors.len());
        Ok(ExitCode::from(1))
    }
}

pub(crate) async fn exec(args: ExecArgs) -> Result<ExitCode> {
    let raw = crate::args::read_file(&args.definition)?;
    let mut values = hitl_cli::local::substitutions();
    for s in &args.substitutions {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("--substitution {s:?}: expected NAME=VALUE"))?;
        values.insert(k.to_owned(), v.to_owned());
    }
    let input = read_input(&args.input)?;
    let runtime = Runtime::open(None)?;
    let resolved = statemachine::substitute(&raw, &values)?;
    let arn = match runtime.engine.create_state_machine("exec", &resolved) {
        Ok(arn) => arn,
        Err(e) => {
            println!(
                "{}",
                json!({"status": "INVALID", "error": e.name(), "cause": e.to_string()})
            );
            return Ok(ExitCode::from(1));
        }
    };
    let execution = runtime.engine.start_execution(&arn, None, input).await?;
    runtime.settle().await?;
    let d = runtime.engine.describe_execution(&execution)?;
    let line = match d.status {
        statemachine::ExecutionStatus::Succeeded => {
            json!({"status": "SUCCEEDED", "output": d.output})
        }
        statemachine::ExecutionStatus::Running => {
            let waiting = runtime.engine.pending_callbacks(&execution)?;
            json!({"status": "RUNNING", "waiting": waiting})
        }
        other => {
            json!({"status": format!("{other:?}").to_uppercase(), "error": d.error, "cause": d.cause})
        }
    };
    println!("{line}");
    // The process exits next and the OS reclaims everything at once; freeing the execution's
    // history value by value first took ~10 ms of a 1,000-item Map run (docs/PERFORMANCE.md).
    std::mem::forget(runtime);
    Ok(match d.status {
        statemachine::ExecutionStatus::Succeeded | statemachine::ExecutionStatus::Running => {
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(1),
    })
}
