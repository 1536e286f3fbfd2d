//! `hitl aws`: operating a deployed stack with the real AWS SDK clients.
//!
//! Everything here talks to AWS (or an emulator through `--endpoint-url`): the stack's
//! outputs and parameters come from CloudFormation, the checks call DynamoDB, Step Functions,
//! Lambda, the reviewer API and Bedrock, and decisions go through the same
//! feedback processor as the Lambda functions, on the DynamoDB store and the Step Functions
//! resumer ([`Stack`], the backend of the operator commands). The binary only parses arguments
//! and prints; this module returns data so it can be tested against moto and, for Bedrock,
//! `aws-smithy-mocks`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use aws_config::SdkConfig;
use aws_sdk_bedrockagent::types::{AgentAliasStatus, AgentStatus};
use aws_sdk_dynamodb::types::{IndexStatus, TableStatus};
use hitl_aws::dynamodb::DynamoStore;
use hitl_aws::SfnResumer;
use hitl_domain::feedback::ReconcileReport;
use hitl_domain::model::Workflow;
use hitl_domain::ports::SystemClock;
use serde::Serialize;
use serde_json::Value;

use crate::backend::Backend;

/// Stack output keys `hitl aws` reads (see `Outputs` in `infra/template.yaml`).
pub mod output_keys {
    /// The reviewer API's base URL.
    pub const API_URL: &str = "ApiUrl";
    /// The workflow table.
    pub const TABLE_NAME: &str = "TableName";
    /// The state machine.
    pub const STATE_MACHINE_ARN: &str = "StateMachineArn";
    /// The SQS feedback queue.
    pub const FEEDBACK_QUEUE_URL: &str = "FeedbackQueueUrl";
}

/// Stack parameters `hitl aws` reads.
pub mod parameter_keys {
    /// Bedrock agent id (empty: the deterministic generator).
    pub const AGENT_ID: &str = "AgentId";
    /// Bedrock agent alias id.
    pub const AGENT_ALIAS_ID: &str = "AgentAliasId";
}

/// The status index every listing uses.
pub const STATUS_INDEX: &str = hitl_aws::dynamodb::STATUS_INDEX;
/// The sparse index of decisions awaiting delivery (the outbox).
pub const PENDING_DELIVERY_INDEX: &str = hitl_aws::dynamodb::PENDING_DELIVERY_INDEX;

/// Values given on the command line; each wins over the stack's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Table name.
    pub table: Option<String>,
    /// State machine ARN.
    pub state_machine_arn: Option<String>,
    /// API base URL.
    pub api_url: Option<String>,
    /// Bedrock agent id.
    pub agent_id: Option<String>,
    /// Bedrock agent alias id.
    pub agent_alias_id: Option<String>,
}

/// What a command operates on, resolved from the stack and the overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Targets {
    /// The stack, when one was named.
    pub stack: Option<String>,
    /// Table name.
    pub table: Option<String>,
    /// State machine ARN.
    pub state_machine_arn: Option<String>,
    /// API base URL (no trailing slash).
    pub api_url: Option<String>,
    /// Lambda functions of the stack (physical names), sorted.
    pub functions: Vec<String>,
    /// Bedrock agent and alias, when configured.
    pub agent: Option<(String, String)>,
    /// Bucket of the outcome envelopes (stack output `OutcomesBucketName`).
    pub outcomes_bucket: Option<String>,
    /// The stack's `Environment` parameter (part of the envelopes' keys).
    pub environment: Option<String>,
}

impl Targets {
    /// Where the envelope of an approved workflow is, when the stack names its bucket.
    pub fn outcome_location(&self, workflow: &hitl_domain::model::Workflow) -> Option<String> {
        if workflow.status != hitl_domain::model::WorkflowStatus::Approved {
            return None;
        }
        let bucket = self.outcomes_bucket.as_deref()?;
        let env = self.environment.as_deref()?;
        Some(format!(
            "s3://{bucket}/{}",
            hitl_domain::outcome::envelope_key(env, workflow)
        ))
    }
}

