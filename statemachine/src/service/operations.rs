//! The Step Functions operations the endpoint answers, each a function from the request's JSON
//! to the response's JSON over the [`Engine`] API, and [`dispatch`] by operation name.

use super::error::ApiError;
use super::history::{self, Context};
use super::{epoch, paging, MockRuntime};
use crate::definition::Definition;
use crate::engine::{Engine, LOCAL_ACCOUNT};
use crate::history::HistoryEventType;
use crate::store::{ExecutionDescription, ExecutionStatus, StateMachineRecord, StateMachineType};
use crate::validate;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// The operations this endpoint answers (the AWS ones, then the extension).
pub const SUPPORTED: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "ListStateMachines",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "StartExecution",
    "StartSyncExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "DescribeStateMachineForExecution",
    "StopExecution",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "RedriveExecution",
    "ValidateStateMachineDefinition",
    "TestState",
    "HitlAdvanceTime",
];

/// The role ARN reported for every state machine: the engine keeps none and assumes none.
pub fn role_arn() -> String {
    format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/hitl-local-stepfunctions")
}

/// Runs `operation` (the part of `X-Amz-Target` after `AWSStepFunctions.`).
pub async fn dispatch(engine: &Engine, operation: &str, request: Value) -> Result<Value, ApiError> {
    dispatch_with(engine, None, operation, request).await
}

/// [`dispatch`] with the mock configuration in use, if any (`StartExecution` selects its test
/// cases).
pub async fn dispatch_with(
    engine: &Engine,
    mocks: Option<&MockRuntime>,
    operation: &str,
    request: Value,
) -> Result<Value, ApiError> {
    match operation {
        "CreateStateMachine" => create_state_machine(engine, parse(request)?),
        "DescribeStateMachine" => describe_state_machine(engine, parse(request)?),
        "ListStateMachines" => list_state_machines(engine, parse(request)?),
        "UpdateStateMachine" => update_state_machine(engine, parse(request)?),
        "DeleteStateMachine" => delete_state_machine(engine, parse(request)?),
        "StartExecution" => start_execution(engine, mocks, parse(request)?).await,
        "StartSyncExecution" => start_sync_execution(engine, parse(request)?).await,
        "DescribeExecution" => describe_execution(engine, parse(request)?),
        "ListExecutions" => list_executions(engine, parse(request)?),
        "GetExecutionHistory" => get_execution_history(engine, parse(request)?),
        "DescribeStateMachineForExecution" => {
            describe_state_machine_for_execution(engine, parse(request)?)
        }
        "StopExecution" => stop_execution(engine, parse(request)?).await,
        "SendTaskSuccess" => send_task_success(engine, parse(request)?).await,
        "SendTaskFailure" => send_task_failure(engine, parse(request)?).await,
        "SendTaskHeartbeat" => send_task_heartbeat(engine, parse(request)?).await,
        "RedriveExecution" => redrive_execution(engine, parse(request)?).await,
        "ValidateStateMachineDefinition" => validate_definition(parse(request)?),
        "TestState" => super::test_state::test_state(engine, parse(request)?).await,
        "HitlAdvanceTime" => advance_time(engine, parse(request)?).await,
        other => Err(ApiError::new(
            "UnknownOperationException",
            format!(
                "operation '{other}' is not supported by the local endpoint (supported: {})",
                SUPPORTED.join(", ")
            ),
        )),
    }
}

/// Deserialises a request; a missing or mistyped field is a `ValidationException` naming it.
fn parse<T: DeserializeOwned>(request: Value) -> Result<T, ApiError> {
    serde_json::from_value(request)
        .map_err(|e| ApiError::validation(format!("invalid request: {e}")))
}

fn arn<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    if value.starts_with("arn:") {
        Ok(value)
    } else {
        Err(ApiError::invalid_arn(field, value))
    }
}

/// JSON text of a request field (`input`, `output`), refused with `kind` when it does not parse.
fn json_text(kind: &'static str, field: &str, text: Option<&str>) -> Result<Value, ApiError> {
    match text {
        None => Ok(json!({})),
        Some(t) => serde_json::from_str(t)
            .map_err(|e| ApiError::new(kind, format!("{field} is not valid JSON: {e}"))),
    }
}

