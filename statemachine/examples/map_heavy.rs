//! Runs the bench's Pass/Choice/Map-heavy definition (`benches/asl/map-heavy.asl.json`, a Map
//! over 1,000 items) on the in-memory store, for profiling the interpreter:
//!
//! ```text
//! cargo build --profile perf --example map_heavy -p hitl-statemachine
//! perf record -g target/perf/examples/map_heavy 50
//! ```
//!
//! Prints the median time per execution and per state transition.

use statemachine::{
    Engine, EngineConfig, ExecutionStatus, ExecutionStore, HandlerRegistry, MemoryExecutionStore,
    VirtualClock,
};
use std::sync::Arc;
use std::time::Instant;

// As in `hitl` and `hitl-bench`: the interpreter allocates on every step.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFINITION: &str = include_str!("../../benches/asl/map-heavy.asl.json");

#[path = "../../benches/asl/map_input.rs"]
mod map_input;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryExecutionStore::new());
    let clock = Arc::new(VirtualClock::new(store.clone())?);
    let engine = Engine::new(
        store,
        HandlerRegistry::new(),
        clock,
        EngineConfig::default(),
    );
    let arn = engine.create_state_machine("map-heavy", DEFINITION)?;
    let input = map_input::map_input(1000);
    let mut times = Vec::with_capacity(runs);
    let mut transitions = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let exec = rt.block_on(engine.start_execution(&arn, None, input.clone()))?;
        times.push(t0.elapsed().as_secs_f64());
        let d = engine.describe_execution(&exec)?;
        if d.status != ExecutionStatus::Succeeded {
            return Err(format!("execution {:?}: {:?} {:?}", d.status, d.error, d.cause).into());
        }
        transitions = engine
            .get_execution_history(&exec)?
            .iter()
            .filter(|e| e.event_type.as_str().ends_with("StateEntered"))
            .count();
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{runs} runs, {transitions} transitions each: median {:.2} ms per execution, {:.2} µs per transition",
        median * 1e3,
        median * 1e6 / transitions as f64
    );
    Ok(())
}
