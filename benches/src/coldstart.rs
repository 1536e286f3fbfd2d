//! Section 1: cold start of a real function binary (`iteration-check`, release build) against
//! the fake Runtime API, side by side with an equivalent Python 3 handler on `awslambdaric`
//! (`benches/python/handler.py`: boto3 client created at init, GetItem + conditional PutItem
//! on the same DynamoDB Local table).
//!
//! Per run: exec → first `GET …/next` (init), first invocation (event sent → response
//! posted), warm invocations (median), then `VmHWM` of the process (peak RSS).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use hitl_domain::store::WorkflowStore;

use crate::fake_runtime::{Event, FakeRuntime, FUNCTION_NAME};
use crate::report::{Row, Target};

/// One cold start.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColdSample {
    /// exec → first `GET …/next`, ms.
    pub init_ms: f64,
    /// First invocation, ms.
    pub first_ms: f64,
    /// Median warm invocation, ms.
    pub warm_ms: f64,
    /// Peak RSS (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

/// How to launch one contender.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Program.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Environment (the process gets only this, plus `AWS_LAMBDA_RUNTIME_API`).
    pub env: Vec<(String, String)>,
}

const TIMEOUT: Duration = Duration::from_secs(30);

fn response_for(events: &[Event], id: &str) -> Option<Result<(Instant, Vec<u8>), String>> {
    events.iter().find_map(|e| match e {
        Event::Response { id: got, at, body } if got == id => Some(Ok((*at, body.clone()))),
        Event::Error { id: got, body, .. } if got == id => {
            Some(Err(String::from_utf8_lossy(body).into_owned()))
        }
        Event::InitError { body, .. } => Some(Err(format!(
            "init error: {}",
            String::from_utf8_lossy(body)
        ))),
        _ => None,
    })
}

fn delivered_at(events: &[Event], id: &str) -> Option<Instant> {
    events.iter().find_map(|e| match e {
        Event::Delivered { id: got, at } if got == id => Some(*at),
        _ => None,
    })
}

fn nth_next(events: &[Event], n: usize) -> Option<Instant> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NextRequested(at) => Some(*at),
            _ => None,
        })
        .nth(n)
}

/// One cold start serving `bodies` (the first one is queued before exec).
pub fn run_once(launch: &Launch, bodies: &[Vec<u8>]) -> Result<ColdSample> {
    ensure!(!bodies.is_empty(), "no events");
    let rt = FakeRuntime::start()?;
    let first_id = rt.push(bodies[0].clone());
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&launch.cwd)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", rt.address())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", launch.program.display()))?;
    let pid = child.id();
    let result = (|| -> Result<ColdSample> {
        let init = rt
            .wait_for(TIMEOUT, |events| nth_next(events, 0))
            .ok_or_else(|| anyhow!("no GET /next within {TIMEOUT:?}"))?;
        let latency = |id: &str| -> Result<f64> {
            let (at, body) = rt
                .wait_for(TIMEOUT, |events| response_for(events, id))
                .ok_or_else(|| anyhow!("no response for {id} within {TIMEOUT:?}"))?
                .map_err(|e| anyhow!("invocation {id} failed: {e}"))?;
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                anyhow!(
                    "response is not JSON ({e}): {}",
                    String::from_utf8_lossy(&body)
                )
            })?;
            ensure!(
                value["action"] == "regenerate" && value["next_iteration"] == 2,
                "unexpected response {value}"
            );
            let sent =
                delivered_at(&rt.events(), id).ok_or_else(|| anyhow!("{id} not delivered"))?;
            Ok(at.saturating_duration_since(sent).as_secs_f64() * 1e3)
        };
        let first_ms = latency(&first_id)?;
        let mut warm = Vec::new();
        for (n, body) in bodies.iter().enumerate().skip(1) {
            // Wait until the function asks for the next event, then hand it one.
            rt.wait_for(TIMEOUT, |events| nth_next(events, n))
                .ok_or_else(|| anyhow!("function did not ask for event {n}"))?;
            let id = rt.push(body.clone());
            warm.push(latency(&id)?);
        }
        rt.wait_for(TIMEOUT, |events| nth_next(events, bodies.len()));
        let peak = crate::procfs::peak_rss_kib(pid).ok_or_else(|| anyhow!("no VmHWM for {pid}"))?;
        Ok(ColdSample {
            init_ms: init.saturating_duration_since(t0).as_secs_f64() * 1e3,
            first_ms,
            warm_ms: crate::median(&warm),
            peak_rss_mib: peak as f64 / 1024.0,
        })
    })();
    let _ = child.kill();
    let output = child.wait_with_output();
    rt.shutdown();
    match result {
        Ok(sample) => Ok(sample),
        Err(e) => {
            let stderr = output
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            bail!(
                "{e}; stderr: {}",
                stderr.chars().take(2000).collect::<String>()
            )
        }
    }
}