impl Targets {
    /// The table, or an error that says how to name it.
    pub fn table(&self) -> Result<&str> {
        self.table
            .as_deref()
            .ok_or_else(|| anyhow!("no table: pass --stack <name> or --table <name>"))
    }

    /// The state machine, or an error that says how to name it.
    pub fn state_machine_arn(&self) -> Result<&str> {
        self.state_machine_arn.as_deref().ok_or_else(|| {
            anyhow!("no state machine: pass --stack <name> or --state-machine-arn <arn>")
        })
    }
}

/// The SDK clients `hitl aws` uses, built once from one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    /// CloudFormation (stack outputs and resources).
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    /// Lambda.
    pub lambda: aws_sdk_lambda::Client,
    /// Bedrock Agents (control plane).
    pub bedrock_agent: aws_sdk_bedrockagent::Client,
    /// HTTP for the reviewer API's health check.
    pub http: reqwest::Client,
}

impl Clients {
    /// Builds every client from `config`; Step Functions at `sfn_endpoint` when given (a local
    /// Step Functions endpoint such as `hitl sfn-local`, beside other services elsewhere).
    pub fn new(config: &SdkConfig, sfn_endpoint: Option<&str>) -> Result<Self> {
        let mut sfn = aws_sdk_sfn::config::Builder::from(config);
        if let Some(endpoint) = sfn_endpoint {
            sfn = sfn.endpoint_url(endpoint);
        }
        Ok(Self {
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sfn: aws_sdk_sfn::Client::from_conf(sfn.build()),
            lambda: aws_sdk_lambda::Client::new(config),
            bedrock_agent: aws_sdk_bedrockagent::Client::new(config),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("building the HTTP client")?,
        })
    }

    /// The DynamoDB workflow store of `targets`.
    pub fn store(&self, targets: &Targets) -> Result<DynamoStore> {
        Ok(DynamoStore::new(self.dynamodb.clone(), targets.table()?))
    }
}

/// A deployed stack as the [`Backend`] of the `hitl aws` operator commands: its DynamoDB
/// table, Step Functions (`StartExecution`, `SendTaskSuccess`, `DescribeExecution`), the
/// system clock and its outcomes bucket. Decisions go through the same feedback processor as
/// the Lambda functions; the operator's AWS credentials are the authorisation.
pub struct Stack {
    ports: hitl_app::Ports,
    sfn: aws_sdk_sfn::Client,
    targets: Targets,
}

impl Stack {
    /// The stack `targets` name (its table is required).
    pub fn new(clients: &Clients, targets: &Targets) -> Result<Self> {
        Ok(Self {
            ports: hitl_app::Ports::new(Arc::new(clients.store(targets)?), Arc::new(SystemClock))
                .with_resumer(Arc::new(SfnResumer::new(clients.sfn.clone()))),
            sfn: clients.sfn.clone(),
            targets: targets.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Backend for Stack {
    fn command(&self) -> &'static str {
        "hitl aws"
    }

    fn ports(&self) -> &hitl_app::Ports {
        &self.ports
    }

    fn stand_in(&self, _name: &'static str) -> Option<String> {
        None
    }

    fn request_prefix(&self) -> &'static str {
        "cli"
    }

    /// `StartExecution` named `request_id` (the request was validated with the PlanBatch
    /// task's rules before).
    async fn start(&self, request_id: &str, input: &Value) -> Result<String> {
        let arn = self.targets.state_machine_arn()?;
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(arn)
            .name(request_id)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_sfn::operation::start_execution::StartExecutionError as E;
                match e.as_service_error() {
                    Some(E::ExecutionAlreadyExists(_)) => anyhow!(
                        "request {request_id} was already started (execution names are unique for 90 days): \
                         use `hitl aws status` to see its workflows, or a new --request-id"
                    ),
                    _ => anyhow!("StartExecution: {}", sdk_error(e)),
                }
            })?;
        Ok(started.execution_arn().to_owned())
    }

    async fn settle(&self) -> Result<()> {
        Ok(())
    }

