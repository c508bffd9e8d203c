#!/usr/bin/env bash
# The server suite runs many test files at once, each with its own pools (API, workers,
# change feed): PostgreSQL's default 100 connections is too few. Raise the limit to 400
# (ALTER SYSTEM, then a restart) when it is lower. Idempotent.
set -euo pipefail
want=400
have=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SHOW max_connections')
if [ "$have" -lt "$want" ]; then
  echo "max_connections $have -> $want"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "ALTER SYSTEM SET max_connections = $want"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main restart
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SHOW max_connections'