fn lambda_env(endpoint: &str, table: &str, home: &Path) -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    [
        ("PATH", path.as_str()),
        ("HOME", &home.display().to_string()),
        ("LANG", "C.UTF-8"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", crate::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", crate::SECRET_KEY),
        ("AWS_REGION", crate::REGION),
        ("AWS_DEFAULT_REGION", crate::REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("HITL_TABLE_NAME", table),
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench-function"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/03/02/[$LATEST]bench"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The two contenders.
pub fn launches(endpoint: &str, table: &str) -> Result<(Launch, Launch)> {
    let root = crate::workspace_root();
    let home = crate::out_dir().join("home");
    std::fs::create_dir_all(&home)?;
    let binary = root.join("target/release/iteration-check");
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p iteration-check` (benches/bench.sh does)",
        binary.display()
    );
    let python = crate::bench_python();
    ensure!(
        python.exists(),
        "{} is missing: run benches/setup-tools.sh",
        python.display()
    );
    let env = lambda_env(endpoint, table, &home);
    let rust = Launch {
        program: binary,
        args: vec![],
        cwd: crate::out_dir(),
        env: env.clone(),
    };
    let mut py_env = env;
    py_env.push((
        "PYTHONPYCACHEPREFIX".into(),
        crate::out_dir().join("pycache").display().to_string(),
    ));
    py_env.push(("_HANDLER".into(), "handler.fn".into()));
    let python = Launch {
        program: python,
        args: vec!["-m".into(), "awslambdaric".into(), "handler.fn".into()],
        cwd: root.join("benches/python"),
        env: py_env,
    };
    Ok((rust, python))
}

/// Runs `rounds` interleaved cold starts of each contender (after one unmeasured warm-up of
/// each), `warm` warm invocations per run.
pub async fn measure(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    rounds: usize,
    warm: usize,
    log: &dyn Fn(&str),
) -> Result<Vec<Row>> {
    let table = "bench-coldstart";
    let store: Arc<dyn WorkflowStore> =
        Arc::new(crate::fixtures::dynamo_table(sdk, table, None).await?);
    let (rust, python) = launches(endpoint, table)?;
    let per_run = 1 + warm;
    let mut next_id = 0usize;
    let mut make_bodies = || -> Vec<(String, Vec<u8>)> {
        (0..per_run)
            .map(|_| {
                next_id += 1;
                let id = format!("wf-cold-{next_id:05}");
                let body = serde_json::json!({"workflow_id": id, "reviewed_iteration": 1});
                (id, body.to_string().into_bytes())
            })
            .collect()
    };
    let mut rust_samples = Vec::new();
    let mut python_samples = Vec::new();
    for round in 0..=rounds {
        let order: [(&str, &Launch); 2] = if round % 2 == 0 {
            [("rust", &rust), ("python", &python)]
        } else {
            [("python", &python), ("rust", &rust)]
        };
        for (name, launch) in order {
            let bodies = make_bodies();
            let ids: Vec<String> = bodies.iter().map(|(id, _)| id.clone()).collect();
            crate::fixtures::seed(Arc::clone(&store), &ids, crate::fixtures::revising, 8).await?;
            let payloads: Vec<Vec<u8>> = bodies.into_iter().map(|(_, b)| b).collect();
            let launch = launch.clone();
            let sample =
                tokio::task::spawn_blocking(move || run_once(&launch, &payloads)).await??;
            log(&format!(
                "  cold start {} {name:6}: init {:.1} ms, first {:.2} ms, warm {:.2} ms, peak RSS {:.1} MiB",
                if round == 0 { "warm-up " } else { "measured" },
                sample.init_ms, sample.first_ms, sample.warm_ms, sample.peak_rss_mib
            ));
            if round == 0 {
                continue;
            }
            match name {
                "rust" => rust_samples.push(sample),
                _ => python_samples.push(sample),
            }
        }
    }
    let pick = |s: &[ColdSample], f: fn(&ColdSample) -> f64| {
        crate::median(&s.iter().map(f).collect::<Vec<_>>())
    };
    let baseline = "Python 3.11 + boto3 on awslambdaric".to_owned();
    let row =
        |metric: &str, unit: &str, f: fn(&ColdSample) -> f64, target: Target, note: String| Row {
            section: "1 cold start".into(),
            metric: metric.into(),
            value: pick(&rust_samples, f),
            unit: unit.into(),
            baseline_name: baseline.clone(),
            baseline: Some(pick(&python_samples, f)),
            target,
            note,
        };
    let n = rust_samples.len();
    let first_minus_warm = pick(&rust_samples, |s| s.first_ms - s.warm_ms);
    let py_first_minus_warm = pick(&python_samples, |s| s.first_ms - s.warm_ms);
    Ok(vec![
        row(
            "init: exec → first GET /next (iteration-check)",
            "ms",
            |s| s.init_ms,
            Target::RatioAtMost(0.1),
            format!("{n} cold starts each, interleaved"),
        ),
        row(
            "peak RSS (VmHWM) after 1 + {warm} invocations",
            "MiB",
            |s| s.peak_rss_mib,
            Target::RatioAtMost(0.5),
            String::new(),
        )
        .with_metric(format!("peak RSS (VmHWM) after {per_run} invocations")),
        row(
            "first invocation (GetItem + conditional PutItem)",
            "ms",
            |s| s.first_ms,
            Target::Info,
            format!(
                "first − warm: {:.2} ms vs {:.2} ms",
                first_minus_warm, py_first_minus_warm
            ),
        ),
        row(
            "warm invocation, median",
            "ms",
            |s| s.warm_ms,
            Target::Info,
            format!("{warm} per cold start"),
        ),
    ])
}

impl Row {
    fn with_metric(mut self, metric: String) -> Self {
        self.metric = metric;
        self
    }
}
