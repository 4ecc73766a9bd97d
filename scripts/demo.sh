#!/usr/bin/env bash
# The demo: the tenant-referral flow on the embedded default (memory broker + SQLite file).
# Usage: bash scripts/demo.sh [--seed N] [--broker amqp|sqs]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
pnpm --silent --filter @taskchart/example-referral start "$@"
