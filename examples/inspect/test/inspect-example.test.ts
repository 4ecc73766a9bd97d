/**
 * The example runs as its README says: `pnpm worker` (a process) writes three trips to a SQLite
 * file, `pnpm inspect --replay --url …` (another process) draws them to an inspector relay (here a
 * WebSocket receiver on 127.0.0.1), and `pnpm export` writes the machine for the Stately editor.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startInspectorReceiver, type InspectorReceiver } from '../../../packages/inspect/test/ws-receiver.js';

const run = promisify(execFile);
const src = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url));
const node = (file: string, args: string[], db: string) =>
  run(process.execPath, ['--conditions=source', '--import', 'tsx', src(file), ...args], { env: { ...process.env, TASKCHART_DB: db }, timeout: 60_000 });

let dir: string;
let receiver: InspectorReceiver;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'taskchart-example-inspect-'));
  receiver = await startInspectorReceiver();
});
afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

it('worker, then inspect --replay: each trip is one actor walking its states to its end', { timeout: 120_000 }, async () => {
  const db = join(dir, 'runs.db');
  const worker = await node('worker.ts', [], db);
  const ids = [...worker.stdout.matchAll(/worker: (trip-\S+) (completed|compensated)$/gm)].map((m) => [m[1], m[2]]);
  expect(ids.map(([, status]) => status).sort()).toEqual(['compensated', 'completed', 'completed']);

  const inspect = await node('inspect.ts', ['--replay', '--url', receiver.url], db);
  expect(inspect.stdout).toContain('inspect: the log is drawn');
  const finals = (id: string) =>
    receiver.received
      .filter((e) => e.sessionId === `taskchart:${id}` && e.type === '@xstate.snapshot')
      .map((e) => e.snapshot?.value)
      .at(-1);
  for (const [id, status] of ids) expect(finals(id ?? '')).toBe(status);
  const flaky = ids.find(([id]) => id?.endsWith('-flaky'))?.[0] ?? '';
  const values = receiver.received.filter((e) => e.sessionId === `taskchart:${flaky}` && e.type === '@xstate.snapshot').map((e) => e.snapshot?.value);
  expect(values).toEqual([{ book: 'running' }, { pay: 'running' }, { pay: 'retrying' }, { pay: 'running' }, 'completed']);
});

it('export writes the machine as a createMachine module and as JSON', { timeout: 60_000 }, async () => {
  await node('export-machine.ts', [dir], join(dir, 'unused.db'));
  const source = readFileSync(join(dir, 'trip.machine.ts'), 'utf8');
  expect(source).toContain('export const tripMachine = createMachine({');
  const config = JSON.parse(readFileSync(join(dir, 'trip.machine.json'), 'utf8')) as { id: string; states: Record<string, unknown> };
  expect(config.id).toBe('trip');
  expect(Object.keys(config.states)).toEqual(['book', 'pay', 'compensating', 'completed', 'cancelled', 'compensated', 'failed']);
});