fn state_machine(engine: &Engine, state_machine_arn: &str) -> Result<StateMachineRecord, ApiError> {
    let sm_arn = arn("stateMachineArn", state_machine_arn)?;
    engine
        .store()
        .get_state_machine(sm_arn)
        .map_err(crate::engine::EngineError::from)?
        .ok_or_else(|| {
            ApiError::new(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{sm_arn}'"),
            )
        })
}

fn list_item(sm: &StateMachineRecord) -> Value {
    json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "type": sm.kind.as_str(),
        "creationDate": epoch(sm.created_at),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStateMachine {
    name: String,
    definition: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn create_state_machine(engine: &Engine, r: CreateStateMachine) -> Result<Value, ApiError> {
    let kind = match r.kind.as_deref() {
        None => StateMachineType::Standard,
        Some(k) => StateMachineType::parse(k).ok_or_else(|| {
            ApiError::validation(format!("type must be STANDARD or EXPRESS, got '{k}'"))
        })?,
    };
    // The same name and definition again returns the existing machine, as the service does.
    let existing = engine
        .list_state_machines()?
        .into_iter()
        .find(|sm| sm.name == r.name);
    if let Some(sm) = existing {
        if sm.definition == r.definition && sm.kind == kind {
            return Ok(json!({"stateMachineArn": sm.arn, "creationDate": epoch(sm.created_at)}));
        }
        return Err(ApiError::new(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{}'", sm.arn),
        ));
    }
    let sm_arn = engine.create_state_machine_of_type(&r.name, &r.definition, kind)?;
    let sm = state_machine(engine, &sm_arn)?;
    Ok(json!({"stateMachineArn": sm.arn, "creationDate": epoch(sm.created_at)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateMachineRef {
    state_machine_arn: String,
}

fn describe_state_machine(engine: &Engine, r: StateMachineRef) -> Result<Value, ApiError> {
    let sm = state_machine(engine, &r.state_machine_arn)?;
    Ok(json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "status": "ACTIVE",
        "definition": sm.definition,
        "roleArn": role_arn(),
        "type": sm.kind.as_str(),
        "creationDate": epoch(sm.created_at),
    }))
}

/// `DeleteStateMachine`: the machine is gone at once (describing it is
/// `StateMachineDoesNotExist`); executions that are running carry on to the end with the
/// definition they started with and stay described and listed. An unknown ARN is answered
/// with success: there is nothing left to delete.
fn delete_state_machine(engine: &Engine, r: StateMachineRef) -> Result<Value, ApiError> {
    let sm_arn = arn("stateMachineArn", &r.state_machine_arn)?;
    match engine.delete_state_machine(sm_arn) {
        Ok(()) | Err(crate::engine::EngineError::StateMachineDoesNotExist(_)) => Ok(json!({})),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn list_state_machines(engine: &Engine, r: ListRequest) -> Result<Value, ApiError> {
    let mut all = engine.list_state_machines()?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let (page, next) = paging::page(
        &all,
        "ListStateMachines",
        r.max_results,
        r.next_token.as_deref(),
    )?;
    let items: Vec<Value> = page.iter().map(list_item).collect();
    Ok(with_token(json!({ "stateMachines": items }), next))
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let (Some(t), Value::Object(m)) = (next, &mut v) {
        m.insert("nextToken".into(), Value::from(t));
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateStateMachine {
    state_machine_arn: String,
    definition: Option<String>,
}

fn update_state_machine(engine: &Engine, r: UpdateStateMachine) -> Result<Value, ApiError> {
    let sm = state_machine(engine, &r.state_machine_arn)?;
    let Some(definition) = r.definition else {
        return Ok(json!({ "updateDate": epoch(sm.updated_at) }));
    };
    engine.create_state_machine(&sm.name, &definition)?;
    let sm = state_machine(engine, &sm.arn)?;
    Ok(json!({ "updateDate": epoch(sm.updated_at) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecution {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

async fn start_execution(
    engine: &Engine,
    mocks: Option<&MockRuntime>,
    r: StartExecution,
) -> Result<Value, ApiError> {
    let requested = arn("stateMachineArn", &r.state_machine_arn)?;
    let input = json_text("InvalidExecutionInput", "input", r.input.as_deref())?;
    // `<state machine ARN>#<test case>`: a test case of the mock configuration, as Step
    // Functions Local selects them.
    let (sm_arn, name) = match requested.split_once('#') {
        None => (requested, r.name.clone()),
        Some((sm_arn, case)) => {
            let Some(mocks) = mocks else {
                return Err(ApiError::invalid_arn("stateMachineArn", requested));
            };
            let sm = state_machine(engine, sm_arn)?;
            if !mocks.config().has_test_case(&sm.name, case) {
                return Err(ApiError::validation(format!(
                    "stateMachineArn names the test case '{case}', which the mock configuration does not define for state machine '{}'",
                    sm.name
                )));
            }
            let name = r
                .name
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let execution_arn = sm.arn.replacen(":stateMachine:", ":execution:", 1) + ":" + &name;
            mocks.select(&execution_arn, &sm.name, case);
            (sm_arn, Some(name))
        }
    };
    let execution_arn = engine
        .start_execution(sm_arn, name.as_deref(), input)
        .await?;
    let d = engine.describe_execution(&execution_arn)?;
    Ok(json!({"executionArn": execution_arn, "startDate": epoch(d.start_date)}))
}

/// How long a synchronous Express execution may run before it is answered TIMED_OUT
/// (the service's limit for Express workflows: five minutes).
pub const SYNC_EXECUTION_LIMIT: chrono::Duration = chrono::Duration::minutes(5);

/// How often `StartSyncExecution` looks again at an execution that waits (a Wait state, a
/// retry's back-off), running what came due.
const SYNC_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// `StartSyncExecution`: runs an execution of an EXPRESS machine to its end and answers with
/// its result (`status` SUCCEEDED, FAILED or TIMED_OUT; a STANDARD machine is
/// `StateMachineTypeNotSupported`). Wait states wait in real time (or until `HitlAdvanceTime`
/// moves the clock); after [`SYNC_EXECUTION_LIMIT`] of the engine's clock the execution is
/// stopped and answered TIMED_OUT with `States.Timeout`.
async fn start_sync_execution(engine: &Engine, r: StartExecution) -> Result<Value, ApiError> {
    let sm = state_machine(engine, &r.state_machine_arn)?;
    if sm.kind != StateMachineType::Express {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            format!(
                "StartSyncExecution needs an EXPRESS state machine; '{}' is STANDARD",
                sm.arn
            ),
        ));
    }
    let input = json_text("InvalidExecutionInput", "input", r.input.as_deref())?;
    let execution_arn = engine
        .start_execution(&sm.arn, r.name.as_deref(), input)
        .await?;
    let mut d = engine.describe_execution(&execution_arn)?;
    let deadline = d.start_date + SYNC_EXECUTION_LIMIT;
    let mut timed_out = false;
    while d.status == ExecutionStatus::Running {
        if engine.now() >= deadline {
            engine
                .stop_execution(
                    &execution_arn,
                    Some("States.Timeout"),
                    Some("The execution ran longer than the five minutes of a synchronous Express execution"),
                )
                .await?;
            d = engine.describe_execution(&execution_arn)?;
            timed_out = true;
            break;
        }
        tokio::time::sleep(SYNC_POLL).await;
        engine.run_due().await?;
        d = engine.describe_execution(&execution_arn)?;
    }
    let status = match d.status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
        _ if timed_out => "TIMED_OUT",
        _ => "FAILED",
    };
    let stop = d.stop_date.unwrap_or_else(|| engine.now());
    let millis = (stop - d.start_date).num_milliseconds().max(0);
    // Express executions are billed in 100 ms steps and 64 MB steps (the smallest of each).
    let billed_ms = ((millis + 99) / 100).max(1) * 100;
    let mut v = json!({
        "executionArn": d.execution_arn,
        "stateMachineArn": d.state_machine_arn,
        "name": d.name,
        "startDate": epoch(d.start_date),
        "stopDate": epoch(stop),
        "status": status,
        "input": d.input.to_string(),
        "inputDetails": {"included": true},
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed_ms},
    });
    if let Some(m) = v.as_object_mut() {
        insert_outcome(m, &d);
    }
    Ok(v)
}

/// The output (with its details), error and cause of a finished execution, where it has them.
fn insert_outcome(m: &mut serde_json::Map<String, Value>, d: &ExecutionDescription) {
    if let Some(out) = &d.output {
        m.insert("output".into(), Value::from(out.to_string()));
        m.insert("outputDetails".into(), json!({"included": true}));
    }
    if let Some(e) = &d.error {
        m.insert("error".into(), Value::from(e.clone()));
    }
    if let Some(c) = &d.cause {
        m.insert("cause".into(), Value::from(c.clone()));
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionRef {
    execution_arn: String,
}

fn execution(engine: &Engine, execution_arn: &str) -> Result<ExecutionDescription, ApiError> {
    Ok(engine.describe_execution(arn("executionArn", execution_arn)?)?)
}

fn describe_execution(engine: &Engine, r: ExecutionRef) -> Result<Value, ApiError> {
    let d = execution(engine, &r.execution_arn)?;
    let history = engine.get_execution_history(&d.execution_arn)?;
    let redrives: Vec<_> = history
        .iter()
        .filter(|e| e.event_type == HistoryEventType::ExecutionRedriven)
        .collect();
    let mut v = summary(&d);
    let m = v.as_object_mut();
    if let Some(m) = m {
        m.insert("input".into(), Value::from(d.input.to_string()));
        m.insert("inputDetails".into(), json!({"included": true}));
        insert_outcome(m, &d);
        m.insert("redriveCount".into(), Value::from(redrives.len()));
        if let Some(last) = redrives.last() {
            m.insert("redriveDate".into(), epoch(last.timestamp));
        }
        let redrivable = matches!(
            d.status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
        );
        m.insert(
            "redriveStatus".into(),
            Value::from(if redrivable {
                "REDRIVABLE"
            } else {
                "NOT_REDRIVABLE"
            }),
        );
    }
    Ok(v)
}

/// The fields `ListExecutions` and `DescribeExecution` share.
fn summary(d: &ExecutionDescription) -> Value {
    let mut v = json!({
        "executionArn": d.execution_arn,
        "stateMachineArn": d.state_machine_arn,
        "name": d.name,
        "status": d.status.as_str(),
        "startDate": epoch(d.start_date),
    });
    if let (Some(stop), Some(m)) = (d.stop_date, v.as_object_mut()) {
        m.insert("stopDate".into(), epoch(stop));
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutions {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn list_executions(engine: &Engine, r: ListExecutions) -> Result<Value, ApiError> {
    let Some(sm_arn) = r.state_machine_arn.as_deref() else {
        return Err(ApiError::validation(
            "stateMachineArn is required (mapRunArn is not supported by the local endpoint)",
        ));
    };
    let sm = state_machine(engine, sm_arn)?;
    let all = match r.status_filter.as_deref() {
        // The engine has no executions waiting to be redriven.
        Some("PENDING_REDRIVE") => Vec::new(),
        Some(s) => {
            let status = ExecutionStatus::parse(s).ok_or_else(|| {
                ApiError::validation(format!(
                    "statusFilter must be one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE; got '{s}'"
                ))
            })?;
            engine.list_executions(Some(&sm.arn), Some(status))?
        }
        None => engine.list_executions(Some(&sm.arn), None)?,
    };
    let scope = format!(
        "ListExecutions|{}|{}",
        sm.arn,
        r.status_filter.as_deref().unwrap_or_default()
    );
    let (page, next) = paging::page(&all, &scope, r.max_results, r.next_token.as_deref())?;
    let items: Vec<Value> = page.iter().map(summary).collect();
    Ok(with_token(json!({ "executions": items }), next))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetExecutionHistory {
    execution_arn: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    #[serde(default)]
    reverse_order: bool,
    include_execution_data: Option<bool>,
}

fn get_execution_history(engine: &Engine, r: GetExecutionHistory) -> Result<Value, ApiError> {
    let exec_arn = arn("executionArn", &r.execution_arn)?;
    let events = engine.get_execution_history(exec_arn)?;
    let cx = Context {
        include_data: r.include_execution_data.unwrap_or(true),
        role_arn: role_arn(),
    };
    let mut redrives = 0;
    let mut shaped: Vec<Value> = events
        .iter()
        .map(|e| {
            if e.event_type == HistoryEventType::ExecutionRedriven {
                redrives += 1;
            }
            history::event(e, redrives, &cx)
        })
        .collect();
    if r.reverse_order {
        shaped.reverse();
    }
    let scope = format!("GetExecutionHistory|{exec_arn}|{}", r.reverse_order);
    let (page, next) = paging::page(&shaped, &scope, r.max_results, r.next_token.as_deref())?;
    Ok(with_token(json!({ "events": page }), next))
}

fn describe_state_machine_for_execution(
    engine: &Engine,
    r: ExecutionRef,
) -> Result<Value, ApiError> {
    let exec_arn = arn("executionArn", &r.execution_arn)?;
    let record = engine
        .store()
        .get_execution(exec_arn)
        .map_err(crate::engine::EngineError::from)?
        .ok_or_else(|| {
            ApiError::new(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{exec_arn}'"),
            )
        })?;
    let d = &record.description;
    let sm = engine
        .store()
        .get_state_machine(&d.state_machine_arn)
        .ok()
        .flatten();
    let name = sm.as_ref().map_or_else(
        || {
            d.state_machine_arn
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_string()
        },
        |sm| sm.name.clone(),
    );
    // The store keeps only the machine's latest update: when that came after the execution
    // started, the start date is the latest instant its definition is known to have been current.
    let update_date = sm.map_or(d.start_date, |sm| sm.updated_at.min(d.start_date));
    Ok(json!({
        "stateMachineArn": d.state_machine_arn,
        "name": name,
        // the definition the execution runs: the one it was started with
        "definition": record.definition,
        "roleArn": role_arn(),
        "updateDate": epoch(update_date),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopExecution {
    execution_arn: String,
    error: Option<String>,
    cause: Option<String>,
}

async fn stop_execution(engine: &Engine, r: StopExecution) -> Result<Value, ApiError> {
    let exec_arn = arn("executionArn", &r.execution_arn)?;
    let stopped = engine
        .stop_execution(exec_arn, r.error.as_deref(), r.cause.as_deref())
        .await?;
    Ok(json!({ "stopDate": epoch(stopped) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendTaskSuccess {
    task_token: String,
    output: String,
}

async fn send_task_success(engine: &Engine, r: SendTaskSuccess) -> Result<Value, ApiError> {
    let output = json_text("InvalidOutput", "output", Some(&r.output))?;
    engine.send_task_success(&r.task_token, output).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendTaskFailure {
    task_token: String,
    error: Option<String>,
    cause: Option<String>,
}

async fn send_task_failure(engine: &Engine, r: SendTaskFailure) -> Result<Value, ApiError> {
    engine
        .send_task_failure(
            &r.task_token,
            r.error.as_deref().unwrap_or_default(),
            r.cause.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskTokenRef {
    task_token: String,
}

async fn send_task_heartbeat(engine: &Engine, r: TaskTokenRef) -> Result<Value, ApiError> {
    engine.send_task_heartbeat(&r.task_token).await?;
    Ok(json!({}))
}

async fn redrive_execution(engine: &Engine, r: ExecutionRef) -> Result<Value, ApiError> {
    let exec_arn = arn("executionArn", &r.execution_arn)?;
    let redrive_date = engine.now();
    engine.redrive_execution(exec_arn).await?;
    Ok(json!({ "redriveDate": epoch(redrive_date) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidateDefinition {
    definition: String,
}

fn validate_definition(r: ValidateDefinition) -> Result<Value, ApiError> {
    let diagnostic = |state: Option<&str>, field: &str, message: &str| {
        let location = match state {
            Some(s) => format!("/States/{s}/{field}"),
            None => format!("/{field}"),
        };
        json!({
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": message,
            "location": location,
        })
    };
    let diagnostics: Vec<Value> = match Definition::parse(&r.definition) {
        Err(e) => vec![diagnostic(
            e.state.as_deref(),
            e.field.as_deref().unwrap_or_default(),
            &e.message,
        )],
        Ok(def) => validate::validate(&def)
            .iter()
            .map(|p| diagnostic(p.state.as_deref(), &p.field, &p.message))
            .collect(),
    };
    let result = if diagnostics.is_empty() { "OK" } else { "FAIL" };
    Ok(json!({ "result": result, "diagnostics": diagnostics, "truncated": false }))
}

#[derive(Deserialize)]
struct AdvanceTime {
    seconds: f64,
}

/// The extension `HitlAdvanceTime`: the longest step it takes (one year).
pub const MAX_ADVANCE_SECONDS: f64 = 366.0 * 86_400.0;

async fn advance_time(engine: &Engine, r: AdvanceTime) -> Result<Value, ApiError> {
    if !(0.0..=MAX_ADVANCE_SECONDS).contains(&r.seconds) {
        return Err(ApiError::validation(format!(
            "seconds must be between 0 and {MAX_ADVANCE_SECONDS}, got {}",
            r.seconds
        )));
    }
    let by = chrono::Duration::milliseconds((r.seconds * 1000.0).round() as i64);
    let report = engine.advance_time(by).await?;
    Ok(json!({
        "now": report.now.map(epoch),
        "resumed": report.resumed,
        "completed": report.completed,
    }))
}
