#!/usr/bin/env bash
# The alert rules parse and their expressions are valid PromQL (the dashboard's JSON model
# and metric names are checked by test/observability/deploy.test.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
promtool check rules deploy/prometheus/alerts.yml
