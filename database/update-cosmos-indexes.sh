#!/usr/bin/env bash
# Brings each container's indexing policy (and TTL) in line with database/cosmos/containers.json
# (idempotent). On the embedded store: creates missing and drops stale expression indexes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node bin/asora.mjs cosmos update-indexes "$@"