    async fn execution_status(&self, workflow: &Workflow) -> Result<Option<String>> {
        let Some(arn) = &workflow.execution_arn else {
            return Ok(None);
        };
        Ok(Some(
            self.sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .map_err(|e| anyhow!("DescribeExecution {arn}: {}", sdk_error(e)))?
                .status()
                .as_str()
                .to_owned(),
        ))
    }

    fn outcome_location(&self, workflow: &Workflow) -> Option<String> {
        self.targets.outcome_location(workflow)
    }

    async fn reconcile(&self) -> Result<ReconcileReport> {
        Ok(hitl_app::housekeeping::deliver_pending(&self.ports, RECONCILE_BATCH).await?)
    }

    fn shows_progress(&self) -> bool {
        true
    }
}

/// Workflows one `hitl aws reconcile` pass looks at.
const RECONCILE_BATCH: usize = 100;

/// An SDK failure in one line: the service's error code and message (or the root cause of a
/// transport or credentials failure), and a hint where one helps.
fn sdk_error<E>(err: E) -> String
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let code = err.code().map(str::to_owned);
    let message = err.message().map(str::to_owned);
    let full = aws_sdk_dynamodb::error::DisplayErrorContext(&err)
        .to_string()
        .replace('\n', " ");
    explain(code.as_deref(), message.as_deref(), &full)
}

/// The one-line text of [`sdk_error`] from its parts (pure, so it can be tested).
pub fn explain(code: Option<&str>, message: Option<&str>, full: &str) -> String {
    let cause = match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        (None, Some(m)) => m.to_owned(),
        // Transport and credentials errors: the innermost cause is the informative one.
        (None, None) => full.rsplit(": ").next().unwrap_or(full).trim().to_owned(),
    };
    let lower = format!("{} {}", cause, full).to_lowercase();
    let hint = if [
        "expiredtoken",
        "invalidclienttokenid",
        "unrecognizedclient",
        "no credentials",
        "credentials provider",
        "failed to load credentials",
        "signaturedoesnotmatch",
        "the security token included in the request is expired",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        " (hint: credentials are missing or expired - run `aws sso login`, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    } else if lower.contains("stack with id") && lower.contains("does not exist") {
        " (hint: list your stacks with `aws cloudformation list-stacks --stack-status-filter CREATE_COMPLETE UPDATE_COMPLETE`, and check --region)"
    } else if lower.contains("dispatch failure")
        || lower.contains("connection refused")
        || lower.contains("dns error")
    {
        " (hint: the endpoint is unreachable - check --region, AWS_ENDPOINT_URL and the network)"
    } else {
        ""
    };
    let mut line: String = cause.chars().take(240).collect();
    if cause.chars().count() > 240 {
        line.push('…');
    }
    line + hint
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Resolves the targets: the stack's outputs, parameters and Lambda functions (when `stack`
/// is given), each overridden by `overrides`.
pub async fn resolve_targets(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: Option<&str>,
    overrides: Overrides,
) -> Result<Targets> {
    let mut outputs = BTreeMap::new();
    let mut parameters = BTreeMap::new();
    let mut functions = Vec::new();
    if let Some(stack) = stack {
        let described = cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| anyhow!("describing stack {stack}: {}", sdk_error(e)))?;
        let found = described
            .stacks()
            .first()
            .ok_or_else(|| anyhow!("stack {stack} not found"))?;
        for output in found.outputs() {
            if let (Some(k), Some(v)) = (output.output_key(), output.output_value()) {
                outputs.insert(k.to_owned(), v.to_owned());
            }
        }
        for parameter in found.parameters() {
            if let (Some(k), Some(v)) = (parameter.parameter_key(), parameter.parameter_value()) {
                parameters.insert(k.to_owned(), v.to_owned());
            }
        }
        let mut pages = cloudformation
            .list_stack_resources()
            .stack_name(stack)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| anyhow!("listing resources of {stack}: {}", sdk_error(e)))?;
            for resource in page.stack_resource_summaries() {
                if resource.resource_type() == Some("AWS::Lambda::Function") {
                    if let Some(name) = resource.physical_resource_id() {
                        functions.push(name.to_owned());
                    }
                }
            }
        }
        functions.sort();
    }
    let pick = |over: Option<String>, key: &str, from: &BTreeMap<String, String>| {
        non_empty(over).or_else(|| non_empty(from.get(key).cloned()))
    };
    let agent_id = pick(overrides.agent_id, parameter_keys::AGENT_ID, &parameters);
    let alias_id = pick(
        overrides.agent_alias_id,
        parameter_keys::AGENT_ALIAS_ID,
        &parameters,
    );
    let agent = match (agent_id, alias_id) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => bail!("an agent needs both an agent id and an alias id"),
    };
    Ok(Targets {
        stack: stack.map(str::to_owned),
        table: pick(overrides.table, output_keys::TABLE_NAME, &outputs),
        state_machine_arn: pick(
            overrides.state_machine_arn,
            output_keys::STATE_MACHINE_ARN,
            &outputs,
        ),
        api_url: pick(overrides.api_url, output_keys::API_URL, &outputs)
            .map(|u| u.trim_end_matches('/').to_owned()),
        functions,
        agent,
        outcomes_bucket: non_empty(outputs.get("OutcomesBucketName").cloned()),
        environment: non_empty(parameters.get("Environment").cloned()),
    })
}

