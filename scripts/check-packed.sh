#!/usr/bin/env bash
# The packages as users install them: builds every publishable package under packages/, packs
# each with `pnpm pack`, installs the tarballs in a scratch project outside the workspace (with
# `typescript` and `@types/node` at the workspace's versions), then
#   - checks each packed manifest: no `workspace:` range, every `exports` target in the tarball,
#     a `types` condition on every entry;
#   - type-checks, with `strict`, `noUncheckedIndexedAccess` and `skipLibCheck: false`, a small
#     program (a typed two-step chain on memoryBroker + sqliteStore, and chains whose types do not
#     line up, which must not compile) and runs it with node;
#   - type-checks a file importing every entry of every package, without running it, after
#     installing the packages' peer dependencies (an entry may need an optional peer, such as
#     vitest; the program above is checked without them).
# Only the npm registry is reached (packages already in pnpm's store are not fetched again, and
# better-sqlite3's addon comes from the store's side-effects cache once built). Temp dirs are removed.
# Usage: bash scripts/check-packed.sh [--no-build]
#   --no-build: packages/*/dist is already built (scripts/test.sh builds it just before); without
#   it the script builds the packages and removes their dist when it ends.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "check-packed.sh: unknown argument $arg (expected --no-build)" >&2; exit 2 ;;
  esac
done

started=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/taskchart-packed.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$PWD"
app="$work/app"
mkdir -p "$work/tarballs" "$app/src"

if (( build )); then
  # Built here, so removed here (as scripts/test.sh does): dist is never left behind.
  trap 'rm -rf "$work" "$root"/packages/*/dist' EXIT
  pnpm --reporter=append-only build >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; echo "check-packed.sh: the build failed" >&2; exit 1; }
fi

# Pack every package that is not private, each into its own directory (name -> tarball).
packs=()
for manifest in packages/*/package.json; do
  dir="$(dirname "$manifest")"
  node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).private ? 0 : 1)' "$manifest" && continue
  [[ -d "$dir/dist" ]] || { echo "check-packed.sh: $dir/dist is missing: build first (pnpm build), or drop --no-build" >&2; exit 1; }
  out="$work/tarballs/$(basename "$dir")"
  mkdir -p "$out"
  (cd "$dir" && pnpm pack --pack-destination "$out" >/dev/null)
  packs+=("$out"/*.tgz)
done
echo "packed: ${packs[*]##*/}"

# Each packed manifest, and the scratch project's package.json, tsconfig.json and entries file.
node - "$root" "$app" "${packs[@]}" <<'NODE'
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const [root, app, ...tarballs] = process.argv.slice(2);
const fail = (message) => { console.error(`check-packed: ${message}`); process.exit(1); };
const workspaceVersion = (name) => {
  try { return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version; }
  catch { return undefined; }
};

