#!/usr/bin/env bash
# Every test: typecheck, then vitest over all packages, against the real services on loopback
# (RabbitMQ 127.0.0.1:5672; the SQS-compatible server is started by the tests themselves).
# Usage: bash scripts/test.sh [vitest filters...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "==> RabbitMQ is not running on 127.0.0.1:5672; starting it"
    rabbitmq-server -detached
    for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
  fi
  port_open 5672 || { echo "RabbitMQ is needed on 127.0.0.1:5672 (set TASKCHART_AMQP_URL for another)" >&2; exit 1; }
fi

echo "==> typecheck"
pnpm --silent typecheck
echo "==> build (ESM + declarations, as published)"
pnpm --silent build
rm -rf packages/*/dist
echo "==> tests"
report="$(mktemp)"
status=0
pnpm --silent exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line, whatever the runner's own format.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