/// Result of one check of `hitl aws verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// As it should be.
    Pass,
    /// Broken or missing.
    Fail,
    /// Not applicable (e.g. no agent configured); not a failure.
    Skip,
}

/// One line of the `hitl aws verify` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`table`, `state machine`, `function <name>`, …).
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            verdict,
            detail: detail.into(),
        }
    }
}

/// Whether every check passed (skips allowed).
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict != Verdict::Fail)
}

/// `hitl aws verify`: table, status index, state machine, each function, the API's health and
/// the agent alias.
pub async fn verify(clients: &Clients, targets: &Targets) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(check_table(&clients.dynamodb, targets.table.as_deref()).await);
    checks.push(check_state_machine(&clients.sfn, targets.state_machine_arn.as_deref()).await);
    if targets.functions.is_empty() {
        checks.push(Check::new(
            "functions",
            if targets.stack.is_some() {
                Verdict::Fail
            } else {
                Verdict::Skip
            },
            if targets.stack.is_some() {
                "the stack has no AWS::Lambda::Function resources"
            } else {
                "no stack given (--stack lists the functions)"
            },
        ));
    }
    for function in &targets.functions {
        checks.push(check_function(&clients.lambda, function).await);
    }
    checks.push(check_api(&clients.http, targets.api_url.as_deref()).await);
    checks.push(match &targets.agent {
        Some((agent, alias)) => check_agent_alias(&clients.bedrock_agent, agent, alias).await,
        None => Check::new(
            "agent alias",
            Verdict::Skip,
            "no agent configured: drafts come from the deterministic generator",
        ),
    });
    checks
}

async fn check_table(client: &aws_sdk_dynamodb::Client, table: Option<&str>) -> Check {
    let Some(table) = table else {
        return Check::new("table", Verdict::Fail, "no table (--stack or --table)");
    };
    let name = format!("table {table}");
    let described = match client.describe_table().table_name(table).send().await {
        Ok(d) => d,
        Err(e) => return Check::new(name, Verdict::Fail, sdk_error(e)),
    };
    let Some(description) = described.table() else {
        return Check::new(name, Verdict::Fail, "DescribeTable returned no table");
    };
    if description.table_status() != Some(&TableStatus::Active) {
        return Check::new(
            name,
            Verdict::Fail,
            format!(
                "status {}",
                description.table_status().map_or("unknown", |s| s.as_str())
            ),
        );
    }
    for index_name in [STATUS_INDEX, PENDING_DELIVERY_INDEX] {
        let index = description
            .global_secondary_indexes()
            .iter()
            .find(|i| i.index_name() == Some(index_name));
        match index {
            None => {
                return Check::new(
                    name,
                    Verdict::Fail,
                    format!("ACTIVE, but the index {index_name} is missing"),
                )
            }
            Some(i) if i.index_status().is_some_and(|s| s != &IndexStatus::Active) => {
                return Check::new(
                    name,
                    Verdict::Fail,
                    format!(
                        "index {index_name} is {}",
                        i.index_status().map_or("unknown", |s| s.as_str())
                    ),
                )
            }
            Some(_) => {}
        }
    }
    Check::new(
        name,
        Verdict::Pass,
        format!(
            "ACTIVE, indexes {STATUS_INDEX} and {PENDING_DELIVERY_INDEX} ACTIVE, {} items",
            description.item_count().unwrap_or(0)
        ),
    )
}

