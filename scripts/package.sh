#!/usr/bin/env bash
# Builds every Lambda function (each binary of functions/*) as a deployable zip with
# cargo-lambda, byte-identical to what `sam build` builds: release profile, the template's
# architecture (arm64) by default, into $CARGO_TARGET_DIR (default target/):
#   $CARGO_TARGET_DIR/lambda/<function>/bootstrap.zip
# `sam build` builds one package per cargo invocation, so no feature of another workspace
# member unifies into a function. Here, functions whose dependency graphs resolve every shared
# crate with the same features (read from `cargo tree`) are built in ONE invocation: cargo then
# compiles their shared crates once and links two binaries at a time on 2 cores (a fat-LTO
# link is single-threaded, about 75 s each), and the result is exactly what the one-package
# builds would be, so a `sam build` afterwards with the same CARGO_TARGET_DIR finds every
# function built and only copies it (scripts/check-sam-build.sh runs it in that order and
# checks the bytes). A function whose features differ (feedback-api, whose lambda_http turns on
# hyper's server) gets an invocation of its own.
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

# The caller's CARGO_TARGET_DIR is honoured (default: target/, the folder `sam build` shares).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
case "${arch_flag[0]}" in --arm64) triple=aarch64-unknown-linux-gnu ;; *) triple=x86_64-unknown-linux-gnu ;; esac
packages=()
for n in "${names[@]}"; do
  packages+=("$(grep -l "name = \"$n\"" functions/*/Cargo.toml | head -1 | xargs dirname | xargs basename)")
done
# Groups of packages that may share one invocation: every crate two members both depend on
# (normal and build dependencies, for the target; a crate built for the host and for the target
# counts with both feature sets) resolves to the same features in each alone, so building them
# together changes no crate's features. Greedy, in the order of functions/*/Cargo.toml. A tree
# that cargo cannot print, or a line this cannot read, stops the build rather than guess.
trees=$(mktemp -d)
trap 'rm -rf "$trees"' EXIT
for p in $(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++'); do
  cargo tree --quiet -p "$p" -e no-dev --target "$triple" -f '{p} [{f}]' --prefix none > "$trees/$p" \
    || { echo "package: cargo tree failed for $p" >&2; exit 1; }
done
grouping=$(python3 - "$trees" $(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++') <<'PY'
import re, sys
folder, names = sys.argv[1], sys.argv[2:]
line_re = re.compile(r"^(\S+) (v\S+)((?: \([^)]*\))*) \[([^\]]*)\]( \(\*\))?$")
trees = {}
for name in names:
    tree = {}
    for raw in open(f"{folder}/{name}"):
        line = raw.strip()
        if not line:
            continue
        m = line_re.match(line)
        if not m:
            sys.exit(f"package: cannot read this line of cargo tree for {name}: {line}")
        key = (m[1], m[2], "proc-macro" in m[3])
        tree.setdefault(key, set()).add(frozenset(f for f in m[4].split(",") if f))
    if not tree:
        sys.exit(f"package: cargo tree printed nothing for {name}")
    trees[name] = {k: frozenset(v) for k, v in tree.items()}
groups = []  # [members, merged features]
for name, tree in trees.items():
    for group in groups:
        if all(group[1].get(k, v) == v for k, v in tree.items()):
            group[0].append(name); group[1].update(tree); break
    else:
        groups.append([[name], dict(tree)])
for members, _ in groups:
    print(" ".join(members))
PY
) || exit 1
mapfile -t groups <<< "$grouping"
[ "${#groups[@]}" -gt 0 ] && [ -n "${groups[0]}" ] || { echo "package: could not group the functions" >&2; exit 1; }
echo "== cargo lambda build --release --output-format zip ${arch_flag[*]:-}: ${#names[@]} functions in ${#groups[@]} cargo invocation(s) of packages with the same resolved features"
start=$SECONDS
for group in "${groups[@]}"; do
  selection=()
  for p in $group; do selection+=(--package "$p"); done
  echo "-- ${group}"
  cargo lambda build --release --output-format zip "${arch_flag[@]}" "${selection[@]}" --bins
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
