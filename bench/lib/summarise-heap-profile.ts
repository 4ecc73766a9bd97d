/**
 * Summarises an allocation profile (`bench/run.ts --profile <file>.heapprofile`): all that the
 * measured run allocated (collected objects included), per step when told the step count, grouped
 * by where the allocating code lives, then the top functions by bytes allocated themselves and
 * by bytes allocated under them.
 *
 *   node --import tsx bench/lib/summarise-heap-profile.ts <file.heapprofile> [--steps 8000] [--top 25]
 */
import { readFileSync } from 'node:fs';
import { category, shortUrl, type CallFrame } from './profile-frames.js';

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: summarise-heap-profile.ts <file.heapprofile> [--steps N] [--top N]');
  process.exit(2);
}
const option = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : undefined;
};
const steps = option('--steps');
const top = option('--top') ?? 25;
const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };

const label = (f: CallFrame) => `${f.functionName || '(anonymous)'}  ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '(native)'}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const areas = new Map<string, number>();
const add = (map: Map<string, number>, key: string, bytes: number) => map.set(key, (map.get(key) ?? 0) + bytes);

/** Adds `node`'s subtree; returns its bytes. A function on the stack twice counts once inclusively. */
function walk(node: HeapNode, onStack: ReadonlySet<string>): number {
  const key = label(node.callFrame);
  add(self, key, node.selfSize);
  add(areas, category(node.callFrame), node.selfSize);
  const stack = onStack.has(key) ? onStack : new Set([...onStack, key]);
  let bytes = node.selfSize;
  for (const child of node.children) bytes += walk(child, stack);
  if (!onStack.has(key)) add(inclusive, key, bytes);
  return bytes;
}
const total = walk(head, new Set());

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const row = (bytes: number, name: string) =>
  `${(bytes / 1e6).toFixed(1).padStart(8)} MB ${((100 * bytes) / total).toFixed(1).padStart(5)}%${steps ? `  ${kb(bytes / steps).padStart(10)}/step` : ''}  ${name}`;
const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [name, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(row(bytes, name));
};

console.log(`allocated: ${(total / 1e6).toFixed(1)} MB${steps ? `, ${kb(total / steps)} per step (${steps} steps)` : ''} (sampled: an estimate within a few per cent)`);
print('by area (self)', areas, top);
print(`top ${top} functions by bytes allocated themselves`, self, top);
print(`top ${top} functions by bytes allocated under them`, inclusive, top);
