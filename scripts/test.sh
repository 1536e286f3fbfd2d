#!/usr/bin/env bash
# The one command that runs every test: installs what the tests need (project-local), checks
# formatting and lints, then runs the whole workspace test suite once (one shared build), then
# `sam build` on the template and checks of what it built (scripts/check-sam-build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

scripts/setup-test-tools.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== infrastructure validators (cfn-lint, sam validate, checkov, asl-validator, template tests)"
scripts/validate-infra.sh
echo "== cargo test"
log="${CARGO_TARGET_DIR:-target}/test-output.log"
mkdir -p "$(dirname "$log")"
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
# A run that executed no test is a failure, not a pass.
total=$(grep -E '^test result:' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | awk '{s+=$6} END {print s+0}')
echo "workspace tests: ${total} passed, ${failed} failed"
[ "$total" -gt 0 ] || { echo "no tests ran"; exit 1; }
echo "== the deploy path: sam build, zip sizes, sam validate on the build, each bootstrap run"
scripts/check-sam-build.sh
