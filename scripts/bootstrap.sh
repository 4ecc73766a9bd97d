#!/usr/bin/env bash
# Installs what the workspace needs, from nothing: pnpm (through npx, as corepack's signature
# check fails on some machines) and the dependencies, compiling better-sqlite3 from source
# where no prebuilt binary can be downloaded (needs python3, make and a C++ compiler).
# Sourced by demo.sh and test.sh; defines `pnpm` for them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PNPM_VERSION="${PNPM_VERSION:-10}"
export COREPACK_INTEGRITY_KEYS=0
export npm_config_update_notifier=false
pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [[ "$(command pnpm --version 2>/dev/null)" == 10.* ]]; then
    command pnpm "$@"
  else
    npx --yes "pnpm@${PNPM_VERSION}" "$@"
  fi
}

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
  echo "Taskchart needs Node.js 20 or newer (found $(node --version))." >&2
  exit 1
fi

if [[ ! -d node_modules/.pnpm ]] || [[ pnpm-lock.yaml -nt node_modules/.pnpm/lock.yaml ]]; then
  echo "==> installing dependencies (pnpm ${PNPM_VERSION})"
  pnpm install --frozen-lockfile --reporter=append-only
fi
# A native addon built for another Node version (or never built) would fail at the first import.
sqlite_dir="$(find "$PWD/node_modules/.pnpm" -maxdepth 1 -name 'better-sqlite3@*' | head -1)/node_modules/better-sqlite3"
if ! node -e "require(process.argv[1])(':memory:')" "$sqlite_dir" 2>/dev/null; then
  echo "==> rebuilding better-sqlite3 for node $(node --version)"
  pnpm rebuild better-sqlite3
fi
