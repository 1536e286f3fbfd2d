//! `hitl aws …`: argument parsing and printing around [`hitl_cli::aws`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use aws_config::BehaviorVersion;
use clap::{Args, Subcommand};
use hitl_cli::aws::{self, AgentSpec, Clients, Overrides, Polling, Targets, Verdict};
use hitl_domain::model::{FeedbackOutcome, WorkflowStatus};
use hitl_domain::store::WorkflowStore;
use serde_json::json;

use crate::args::{start_input, ClaimArgs, FeedbackArgs, ResolveArgs, StartArgs};
use hitl_cli::format::{parse_duration, table};
use hitl_cli::report::{self, ReportArgs};

/// `hitl aws`: the deployed stack, through the real SDK clients.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// CloudFormation stack whose outputs and parameters name the table, state machine, API,
    /// functions and agent.
    #[arg(long, env = "HITL_STACK")]
    pub stack: Option<String>,
    /// AWS region (default: the SDK's chain, e.g. AWS_REGION or the profile).
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto or LocalStack).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Table name (overrides the stack output TableName).
    #[arg(long, env = "HITL_TABLE_NAME")]
    pub table: Option<String>,
    /// State machine ARN (overrides the stack output StateMachineArn).
    #[arg(long)]
    pub state_machine_arn: Option<String>,
    /// Reviewer API base URL (overrides the stack output ApiUrl).
    #[arg(long)]
    pub api_url: Option<String>,
    /// Bedrock agent id (overrides the stack parameter AgentId).
    #[arg(long)]
    pub agent_id: Option<String>,
    /// Bedrock agent alias id (overrides the stack parameter AgentAliasId).
    #[arg(long)]
    pub agent_alias_id: Option<String>,
    #[command(subcommand)]
    pub command: AwsCommand,
}

/// `hitl aws` subcommands.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Check the table, state machine, every function, the API and the agent alias; exits 1
    /// when any check fails.
    Verify,
    /// Start review workflows (validated locally first; nothing starts on a bad field).
    Start(AwsStartArgs),
    /// Submit a decision as an operator (channel `cli`), resuming the execution.
    Feedback(FeedbackArgs),
    /// Resolve an escalated workflow as an operator (the twin of `hitl resolve`; `--by` is
    /// required), resuming its execution.
    Resolve(ResolveArgs),
    /// Claim a workflow's current iteration for a reviewer (`--reviewer` is required): other
    /// reviewers' decisions are refused until it is released or lapses.
    Claim(ClaimArgs),
    /// Release a claim (`--reviewer` is required; `--admin` releases anyone's, e.g. the claim
    /// of a reviewer who is away).
    Release(ClaimArgs),
    /// One workflow and its execution, or the workflows of a status.
    Status(AwsStatusArgs),
    /// The learning report over the table (through the status index, with progress).
    Report(ReportArgs),
    /// Create or update the Bedrock agent and its alias, prepare it, wait for PREPARED.
    DeployAgent(DeployAgentArgs),
}

/// `hitl aws start`.
#[derive(Debug, Args)]
pub struct AwsStartArgs {
    #[command(flatten)]
    pub start: StartArgs,
    /// A smoke batch decided by the synthetic reviewer (subjects optional).
    #[arg(long)]
    pub smoke: bool,
}

