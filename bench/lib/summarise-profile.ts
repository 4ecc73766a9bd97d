/**
 * Summarises a V8 .cpuprofile: top functions by self time, top by inclusive time, and self time
 * grouped by where the code lives (XState, SQLite, JSON, core modules, broker, Node internals).
 *
 *   node --cpu-prof --cpu-prof-dir=.tmp/prof --conditions=source --import tsx bench/run.ts
 *   node --import tsx bench/lib/summarise-profile.ts .tmp/prof/CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { category, shortUrl, type CallFrame } from './profile-frames.js';

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const file = process.argv[2];
if (!file) {
  console.error('usage: summarise-profile.ts <file.cpuprofile> [--top N]');
  process.exit(2);
}
const topIndex = process.argv.indexOf('--top');
const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
const busyUs = totalUs - [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);

const key = (f: CallFrame) => `${f.functionName || '(anonymous)'}  ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '(native)'}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const groups = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (!node) continue;
  self.set(key(node.callFrame), (self.get(key(node.callFrame)) ?? 0) + us);
  groups.set(category(node.callFrame), (groups.get(category(node.callFrame)) ?? 0) + us);
  // Inclusive: credit every distinct function on the stack once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const frame = byId.get(cur)?.callFrame;
    if (!frame) break;
    const k = key(frame);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
}

const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(6)} ms`;
const pct = (us: number) => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
const show = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`  ${ms(us)} ${pct(us)}  ${k}`);
};
console.log(`profile: ${(totalUs / 1000).toFixed(0)} ms sampled, ${(busyUs / 1000).toFixed(0)} ms not idle (percentages are of the latter)`);
show('self time by area', groups, 30);
show(`top ${top} functions by self time`, self, top);
show(`top ${top} functions by inclusive time`, inclusive, top);
