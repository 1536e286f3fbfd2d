//! `hitl-bench`: runs every measurement of issue 7 in one go and prints the table.
//!
//! ```text
//! hitl-bench [--sections 1,2,3,4,5,6] [--rounds N] [--ddb-rounds N] [--events N] [--cold-rounds N] [--warm N]
//! ```
//! Use `benches/bench.sh`, which installs the tools and builds the release binaries first.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hitl_bench::report::{markdown, Row};

struct Options {
    sections: BTreeSet<u32>,
    rounds: usize,
    ddb_rounds: usize,
    events: usize,
    cold_rounds: usize,
    warm: usize,
    engine_rounds: usize,
}

fn parse_args() -> Result<Options> {
    let mut o = Options {
        sections: (1..=7).collect(),
        rounds: 3,
        ddb_rounds: 2,
        events: 10_000,
        cold_rounds: 7,
        warm: 10,
        engine_rounds: 5,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--sections" => {
                o.sections = value()?
                    .split(',')
                    .map(|s| s.trim().parse::<u32>())
                    .collect::<Result<_, _>>()
                    .context("--sections: comma-separated numbers 1..7")?
            }
            "--rounds" => o.rounds = value()?.parse()?,
            "--ddb-rounds" => o.ddb_rounds = value()?.parse()?,
            "--events" => o.events = value()?.parse()?,
            "--cold-rounds" => o.cold_rounds = value()?.parse()?,
            "--warm" => o.warm = value()?.parse()?,
            "--engine-rounds" => o.engine_rounds = value()?.parse()?,
            "-h" | "--help" => {
                println!("hitl-bench [--sections 1,2,3,4,5,6,7] [--rounds N] [--ddb-rounds N] [--events N] [--cold-rounds N] [--warm N] [--engine-rounds N]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(o)
}

fn log(line: &str) {
    eprintln!("{line}");
}

async fn wait_ready(sdk: &aws_config::SdkConfig) -> Result<()> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let started = Instant::now();
    loop {
        match client.list_tables().send().await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() < Duration::from_secs(60) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => bail!("DynamoDB Local not ready: {e}"),
        }
    }
}

