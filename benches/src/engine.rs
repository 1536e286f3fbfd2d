//! Sections 4 and 5: the local engine.
//!
//! 4. Throughput: the project's definition with the smoke start request (synthetic reviewer,
//!    `max_iterations` 3) in-process through `hitl_cli::local::Runtime`; the Pass/Choice/Map
//!    definition `benches/asl/map-heavy.asl.json` (Map over 1,000 items, 8 states entered per
//!    item) in-process, and as a whole `hitl exec` process side by side with moto's Step
//!    Functions interpreter running the same definition to completion.
//! 5. History size: events per review iteration on the project's definition and the largest
//!    state input/output at `max_iterations` = 50, from the engine's history.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use hitl_cli::local::Runtime;
use hitl_domain::model::{SmokeScenario, WorkflowStatus};
use serde_json::{json, Value};
use statemachine::{ExecutionStatus, HistoryEvent};

use crate::report::{Row, Target};

/// Items of the Map-heavy input.
pub const MAP_ITEMS: usize = 1000;

/// The Map-heavy definition.
pub fn map_definition_path() -> PathBuf {
    crate::workspace_root().join("benches/asl/map-heavy.asl.json")
}

#[path = "../asl/map_input.rs"]
mod map_input_file;
pub use map_input_file::map_input;

/// State transitions in a history: every `*StateEntered` event.
pub fn transitions(history: &[HistoryEvent]) -> usize {
    history
        .iter()
        .filter(|e| e.event_type.as_str().ends_with("StateEntered"))
        .count()
}

/// Largest serialized state input/output in a history, bytes.
pub fn largest_payload(history: &[HistoryEvent]) -> usize {
    history
        .iter()
        .flat_map(|e| [e.details.input.as_ref(), e.details.output.as_ref()])
        .flatten()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(0)
}

/// One in-process run of the project's definition.
pub struct ProjectRun {
    /// Wall seconds from StartExecution until no resumption is left.
    pub wall_s: f64,
    /// Executions (the batch and one per workflow).
    pub executions: usize,
    /// State transitions over all of them.
    pub transitions: usize,
    /// (scenario, iterations, history events, largest payload bytes) per workflow.
    pub workflows: Vec<(SmokeScenario, u32, usize, usize)>,
    /// Largest payload over every execution, bytes.
    pub largest_payload: usize,
}

/// Runs a smoke batch (`batch` workflows, round-robin scenarios) to completion in-process.
pub async fn project_run(max_iterations: u32, batch: u32, tag: &str) -> Result<ProjectRun> {
    let runtime = Runtime::open(None)?;
    let request_id = format!("bench-{tag}");
    let input = json!({
        "action": "start_workflow",
        "smoke": true,
        "request_id": request_id,
        "config": {"max_iterations": max_iterations, "batch_size": batch},
    });
    let t0 = Instant::now();
    runtime
        .engine
        .start_execution(&runtime.state_machine_arn, Some(&request_id), input)
        .await?;
    while runtime.settle().await? > 0 {}
    let wall_s = t0.elapsed().as_secs_f64();
    let executions = runtime.engine.list_executions(None, None)?;
    let mut transitions_total = 0;
    let mut largest = 0;
    for e in &executions {
        ensure!(
            e.status == ExecutionStatus::Succeeded,
            "execution {} is {:?}: {:?} {:?}",
            e.execution_arn,
            e.status,
            e.error,
            e.cause
        );
        let history = runtime.engine.get_execution_history(&e.execution_arn)?;
        transitions_total += transitions(&history);
        largest = largest.max(largest_payload(&history));
    }
    let mut workflows = Vec::new();
    for status in [
        WorkflowStatus::Approved,
        WorkflowStatus::Escalated,
        WorkflowStatus::Resolved,
    ] {
        let page = runtime.store.list_by_status(status, 1000, None).await?;
        for wf in page.items {
            let (Some(scenario), Some(arn)) = (wf.smoke, wf.execution_arn.as_ref()) else {
                continue;
            };
            let history = runtime.engine.get_execution_history(arn)?;
            workflows.push((
                scenario,
                wf.iteration,
                history.len(),
                largest_payload(&history),
            ));
        }
    }
    ensure!(
        workflows.len() == batch as usize,
        "expected {batch} finished workflows, found {}",
        workflows.len()
    );
    Ok(ProjectRun {
        wall_s,
        executions: executions.len(),
        transitions: transitions_total,
        workflows,
        largest_payload: largest,
    })
}

