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
    /// A Lambda function served by a Lambda Runtime Interface Emulator: `NAME=URL` (the
    /// emulator's base URL, e.g. `my-fn=http://127.0.0.1:9000`); tasks whose resource names
    /// function NAME (its ARN, or `lambda:invoke` with that `FunctionName`) are sent there.
    /// Repeatable; takes the place of this project's function of that name.
    #[arg(long = "lambda", value_name = "NAME=URL", value_parser = parse_lambda)]
    pub lambdas: Vec<(String, String)>,
}

/// `NAME=URL` of `--lambda`.
fn parse_lambda(text: &str) -> Result<(String, String), String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=URL"))?;
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(format!(
            "{name:?} is not a Lambda function name (1..=64 of letters, digits, '-', '_')"
        ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    }
    Ok((name.to_owned(), url.trim_end_matches('/').to_owned()))
}

/// A Lambda function behind a Runtime Interface Emulator: each task POSTs its payload to
/// `<url>/2015-03-31/functions/function/invocations` and takes the answer as the function's
/// result; an answer with `X-Amz-Function-Error`, or `{"errorType", "errorMessage"}` as the
/// emulator answers a function error, fails the task with that `errorType` (as Step Functions
/// reports a function's error), so `Retry` and `Catch` apply. An emulator that cannot be
/// reached fails the task with `Lambda.ServiceException`.
pub struct RieFunction {
    name: String,
    url: String,
    http: reqwest::Client,
}

impl RieFunction {
    /// Function `name` at the emulator's base `url`.
    pub fn new(name: &str, url: &str) -> Self {
        Self {
            name: name.to_owned(),
            url: url.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(900))
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait::async_trait]
impl statemachine::TaskHandler for RieFunction {
    async fn invoke(
        &self,
        input: serde_json::Value,
        _ctx: statemachine::TaskContext,
    ) -> Result<serde_json::Value, statemachine::TaskFailure> {
        let service = |cause: String| statemachine::TaskFailure {
            error: "Lambda.ServiceException".into(),
            cause: format!("function {} at {}: {cause}", self.name, self.url),
        };
        let response = self
            .http
            .post(format!(
                "{}/2015-03-31/functions/function/invocations",
                self.url
            ))
            .json(&input)
            .send()
            .await
            .map_err(|e| service(e.to_string()))?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response.bytes().await.map_err(|e| service(e.to_string()))?;
        if !status.is_success() {
            return Err(service(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(500)
                    .collect::<String>()
            )));
        }
        let value: serde_json::Value = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| service(format!("the answer is not JSON ({e})")))?
        };
        let error_type = value.get("errorType").and_then(serde_json::Value::as_str);
        let is_error = function_error
            || (error_type.is_some()
                && value.get("errorMessage").is_some()
                && value.as_object().is_some_and(|o| {
                    o.keys().all(|k| {
                        matches!(
                            k.as_str(),
                            "errorType" | "errorMessage" | "stackTrace" | "requestId"
                        )
                    })
                }));
        if is_error {
            return Err(statemachine::TaskFailure {
                error: error_type.unwrap_or("Lambda.Unknown").to_owned(),
                cause: value
                    .get("errorMessage")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        Ok(value)
    }
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
    let lambdas = args
        .lambdas
        .iter()
        .map(|(name, url)| {
            (
                name.clone(),
                Arc::new(RieFunction::new(name, url)) as Arc<dyn statemachine::TaskHandler>,
            )
        })
        .collect();
    let runtime = Arc::new(Runtime::open_endpoint(Some(data_dir), agent, lambdas)?);
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
