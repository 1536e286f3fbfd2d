#!/usr/bin/env bash
# Builds every Lambda function (each binary of functions/*) as a deployable zip with
# cargo-lambda, one package per cargo invocation (as `sam build` does, so no feature of another
# workspace member unifies into a function), into $CARGO_TARGET_DIR (default target/lambda/):
#   $CARGO_TARGET_DIR/lambda/<function>/bootstrap.zip
#
#   scripts/package.sh                 # all functions, x86_64 (works on any Linux with zig)
#   scripts/package.sh --arm64         # arm64, as the template deploys (Architectures: [arm64]);
#                                      # needs `rustup target add aarch64-unknown-linux-gnu`
#   scripts/package.sh escalate finalize   # only these functions
#
# cargo-lambda is installed with pip into .tools/venv-cargo-lambda (it brings zig as the
# cross-linker). A cold release build of all functions takes 10+ minutes on 2 cores.
# `sam build` (infra/) uses the same cargo-lambda, per function, for deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
VENV="$TOOLS/venv-cargo-lambda"
export PIP_DISABLE_PIP_VERSION_CHECK=1

arch_flag=()
names=()
for arg in "$@"; do
  case "$arg" in
    --arm64) arch_flag=(--arm64) ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) names+=("$arg") ;;
  esac
done

if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  echo "setup: installing cargo-lambda into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet cargo-lambda
fi
export PATH="$PWD/$VENV/bin:$PATH"

if [ "${#arch_flag[@]}" -gt 0 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "package: --arm64 needs the aarch64 target: rustup target add aarch64-unknown-linux-gnu" >&2
  exit 1
fi

# Every [[bin]] of every crate under functions/ (the template has one function per binary).
if [ "${#names[@]}" -eq 0 ]; then
  for cargo in functions/*/Cargo.toml; do
    while read -r bin; do names+=("$bin"); done < <(
      awk '/^\[\[bin\]\]/{b=1; next} /^\[/{b=0} b && /^name *=/{gsub(/.*= *"|".*/, ""); print}' "$cargo")
  done
fi
[ "${#names[@]}" -gt 0 ] || { echo "package: no function binaries found" >&2; exit 1; }

# One package per cargo invocation, as `sam build` builds each function: features of other
# workspace members (the CLI's SSO credential providers, say) must not unify into a function.
# The caller's CARGO_TARGET_DIR is honoured (default: target/lambda).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/lambda}"
echo "== cargo lambda build --release --output-format zip ${arch_flag[*]:-}, one package at a time (${#names[@]} functions: ${names[*]})"
start=$SECONDS
for n in "${names[@]}"; do
  pkg=$(grep -l "name = \"$n\"" functions/*/Cargo.toml | head -1 | xargs dirname | xargs basename)
  cargo lambda build --release --output-format zip "${arch_flag[@]}" --package "$pkg" --bin "$n"
done
echo "== built in $((SECONDS - start))s"

status=0
for n in "${names[@]}"; do
  zip="$CARGO_TARGET_DIR/lambda/$n/bootstrap.zip"
  [ -f "$zip" ] || zip="$CARGO_TARGET_DIR/lambda/lambda/$n/bootstrap.zip"
  if [ -f "$zip" ]; then
    printf '%-20s %8s bytes  %s\n' "$n" "$(stat -c %s "$zip")" "${zip#"$PWD"/}"
  else
    echo "$n: missing $zip" >&2; status=1
  fi
done
exit $status