/// One in-process run of the Map-heavy definition: (wall seconds, transitions).
pub async fn map_run_in_process(definition: &str, input: &Value) -> Result<(f64, usize)> {
    let runtime = Runtime::open(None)?;
    let arn = runtime
        .engine
        .create_state_machine("bench-map", definition)?;
    let t0 = Instant::now();
    let execution = runtime
        .engine
        .start_execution(&arn, None, input.clone())
        .await?;
    let wall = t0.elapsed().as_secs_f64();
    let d = runtime.engine.describe_execution(&execution)?;
    ensure!(
        d.status == ExecutionStatus::Succeeded,
        "map-heavy run {:?}: {:?} {:?}",
        d.status,
        d.error,
        d.cause
    );
    ensure!(
        d.output.as_ref().and_then(|o| o["count"].as_u64()) == Some(MAP_ITEMS as u64),
        "unexpected output {:?}",
        d.output
    );
    let history = runtime.engine.get_execution_history(&execution)?;
    Ok((wall, transitions(&history)))
}

/// What `hitl exec <def> --input @file` does (cli/src/commands.rs `exec`), for a process that
/// cannot use the `hitl` binary: read, substitute, open the in-memory runtime, create the state
/// machine, run to completion, settle, describe, print one JSON line.
pub async fn exec_like(definition: &std::path::Path, input: &std::path::Path) -> Result<()> {
    let raw = std::fs::read_to_string(definition)?;
    let input: Value = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let runtime = Runtime::open(None)?;
    let resolved = statemachine::substitute(&raw, &hitl_cli::local::substitutions())?;
    let arn = runtime.engine.create_state_machine("exec", &resolved)?;
    let execution = runtime.engine.start_execution(&arn, None, input).await?;
    runtime.settle().await?;
    let d = runtime.engine.describe_execution(&execution)?;
    let status = if d.status == ExecutionStatus::Succeeded {
        "SUCCEEDED"
    } else {
        "FAILED"
    };
    println!("{}", json!({"status": status, "output": d.output}));
    Ok(())
}

/// The whole process running the Map-heavy definition: `target/perf/hitl exec` when that
/// binary exists, else this binary's `--exec` mode (same calls). Returns (wall seconds, what ran).
pub fn hitl_exec_process(input_file: &std::path::Path) -> Result<(f64, &'static str)> {
    let binary = crate::workspace_root().join("target/perf/hitl");
    let (mut command, label) = if binary.exists() {
        let mut c = Command::new(&binary);
        c.arg("exec")
            .arg(map_definition_path())
            .arg("--input")
            .arg(format!("@{}", input_file.display()));
        (c, "target/perf/hitl exec")
    } else {
        let mut c = Command::new(std::env::current_exe()?);
        c.arg("--exec").arg(map_definition_path()).arg(input_file);
        (
            c,
            "hitl-bench --exec (the `hitl exec` code path; the hitl binary was not built)",
        )
    };
    let t0 = Instant::now();
    let out = command.stdin(Stdio::null()).output()?;
    let wall = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && stdout.contains("\"SUCCEEDED\""),
        "{label} failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((wall, label))
}

/// `POST /moto-api/config` enabling Step Functions execution (plain HTTP/1.1 on loopback).
fn configure_moto(port: u16) -> std::io::Result<bool> {
    use std::io::{Read, Write};
    let body = r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST /moto-api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 2") || answer.starts_with("HTTP/1.0 2"))
}

