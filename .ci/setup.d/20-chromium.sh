#!/usr/bin/env bash
# Debian's Chromium for the ops console's browser test (test/e2e/ops-console.test.ts,
# driven by playwright-core with executablePath /usr/bin/chromium).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
chromium --version 2>/dev/null | head -n1
