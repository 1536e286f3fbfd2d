//! The operator commands, written once over a [`Backend`]: `hitl X` on the local data
//! directory and `hitl aws X` on a deployed stack run the very same code (start, list,
//! status, feedback, claim, release, resolve, export, report, reconcile); only the backend
//! differs.

use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use hitl_cli::backend::{processor, Backend};
use hitl_cli::format::{human, table};
use hitl_domain::contracts::workflow_id;
use hitl_domain::feedback::{FeedbackReceipt, Reviewer};
use hitl_domain::model::{Channel, FeedbackOutcome, Workflow, WorkflowStatus};
use hitl_domain::store::WorkflowStore;
use serde_json::{json, Value};

use crate::args::{
    check_start, start_input, ClaimArgs, ExportArgs, FeedbackArgs, ListArgs, ResolveArgs, StartArgs,
};
use hitl_cli::report::{self, ReportArgs};

/// Workflow `id` from `store`, or an error that says where to look (`command` is `hitl` or
/// `hitl aws`).
pub(crate) async fn load(store: &dyn WorkflowStore, id: &str, command: &str) -> Result<Workflow> {
    store
        .get_workflow(id)
        .await
        .context("reading the workflow")?
        .ok_or_else(|| anyhow!("workflow {id} not found (see `{command} list`)"))
}

/// Who acts in a command: the flag that names them, the local stand-in when it is not given,
/// and why a deployed stack requires it.
struct Actor {
    command: &'static str,
    flag: &'static str,
    stand_in: &'static str,
    why: &'static str,
}

const FEEDBACK: Actor = Actor::new(
    "feedback",
    "--reviewer",
    "local-reviewer",
    "the name is recorded in the deployed stack's audit trail",
);
const RESOLVE: Actor = Actor::new(
    "resolve",
    "--by",
    "local-operator",
    "the name is recorded with the resolution in the deployed stack's audit trail",
);
const CLAIM: Actor = Actor::new(
    "claim",
    "--reviewer",
    "local-reviewer",
    "the claim is held in that name on the deployed stack",
);
const RELEASE: Actor = Actor::new(
    "release",
    "--reviewer",
    "local-reviewer",
    "the claim is held in that name on the deployed stack",
);

impl Actor {
    const fn new(
        command: &'static str,
        flag: &'static str,
        stand_in: &'static str,
        why: &'static str,
    ) -> Self {
        Self {
            command,
            flag,
            stand_in,
            why,
        }
    }
}

/// The name a command acts under: the one given, else the backend's stand-in; a deployed
/// stack has none, so there the flag is required.
fn acting_name(backend: &dyn Backend, given: Option<&String>, actor: &Actor) -> Result<String> {
    given
        .cloned()
        .or_else(|| backend.stand_in(actor.stand_in))
        .ok_or_else(|| {
            anyhow!(
                "{} {} needs {} NAME: {}",
                backend.command(),
                actor.command,
                actor.flag,
                actor.why
            )
        })
}

/// An operator deciding through the CLI: channel `cli`, no group check (the local user, or
/// on a stack the AWS credentials, are the authorisation).
fn operator(name: String) -> Reviewer {
    Reviewer::declared(name, None, Channel::Cli)
}

/// `--status S`: one workflow status, or an error that lists them.
pub(crate) fn status_filter(status: &str) -> Result<WorkflowStatus> {
    status.parse().map_err(|e: String| anyhow!("--status: {e}"))
}

