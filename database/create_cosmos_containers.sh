#!/usr/bin/env bash
# Creates the projection containers from database/cosmos/containers.json (idempotent).
# Cosmos DB when COSMOS_ENDPOINT/COSMOS_KEY are set (COSMOS_DATABASE, default asora);
# otherwise the embedded store's tables and indexes (PROJECTIONS_DATABASE_URL or PGlite in DATA_DIR).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node bin/asora.mjs cosmos provision "$@"
