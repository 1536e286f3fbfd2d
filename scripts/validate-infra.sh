#!/usr/bin/env bash
# Validates the deployment: installs the validators into project-local .tools/ (idempotent;
# each Python tool in its own venv, asl-validator via npm), then runs
#   1. cfn-lint infra/template.yaml                      (0 errors, 0 warnings)
#   2. sam validate --lint --region eu-west-1            (SAM transform + cfn-lint)
#   3. checkov -d infra --framework cloudformation ...   (every finding fixed or skipped with a reason)
#   4. asl-validator --json-path statemachine/definition.asl.json
#   5. infra/tests (pytest): template <-> code consistency and least privilege
#   6. openapi-spec-validator api/openapi.yaml (installed by scripts/setup-test-tools.sh)
# Runs every step, prints a summary and exits non-zero if any step failed.
# Needs network access to PyPI and npm only on the first run.
set -uo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
mkdir -p "$TOOLS"
export SAM_CLI_TELEMETRY=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

venv() { # venv <dir> <probe binary> <pip requirement...>
  local dir=$1 probe=$2; shift 2
  if [ -x "$dir/bin/$probe" ]; then return 0; fi
  echo "setup: creating $dir ($*)"
  python3 -m venv "$dir" && "$dir/bin/pip" install --quiet "$@"
}

set -e
venv "$TOOLS/venv-cfnlint" pytest 'cfn-lint>=1.20,<2' 'pytest>=8'
# SAM comes with the deploy toolchain (cargo-lambda, zig), pinned once in scripts/deploy-tools.txt.
scripts/install-deploy-tools.sh
venv "$TOOLS/venv-checkov" checkov 'checkov>=3.2'
if [ ! -x "$TOOLS/node_modules/.bin/asl-validator" ]; then
  echo "setup: installing asl-validator into $TOOLS/node_modules"
  (cd "$TOOLS" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
     && npm install --no-audit --no-fund --loglevel=error 'asl-validator@^4' >/dev/null)
fi
set +e

failed=()
passed=()
step() { # step <name> <command...>
  local name=$1; shift
  echo "== $name"
  local start=$SECONDS
  if "$@"; then passed+=("$name"); echo "-- $name: ok ($((SECONDS - start))s)"
  else failed+=("$name"); echo "-- $name: FAILED ($((SECONDS - start))s)"; fi
}

step cfn-lint "$TOOLS/venv-cfnlint/bin/cfn-lint" infra/template.yaml
step "sam validate" bash -c "cd infra && ../$TOOLS/venv-sam/bin/sam validate --lint --region eu-west-1 --template-file template.yaml"
step checkov "$TOOLS/venv-checkov/bin/checkov" -d infra --framework cloudformation --skip-download --compact --quiet
step asl-validator "$TOOLS/node_modules/.bin/asl-validator" --json-path statemachine/definition.asl.json
step openapi-spec-validator "$TOOLS/venv-schemathesis/bin/openapi-spec-validator" api/openapi.yaml
step "template consistency tests" "$TOOLS/venv-cfnlint/bin/python" -m pytest -q -p no:cacheprovider infra/tests

echo "validate-infra: ${#passed[@]} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
[ "${#failed[@]}" -eq 0 ]
