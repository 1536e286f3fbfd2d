#!/usr/bin/env bash
# Installs what the benchmark needs beyond cargo into .tools/ (gitignored), idempotently:
#  - DynamoDB Local + Java (via scripts/setup-test-tools.sh, shared with the test suite)
#  - .tools/venv-bench: Python baseline (boto3 + awslambdaric from PyPI)
#  - .tools/venv-moto:  moto[server] (Step Functions interpreter baseline)
#  - .tools/alsf: npm aws-local-stepfunctions (pinned), the other interpreter baseline of
#    issue 32 (docs/PERFORMANCE.md, section 4: `local-sfn` against `hitl exec`, by farm-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
mkdir -p "$TOOLS"
scripts/setup-test-tools.sh

if [ ! -x "$TOOLS/venv-bench/bin/python" ] || ! "$TOOLS/venv-bench/bin/python" -c 'import boto3, awslambdaric' 2>/dev/null; then
  echo "bench-setup: creating $TOOLS/venv-bench (boto3, awslambdaric)"
  python3 -m venv "$TOOLS/venv-bench"
  "$TOOLS/venv-bench/bin/pip" install -q --disable-pip-version-check 'boto3>=1.34,<2' 'awslambdaric>=3,<4'
fi

if [ ! -x "$TOOLS/venv-moto/bin/moto_server" ]; then
  echo "bench-setup: creating $TOOLS/venv-moto (moto[server])"
  python3 -m venv "$TOOLS/venv-moto"
  "$TOOLS/venv-moto/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5.2,<5.3'
fi
ALSF_VERSION=3.0.0
if [ "$(node -p "require('./$TOOLS/alsf/node_modules/aws-local-stepfunctions/package.json').version" 2>/dev/null || true)" != "$ALSF_VERSION" ]; then
  echo "bench-setup: installing aws-local-stepfunctions $ALSF_VERSION into $TOOLS/alsf"
  mkdir -p "$TOOLS/alsf"
  # Its own package.json: npm would otherwise install into the nearest one above (.tools/).
  [ -f "$TOOLS/alsf/package.json" ] || echo '{"private": true}' > "$TOOLS/alsf/package.json"
  (cd "$TOOLS/alsf" && npm install --no-audit --no-fund --loglevel=error "aws-local-stepfunctions@$ALSF_VERSION" >/dev/null)
fi
echo "bench-setup: tools ready"