fn machine() -> String {
    let run = |cmd: &str| {
        std::process::Command::new("sh")
            .args(["-c", cmd])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    format!(
        "nproc: {}\n{}\n{}\nkernel: {}\nrustc: {}",
        run("nproc"),
        run("lscpu | head -n 15"),
        run("free -m | head -n 2"),
        run("uname -r"),
        run("rustc --version")
    )
}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    #[cfg(feature = "engine")]
    {
        let args: Vec<String> = std::env::args().collect();
        if args.get(1).map(String::as_str) == Some("--exec") {
            let (Some(def), Some(input)) = (args.get(2), args.get(3)) else {
                bail!("--exec <definition> <input file>");
            };
            return hitl_bench::engine::exec_like(def.as_ref(), input.as_ref()).await;
        }
    }
    let options = parse_args()?;
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut timings: Vec<(String, f64)> = Vec::new();
    let out = hitl_bench::out_dir();
    std::fs::create_dir_all(&out)?;

    let needs_dynamo = options.sections.iter().any(|s| [1, 2, 3].contains(s));
    let dynamo = if needs_dynamo {
        log("starting DynamoDB Local …");
        let t = Instant::now();
        let local = hitl_bench::fixtures::DynamoDbLocal::start()?;
        let sdk = hitl_bench::fixtures::local_sdk_config(&local.endpoint).await;
        wait_ready(&sdk).await?;
        timings.push(("DynamoDB Local start".into(), t.elapsed().as_secs_f64()));
        Some((local, sdk))
    } else {
        None
    };

    if options.sections.contains(&6) {
        log("6: package sizes …");
        let t = Instant::now();
        rows.extend(hitl_bench::package::measure()?);
        timings.push(("6 package".into(), t.elapsed().as_secs_f64()));
    }
    if let Some((local, sdk)) = &dynamo {
        if options.sections.contains(&1) {
            log("1: cold start …");
            let t = Instant::now();
            rows.extend(
                hitl_bench::coldstart::measure(
                    sdk,
                    &local.endpoint,
                    options.cold_rounds,
                    options.warm,
                    &log,
                )
                .await?,
            );
            timings.push(("1 cold start".into(), t.elapsed().as_secs_f64()));
        }
        if options.sections.contains(&3) {
            log("3: DynamoDB requests per feedback event …");
            let t = Instant::now();
            rows.extend(hitl_bench::requests::measure(sdk).await?);
            timings.push(("3 requests".into(), t.elapsed().as_secs_f64()));
        }
        if options.sections.contains(&2) {
            log("2: CPU per feedback event …");
            let t = Instant::now();
            rows.extend(
                hitl_bench::feedback_cpu::measure(
                    sdk,
                    &local.endpoint,
                    options.events,
                    options.rounds,
                    options.ddb_rounds,
                    &log,
                )
                .await?,
            );
            timings.push(("2 feedback CPU".into(), t.elapsed().as_secs_f64()));
        }
    }
    if options.sections.contains(&4) || options.sections.contains(&5) {
        engine_sections(&options, &mut rows, &mut timings).await?;
    }
    if options.sections.contains(&7) {
        cost_section(&mut rows, &mut timings).await?;
    }
    drop(dynamo);

    let total = started.elapsed().as_secs_f64();
    timings.push(("total".into(), total));
    rows.sort_by(|a, b| a.section.cmp(&b.section));
    let table = markdown(&rows);
    let timing_text: String = timings
        .iter()
        .map(|(name, secs)| format!("- {name}: {secs:.1} s\n"))
        .collect();
    let report = format!(
        "# hitl-bench report\n\nCommand: `{}`\n\n{table}\n## Timings\n{timing_text}\n## Machine\n```\n{}\n```\n",
        std::env::args().collect::<Vec<_>>().join(" "),
        machine()
    );
    std::fs::write(out.join("report.md"), &report)?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    println!("{report}");
    let failed = rows.iter().filter(|r| r.verdict() == Some(false)).count();
    let passed = rows.iter().filter(|r| r.verdict() == Some(true)).count();
    println!("targets: {passed} passed, {failed} failed");
    Ok(())
}

#[cfg(feature = "engine")]
async fn cost_section(rows: &mut Vec<Row>, timings: &mut Vec<(String, f64)>) -> Result<()> {
    log("7: cost per workflow …");
    let t = Instant::now();
    rows.extend(hitl_bench::cost::measure(&log).await?);
    timings.push(("7 cost".into(), t.elapsed().as_secs_f64()));
    Ok(())
}

#[cfg(not(feature = "engine"))]
async fn cost_section(_rows: &mut Vec<Row>, _timings: &mut Vec<(String, f64)>) -> Result<()> {
    bail!("section 7 needs the engine feature (benches/bench.sh builds with it)")
}

#[cfg(feature = "engine")]
async fn engine_sections(
    options: &Options,
    rows: &mut Vec<Row>,
    timings: &mut Vec<(String, f64)>,
) -> Result<()> {
    let t = Instant::now();
    rows.extend(hitl_bench::engine::measure(&options.sections, options.engine_rounds, &log).await?);
    timings.push(("4+5 engine".into(), t.elapsed().as_secs_f64()));
    Ok(())
}

#[cfg(not(feature = "engine"))]
async fn engine_sections(
    _options: &Options,
    rows: &mut Vec<Row>,
    _timings: &mut Vec<(String, f64)>,
) -> Result<()> {
    log("4/5: skipped: built without the `engine` feature");
    rows.push(Row::info(
        "4 engine",
        "engine throughput (not built: feature `engine`)",
        f64::NAN,
        "",
        "",
    ));
    Ok(())
}