/// moto server on a free loopback port; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `moto_server` from `.tools/venv-moto` and enables Step Functions execution.
    pub async fn start() -> Result<Self> {
        let server = crate::workspace_root().join(".tools/venv-moto/bin/moto_server");
        ensure!(
            server.exists(),
            "{} missing: run benches/setup-tools.sh",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto_server")?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            let ok = configure_moto(port).unwrap_or(false);
            if ok {
                return Ok(moto);
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("moto_server did not start within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A Step Functions client for it.
    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        let sdk = crate::fixtures::local_sdk_config(&self.endpoint).await;
        aws_sdk_sfn::Client::new(&sdk)
    }
}

/// `hitl sfn-local` (the perf build) on a free loopback port over a fresh data directory;
/// killed when dropped.
pub struct SfnLocal {
    child: Child,
    _data: tempfile::TempDir,
    /// Its base URL.
    pub endpoint: String,
}

impl Drop for SfnLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SfnLocal {
    /// Starts it and waits until `ListStateMachines` answers.
    pub async fn start() -> Result<Self> {
        let hitl = crate::workspace_root().join("target/perf/hitl");
        ensure!(
            hitl.exists(),
            "{} missing: run benches/bench.sh",
            hitl.display()
        );
        let data = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&hitl)
            .arg("--data-dir")
            .arg(data.path())
            .args(["sfn-local", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting hitl sfn-local")?;
        let server = Self {
            child,
            _data: data,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let sfn = server.sfn().await;
        let started = Instant::now();
        while sfn.list_state_machines().send().await.is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("hitl sfn-local did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// A Step Functions client for it.
    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        let sdk = crate::fixtures::local_sdk_config(&self.endpoint).await;
        aws_sdk_sfn::Client::new(&sdk)
    }
}

/// The JSONata twin of the Map-heavy definition (same states, same per-item work).
pub fn map_jsonata_definition_path() -> PathBuf {
    crate::workspace_root().join("benches/asl/map-heavy.jsonata.asl.json")
}

/// A small definition (three states, one Choice) for executions per second.
const SMALL_DEFINITION: &str = r#"{"StartAt": "Count", "States": {
  "Count": {"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.items)", "items.$": "$.items"}, "Next": "Check"},
  "Check": {"Type": "Choice", "Choices": [{"Variable": "$.count", "NumericGreaterThan": 0, "Next": "Done"}], "Default": "Done"},
  "Done": {"Type": "Pass", "End": true}}}"#;

/// Creates state machine `name` on `sfn` (`service` names it in errors); returns its ARN.
async fn create_machine(
    sfn: &aws_sdk_sfn::Client,
    service: &str,
    name: &str,
    definition: &str,
) -> Result<String> {
    let created = sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/hitl-bench")
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "{service} CreateStateMachine {name}: {}",
                aws_sdk_sfn::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(created.state_machine_arn().to_owned())
}

/// `n` executions of `arn`, one after the other; returns executions per second.
async fn executions_per_second(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    service: &str,
    n: usize,
) -> Result<f64> {
    let t0 = Instant::now();
    for _ in 0..n {
        sfn_run(sfn, arn, r#"{"items": [1, 2, 3]}"#, service, 3).await?;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One moto execution of the Map-heavy `arn` to completion ([`sfn_run`]).
pub async fn moto_run(sfn: &aws_sdk_sfn::Client, arn: &str, input: &str) -> Result<f64> {
    sfn_run(sfn, arn, input, "moto", MAP_ITEMS as u64).await
}

/// One execution of `arn` on a Step Functions API (`service` names it in errors) to
/// completion: wall seconds from StartExecution until DescribeExecution reports a terminal
/// status (polled every 20 ms); the output's `count` must be `count`.
pub async fn sfn_run(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    input: &str,
    service: &str,
    count: u64,
) -> Result<f64> {
    let t0 = Instant::now();
    let started = sfn
        .start_execution()
        .state_machine_arn(arn)
        .name(format!(
            "bench-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ))
        .input(input)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "{service} StartExecution: {}",
                aws_sdk_sfn::error::DisplayErrorContext(&e)
            )
        })?;
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "{service} DescribeExecution: {}",
                    aws_sdk_sfn::error::DisplayErrorContext(&e)
                )
            })?;
        match d.status() {
            aws_sdk_sfn::types::ExecutionStatus::Running => {}
            aws_sdk_sfn::types::ExecutionStatus::Succeeded => {
                let wall = t0.elapsed().as_secs_f64();
                let output: Value = serde_json::from_str(d.output().unwrap_or("null"))?;
                ensure!(
                    output["count"].as_u64() == Some(count),
                    "{service} output differs: {}",
                    output.to_string().chars().take(300).collect::<String>()
                );
                return Ok(wall);
            }
            other => bail!(
                "{service} execution ended {other:?}: {:?} {:?}",
                d.error(),
                d.cause()
            ),
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("{service} execution still running after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs sections 4 and/or 5.
pub async fn measure(
    sections: &std::collections::BTreeSet<u32>,
    rounds: usize,
    log: &dyn Fn(&str),
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    if sections.contains(&4) {
        rows.extend(throughput(rounds, log).await?);
    }
    if sections.contains(&5) {
        rows.extend(history_size(log).await?);
    }
    Ok(rows)
}

async fn throughput(rounds: usize, log: &dyn Fn(&str)) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    // 4a: the project's definition, in-process.
    let mut per_sec = Vec::new();
    let mut per_transition_us = Vec::new();
    let mut shape = (0, 0);
    for round in 0..=rounds {
        let run = project_run(3, 10, &format!("tp{round}")).await?;
        log(&format!(
            "  engine project {}: {} executions, {} transitions in {:.3} s",
            if round == 0 { "warm-up " } else { "measured" },
            run.executions,
            run.transitions,
            run.wall_s
        ));
        if round == 0 {
            continue;
        }
        shape = (run.executions, run.transitions);
        per_sec.push(run.executions as f64 / run.wall_s);
        per_transition_us.push(run.wall_s * 1e6 / run.transitions as f64);
    }
    rows.push(Row::info(
        "4 engine",
        "project definition in-process: executions/s",
        crate::median(&per_sec),
        "exec/s",
        &format!(
            "smoke batch of 10, max_iterations 3, real handlers + in-memory SQLite: {} executions, {} transitions per run, {rounds} runs",
            shape.0, shape.1
        ),
    ));
    rows.push(Row::info(
        "4 engine",
        "project definition in-process: time per state transition",
        crate::median(&per_transition_us),
        "µs",
        "includes the handlers' store work",
    ));

    // 4b/4c: the Map-heavy definition.
    let definition = std::fs::read_to_string(map_definition_path())?;
    let input = map_input(MAP_ITEMS);
    let input_text = input.to_string();
    let input_file = crate::out_dir().join("map-input.json");
    std::fs::write(&input_file, &input_text)?;
    let moto = Moto::start().await?;
    let sfn = moto.sfn().await;
    let created = sfn
        .create_state_machine()
        .name("bench-map")
        .definition(&definition)
        .role_arn("arn:aws:iam::123456789012:role/hitl-bench")
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "moto CreateStateMachine: {}",
                aws_sdk_sfn::error::DisplayErrorContext(&e)
            )
        })?;
    let moto_arn = created.state_machine_arn().to_owned();
    let mut in_process_us = Vec::new();
    let mut in_process_s = Vec::new();
    let mut process_s = Vec::new();
    let mut moto_s = Vec::new();
    let mut map_transitions = 0;
    let mut process_label = "";
    // moto needs minutes per execution: at most 2 measured runs, no warm-up run.
    let moto_rounds = rounds.min(2);
    for round in 0..=rounds {
        let (wall, n) = map_run_in_process(&definition, &input).await?;
        let (whole, what) = hitl_exec_process(&input_file)?;
        process_label = what;
        let moto_wall = if (1..=moto_rounds).contains(&round) {
            Some(moto_run(&sfn, &moto_arn, &input_text).await?)
        } else {
            None
        };
        log(&format!(
            "  map-heavy {}: in-process {:.4} s ({n} transitions), hitl exec process {:.4} s, moto {}",
            if round == 0 { "warm-up " } else { "measured" },
            wall,
            whole,
            moto_wall.map(|m| format!("{m:.3} s")).unwrap_or_else(|| "(not repeated)".into())
        ));
        if round == 0 {
            continue;
        }
        map_transitions = n;
        in_process_us.push(wall * 1e6 / n as f64);
        in_process_s.push(wall);
        process_s.push(whole);
        if let Some(m) = moto_wall {
            moto_s.push(m);
        }
    }
    rows.extend(endpoint_rows(&sfn, &moto_s, &input_text, rounds, log).await?);
    drop(moto);
    rows.push(Row {
        section: "4 engine".into(),
        metric: format!("Map-heavy ({MAP_ITEMS} items): whole process, {process_label}"),
        value: crate::median(&process_s),
        unit: "s".into(),
        baseline_name: "moto 5.2 Step Functions interpreter (server already running)".into(),
        baseline: Some(crate::median(&moto_s)),
        target: Target::RatioAtMost(0.001),
        note: format!(
            "{} hitl runs, {} moto runs, interleaved",
            process_s.len(),
            moto_s.len()
        ),
    });
    rows.push(Row {
        section: "4 engine".into(),
        metric: "Map-heavy in-process: time per state transition".into(),
        value: crate::median(&in_process_us),
        unit: "µs".into(),
        baseline_name: String::new(),
        baseline: None,
        target: Target::AtMost(5.0),
        note: format!(
            "{map_transitions} transitions per execution, execution {:.1} ms",
            crate::median(&in_process_s) * 1e3
        ),
    });
    Ok(rows)
}

