//! Input of the Map-heavy definition (`map-heavy.asl.json` next to this file): `items` objects
//! with an id, a price and tags. One copy, included by path into the bench
//! (`benches/src/engine.rs`) and the profiling example (`statemachine/examples/map_heavy.rs`).

use serde_json::{json, Value};

/// `{"run": 7, "items": [...]}` with `items` entries.
pub fn map_input(items: usize) -> Value {
    let items: Vec<Value> = (0..items)
        .map(|i| {
            let tags = if i % 3 == 0 {
                json!(["new", "outdoor"])
            } else {
                json!(["outdoor"])
            };
            json!({"id": i, "price": (i * 37) % 2000, "tags": tags})
        })
        .collect();
    json!({"run": 7, "items": items})
}
