#!/usr/bin/env bash
# promtool (Debian package prometheus) for the alert rules check in .ci/checks.d.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -n1