/// Issue 32: the same definitions through the Step Functions API, on `hitl sfn-local` and on
/// moto (`moto_sfn`, whose Map-heavy runs `moto_map_s` were measured just before), with the
/// AWS SDK client; and the JSONata twin of the Map-heavy definition through the endpoint.
async fn endpoint_rows(
    moto_sfn: &aws_sdk_sfn::Client,
    moto_map_s: &[f64],
    map_input: &str,
    rounds: usize,
    log: &dyn Fn(&str),
) -> Result<Vec<Row>> {
    let endpoint = SfnLocal::start().await?;
    let sfn = endpoint.sfn().await;
    let map = create_machine(
        &sfn,
        "endpoint",
        "bench-map",
        &std::fs::read_to_string(map_definition_path())?,
    )
    .await?;
    let jsonata = create_machine(
        &sfn,
        "endpoint",
        "bench-map-jsonata",
        &std::fs::read_to_string(map_jsonata_definition_path())?,
    )
    .await?;
    let small = create_machine(&sfn, "endpoint", "bench-small", SMALL_DEFINITION).await?;
    let moto_small = create_machine(moto_sfn, "moto", "bench-small", SMALL_DEFINITION).await?;
    let (mut path_s, mut nata_s, mut small_eps, mut moto_eps) = (vec![], vec![], vec![], vec![]);
    let batch = 20;
    for round in 0..=rounds {
        let p = sfn_run(&sfn, &map, map_input, "endpoint", MAP_ITEMS as u64).await?;
        let j = sfn_run(&sfn, &jsonata, map_input, "endpoint", MAP_ITEMS as u64).await?;
        let e = executions_per_second(&sfn, &small, "endpoint", batch).await?;
        let m = executions_per_second(moto_sfn, &moto_small, "moto", batch).await?;
        log(&format!(
            "  endpoint {}: Map-heavy JSONPath {p:.4} s, JSONata {j:.4} s; small definition {e:.1} exec/s (moto {m:.1} exec/s)",
            if round == 0 { "warm-up " } else { "measured" }
        ));
        if round == 0 {
            continue;
        }
        path_s.push(p);
        nata_s.push(j);
        small_eps.push(e);
        moto_eps.push(m);
    }
    let runs = path_s.len();
    Ok(vec![
        Row {
            section: "4 engine".into(),
            metric: "Step Functions endpoint (hitl sfn-local): small definition, executions/s".into(),
            value: crate::median(&small_eps),
            unit: "exec/s".into(),
            baseline_name: "moto 5.2 Step Functions server, same definition and client".into(),
            baseline: Some(crate::median(&moto_eps)),
            target: Target::Info,
            note: format!("{batch} sequential StartExecution → SUCCEEDED with aws-sdk-sfn (polled every 20 ms), {runs} rounds"),
        },
        Row {
            section: "4 engine".into(),
            metric: format!("Step Functions endpoint (hitl sfn-local): Map-heavy ({MAP_ITEMS} items), StartExecution → SUCCEEDED"),
            value: crate::median(&path_s),
            unit: "s".into(),
            baseline_name: "moto 5.2 Step Functions server, same definition and client".into(),
            baseline: Some(crate::median(moto_map_s)),
            target: Target::RatioAtMost(0.01),
            note: format!("{runs} endpoint runs, {} moto runs (above)", moto_map_s.len()),
        },
        Row {
            section: "4 engine".into(),
            metric: "Step Functions endpoint: Map-heavy in JSONata ÷ the same in JSONPath".into(),
            value: crate::median(&nata_s),
            unit: "s".into(),
            baseline_name: "the JSONPath definition, same endpoint, same run".into(),
            baseline: Some(crate::median(&path_s)),
            target: Target::RatioAtMost(1.5),
            note: format!("benches/asl/map-heavy.jsonata.asl.json, {runs} runs each, interleaved"),
        },
    ])
}