/// `hitl aws status`.
#[derive(Debug, Args)]
pub struct AwsStatusArgs {
    /// Workflow id; without it, the newest workflows of `--status`.
    pub workflow_id: Option<String>,
    /// Status to list (generating, awaiting_review, revising, approved, escalated, failed).
    #[arg(long, default_value = "awaiting_review")]
    pub status: String,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `hitl aws deploy-agent`.
#[derive(Debug, Args)]
pub struct DeployAgentArgs {
    /// Agent name; the agent is created when no agent has it, updated otherwise.
    #[arg(long, default_value = "hitl-brand-metadata")]
    pub name: String,
    /// IAM role the agent assumes (needs bedrock:InvokeModel on the model).
    #[arg(long)]
    pub role_arn: String,
    /// Foundation model id or inference profile id.
    #[arg(long)]
    pub model: String,
    /// File with the agent's instruction (default: the built-in brand-metadata instruction).
    #[arg(long)]
    pub instruction_file: Option<PathBuf>,
    /// Alias name.
    #[arg(long, default_value = "live")]
    pub alias: String,
    /// Give up waiting for PREPARED after this long.
    #[arg(long, default_value = "10m")]
    pub timeout: String,
}

async fn sdk_config(args: &AwsArgs) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &args.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Runs `hitl aws …`.
pub async fn run(args: AwsArgs, as_json: bool) -> Result<ExitCode> {
    let config = sdk_config(&args).await;
    let clients = Clients::new(&config)?;
    if let AwsCommand::DeployAgent(deploy) = &args.command {
        return deploy_agent(&clients, deploy, as_json).await;
    }
    let overrides = Overrides {
        table: args.table.clone(),
        state_machine_arn: args.state_machine_arn.clone(),
        api_url: args.api_url.clone(),
        agent_id: args.agent_id.clone(),
        agent_alias_id: args.agent_alias_id.clone(),
    };
    let targets =
        aws::resolve_targets(&clients.cloudformation, args.stack.as_deref(), overrides).await?;
    match args.command {
        AwsCommand::Verify => verify(&clients, &targets, as_json).await,
        AwsCommand::Start(start) => start_workflows(&clients, &targets, start, as_json).await,
        AwsCommand::Feedback(feedback) => submit(&clients, &targets, feedback, as_json).await,
        AwsCommand::Resolve(args) => resolve(&clients, &targets, args, as_json).await,
        AwsCommand::Claim(args) => claim(&clients, &targets, args, true, as_json).await,
        AwsCommand::Release(args) => claim(&clients, &targets, args, false, as_json).await,
        AwsCommand::Status(status) => show_status(&clients, &targets, status, as_json).await,
        AwsCommand::Report(mut report_args) => {
            report_args.format = Some(report_args.format_with_json(as_json)?);
            let store = clients.store(&targets)?;
            report::run_with_progress(&store, chrono::Utc::now(), report_args, true).await
        }
        AwsCommand::DeployAgent(_) => Ok(ExitCode::SUCCESS),
    }
}

async fn verify(clients: &Clients, targets: &Targets, as_json: bool) -> Result<ExitCode> {
    let checks = aws::verify(clients, targets).await;
    let passed = aws::all_passed(&checks);
    if as_json {
        println!("{}", json!({"passed": passed, "checks": checks}));
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                vec![
                    match c.verdict {
                        Verdict::Pass => "PASS",
                        Verdict::Fail => "FAIL",
                        Verdict::Skip => "SKIP",
                    }
                    .to_owned(),
                    c.name.clone(),
                    c.detail.clone(),
                ]
            })
            .collect();
        println!("{}", table(&["RESULT", "CHECK", "DETAIL"], &rows));
        let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        println!(
            "verify: {} passed, {failed} failed, {} skipped",
            checks.iter().filter(|c| c.verdict == Verdict::Pass).count(),
            checks.iter().filter(|c| c.verdict == Verdict::Skip).count()
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn start_workflows(
    clients: &Clients,
    targets: &Targets,
    args: AwsStartArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let request_id = args.start.request_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            if args.smoke { "smoke" } else { "cli" },
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )
    });
    args.start.check_output(as_json)?;
    let (input, _) = start_input(&args.start, &request_id, args.smoke)?;
    crate::args::check_start(&input, &request_id)?;
    let started = aws::start(&clients.sfn, targets, &request_id, &input).await?;
    if args.start.quiet {
        for (workflow, _) in &started.workflows {
            println!("{workflow}");
        }
    } else if as_json {
        let workflows: Vec<_> = started
            .workflows
            .iter()
            .map(|(w, s)| json!({"workflow_id": w, "subject_id": s}))
            .collect();
        println!(
            "{}",
            json!({"request_id": started.request_id, "execution_arn": started.execution_arn, "workflows": workflows})
        );
    } else {
        println!(
            "request {}: execution {}",
            started.request_id, started.execution_arn
        );
        let rows: Vec<Vec<String>> = started
            .workflows
            .iter()
            .map(|(w, s)| vec![w.clone(), s.clone()])
            .collect();
        if !rows.is_empty() {
            println!("{}", table(&["WORKFLOW", "SUBJECT"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn submit(
    clients: &Clients,
    targets: &Targets,
    args: FeedbackArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let decision = args.decision()?;
    let reviewer = args.reviewer.as_deref().ok_or_else(|| {
        anyhow!("hitl aws feedback needs --reviewer NAME: the name is recorded in the deployed stack's audit trail")
    })?;
    let iteration = match args.iteration {
        Some(i) => i,
        None => {
            let store = clients.store(targets)?;
            let workflow = store
                .get_workflow(&args.workflow_id)
                .await
                .context("reading the workflow")?
                .ok_or_else(|| anyhow!("workflow {} not found", args.workflow_id))?;
            i64::from(workflow.iteration)
        }
    };
    let (request, key) = args.request(iteration)?;
    let receipt = aws::feedback(
        clients,
        targets,
        &args.workflow_id,
        &request,
        &key,
        reviewer,
    )
    .await
    .map_err(|e| crate::args::name_corrections(e, &request.corrections))?;
    if as_json {
        println!("{}", json!({"receipt": receipt}));
    }
    match &receipt.outcome {
        FeedbackOutcome::Applied { status } => {
            if !as_json {
                println!(
                    "{}applied: {decision} on iteration {} of {}: workflow is now {status}",
                    if receipt.replayed { "already " } else { "" },
                    receipt.iteration,
                    receipt.workflow_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FeedbackOutcome::Rejected { reason, message } => {
            if !as_json {
                println!("rejected ({reason}): {message}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// `hitl aws claim` / `hitl aws release`: the claim service on the stack's table, as the API
/// and `hitl claim` use it (the operator's AWS credentials are the authorisation).
async fn claim(
    clients: &Clients,
    targets: &Targets,
    args: ClaimArgs,
    take: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let verb = if take { "claim" } else { "release" };
    let name = args.reviewer.clone().ok_or_else(|| {
        anyhow!("hitl aws {verb} needs --reviewer NAME: the claim is held in that name on the deployed stack")
    })?;
    let service = aws::claims(clients, targets)?;
    crate::commands::claim_with(&service, &name, &args, take, as_json).await
}

async fn resolve(
    clients: &Clients,
    targets: &Targets,
    args: ResolveArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let by = args.by.as_deref().ok_or_else(|| {
        anyhow!("hitl aws resolve needs --by NAME: the name is recorded with the resolution in the deployed stack's audit trail")
    })?;
    let store = clients.store(targets)?;
    let workflow = store
        .get_workflow(&args.workflow_id)
        .await
        .context("reading the workflow")?
        .ok_or_else(|| anyhow!("workflow {} not found", args.workflow_id))?;
    let iteration = workflow
        .escalation
        .as_ref()
        .map_or(workflow.iteration, |e| e.iteration);
    let (request, key) = args.request(i64::from(iteration))?;
    let receipt = aws::resolve(clients, targets, &args.workflow_id, &request, &key, by)
        .await
        .map_err(|e| crate::args::name_corrections(e, &request.corrections))?;
    if as_json {
        println!("{}", json!({"receipt": receipt}));
    }
    match &receipt.outcome {
        FeedbackOutcome::Applied { status } => {
            if !as_json {
                println!(
                    "idempotency key: {} (to retry this very resolution: --key {})",
                    receipt.idempotency_key, receipt.idempotency_key
                );
                println!(
                    "{}applied: {} on {}: workflow is now {status}",
                    if receipt.replayed { "already " } else { "" },
                    args.action(),
                    receipt.workflow_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FeedbackOutcome::Rejected { reason, message } => {
            if !as_json {
                println!("rejected ({reason}): {message}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

async fn show_status(
    clients: &Clients,
    targets: &Targets,
    args: AwsStatusArgs,
    as_json: bool,
) -> Result<ExitCode> {
    if let Some(id) = &args.workflow_id {
        // The same document and text as `hitl status` (the API's workflow view).
        let source = aws::StackStatus::new(clients, targets)?;
        hitl_cli::status::show(&source, id, as_json).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let status: WorkflowStatus = serde_json::from_value(json!(args.status))
        .map_err(|_| anyhow!("--status {:?} is not a workflow status", args.status))?;
    let store = clients.store(targets)?;
    let page = store
        .list_by_status(status, args.limit.clamp(1, 100), None)
        .await
        .context("querying the status index")?;
    if as_json {
        let items: Vec<_> = page
            .items
            .iter()
            .map(|w| json!({"workflow_id": w.id, "subject_id": w.subject.id, "status": w.status, "iteration": w.iteration, "updated_at": w.updated_at,
                "escalation": w.escalation.as_ref().map(|e| e.summary())}))
            .collect();
        println!("{}", json!({"status": status, "workflows": items}));
    } else {
        let rows: Vec<Vec<String>> = page
            .items
            .iter()
            .map(|w| {
                vec![
                    w.id.clone(),
                    w.subject.name.clone(),
                    w.iteration.to_string(),
                    w.updated_at.to_rfc3339(),
                ]
            })
            .collect();
        println!("{} {status} workflow(s), newest first", rows.len());
        println!(
            "{}",
            table(&["WORKFLOW", "SUBJECT", "ITERATION", "UPDATED"], &rows)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn deploy_agent(
    clients: &Clients,
    args: &DeployAgentArgs,
    as_json: bool,
) -> Result<ExitCode> {
    let instruction = match &args.instruction_file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => aws::DEFAULT_INSTRUCTION.to_owned(),
    };
    let timeout = parse_duration(&args.timeout)
        .map_err(|e| anyhow!("--timeout: {e}"))?
        .to_std()
        .map_err(|_| anyhow!("--timeout must be positive"))?;
    let spec = AgentSpec {
        name: args.name.clone(),
        role_arn: args.role_arn.clone(),
        model: args.model.clone(),
        instruction,
        alias: args.alias.clone(),
    };
    let deployed = aws::deploy_agent(
        &clients.bedrock_agent,
        &spec,
        Polling {
            interval: Duration::from_secs(5),
            timeout,
        },
    )
    .await?;
    if as_json {
        println!("{}", json!(deployed));
    } else {
        println!(
            "agent {} ({}) and alias {} ({}) are PREPARED",
            deployed.agent_id,
            if deployed.created_agent {
                "created"
            } else {
                "updated"
            },
            deployed.alias_id,
            if deployed.created_alias {
                "created"
            } else {
                "updated"
            },
        );
        println!(
            "deploy the stack with: --parameter-overrides AgentId={} AgentAliasId={}",
            deployed.agent_id, deployed.alias_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