async fn check_state_machine(client: &aws_sdk_sfn::Client, arn: Option<&str>) -> Check {
    let Some(arn) = arn else {
        return Check::new(
            "state machine",
            Verdict::Fail,
            "no state machine (--stack or --state-machine-arn)",
        );
    };
    let name = format!("state machine {}", arn.rsplit(':').next().unwrap_or(arn));
    match client
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Err(e) => Check::new(name, Verdict::Fail, sdk_error(e)),
        Ok(d) => {
            let status = d.status().map_or("unknown", |s| s.as_str()).to_owned();
            let kind = d.r#type().as_str().to_owned();
            let ok = status == "ACTIVE" && kind == "STANDARD";
            Check::new(
                name,
                if ok { Verdict::Pass } else { Verdict::Fail },
                format!("{status}, {kind}"),
            )
        }
    }
}

async fn check_function(client: &aws_sdk_lambda::Client, function: &str) -> Check {
    let name = format!("function {function}");
    match client.get_function().function_name(function).send().await {
        Err(e) => Check::new(name, Verdict::Fail, sdk_error(e)),
        Ok(out) => {
            let Some(config) = out.configuration() else {
                return Check::new(name, Verdict::Fail, "no configuration returned");
            };
            let state = config.state().map_or("Active", |s| s.as_str()).to_owned();
            let detail = format!(
                "{state}, {}, {}",
                config.runtime().map_or("-", |r| r.as_str()),
                config.architectures().first().map_or("-", |a| a.as_str())
            );
            let ok = state == "Active";
            Check::new(name, if ok { Verdict::Pass } else { Verdict::Fail }, detail)
        }
    }
}

async fn check_api(http: &reqwest::Client, api_url: Option<&str>) -> Check {
    let Some(base) = api_url else {
        return Check::new("api", Verdict::Fail, "no API URL (--stack or --api-url)");
    };
    let url = format!("{base}/healthz");
    let name = format!("api {url}");
    match http.get(&url).send().await {
        Err(e) => Check::new(name, Verdict::Fail, e.to_string()),
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Option<Value> = response.json().await.ok();
            let healthy = status == 200
                && body
                    .as_ref()
                    .is_some_and(|b| b.get("status").and_then(Value::as_str) == Some("ok"));
            Check::new(
                name,
                if healthy {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
                format!("HTTP {status}"),
            )
        }
    }
}

/// Checks that the agent alias is PREPARED (`GetAgentAlias`).
pub async fn check_agent_alias(
    client: &aws_sdk_bedrockagent::Client,
    agent_id: &str,
    alias_id: &str,
) -> Check {
    let name = format!("agent {agent_id} alias {alias_id}");
    match client
        .get_agent_alias()
        .agent_id(agent_id)
        .agent_alias_id(alias_id)
        .send()
        .await
    {
        Err(e) => Check::new(name, Verdict::Fail, sdk_error(e)),
        Ok(out) => match out.agent_alias().map(|a| a.agent_alias_status()) {
            Some(AgentAliasStatus::Prepared) => Check::new(name, Verdict::Pass, "PREPARED"),
            Some(other) => Check::new(
                name,
                Verdict::Fail,
                format!("{}, not PREPARED", other.as_str()),
            ),
            None => Check::new(name, Verdict::Fail, "alias not found"),
        },
    }
}

/// What `hitl aws deploy-agent` creates or updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// Agent name (the agent is found by it; created when missing).
    pub name: String,
    /// IAM role the agent runs as.
    pub role_arn: String,
    /// Foundation model id or inference profile.
    pub model: String,
    /// The agent's instruction.
    pub instruction: String,
    /// Alias name (created when missing, moved to the new version otherwise).
    pub alias: String,
}

