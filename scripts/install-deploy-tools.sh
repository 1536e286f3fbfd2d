#!/usr/bin/env bash
# Installs the deploy toolchain pinned in scripts/deploy-tools.txt (SAM CLI, cargo-lambda, zig)
# into one venv, .tools/venv-sam; re-installs when the pins change. Idempotent.
#   --run-check   also what scripts/check-sam-build.sh needs to build and run the template's
#                 architecture: its Rust target (rustup) and, for arm64 on another host,
#                 qemu-user-static and Debian's arm64 C library (apt-get).
# To deploy from your own machine, the same in a venv of your own:
#   python3 -m venv ~/.venvs/hitl-deploy && . ~/.venvs/hitl-deploy/bin/activate
#   pip install -r scripts/deploy-tools.txt && rustup target add aarch64-unknown-linux-gnu
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/venv-sam
PINS=$(grep -v '^#' scripts/deploy-tools.txt | grep -v '^$' | sort | tr '\n' ' ')
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ] || [ ! -x "$VENV/bin/sam" ]; then
  echo "setup: installing the deploy toolchain into $VENV ($PINS)"
  rm -rf "$VENV"
  mkdir -p .tools
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/deploy-tools.txt
  echo "$PINS" > "$VENV/.pins"
fi
"$VENV/bin/sam" --version >/dev/null
"$VENV/bin/cargo-lambda" lambda --version >/dev/null
"$VENV/bin/python3" -m ziglang version >/dev/null

if [ "${1:-}" = "--run-check" ]; then
  arch=$(grep -m1 -A1 'Architectures:' infra/template.yaml | grep -oE 'arm64|x86_64' | head -1)
  if [ "$arch" = arm64 ]; then
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
      || { echo "setup: rustup target add aarch64-unknown-linux-gnu"; rustup target add aarch64-unknown-linux-gnu; }
    if [ "$(uname -m)" != aarch64 ] && { [ ! -x /usr/bin/qemu-aarch64-static ] || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; }; then
      echo "setup: installing qemu-user-static and libc6-arm64-cross (apt-get) to run arm64 bootstraps"
      SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo)
      "${SUDO[@]}" apt-get update -qq
      "${SUDO[@]}" apt-get install -y -qq --no-install-recommends qemu-user-static libc6-arm64-cross >/dev/null
    fi
  fi
fi
