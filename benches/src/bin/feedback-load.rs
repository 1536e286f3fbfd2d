//! Loopback load test of `POST /workflows/{id}/feedback` on a real `hitl serve` process.
//!
//! Prepares a fresh data directory with one reviewer and `--workflows` workflows awaiting
//! review (started through `hitl start`, 100 subjects per request), starts `hitl serve` on
//! 127.0.0.1, then sends, with `--concurrency` requests in flight, two rounds:
//! 1. **applied**: one approval per workflow (the decision is recorded with a conditional
//!    write and the local execution is resumed through to `WorkflowApproved`);
//! 2. **replay**: the same requests again with the same `Idempotency-Key` (answered from
//!    the audit trail).
//!
//! Prints requests/s and p50/p90/p99/max latency per round, and fails when any answer is not
//! the documented one (200, and `Idempotent-Replayed: true` in round 2).
//!
//! `cargo run --profile perf -p hitl-bench --bin feedback-load -- --hitl target/perf/hitl`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

struct Served(Child);
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hitl(bin: &Path, data: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "hitl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

struct Round {
    name: &'static str,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Round {
    fn line(&self) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
        format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            self.name,
            sorted.len(),
            sorted.len() as f64 / self.elapsed.as_secs_f64(),
            ms(percentile(&sorted, 50)),
            ms(percentile(&sorted, 90)),
            ms(percentile(&sorted, 99)),
            ms(*sorted.last().unwrap()),
        )
    }
}

async fn round(
    name: &'static str,
    base: &str,
    token: &str,
    ids: &[String],
    concurrency: usize,
    replay: bool,
) -> Result<Round> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(ids.len());
    for id in ids {
        let permit = gate.clone().acquire_owned().await?;
        let request = http
            .post(format!("{base}/workflows/{id}/feedback"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("load-{id}"))
            .json(&json!({"iteration": 1, "decision": "approve", "comments": "load test"}));
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let response = request.send().await;
            let latency = sent.elapsed();
            drop(permit);
            let response = response?;
            let status = response.status().as_u16();
            let replayed = response.headers().contains_key("idempotent-replayed");
            anyhow::Ok((latency, status, replayed))
        }));
    }
    let mut latencies = Vec::with_capacity(ids.len());
    for task in tasks {
        let (latency, status, replayed) = task.await??;
        if status != 200 || replayed != replay {
            bail!("{name}: unexpected answer {status} (replayed: {replayed})");
        }
        latencies.push(latency);
    }
    Ok(Round {
        name,
        latencies,
        elapsed: started.elapsed(),
    })
}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let bin = PathBuf::from(arg("--hitl", "target/perf/hitl"));
    let workflows: usize = arg("--workflows", "1000").parse()?;
    let concurrency: usize = arg("--concurrency", "32").parse()?;
    let dir = std::env::temp_dir().join(format!("hitl-load-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir)?;

    let added: Value = serde_json::from_slice(&hitl(
        &bin,
        &data,
        &[
            "--json",
            "reviewers",
            "add",
            "load",
            "--groups",
            "reviewers",
        ],
    )?)?;
    let token = added["token"].as_str().context("no token")?.to_owned();
    let mut ids = Vec::with_capacity(workflows);
    let prepare = Instant::now();
    for (batch, chunk) in (0..workflows).collect::<Vec<_>>().chunks(100).enumerate() {
        let subjects: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"id": format!("s{i:05}"), "name": format!("Load Brand {i}")}))
            .collect();
        let file = dir.join(format!("subjects-{batch}.json"));
        std::fs::write(&file, serde_json::to_vec(&subjects)?)?;
        let started: Value = serde_json::from_slice(&hitl(
            &bin,
            &data,
            &[
                "--json",
                "start",
                "--request-id",
                &format!("load-{batch}"),
                "--batch-size",
                "100",
                "--subjects-file",
                file.to_str().context("path")?,
            ],
        )?)?;
        for item in started["workflows"].as_array().context("no workflows")? {
            if item["status"] != "awaiting_review" {
                bail!("workflow not awaiting review: {item}");
            }
            ids.push(item["workflow_id"].as_str().context("id")?.to_owned());
        }
    }
    eprintln!(
        "prepared {} workflows awaiting review in {:.1}s",
        ids.len(),
        prepare.elapsed().as_secs_f64()
    );

    let mut child = Command::new(&bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let served = Served(child);
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .context("no address printed by hitl serve")?
        .trim_end_matches('/')
        .to_owned();

    let applied = round(
        "applied (approve + resume)",
        &base,
        &token,
        &ids,
        concurrency,
        false,
    )
    .await?;
    let replayed = round("replay (same key)", &base, &token, &ids, concurrency, true).await?;
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "POST /workflows/{{id}}/feedback on `hitl serve` ({}), loopback, {concurrency} in flight",
        bin.display()
    );
    println!("| round | requests | req/s | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    println!("{}", applied.line());
    println!("{}", replayed.line());
    Ok(())
}