/// How long and how often to poll for PREPARED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// Between two polls.
    pub interval: Duration,
    /// Give up after.
    pub timeout: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
        }
    }
}

/// What `hitl aws deploy-agent` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedAgent {
    /// Agent id (the stack's `AgentId` parameter).
    pub agent_id: String,
    /// Alias id (the stack's `AgentAliasId` parameter).
    pub alias_id: String,
    /// Whether the agent was created (else updated).
    pub created_agent: bool,
    /// Whether the alias was created (else updated).
    pub created_alias: bool,
}

/// The instruction `hitl aws deploy-agent` gives the agent unless `--instruction-file` says
/// otherwise: the contract the generate-metadata function parses and validates.
pub const DEFAULT_INSTRUCTION: &str = "You write brand metadata for a human reviewer. \
Answer with exactly one JSON object and nothing else, with the string fields name, tagline, \
description, category, tone, target_audience and an object colors with primary and secondary \
as #RRGGBB hex colours. Keep the subject's name. When the request lists reviewer feedback and \
field corrections from earlier iterations, apply every correction verbatim and address every \
comment; do not change fields nobody asked to change.";

/// `hitl aws deploy-agent`: creates or updates the agent named `spec.name`, prepares it, waits
/// for PREPARED, then creates or updates the alias and waits for it to be PREPARED.
pub async fn deploy_agent(
    client: &aws_sdk_bedrockagent::Client,
    spec: &AgentSpec,
    polling: Polling,
) -> Result<DeployedAgent> {
    let existing = find_agent(client, &spec.name).await?;
    let created_agent = existing.is_none();
    let agent_id = match existing {
        Some(id) => {
            client
                .update_agent()
                .agent_id(&id)
                .agent_name(&spec.name)
                .agent_resource_role_arn(&spec.role_arn)
                .foundation_model(&spec.model)
                .instruction(&spec.instruction)
                .send()
                .await
                .map_err(|e| anyhow!("UpdateAgent {id}: {}", sdk_error(e)))?;
            id
        }
        None => client
            .create_agent()
            .agent_name(&spec.name)
            .agent_resource_role_arn(&spec.role_arn)
            .foundation_model(&spec.model)
            .instruction(&spec.instruction)
            .description("Drafts brand metadata for the HITL review workflow")
            .send()
            .await
            .map_err(|e| anyhow!("CreateAgent {}: {}", spec.name, sdk_error(e)))?
            .agent()
            .map(|a| a.agent_id().to_owned())
            .ok_or_else(|| anyhow!("CreateAgent returned no agent"))?,
    };
    // A new agent is CREATING, an updated one UPDATING; PrepareAgent needs it settled.
    wait_for_agent(
        client,
        &agent_id,
        &[AgentStatus::NotPrepared, AgentStatus::Prepared],
        polling,
    )
    .await?;
    client
        .prepare_agent()
        .agent_id(&agent_id)
        .send()
        .await
        .map_err(|e| anyhow!("PrepareAgent {agent_id}: {}", sdk_error(e)))?;
    wait_for_agent(client, &agent_id, &[AgentStatus::Prepared], polling).await?;

    let alias = find_alias(client, &agent_id, &spec.alias).await?;
    let created_alias = alias.is_none();
    let alias_id = match alias {
        // Updating an alias without a routing configuration points it at a new version
        // made from the prepared draft.
        Some(alias_id) => {
            client
                .update_agent_alias()
                .agent_id(&agent_id)
                .agent_alias_id(&alias_id)
                .agent_alias_name(&spec.alias)
                .send()
                .await
                .map_err(|e| anyhow!("UpdateAgentAlias {alias_id}: {}", sdk_error(e)))?;
            alias_id
        }
        None => client
            .create_agent_alias()
            .agent_id(&agent_id)
            .agent_alias_name(&spec.alias)
            .send()
            .await
            .map_err(|e| anyhow!("CreateAgentAlias {}: {}", spec.alias, sdk_error(e)))?
            .agent_alias()
            .map(|a| a.agent_alias_id().to_owned())
            .ok_or_else(|| anyhow!("CreateAgentAlias returned no alias"))?,
    };
    wait_for_alias(client, &agent_id, &alias_id, polling).await?;
    Ok(DeployedAgent {
        agent_id,
        alias_id,
        created_agent,
        created_alias,
    })
}

