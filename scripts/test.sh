#!/usr/bin/env bash
# Every test: typecheck and lint, then vitest over all packages, against the real services on loopback
# (RabbitMQ 127.0.0.1:5672, PostgreSQL 127.0.0.1:5432 database test; the SQS-compatible server is
# started by the tests themselves), then
# the RabbitMQ restart test on its own (see below).
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

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "==> PostgreSQL is not running on 127.0.0.1:5432; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
  fi
  port_open 5432 || { echo "PostgreSQL is needed on 127.0.0.1:5432, database test (set TASKCHART_PG_URL for another)" >&2; exit 1; }
fi

# The dashboard's end-to-end test drives Debian's Chromium (no browser download): installed here
# when missing and this script may use apt.
if [[ ! -x /usr/bin/chromium ]]; then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "==> installing Chromium for the dashboard's browser test (apt-get install chromium)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "==> /usr/bin/chromium is missing and apt-get cannot be used here: the dashboard's browser test will be skipped" >&2
  fi
fi

echo "==> typecheck"
pnpm --silent typecheck
echo "==> lint"
pnpm --silent lint
echo "==> build (ESM + declarations, as published)"
pnpm --silent build
echo "==> packed packages"
packed=0
bash scripts/check-packed.sh --no-build || packed=$?
rm -rf packages/*/dist
(( packed == 0 )) || exit "$packed"
echo "==> tests"
reports=()
status=0
run_vitest() {
  local report
  report="$(mktemp)"
  reports+=("$report")
  pnpm --silent exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
}
# A full RabbitMQ restart stops the server for every client on it, so it runs alone, after the
# suites that share the server: only for a whole run, only where rabbitmqctl may be used, and
# not with TASKCHART_AMQP_RESTART_TEST=0 (for a server others are using).
restart_test=packages/broker-amqp/test/restart.test.ts
if [[ $# -gt 0 ]]; then
  run_vitest "$@"
else
  run_vitest --exclude "$restart_test"
  amqp_url="${TASKCHART_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}"
  if [[ "${TASKCHART_AMQP_RESTART_TEST:-}" == 0 ]]; then
    echo "==> RabbitMQ restart test skipped (TASKCHART_AMQP_RESTART_TEST=0)"
  elif [[ ! "$amqp_url" =~ @(127\.0\.0\.1|localhost)(:|/|$) ]]; then
    echo "==> RabbitMQ restart test skipped: rabbitmqctl restarts the local server, and TASKCHART_AMQP_URL is another one"
  elif timeout 60 rabbitmqctl -q status >/dev/null 2>&1; then
    echo "==> RabbitMQ restart test (the server is stopped and started again)"
    TASKCHART_AMQP_RESTART_TEST=1 run_vitest "$restart_test"
  else
    echo "==> RabbitMQ restart test skipped: rabbitmqctl is not usable here (it needs the server's host and rights)"
  fi
fi
# One plain closing line, whatever the runner's own format.
node -e '
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    try {
      const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
    } catch { console.log(`(no report in ${file})`); }
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "${reports[@]}" || true
rm -f "${reports[@]}"
exit "$status"