const packages = tarballs.map((tarball) => {
  const files = new Set(execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean));
  const manifest = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  const where = `${manifest.name} (${path.basename(tarball)})`;
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) fail(`${where}: ${field}.${dep} is "${range}" in the packed manifest`);
    }
  }
  if (!manifest.exports || typeof manifest.exports !== 'object') fail(`${where}: no "exports" map`);
  const entries = [];
  for (const [subpath, conditions] of Object.entries(manifest.exports)) {
    if (typeof conditions !== 'object' || conditions === null) fail(`${where}: exports["${subpath}"] must map conditions (types, default) to files`);
    if (!conditions.types) fail(`${where}: exports["${subpath}"] has no "types" condition`);
    if (!conditions.default && !conditions.import) fail(`${where}: exports["${subpath}"] has no "default" or "import" condition`);
    for (const [condition, target] of Object.entries(conditions)) {
      if (typeof target !== 'string') continue;
      if (!files.has(path.posix.join('package', target))) fail(`${where}: exports["${subpath}"].${condition} is ${target}, which the tarball does not hold`);
    }
    if (!subpath.includes('*')) entries.push(subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`);
  }
  return { name: manifest.name, tarball, manifest, entries };
});

// Every @taskchart package resolves to its tarball, wherever it is required from.
const local = Object.fromEntries(packages.map((p) => [p.name, `file:${p.tarball}`]));
const pin = (name) => workspaceVersion(name) ?? fail(`${name} is not installed in the workspace (run pnpm install there)`);

// A native addon is reused from pnpm's side-effects cache only when its whole dependency graph
// is the one it was built with, so better-sqlite3 and every package under it are pinned to the
// versions the workspace's lockfile installed (edge by edge: `parent@version>child`), instead of
// compiling it again (minutes) whenever a package under it has had a release.
const built = ['better-sqlite3'];
const overrides = { ...local };
const readManifest = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const findDependency = (from, name) => {
  for (let dir = path.dirname(from); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.basename(dir) === 'node_modules' ? path.join(dir, name) : path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
  }
  return undefined;
};
const seen = new Set();
const pinGraph = (dir) => {
  const manifest = readManifest(dir);
  const id = `${manifest.name}@${manifest.version}`;
  if (seen.has(id)) return;
  seen.add(id);
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
    const depDir = findDependency(dir, dep);
    if (!depDir) continue; // an optional dependency this platform does not install
    overrides[`${id}>${dep}`] = readManifest(depDir).version;
    pinGraph(depDir);
  }
};
// Each tarball sits in $work/tarballs/<its directory under packages/>.
const sources = tarballs.map((tarball) => path.join(root, 'packages', path.basename(path.dirname(tarball)), 'package.json'));
for (const name of built) {
  const dir = sources.map((source) => findDependency(source, name)).find(Boolean);
  if (!dir) continue; // no package depends on it any more
  overrides[name] = readManifest(dir).version;
  pinGraph(dir);
}
fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
  name: 'taskchart-packed-check',
  private: true,
  type: 'module',
  dependencies: local,
  devDependencies: { typescript: pin('typescript'), '@types/node': pin('@types/node') },
  pnpm: { onlyBuiltDependencies: [...built, 'esbuild'], overrides },
}, null, 2));
fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'],
    strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, outDir: 'dist', rootDir: 'src',
  },
  files: ['src/main.ts'],
}, null, 2));
fs.writeFileSync(path.join(app, 'tsconfig.entries.json'), JSON.stringify({
  extends: './tsconfig.json', compilerOptions: { noEmit: true }, files: ['src/entries.ts'],
}, null, 2));
// Entries for web-standard frameworks (Hono) are checked with the DOM lib, as their users must:
// Hono's own declarations name MessageEvent, CloseEvent and BinaryType.
const WEB_ENTRIES = new Set(['@taskchart/dashboard/hono']);
const entryFile = (file, list) => fs.writeFileSync(path.join(app, 'src', file), [
  '// Every entry of every packed package: type-checked (its declarations included), never run.',
  ...list.map((entry, i) => `import type * as entry${i} from '${entry}';`),
  `export type Entries = [${list.map((_, i) => `typeof entry${i}`).join(', ')}];`,
  '',
].join('\n'));
const entries = packages.flatMap((p) => p.entries);
entryFile('entries.ts', entries.filter((e) => !WEB_ENTRIES.has(e)));
entryFile('entries-web.ts', entries.filter((e) => WEB_ENTRIES.has(e)));
fs.writeFileSync(path.join(app, 'tsconfig.entries-web.json'), JSON.stringify({
  extends: './tsconfig.json', compilerOptions: { noEmit: true, lib: ['ES2023', 'DOM'] }, files: ['src/entries-web.ts'],
}, null, 2));
// Peer dependencies (vitest for core's test suites), installed for the entries check only.
const peers = {};
for (const p of packages) {
  for (const [dep, range] of Object.entries(p.manifest.peerDependencies ?? {})) {
    if (!(dep in local)) peers[dep] = workspaceVersion(dep) ?? range;
  }
}
fs.writeFileSync(path.join(app, 'peers.txt'), Object.entries(peers).map(([dep, version]) => `${dep}@${version}\n`).join(''));
NODE

cat > "$app/src/main.ts" <<'TS'
// A user's program against the packed packages: a typed two-step chain on the memory broker and
// a SQLite file, run to its end. The @ts-expect-error lines must be errors (tsc fails otherwise).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, task, type ChainInput, type ChainOutput } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';

const split = task('split', async (input: { text: string }) => ({ words: input.text.split(' ') }));
const count = task('count', async (input: { words: string[] }) => ({ count: input.words.length }));
const wordCount = chain('wordCount', split, count);

// @ts-expect-error -- count returns { count: number }; split needs { text: string }
chain('backwards', count, split);
// @ts-expect-error -- the chain's input is the first step's input
const wrongInput: ChainInput<typeof wordCount> = { words: [] };
// @ts-expect-error -- the chain's output is the last step's output (not any)
const wrongOutput: ChainOutput<typeof wordCount> = { count: 'five' };
void wrongInput;
void wrongOutput;

const dir = mkdtempSync(join(tmpdir(), 'taskchart-packed-run-'));
try {
  const runtime = createRuntime({ broker: memoryBroker(), store: sqliteStore(join(dir, 'runs.db')), chains: [wordCount] });
  try {
    await runtime.start();
    const run = await runtime.run(wordCount, { text: 'packed as users install it' });
    const output: { count: number } = await run.result();
    console.log(`${run.chain} ${run.id}: ${JSON.stringify(output)}`);
    if (output.count !== 5) throw new Error(`expected { count: 5 }, got ${JSON.stringify(output)}`);
  } finally {
    await runtime.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
TS

cd "$app"
store="$(cd "$root" && pnpm store path)"
install_started=$SECONDS
pnpm install --store-dir "$store" --prefer-offline --reporter=append-only >"$work/install.log" 2>&1 \
  || { cat "$work/install.log" >&2; echo "check-packed.sh: installing the tarballs failed" >&2; exit 1; }
if grep -q 'better-sqlite3.*install\$' "$work/install.log"; then
  echo "note: better-sqlite3 was built during the install (not found in pnpm's side-effects cache)"
fi
echo "installed the tarballs in a scratch project in $((SECONDS - install_started)) s"

echo "type-check and run the program (skipLibCheck: false)"
./node_modules/.bin/tsc -p tsconfig.json \
  || { echo "check-packed.sh: the program does not type-check against the packed packages" >&2; exit 1; }
timeout 120 node dist/main.js || { echo "check-packed.sh: the program failed against the packed packages" >&2; exit 1; }
echo "the taskchart command and the dashboard's page, as installed"
timeout 60 ./node_modules/.bin/taskchart --help >/dev/null || { echo "check-packed.sh: the installed taskchart command does not start" >&2; exit 1; }
for f in index.html assets/app.js assets/app.css; do
  [[ -s "node_modules/@taskchart/dashboard/dist/ui/$f" ]] || { echo "check-packed.sh: the packed dashboard lacks its built page (dist/ui/$f)" >&2; exit 1; }
done

mapfile -t peers <"peers.txt"
if (( ${#peers[@]} )); then
  pnpm add --save-dev --store-dir "$store" --prefer-offline --reporter=append-only "${peers[@]}" >"$work/peers.log" 2>&1 \
    || { cat "$work/peers.log" >&2; echo "check-packed.sh: installing the peers ${peers[*]} failed" >&2; exit 1; }
fi
echo "type-check every entry of every package (with their peers: ${peers[*]:-none})"
./node_modules/.bin/tsc -p tsconfig.entries.json \
  || { echo "check-packed.sh: an entry's declarations do not type-check as installed" >&2; exit 1; }
echo "type-check the entries for web-standard frameworks, with the DOM lib their users have (@taskchart/dashboard/hono)"
./node_modules/.bin/tsc -p tsconfig.entries-web.json \
  || { echo "check-packed.sh: a web-framework entry's declarations do not type-check as installed (lib DOM)" >&2; exit 1; }
echo "packed packages: ok in $((SECONDS - started)) s"
