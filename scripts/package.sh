#!/usr/bin/env bash
# Builds every Lambda function (each binary of functions/*) as a deployable zip with
# cargo-lambda exactly as `sam build` does: one package per cargo invocation (so no feature of
# another workspace member unifies into a function), release profile, the template's
# architecture (arm64) by default, into $CARGO_TARGET_DIR (default target/):
#   $CARGO_TARGET_DIR/lambda/<function>/bootstrap.zip
#
#   scripts/package.sh                     # all functions, arm64 (Architectures: [arm64])
#   scripts/package.sh --x86_64            # all functions, x86_64
#   scripts/package.sh escalate finalize   # only these functions
#
# Uses the deploy toolchain pinned in scripts/deploy-tools.txt (SAM CLI, cargo-lambda, zig in
# one venv, .tools/venv-sam; scripts/install-deploy-tools.sh installs it). With the same
# CARGO_TARGET_DIR as `sam build`, the bootstraps are byte-identical to SAM's
# (docs/DEPLOYMENT.md); a cold build of all functions takes 10+ minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deploy-tools.sh
export PATH="$PWD/.tools/venv-sam/bin:$PATH"

arch_flag=(--arm64)
names=()
for arg in "$@"; do
  case "$arg" in
    --x86_64) arch_flag=(--x86-64) ;;
    --arm64) arch_flag=(--arm64) ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) names+=("$arg") ;;
  esac
done

if [ "${arch_flag[0]}" = --arm64 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
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
# The caller's CARGO_TARGET_DIR is honoured (default: target/, the folder `sam build` shares).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
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
