//! The command implementations.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hitl_domain::contracts::workflow_id;
use hitl_domain::feedback::{FeedbackProcessor, Reviewer};
use hitl_domain::model::{Channel, FeedbackOutcome, Workflow, WorkflowStatus};
use serde_json::{json, Value};

use crate::args::{read_input, start_input, ClaimArgs, FeedbackArgs, StartArgs};
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

pub(crate) async fn start(runtime: &Runtime, args: StartArgs, as_json: bool) -> Result<ExitCode> {
    args.check_output(as_json)?;
    let request_id = args
        .request_id
        .clone()
        .unwrap_or_else(|| format!("local-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    let (input, subjects) = start_input(&args, &request_id, false)?;
    crate::args::check_start(&input, &request_id)?;
    let execution = match runtime
        .engine
        .start_execution(&runtime.state_machine_arn, Some(&request_id), input.clone())
        .await
    {
        Ok(arn) => arn,
        // A rerun with the same --request-id: the same request is idempotent (its workflows
        // are printed again); a different request under that id is refused.
        Err(e) if e.name() == "ExecutionAlreadyExists" => {
            let arn = format!(
                "{}:{request_id}",
                runtime
                    .state_machine_arn
                    .replacen(":stateMachine:", ":execution:", 1)
            );
            let existing = runtime.engine.describe_execution(&arn)?;
            if existing.input != input {
                bail!("request id {request_id} was already used for a different start request; choose another --request-id");
            }
            arn
        }
        Err(e) => return Err(e.into()),
    };
    runtime.settle().await?;
    let described = runtime.engine.describe_execution(&execution)?;
    match described.status {
        statemachine::ExecutionStatus::Succeeded => {}
        // Another process sharing the data directory is running it: its work is committed.
        statemachine::ExecutionStatus::Running => {}
        _ => bail!(
            "start request failed: {} — {}",
            described.error.unwrap_or_default(),
            described.cause.unwrap_or_default()
        ),
    }
    let mut rows = Vec::new();
    for subject in &subjects {
        let id = workflow_id(&request_id, &subject.id);
        let wf = runtime.store.get_workflow(&id).await?;
        rows.push((id, subject.clone(), wf));
    }
    if args.quiet {
        for (id, _, _) in &rows {
            println!("{id}");
        }
    } else if as_json {
        let items: Vec<Value> = rows
            .iter()
            .map(|(id, s, wf)| json!({"workflow_id": id, "subject_id": s.id, "status": wf.as_ref().map(|w| w.status)}))
            .collect();
        println!("{}", json!({"request_id": request_id, "workflows": items}));
    } else {
        println!("request {request_id}: {} workflow(s) started", rows.len());
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|(id, s, wf)| {
                vec![
                    id.clone(),
                    s.id.clone(),
                    s.name.clone(),
                    wf.as_ref().map_or("—".into(), |w| w.status.to_string()),
                ]
            })
            .collect();
        println!(
            "{}",
            table(&["WORKFLOW", "SUBJECT", "NAME", "STATUS"], &body)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn load(runtime: &Runtime, id: &str) -> Result<Workflow> {
    runtime
        .store
        .get_workflow(id)
        .await?
        .ok_or_else(|| anyhow!("workflow {id} not found (see `hitl list`)"))
}

/// The feedback processor on the local store, resumer and clock.
fn processor(
    runtime: &Runtime,
) -> FeedbackProcessor<
    std::sync::Arc<dyn hitl_domain::store::WorkflowStore>,
    std::sync::Arc<hitl_cli::local::LocalResumer>,
    std::sync::Arc<dyn hitl_domain::ports::Clock>,
> {
    FeedbackProcessor::new(
        runtime.store.clone(),
        runtime.resumer(),
        runtime.clock.clone(),
    )
}

/// A local submitter: channel `cli`, trusted (no group check).
fn cli(name: String) -> Reviewer {
    Reviewer::declared(name, None, Channel::Cli)
}

pub(crate) async fn feedback(
    runtime: &Runtime,
    args: FeedbackArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let workflow = load(runtime, &args.workflow_id).await?;
    let decision = args.decision()?;
    let (request, key) = args.request(args.iteration.unwrap_or(i64::from(workflow.iteration)))?;
    let receipt = processor(runtime)
        .submit(
            &args.workflow_id,
            &request,
            &key,
            &cli(args.local_reviewer()),
        )
        .await
        .map_err(|e| crate::args::name_corrections(e.into(), &request.corrections))?;
    runtime.settle().await?;
    let after = load(runtime, &args.workflow_id).await?;
    let refused = matches!(receipt.outcome, FeedbackOutcome::Rejected { .. });
    if as_json {
        println!(
            "{}",
            json!({"receipt": receipt, "status": after.status, "iteration": after.iteration})
        );
        // A refused decision is a failure in either output mode.
        if refused {
            return Ok(ExitCode::from(1));
        }
    } else {
        println!(
            "idempotency key: {} (to retry this very submission: --key {} --iteration {})",
            receipt.idempotency_key, receipt.idempotency_key, receipt.iteration
        );
        match &receipt.outcome {
            FeedbackOutcome::Applied {
                status: WorkflowStatus::AwaitingReview,
            } => {
                let approved_by = after
                    .review_summary(runtime.clock.now())
                    .map(|r| r.approved_by)
                    .unwrap_or_default();
                println!(
                    "{}applied: approval {} of {} on iteration {} (approved by {}) — the workflow waits for another reviewer",
                    if receipt.replayed { "already " } else { "" },
                    approved_by.len(),
                    after.config.required_approvals,
                    receipt.iteration,
                    approved_by.join(", ")
                );
            }
            FeedbackOutcome::Applied { .. } => println!(
                "{}applied: {} on iteration {} — workflow is now {} (iteration {})",
                if receipt.replayed { "already " } else { "" },
                decision,
                receipt.iteration,
                after.status,
                after.iteration
            ),
            FeedbackOutcome::Rejected { reason, message } => {
                println!("rejected ({reason}): {message}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `hitl claim` (`take`) and `hitl release`: the same claim service as the API.
pub(crate) async fn claim(
    runtime: &Runtime,
    args: ClaimArgs,
    take: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let service =
        hitl_domain::claims::ClaimService::new(runtime.store.clone(), runtime.clock.clone());
    let name = args
        .reviewer
        .clone()
        .unwrap_or_else(|| "local-reviewer".to_owned());
    claim_with(&service, &name, &args, take, as_json).await
}

/// A claim or release by `name` through `service` (the local store or, for `hitl aws`, the
/// stack's table): prints the receipt, or the refusal with its stable name (exit 1).
pub(crate) async fn claim_with<S, C>(
    service: &hitl_domain::claims::ClaimService<S, C>,
    name: &str,
    args: &ClaimArgs,
    take: bool,
    as_json: bool,
) -> Result<ExitCode>
where
    S: std::ops::Deref + Send + Sync,
    S::Target: hitl_domain::store::WorkflowStore,
    C: hitl_domain::ports::Clock,
{
    let reviewer = Reviewer::declared(
        name,
        args.admin
            .then(|| vec![hitl_domain::feedback::ADMIN_GROUP.to_owned()]),
        Channel::Cli,
    );
    let result = if take {
        service
            .claim(&args.workflow_id, args.iteration, &reviewer)
            .await
    } else {
        service.release(&args.workflow_id, &reviewer).await
    };
    let receipt = match result {
        Ok(receipt) => receipt,
        Err(hitl_domain::claims::ClaimError::Refused(rejection)) => {
            if as_json {
                println!(
                    "{}",
                    json!({"refused": rejection.name(), "message": rejection.to_string()})
                );
            } else {
                println!("refused ({}): {rejection}", rejection.name());
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if as_json {
        println!("{}", json!(receipt));
    } else {
        match &receipt.claim {
            Some(c) => println!(
                "{} holds iteration {} of {} until {} (claim again to renew)",
                c.reviewer,
                receipt.iteration,
                receipt.workflow_id,
                c.expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => println!(
                "iteration {} of {} is not claimed",
                receipt.iteration, receipt.workflow_id
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The REASON column of `hitl list`: why a workflow was escalated, and for one waiting for a
/// resolution how long it has waited.
fn escalation_column(w: &Workflow, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(e) = &w.escalation else {
        return String::new();
    };
    if !matches!(
        w.status,
        WorkflowStatus::Escalated | WorkflowStatus::Resolved | WorkflowStatus::Abandoned
    ) {
        return String::new();
    }
    match (&e.awaiting, e.unresolved_at) {
        (Some(_), _) => format!("{} (waiting {})", e.reason, human(now - e.escalated_at)),
        (None, Some(_)) => format!("{} (unresolved)", e.reason),
        _ => e.reason.to_string(),
    }
}

pub(crate) async fn resolve(
    runtime: &Runtime,
    args: crate::args::ResolveArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let workflow = load(runtime, &args.workflow_id).await?;
    // The escalated iteration (kept on the escalation record, so a retry after the resolution
    // moved the workflow on sends the very same request).
    let iteration = workflow
        .escalation
        .as_ref()
        .map_or(workflow.iteration, |e| e.iteration);
    let (request, key) = args.request(i64::from(iteration))?;
    let by = args
        .by
        .clone()
        .unwrap_or_else(|| "local-operator".to_owned());
    let receipt = processor(runtime)
        .resolve(&args.workflow_id, &request, &key, &cli(by))
        .await
        .map_err(|e| crate::args::name_corrections(e.into(), &request.corrections))?;
    runtime.settle().await?;
    let after = load(runtime, &args.workflow_id).await?;
    let refused = matches!(receipt.outcome, FeedbackOutcome::Rejected { .. });
    if as_json {
        println!(
            "{}",
            json!({"receipt": receipt, "status": after.status, "iteration": after.iteration,
                "max_iterations": after.config.max_iterations, "reviewer_group": after.config.reviewer_group})
        );
    } else {
        println!(
            "idempotency key: {} (to retry this very resolution: --key {})",
            receipt.idempotency_key, receipt.idempotency_key
        );
        match &receipt.outcome {
            FeedbackOutcome::Applied { .. } => println!(
                "{}applied: {} — workflow is now {} (iteration {} of {})",
                if receipt.replayed { "already " } else { "" },
                args.action(),
                after.status,
                after.iteration,
                after.config.max_iterations
            ),
            FeedbackOutcome::Rejected { reason, message } => {
                println!("rejected ({reason}): {message}");
            }
        }
    }
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn status(runtime: &Runtime, id: &str, as_json: bool) -> Result<ExitCode> {
    hitl_cli::status::show(runtime, id, as_json).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list(
    runtime: &Runtime,
    status: Option<&str>,
    limit: usize,
    as_json: bool,
) -> Result<ExitCode> {
    let statuses: Vec<WorkflowStatus> = match status {
        Some(s) => vec![s.parse().map_err(|e: String| anyhow!(e))?],
        None => WorkflowStatus::ALL.to_vec(),
    };
    let mut all = Vec::new();
    for s in statuses {
        let page = runtime.store.list_by_status(s, limit, None).await?;
        all.extend(page.items);
    }
    all.sort_by_key(|w| std::cmp::Reverse(w.updated_at));
    if as_json {
        let items: Vec<Value> = all
            .iter()
            .map(|w| json!({"workflow_id": w.id, "subject_id": w.subject.id, "status": w.status, "iteration": w.iteration, "updated_at": w.updated_at,
                "escalation": w.escalation.as_ref().map(|e| e.summary())}))
            .collect();
        println!("{}", Value::Array(items));
    } else {
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|w| {
                vec![
                    w.id.clone(),
                    w.subject.name.clone(),
                    w.status.to_string(),
                    format!("{}/{}", w.iteration, w.config.max_iterations),
                    escalation_column(w, runtime.clock.now()),
                    w.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &["WORKFLOW", "SUBJECT", "STATUS", "ITER", "REASON", "UPDATED"],
                &rows
            )
        );
        println!("{} workflow(s)", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The execution ARN of a workflow id, or the ARN itself.
async fn execution_arn(runtime: &Runtime, id: &str) -> Result<String> {
    if id.starts_with("arn:") {
        return Ok(id.to_owned());
    }
    load(runtime, id)
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

/// `hitl reconcile`: one more pass of the delivery outbox relay, reporting what it and the
/// command's start-up (`started`: the passes every command runs first, which deliver a
/// stranded decision before this pass sees it) did together. A decision the relay handed to
/// the local engine and the engine then delivered counts as delivered, not deferred.
pub(crate) async fn reconcile(
    runtime: &Runtime,
    started: hitl_cli::local::Settled,
    as_json: bool,
) -> Result<ExitCode> {
    let mut report = started.relay;
    report.add(&runtime.reconcile().await?);
    let handed_on = report.deferred.min(started.queued);
    report.deferred -= handed_on;
    report.delivered += handed_on;
    let pending = runtime.store.list_pending_deliveries(1000).await?.len();
    if as_json {
        println!("{}", json!({"report": report, "still_pending": pending}));
    } else {
        println!(
            "reconcile: {} examined, {} delivered, {} late, {} closed, {} deferred, {} to retry; {} still pending",
            report.examined, report.delivered, report.late, report.closed, report.deferred, report.retry, pending
        );
    }
    Ok(if pending == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `hitl export`: the outcome as its consumers receive it, rebuilt from the store (the same
/// bytes `publish-outcome` wrote).
pub(crate) async fn export(
    runtime: &Runtime,
    id: &str,
    out: Option<&std::path::Path>,
) -> Result<ExitCode> {
    use hitl_domain::outcome::{envelope, envelope_bytes, finished_event};
    let wf = load(runtime, id).await?;
    let bytes = match wf.status {
        WorkflowStatus::Approved | WorkflowStatus::Resolved => {
            let artifacts = runtime.store.list_artifacts(id).await?;
            let last = artifacts
                .iter()
                .find(|a| a.iteration == wf.artifact_iteration)
                .ok_or_else(|| anyhow!("workflow {id} has no final artifact"))?;
            envelope_bytes(&envelope(&wf, last)?)
        }
        WorkflowStatus::Escalated | WorkflowStatus::Abandoned => {
            let mut text = serde_json::to_vec_pretty(&finished_event(&wf, None)?)?;
            text.push(b'\n');
            text
        }
        other => bail!("workflow {id} is {other}: only approved, resolved, escalated and abandoned workflows have an outcome to export"),
    };
    match out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
        }
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