/// `hitl start` / `hitl aws start`: validates the request with the PlanBatch task's rules
/// (every bad field named by its flag, nothing started), starts the execution and prints its
/// workflows. `smoke` asks for a batch decided by the synthetic reviewer.
pub(crate) async fn start(
    backend: &dyn Backend,
    args: &StartArgs,
    smoke: bool,
    as_json: bool,
) -> Result<ExitCode> {
    args.check_output(as_json)?;
    let request_id = args.request_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            if smoke {
                "smoke"
            } else {
                backend.request_prefix()
            },
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )
    });
    let types = std::sync::Arc::clone(&backend.ports().types);
    let (input, _) = start_input(args, &request_id, smoke, &types)?;
    let plan = check_start(&input, &request_id, &types)?;
    let execution_arn = backend.start(&request_id, &input).await?;
    let store = backend.store();
    let mut rows = Vec::new();
    for item in plan.items {
        let id = workflow_id(&request_id, &item.subject.id);
        // On a stack the workflow may not be created yet: no status.
        let status = store.get_workflow(&id).await?.map(|w| w.status);
        rows.push((id, item.subject, status));
    }
    if args.quiet {
        for (id, _, _) in &rows {
            println!("{id}");
        }
    } else if as_json {
        let workflows: Vec<Value> = rows
            .iter()
            .map(|(id, s, status)| json!({"workflow_id": id, "subject_id": s.id, "status": status}))
            .collect();
        println!(
            "{}",
            json!({"request_id": request_id, "execution_arn": execution_arn, "workflows": workflows})
        );
    } else {
        println!(
            "request {request_id}: {} workflow(s) started (execution {execution_arn})",
            rows.len()
        );
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|(id, s, status)| {
                vec![
                    id.clone(),
                    s.id.clone(),
                    s.name.clone(),
                    status.map_or("—".into(), |s| s.to_string()),
                ]
            })
            .collect();
        if !body.is_empty() {
            println!(
                "{}",
                table(&["WORKFLOW", "SUBJECT", "NAME", "STATUS"], &body)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `hitl status ID` / `hitl aws status ID`: the API's workflow view and the operator's facts.
pub(crate) async fn status(backend: &dyn Backend, id: &str, as_json: bool) -> Result<ExitCode> {
    hitl_cli::status::show(backend, id, as_json).await?;
    Ok(ExitCode::SUCCESS)
}

/// The workflows of `statuses` (at most `limit` each), newest first.
async fn listed(
    backend: &dyn Backend,
    statuses: &[WorkflowStatus],
    limit: usize,
) -> Result<Vec<Workflow>> {
    let store = backend.store();
    let mut all = Vec::new();
    for status in statuses {
        let page = store
            .list_by_status(*status, limit, None)
            .await
            .context("querying the status index")?;
        all.extend(page.items);
    }
    all.sort_by_key(|w| std::cmp::Reverse(w.updated_at));
    Ok(all)
}

/// One workflow of a listing, as `--json` prints it.
fn list_item(w: &Workflow) -> Value {
    json!({"workflow_id": w.id, "subject_id": w.subject.id, "status": w.status, "iteration": w.iteration, "updated_at": w.updated_at,
        "escalation": w.escalation.as_ref().map(|e| e.summary())})
}

/// A listing as a table, with its count.
fn print_list(workflows: &[Workflow], now: chrono::DateTime<chrono::Utc>) {
    let rows: Vec<Vec<String>> = workflows
        .iter()
        .map(|w| {
            vec![
                w.id.clone(),
                w.subject.name.clone(),
                w.status.to_string(),
                format!("{}/{}", w.iteration, w.config.max_iterations),
                escalation_column(w, now),
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

/// The REASON column of a listing: why a workflow was escalated, and for one waiting for a
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

/// `hitl list` / `hitl aws list`: workflows, optionally of one status, newest first.
pub(crate) async fn list(
    backend: &dyn Backend,
    args: &ListArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let statuses = match &args.status {
        Some(s) => vec![status_filter(s)?],
        None => WorkflowStatus::ALL.to_vec(),
    };
    let workflows = listed(backend, &statuses, args.limit).await?;
    if as_json {
        println!(
            "{}",
            Value::Array(workflows.iter().map(list_item).collect())
        );
    } else {
        print_list(&workflows, backend.now());
    }
    Ok(ExitCode::SUCCESS)
}

/// `hitl aws status --status S` (no workflow id): the newest workflows of one status, as
/// `{"status", "workflows"}`.
pub(crate) async fn status_listing(
    backend: &dyn Backend,
    status: &str,
    limit: usize,
    as_json: bool,
) -> Result<ExitCode> {
    let status = status_filter(status)?;
    let workflows = listed(backend, &[status], limit.clamp(1, 100)).await?;
    if as_json {
        let items: Vec<Value> = workflows.iter().map(list_item).collect();
        println!("{}", json!({"status": status, "workflows": items}));
    } else {
        print_list(&workflows, backend.now());
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a decision's receipt with the workflow after it (`applied` says what was applied,
/// `retry` how to send the very same request again); a refusal exits 1 in either mode.
fn print_receipt(
    receipt: &FeedbackReceipt,
    after: &Workflow,
    applied: impl FnOnce() -> String,
    retry: &str,
    as_json: bool,
) -> ExitCode {
    let refused = matches!(receipt.outcome, FeedbackOutcome::Rejected { .. });
    if as_json {
        println!(
            "{}",
            json!({"receipt": receipt, "status": after.status, "iteration": after.iteration,
                "max_iterations": after.config.max_iterations, "reviewer_group": after.config.reviewer_group})
        );
    } else {
        println!(
            "idempotency key: {} (to retry this very {retry})",
            receipt.idempotency_key
        );
        match &receipt.outcome {
            FeedbackOutcome::Applied { .. } => println!(
                "{}applied: {}",
                if receipt.replayed { "already " } else { "" },
                applied()
            ),
            FeedbackOutcome::Rejected { reason, message } => {
                println!("rejected ({reason}): {message}");
            }
        }
    }
    if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The workflow a decision is about, and the operator making it (see [`acting_name`]).
async fn about(
    backend: &dyn Backend,
    id: &str,
    given: Option<&String>,
    actor: &Actor,
) -> Result<(Workflow, Reviewer)> {
    let name = acting_name(backend, given, actor)?;
    let workflow = load(backend.store().as_ref(), id, backend.command()).await?;
    Ok((workflow, operator(name)))
}

/// After a decision was sent: its receipt (a bad `--correction` named as typed) and the
/// workflow once the backend settled what the decision set off.
async fn settled(
    backend: &dyn Backend,
    id: &str,
    sent: Result<FeedbackReceipt, hitl_domain::feedback::FeedbackError>,
    corrections: &[hitl_domain::model::Correction],
) -> Result<(FeedbackReceipt, Workflow)> {
    let receipt = sent.map_err(|e| crate::args::name_corrections(e.into(), corrections))?;
    backend.settle().await?;
    let after = load(backend.store().as_ref(), id, backend.command()).await?;
    Ok((receipt, after))
}

/// `hitl feedback` / `hitl aws feedback`: a decision through the shared feedback processor,
/// resuming the waiting execution.
pub(crate) async fn feedback(
    backend: &dyn Backend,
    args: &FeedbackArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let (workflow, who) = about(
        backend,
        &args.workflow_id,
        args.reviewer.as_ref(),
        &FEEDBACK,
    )
    .await?;
    let decision = args.decision()?;
    let (request, key) = args.request(args.iteration.unwrap_or(i64::from(workflow.iteration)))?;
    let sent = processor(backend)
        .submit(&args.workflow_id, &request, &key, &who)
        .await;
    let (receipt, after) = settled(backend, &args.workflow_id, sent, &request.corrections).await?;
    let now = backend.now();
    let applied = || match &receipt.outcome {
        FeedbackOutcome::Applied {
            status: WorkflowStatus::AwaitingReview,
        } => {
            let approved_by = after
                .review_summary(now)
                .map(|r| r.approved_by)
                .unwrap_or_default();
            format!(
                "approval {} of {} on iteration {} (approved by {}) — the workflow waits for another reviewer",
                approved_by.len(),
                after.config.required_approvals,
                receipt.iteration,
                approved_by.join(", ")
            )
        }
        _ => format!(
            "{decision} on iteration {} — workflow is now {} (iteration {})",
            receipt.iteration, after.status, after.iteration
        ),
    };
    let retry = format!(
        "submission: --key {} --iteration {}",
        receipt.idempotency_key, receipt.iteration
    );
    Ok(print_receipt(&receipt, &after, applied, &retry, as_json))
}

/// `hitl resolve` / `hitl aws resolve`: an escalated workflow resolved through the shared
/// feedback processor, resuming its execution.
pub(crate) async fn resolve(
    backend: &dyn Backend,
    args: &ResolveArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let (workflow, who) = about(backend, &args.workflow_id, args.by.as_ref(), &RESOLVE).await?;
    // The escalated iteration (kept on the escalation record, so a retry after the resolution
    // moved the workflow on sends the very same request).
    let iteration = workflow
        .escalation
        .as_ref()
        .map_or(workflow.iteration, |e| e.iteration);
    let (request, key) = args.request(i64::from(iteration))?;
    let sent = processor(backend)
        .resolve(&args.workflow_id, &request, &key, &who)
        .await;
    let (receipt, after) = settled(backend, &args.workflow_id, sent, &request.corrections).await?;
    let applied = || {
        format!(
            "{} — workflow is now {} (iteration {} of {})",
            args.action(),
            after.status,
            after.iteration,
            after.config.max_iterations
        )
    };
    let retry = format!("resolution: --key {}", receipt.idempotency_key);
    Ok(print_receipt(&receipt, &after, applied, &retry, as_json))
}

/// `hitl claim` / `hitl release` (`take` false) and their `hitl aws` twins: the claim service
/// of the API on the backend's store; prints the receipt, or the refusal with its stable name
/// (exit 1).
pub(crate) async fn claim(
    backend: &dyn Backend,
    args: &ClaimArgs,
    take: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let name = acting_name(
        backend,
        args.reviewer.as_ref(),
        if take { &CLAIM } else { &RELEASE },
    )?;
    let service = backend.ports().claims();
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

/// `hitl export` / `hitl aws export`: the outcome as its consumers receive it, rebuilt from
/// the store (the same bytes `publish-outcome` wrote).
pub(crate) async fn export(backend: &dyn Backend, args: &ExportArgs) -> Result<ExitCode> {
    use hitl_domain::outcome::{envelope, envelope_bytes, finished_event};
    let id = &args.workflow_id;
    let store = backend.store();
    let wf = load(store.as_ref(), id, backend.command()).await?;
    let bytes = match wf.status {
        WorkflowStatus::Approved | WorkflowStatus::Resolved => {
            let artifacts = store.list_artifacts(id).await?;
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
        other => anyhow::bail!("workflow {id} is {other}: only approved, resolved, escalated and abandoned workflows have an outcome to export"),
    };
    match &args.out {
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

/// `hitl report` / `hitl aws report`: the learning report over the backend's workflows.
pub(crate) async fn report(
    backend: &dyn Backend,
    mut args: ReportArgs,
    as_json: bool,
) -> Result<ExitCode> {
    args.format = Some(args.format_with_json(as_json)?);
    let store = backend.store();
    report::run_with_progress(
        store.as_ref(),
        backend.now(),
        args,
        backend.shows_progress(),
    )
    .await
}

/// `hitl reconcile` / `hitl aws reconcile`: a pass of the delivery outbox relay (locally with
/// what the command's start-up passes did); exits 1 while decisions are still pending.
pub(crate) async fn reconcile(backend: &dyn Backend, as_json: bool) -> Result<ExitCode> {
    let report = backend.reconcile().await?;
    let outbox = backend.store().list_pending_deliveries(1000).await?;
    // Decisions decide the exit status; notifications waiting for their backoff are shown.
    let pending = outbox
        .iter()
        .filter(|w| w.pending_delivery().is_some())
        .count();
    let notifications_pending = outbox
        .iter()
        .flat_map(|w| &w.notifications)
        .filter(|n| n.is_pending())
        .count();
    if as_json {
        println!(
            "{}",
            json!({"report": report, "still_pending": pending, "notifications_pending": notifications_pending})
        );
    } else {
        println!(
            "reconcile: {} examined, {} delivered, {} late, {} closed, {} deferred, {} to retry; {} still pending",
            report.examined, report.delivered, report.late, report.closed, report.deferred, report.retry, pending
        );
        let n = &report.notifications;
        println!(
            "notifications: {} sent, {} failed (retried later), {} given up; {} still in the outbox",
            n.sent, n.failed, n.gave_up, notifications_pending
        );
    }
    Ok(if pending == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `hitl notifications --workflow ID` / `--pending` (and `hitl aws notifications`): the
/// notification outbox — each notification with its delivery per channel (status, attempts,
/// next attempt, last error). `--pending` lists what some channel has not sent yet, over every
/// workflow in the outbox.
pub(crate) async fn outbox(
    backend: &dyn Backend,
    workflow_id: Option<&str>,
    as_json: bool,
) -> Result<ExitCode> {
    let workflows = match workflow_id {
        Some(id) => vec![backend
            .store()
            .get_workflow(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("workflow {id} not found"))?],
        None => backend.store().list_pending_deliveries(1000).await?,
    };
    let records: Vec<(&str, &hitl_domain::model::NotificationRecord)> = workflows
        .iter()
        .flat_map(|w| {
            w.notifications
                .iter()
                .filter(|n| workflow_id.is_some() || n.is_pending())
                .map(move |n| (w.id.as_str(), n))
        })
        .collect();
    if as_json {
        let list: Vec<Value> = records
            .iter()
            .map(|(workflow, n)| {
                json!({
                    "workflow_id": workflow,
                    "id": n.id,
                    "delivery_id": n.delivery_id(),
                    "kind": n.notification.kind,
                    "group": n.notification.reviewer_group,
                    "created_at": n.created_at,
                    "channels": n.channels,
                })
            })
            .collect();
        println!("{}", json!({ "notifications": list }));
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        println!(
            "{}",
            match workflow_id {
                Some(id) => format!("workflow {id} has sent no notification"),
                None => "the notification outbox is empty: every channel sent what it had".into(),
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .flat_map(|(workflow, n)| {
            n.channels.iter().map(move |c| {
                let when = match c.status {
                    hitl_domain::model::ChannelStatus::Sent => c
                        .sent_at
                        .map(|t| format!("sent {}", t.format("%Y-%m-%d %H:%M:%S")))
                        .unwrap_or_default(),
                    hitl_domain::model::ChannelStatus::Pending => c
                        .next_attempt_at
                        .map(|t| format!("next {}", t.format("%Y-%m-%d %H:%M:%S")))
                        .unwrap_or_default(),
                    hitl_domain::model::ChannelStatus::GaveUp => "given up".into(),
                };
                vec![
                    workflow.to_string(),
                    n.id.clone(),
                    c.channel.clone(),
                    c.status.as_str().to_owned(),
                    c.attempts.to_string(),
                    when,
                    c.last_error.clone().unwrap_or_default(),
                ]
            })
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "WORKFLOW",
                "NOTIFICATION",
                "CHANNEL",
                "STATUS",
                "ATTEMPTS",
                "WHEN",
                "LAST ERROR"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}
