//! `hitl sfn-local`: the local engine as a Step Functions endpoint (AWS JSON 1.0, see
//! docs/LOCAL_ENGINE.md), serving this data directory's executions, with the project's state
//! machine created and its functions registered in process — the AWS CLI, boto3 and the AWS
//! SDKs start and drive the real definition with the real handlers.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::io::Write;

use anyhow::{Context, Result};
use hitl_cli::local::Runtime;
use hitl_domain::ports::MetadataAgent;

/// `hitl sfn-local` flags.
#[derive(Debug, clap::Args)]
pub struct SfnLocalArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8083")]
    pub addr: SocketAddr,
    /// A Step Functions Local mock configuration (the same JSON format): StartExecution on
    /// `<state machine ARN>#<TestCase>` answers that test case's Task states from the file.
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<std::path::PathBuf>,
}

/// How often the endpoint looks for resumptions queued by handlers (the synthetic reviewer): a
/// look is a lock on an in-memory queue, no I/O.
const SETTLE_EVERY: Duration = Duration::from_millis(100);
/// How often the delivery outbox is relayed when nothing is queued (a store query each time).
const RELAY_EVERY: Duration = Duration::from_secs(5);

/// Serves the endpoint until the process is stopped.
pub async fn run(
    data_dir: &Path,
    agent: Arc<dyn MetadataAgent>,
    args: &SfnLocalArgs,
) -> Result<ExitCode> {
    // A bad mock file is refused before anything listens, naming the field.
    let mocks = match &args.mock_config {
        Some(path) => Some(
            statemachine::service::MockConfig::load(path)
                .map_err(|e| anyhow::anyhow!("--mock-config {}: {}", e.path, e.message))?,
        ),
        None => None,
    };
    let runtime = Arc::new(Runtime::open_endpoint(Some(data_dir), agent)?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    // Written once and not checked: a reader that stops after the address (`| head -1`, a test
    // harness) must not end the endpoint.
    let _ = writeln!(
        std::io::stdout(),
        "Step Functions endpoint on http://{addr} — state machine {} (this project's definition, its functions in process) — Ctrl-C to stop\n  aws stepfunctions --endpoint-url http://{addr} list-state-machines",
        runtime.state_machine_arn
    );
    let settling = {
        let runtime = Arc::clone(&runtime);
        tokio::spawn(async move {
            let mut last_relay = std::time::Instant::now();
            loop {
                tokio::time::sleep(SETTLE_EVERY).await;
                if runtime.resumer().is_idle() && last_relay.elapsed() < RELAY_EVERY {
                    continue;
                }
                last_relay = std::time::Instant::now();
                if let Err(e) = runtime.settle().await {
                    tracing::warn!(error = %e, "settling queued resumptions failed; retrying");
                }
            }
        })
    };
    // Ctrl-C ends the process; every state change is already committed to the data directory.
    let engine = Arc::clone(&runtime.engine);
    let served = match mocks {
        Some(mocks) => statemachine::service::serve_with_mocks(listener, engine, mocks).await,
        None => statemachine::service::serve(listener, engine).await,
    };
    settling.abort();
    served?;
    Ok(ExitCode::SUCCESS)
}