async fn history_size(log: &dyn Fn(&str)) -> Result<Vec<Row>> {
    let small = project_run(3, 3, "hist3").await?;
    let large = project_run(50, 3, "hist50").await?;
    let per_iteration = |run: &ProjectRun, scenario: SmokeScenario| -> Result<(u32, usize)> {
        run.workflows
            .iter()
            .find(|w| w.0 == scenario)
            .map(|w| (w.1, w.2))
            .ok_or_else(|| anyhow!("no {scenario:?} workflow"))
    };
    let mut rows = Vec::new();
    for scenario in [
        SmokeScenario::ApproveAfterRevisions,
        SmokeScenario::EscalateAtLimit,
    ] {
        let (i3, e3) = per_iteration(&small, scenario)?;
        let (i50, e50) = per_iteration(&large, scenario)?;
        let marginal = (e50 as f64 - e3 as f64) / (f64::from(i50) - f64::from(i3));
        log(&format!(
            "  history {scenario:?}: {e3} events at {i3} iterations, {e50} events at {i50} iterations"
        ));
        rows.push(Row {
            section: "5 history".into(),
            metric: format!("history events per review iteration ({scenario:?})"),
            value: marginal,
            unit: "events".into(),
            baseline_name: String::new(),
            baseline: None,
            target: Target::AtMost(25.0),
            note: format!(
                "({e50} − {e3}) / ({i50} − {i3}); whole execution {:.1} events/iteration at {i50}",
                e50 as f64 / f64::from(i50)
            ),
        });
    }
    let largest = large.largest_payload as f64;
    rows.push(Row {
        section: "5 history".into(),
        metric: "largest state input/output at max_iterations 50 / 256 KiB".into(),
        value: largest / 262_144.0,
        unit: "of limit".into(),
        baseline_name: String::new(),
        baseline: None,
        target: Target::AtMost(0.25),
        note: format!(
            "{} bytes, over all {} executions of the batch",
            large.largest_payload, large.executions
        ),
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_input_and_definition_agree() {
        let input = map_input(3);
        assert_eq!(input["items"].as_array().map(Vec::len), Some(3));
        let def = std::fs::read_to_string(map_definition_path()).unwrap_or_default();
        assert!(def.contains("\"ItemProcessor\""));
    }
}
