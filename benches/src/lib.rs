//! Performance evidence for the HITL orchestrator (issue 7): every figure is measured side by
//! side with a named baseline in the same run, repeated with A and B interleaved, and
//! reported as a median with its ratio to the baseline and a PASS/FAIL against its target.
//!
//! The binary `hitl-bench` runs it (see `benches/bench.sh`); it is not part of the test run.
//! The unit tests here cover only the pure helpers (statistics, the report, the fake Lambda
//! Runtime API) and stay small.

pub mod coldstart;
#[cfg(feature = "engine")]
pub mod cost;
pub mod ddb_floor;
#[cfg(feature = "engine")]
pub mod engine;
pub mod fake_runtime;
pub mod feedback_cpu;
pub mod fixtures;
pub mod http_recorder;
pub mod package;
pub mod procfs;
pub mod report;
pub mod requests;

use std::path::{Path, PathBuf};

/// The workspace root (parent of `benches/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where the bench keeps its scratch files and results (`target/bench`).
pub fn out_dir() -> PathBuf {
    workspace_root().join("target").join("bench")
}

/// The Python interpreter of the baseline venv (`.tools/venv-bench`).
pub fn bench_python() -> PathBuf {
    workspace_root().join(".tools/venv-bench/bin/python")
}

/// Fixed credentials and region shared by every client of DynamoDB Local (tables are
/// separate per access key and region there).
pub const ACCESS_KEY: &str = "AKIDLOCAL";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "local-secret";
/// See [`ACCESS_KEY`].
pub const REGION: &str = "eu-west-1";

/// Median of a sample (mean of the two middle values for an even count); `NaN` when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
    }
}
