#!/usr/bin/env bash
# The one command for the performance evidence of issue 7 (not part of the test run):
#   benches/bench.sh [hitl-bench options]      e.g. benches/bench.sh --sections 1,3
# Installs the tools into .tools/ (DynamoDB Local, Python baselines, moto), builds the
# function binaries and the `hitl` CLI in release mode, then runs the bench binary, which
# prints the table and writes target/bench/report.md and target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
start=$(date +%s)

benches/setup-tools.sh

# The function binaries in their own build (their features are not unified with the bench's).
fns=()
for d in functions/*/; do
  [ -f "$d/Cargo.toml" ] && fns+=(-p "$(basename "$d")")
done
echo "== cargo build --release ${fns[*]}"
cargo build --release "${fns[@]}"

features=()
if [ "${HITL_BENCH_ENGINE:-1}" = 1 ]; then
  # Sections 4 and 5 need the local engine and the `hitl` binary (set HITL_BENCH_ENGINE=0 to skip).
  echo "== cargo build --release -p hitl-bench --features engine"
  cargo build --release -p hitl-bench --features engine
  features=(--features engine)
  # The whole-process comparison times target/release/hitl when it builds, else the bench's
  # own `--exec` mode (the same calls as `hitl exec`).
  echo "== cargo build --release -p hitl --features hitl-bench/engine"
  cargo build --release -p hitl -p hitl-bench --features hitl-bench/engine \
    || echo "bench.sh: the hitl binary did not build; section 4 times hitl-bench --exec instead"
fi
echo "== cargo run --release -p hitl-bench ${features[*]} -- $*"
cargo run --release -p hitl-bench "${features[@]}" -- "$@"
echo "bench.sh: whole run $(( $(date +%s) - start )) s"