async fn find_agent(client: &aws_sdk_bedrockagent::Client, name: &str) -> Result<Option<String>> {
    let mut pages = client.list_agents().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ListAgents: {}", sdk_error(e)))?;
        if let Some(found) = page
            .agent_summaries()
            .iter()
            .find(|a| a.agent_name() == name)
        {
            return Ok(Some(found.agent_id().to_owned()));
        }
    }
    Ok(None)
}

async fn find_alias(
    client: &aws_sdk_bedrockagent::Client,
    agent_id: &str,
    name: &str,
) -> Result<Option<String>> {
    let mut pages = client
        .list_agent_aliases()
        .agent_id(agent_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ListAgentAliases: {}", sdk_error(e)))?;
        if let Some(found) = page
            .agent_alias_summaries()
            .iter()
            .find(|a| a.agent_alias_name() == name)
        {
            return Ok(Some(found.agent_alias_id().to_owned()));
        }
    }
    Ok(None)
}

async fn wait_for_agent(
    client: &aws_sdk_bedrockagent::Client,
    agent_id: &str,
    wanted: &[AgentStatus],
    polling: Polling,
) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let out = client
            .get_agent()
            .agent_id(agent_id)
            .send()
            .await
            .map_err(|e| anyhow!("GetAgent {agent_id}: {}", sdk_error(e)))?;
        let status = out
            .agent()
            .map(|a| a.agent_status().clone())
            .ok_or_else(|| anyhow!("agent {agent_id} not found"))?;
        if wanted.contains(&status) {
            return Ok(());
        }
        if status == AgentStatus::Failed {
            let reasons = out
                .agent()
                .map(|a| a.failure_reasons().join("; "))
                .unwrap_or_default();
            bail!("agent {agent_id} is FAILED: {reasons}");
        }
        if started.elapsed() >= polling.timeout {
            bail!(
                "agent {agent_id} is still {} after {:?}",
                status.as_str(),
                polling.timeout
            );
        }
        tokio::time::sleep(polling.interval).await;
    }
}

async fn wait_for_alias(
    client: &aws_sdk_bedrockagent::Client,
    agent_id: &str,
    alias_id: &str,
    polling: Polling,
) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let check = check_agent_alias(client, agent_id, alias_id).await;
        if check.verdict == Verdict::Pass {
            return Ok(());
        }
        if check.detail.starts_with("FAILED") || started.elapsed() >= polling.timeout {
            bail!("agent {agent_id} alias {alias_id}: {}", check.detail);
        }
        tokio::time::sleep(polling.interval).await;
    }
}

#[cfg(test)]
mod explain_tests {
    use super::explain;

    /// Issue 14: an SDK failure was a 900-character dump with no way forward.
    #[test]
    fn sdk_failures_are_one_line_with_a_hint() {
        let expired = explain(
            Some("ExpiredTokenException"),
            Some("The security token included in the request is expired"),
            &"x".repeat(900),
        );
        assert!(expired.starts_with("ExpiredTokenException: The security token"));
        assert!(expired.contains("aws sso login"), "{expired}");
        assert!(expired.len() < 400);
        let stack = explain(
            Some("ValidationError"),
            Some("Stack with id hitl-prod does not exist"),
            "",
        );
        assert!(stack.contains("list-stacks"), "{stack}");
        let offline = explain(
            None,
            None,
            "dispatch failure: io error: error trying to connect: tcp connect error: Connection refused (os error 111)",
        );
        assert_eq!(
            offline,
            "Connection refused (os error 111) (hint: the endpoint is unreachable - check --region, AWS_ENDPOINT_URL and the network)"
        );
        let creds = explain(
            None,
            None,
            "failed to construct request: no credentials in the property bag",
        );
        assert!(creds.contains("aws sso login"), "{creds}");
    }
}
