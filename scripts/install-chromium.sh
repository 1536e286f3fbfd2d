#!/usr/bin/env bash
# Installs Debian's Chromium for the report's real-browser test (tests/tests/report_html.rs).
# Idempotent: does nothing when /usr/bin/chromium is already there. Uses sudo only if not root.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "install-chromium: /usr/bin/chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
echo "install-chromium: installing Debian package chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium || { echo "install-chromium: /usr/bin/chromium still missing after install" >&2; exit 1; }
echo "install-chromium: ready ($(/usr/bin/chromium --version 2>/dev/null || true))"
