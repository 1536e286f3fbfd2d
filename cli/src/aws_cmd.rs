//! `hitl aws …`: argument parsing around [`hitl_cli::aws`]. The operator commands are the
//! local ones (`crate::operate`) on the stack's backend ([`Stack`]); `verify` and
//! `deploy-agent` exist only here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use aws_config::BehaviorVersion;
use clap::{Args, Subcommand};
use hitl_cli::aws::{self, AgentSpec, Clients, Overrides, Polling, Stack, Targets, Verdict};
use serde_json::json;

use crate::args::{ClaimArgs, ExportArgs, FeedbackArgs, ListArgs, ResolveArgs, StartArgs};
use crate::operate;
use hitl_cli::format::{parse_duration, table};
use hitl_cli::report::ReportArgs;

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
    /// Send Step Functions calls to this endpoint instead (a local Step Functions endpoint such
    /// as `hitl sfn-local`, while the other services stay where they are).
    #[arg(long, env = "AWS_ENDPOINT_URL_SFN")]
    pub sfn_endpoint_url: Option<String>,
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
    /// List workflows, optionally by status, newest first (the twin of `hitl list`).
    List(ListArgs),
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
    /// One workflow and its execution (the same text and `--json` document as `hitl status`),
    /// or without an id the newest workflows of `--status`.
    Status(AwsStatusArgs),
    /// Print (or write with --out) the outcome of a finished workflow, rebuilt from the table:
    /// the envelope of an approved one, the Workflow Finished event of an escalated one.
    Export(ExportArgs),
    /// The learning report over the table (through the status index, with progress).
    Report(ReportArgs),
    /// Deliver every accepted decision the executions have not confirmed yet (one pass of the
    /// outbox relay with the operator's credentials); exits 1 while any is still pending.
    Reconcile,
    /// The notification outbox: one workflow's notifications and their delivery per channel
    /// (`--workflow ID`), or every notification some channel has not sent (`--pending`).
    Notifications(AwsNotificationsArgs),
    /// Create or update the Bedrock agent and its alias, prepare it, wait for PREPARED.
    DeployAgent(DeployAgentArgs),
}

/// `hitl aws notifications`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct AwsNotificationsArgs {
    /// One workflow's notifications.
    #[arg(long, value_name = "ID")]
    pub workflow: Option<String>,
    /// Every notification some channel has not sent yet.
    #[arg(long)]
    pub pending: bool,
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
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(hitl_aws::https_client());
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
    let clients = Clients::new(&config, args.sfn_endpoint_url.as_deref())?;
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
    if let AwsCommand::Verify = args.command {
        return verify(&clients, &targets, as_json).await;
    }
    // Every other command is the local one, on the stack.
    let stack = Stack::new(&clients, &targets)?;
    match args.command {
        AwsCommand::Start(a) => operate::start(&stack, &a.start, a.smoke, as_json).await,
        AwsCommand::List(a) => operate::list(&stack, &a, as_json).await,
        AwsCommand::Feedback(a) => operate::feedback(&stack, &a, as_json).await,
        AwsCommand::Resolve(a) => operate::resolve(&stack, &a, as_json).await,
        AwsCommand::Claim(a) => operate::claim(&stack, &a, true, as_json).await,
        AwsCommand::Release(a) => operate::claim(&stack, &a, false, as_json).await,
        AwsCommand::Status(a) => match &a.workflow_id {
            Some(id) => operate::status(&stack, id, as_json).await,
            None => operate::status_listing(&stack, &a.status, a.limit, as_json).await,
        },
        AwsCommand::Export(a) => operate::export(&stack, &a).await,
        AwsCommand::Report(a) => operate::report(&stack, a, as_json).await,
        AwsCommand::Reconcile => operate::reconcile(&stack, as_json).await,
        AwsCommand::Notifications(args) => {
            operate::outbox(&stack, args.workflow.as_deref(), as_json).await
        }
        AwsCommand::Verify | AwsCommand::DeployAgent(_) => Ok(ExitCode::SUCCESS),
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
            "deploy the stack with: --parameter-overrides Generator=bedrock-agent AgentId={} AgentAliasId={}",
            deployed.agent_id, deployed.alias_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
