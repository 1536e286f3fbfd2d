#!/usr/bin/env bash
# The one command for the performance evidence of issue 7 (not part of the test run):
#   benches/bench.sh [hitl-bench options]      e.g. benches/bench.sh --sections 1,3
# Installs the tools into .tools/ (DynamoDB Local, Python baselines, moto), builds the
# function binaries with the release profile (what is deployed) and the `hitl` CLI and the
# bench with the `perf` profile, then runs the bench binary, which
# prints the table and writes target/bench/report.md and target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
start=$(date +%s)

benches/setup-tools.sh

# The function binaries in their own build (their features are not unified with the bench's),
# with the release profile `sam build` and scripts/package.sh ship (tuned for zip size).
fns=()
for d in functions/*/; do
  [ -f "$d/Cargo.toml" ] && fns+=(-p "$(basename "$d")")
done
echo "== cargo build --release ${fns[*]}"
cargo build --release "${fns[@]}"

if [ "${HITL_BENCH_ENGINE:-1}" = 1 ]; then
  # Sections 4 and 5 need the local engine and the `hitl` binary (set HITL_BENCH_ENGINE=0 to
  # skip). The CLI and the bench use the `perf` profile (speed over size; target/perf/), built
  # in one invocation so they share one feature set.
  echo "== cargo build --profile perf -p hitl -p hitl-bench --features hitl-bench/engine"
  cargo build --profile perf -p hitl -p hitl-bench --features hitl-bench/engine
else
  echo "== cargo build --profile perf -p hitl-bench"
  cargo build --profile perf -p hitl-bench
fi
echo "== target/perf/hitl-bench $*"
target/perf/hitl-bench "$@"
echo "bench.sh: whole run $(( $(date +%s) - start )) s"
