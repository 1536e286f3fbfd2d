//! `hitl`: run the human-in-the-loop review workflow on this machine — the deployed ASL
//! definition, the real handlers, durable local state and virtual time.

mod args;
mod aws_cmd;
mod commands;
mod operate;
mod serve;
mod sfn_local;
mod smoke;
mod types_cmd;

use hitl_cli::report;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Human-in-the-loop review workflows, locally: the same state machine definition and
/// handlers as on AWS, with state in a local data directory and a virtual clock.
#[derive(Debug, Parser)]
#[command(name = "hitl", version, about, long_about = None)]
pub struct Cli {
    /// Data directory for workflow and execution state (created if missing).
    #[arg(long, global = true, env = "HITL_DATA_DIR", default_value = ".hitl")]
    pub data_dir: PathBuf,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who drafts: the offline `local` generator, or `openai` — any OpenAI-compatible
    /// chat-completions endpoint (Ollama, vLLM, llama.cpp's server, LM Studio, OpenAI).
    /// Every command that drafts (start, feedback, resolve, serve, sfn-local) uses it.
    #[arg(long, global = true, env = "HITL_GENERATOR", value_enum, default_value_t = args::Generator::Local)]
    pub generator: args::Generator,
    /// With --generator openai: the API's base URL, e.g. http://127.0.0.1:11434/v1 for Ollama.
    #[arg(long, global = true, env = "HITL_OPENAI_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// With --generator openai: the model, e.g. llama3.1.
    #[arg(long, global = true, env = "HITL_OPENAI_MODEL", value_name = "MODEL")]
    pub model: Option<String>,
    /// With --generator openai: the environment variable holding the API key (none for a
    /// local server). The key itself is never a flag, so it stays out of shell history.
    #[arg(
        long,
        global = true,
        env = "HITL_OPENAI_API_KEY_ENV",
        value_name = "VAR"
    )]
    pub api_key_env: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start review workflows for one subject or a file of subjects.
    Start(args::StartArgs),
    /// Submit a reviewer's decision for a workflow's current iteration.
    Feedback(args::FeedbackArgs),
    /// Claim a workflow's current iteration: other reviewers' decisions are refused until the
    /// claim is released or expires (claim_ttl, default 30 min); claiming again renews it.
    Claim(args::ClaimArgs),
    /// Release a claim (one's own; --admin releases anyone's).
    Release(args::ClaimArgs),
    /// Resolve an escalated workflow: --final/--correction (resolve), --extend N, --reassign
    /// GROUP or --abandon --reason TEXT.
    Resolve(args::ResolveArgs),
    /// Show one workflow: status, current draft, diff, feedback, deadline.
    Status {
        /// Workflow id.
        workflow_id: String,
    },
    /// List workflows, optionally by status, newest first.
    List(args::ListArgs),
    /// Show the Step Functions-style execution history of a workflow (or execution ARN).
    History {
        /// Workflow id or execution ARN.
        id: String,
    },
    /// Restart a FAILED, TIMED_OUT or ABORTED execution from the state where it stopped
    /// (keeping its name and input), as RedriveExecution does on AWS.
    Redrive {
        /// Workflow id or execution ARN.
        id: String,
    },
    /// Show the local notification log: review requests, reminders, escalations, finished
    /// workflows (`--since 2h` for the last two hours of virtual time); with `--workflow ID` or
    /// `--pending`, the notification outbox: each notification's delivery per channel.
    Notifications {
        /// Only notifications of the last DURATION (e.g. 30m, 2h, 1d).
        #[arg(long, value_name = "DURATION", conflicts_with_all = ["workflow", "pending"])]
        since: Option<String>,
        /// The outbox of one workflow: every notification and its status on each channel.
        #[arg(long, value_name = "ID", conflicts_with = "pending")]
        workflow: Option<String>,
        /// Every notification some channel has not sent yet (failing ones with their error).
        #[arg(long)]
        pending: bool,
    },
    /// Move the virtual clock forward (e.g. 72h, 30m, 1d2h): the clock stops at each timeout,
    /// timer and reminder on the way so each fires at its own time; prints what fired.
    AdvanceTime {
        /// How far: a number with s, m, h or d (combinations like 1h30m work).
        duration: String,
    },
    /// Print (or write with --out) the published outcome of a finished workflow: the envelope of
    /// an approved one, the Workflow Finished event of an escalated one.
    Export(args::ExportArgs),
    /// Deliver every accepted decision the executions have not confirmed yet (the outbox
    /// relay; also runs after every command's engine step loop and at `hitl serve` start-up).
    Reconcile,
    /// Run the smoke test: a batch decided by the synthetic reviewer, with named checks.
    Smoke(smoke::SmokeArgs),
    /// Serve the reviewers' HTTP API and review page on this machine.
    Serve(serve::ServeArgs),
    /// Serve the local engine as a Step Functions endpoint (AWS JSON 1.0) for the AWS CLI,
    /// boto3 and the AWS SDKs, with the project's state machine and functions in process.
    SfnLocal(sfn_local::SfnLocalArgs),
    /// Manage local reviewers: `hitl reviewers add <name> --groups a,b`, `remove <name>`,
    /// `rotate <name>`, `list` (a running `hitl serve` follows changes at once).
    Reviewers(serve::ReviewersArgs),
    /// Learning analytics over the workflows in the data directory (table, JSON or HTML).
    Report(report::ReportArgs),
    /// Operate a deployed stack on AWS: the same operator commands (start, list, status,
    /// feedback, claim, release, resolve, export, report, reconcile) on the stack, plus verify
    /// and deploy-agent.
    Aws(Box<aws_cmd::AwsArgs>),
    /// Artifact types: `hitl types list`, `show NAME`, `validate DIR`, `add DIR`
    /// (docs/TYPES.md).
    Types(types_cmd::TypesArgs),
    /// Execute any ASL definition with the registered handlers; prints one JSON line.
    Exec(commands::ExecArgs),
    /// Validate an ASL definition; exits non-zero with messages on errors.
    Validate {
        /// Path to the definition JSON.
        definition: PathBuf,
    },
}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HITL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, and never when NO_COLOR is set (no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    // `hitl list | head`: a reader that closes the pipe early is not an error; exit quietly
    // instead of panicking with "Broken pipe" (exit 101).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    // Crash points for the crash-matrix test (a no-op unless built with its feature).
    hitl_domain::failpoints::setup_from_env();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Dispatches a parsed command line.
async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Aws(args) => return aws_cmd::run(*args, cli.json).await,
        Command::Exec(args) => return commands::exec(args).await,
        Command::Validate { definition } => return commands::validate(&definition),
        Command::Reviewers(args) => return serve::reviewers(args, &cli.data_dir, cli.json),
        Command::Types(args) => return types_cmd::run(args, &cli.data_dir, cli.json),
        // Flags that contradict each other are refused before the data directory is touched.
        Command::Serve(ref args) => {
            args.limits()?;
        }
        _ => {}
    }
    let agent = args::generator(cli.generator, &cli.base_url, &cli.model, &cli.api_key_env)?;
    if let Command::SfnLocal(ref args) = cli.command {
        return sfn_local::run(&cli.data_dir, agent, args).await;
    }
    let runtime = hitl_cli::local::Runtime::open_with_agent(Some(&cli.data_dir), agent)?;
    runtime.engine.run_due().await?;
    let settled = runtime.settle_report().await?;
    let local = hitl_cli::backend::Local::new(&runtime, settled);
    let json = cli.json;
    match cli.command {
        Command::Start(args) => operate::start(&local, &args, false, json).await,
        Command::Feedback(args) => operate::feedback(&local, &args, json).await,
        Command::Resolve(args) => operate::resolve(&local, &args, json).await,
        Command::Claim(args) => operate::claim(&local, &args, true, json).await,
        Command::Release(args) => operate::claim(&local, &args, false, json).await,
        Command::Status { workflow_id } => operate::status(&local, &workflow_id, json).await,
        Command::List(args) => operate::list(&local, &args, json).await,
        Command::Export(args) => operate::export(&local, &args).await,
        Command::Report(args) => operate::report(&local, args, json).await,
        Command::Reconcile => operate::reconcile(&local, json).await,
        Command::History { id } => commands::history(&runtime, &id, cli.json).await,
        Command::Redrive { id } => commands::redrive(&runtime, &id).await,
        Command::AdvanceTime { duration } => commands::advance(&runtime, &duration, cli.json).await,
        Command::Notifications {
            since,
            workflow,
            pending,
        } => {
            if workflow.is_some() || pending {
                operate::outbox(&local, workflow.as_deref(), json).await
            } else {
                commands::notifications(&runtime, since.as_deref(), cli.json).await
            }
        }
        Command::Smoke(args) => smoke::run(&runtime, args, cli.json).await,
        Command::Serve(args) => serve::run(&runtime, args.with_data_dir(&cli.data_dir)).await,
        Command::Exec(_)
        | Command::Validate { .. }
        | Command::Reviewers(_)
        | Command::Types(_)
        | Command::Aws(_)
        | Command::SfnLocal(_) => Ok(std::process::ExitCode::SUCCESS),
    }
}
