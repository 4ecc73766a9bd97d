/**
 * The dashboard end to end, in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core; no browser download): a real runtime (SQLite file + memory broker) with runs
 * that complete, retry, fail, compensate, wait in a backoff, wait on a latch and wait to be
 * cancelled; the built UI served by `startDashboard`. Screenshots go to .tmp/artifacts/dashboard/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chain, createRuntime, NonRetryableError, task, type Runtime } from '@taskchart/core';
import { silentLogger } from '@taskchart/core/testing';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUi } from '../../scripts/build-ui.mjs';
import { startDashboard, type StandaloneDashboard } from '../../src/index.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env['TASKCHART_E2E_REQUIRED'] === '1';
const missing = !existsSync(CHROMIUM);
if (missing && !required) console.warn(`dashboard e2e skipped: ${CHROMIUM} is missing (install Debian's chromium, or set TASKCHART_E2E_REQUIRED=1 to fail instead)`);

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const artifacts = join(repoRoot, '.tmp', 'artifacts', 'dashboard');

/** A promise the test resolves by hand, per run input id. */
const latches = new Map<string, () => void>();
const latch = (id: string) => new Promise<void>((release) => latches.set(id, release));
const flakyAttempts = new Map<string, number>();

const fast = { maxRetries: 3, backoff: { initial: 20, jitter: 'none' } } as const;
const quote = task('quote', (x: { user: string }) => ({ user: x.user, price: 42 }), { compensate: () => undefined });
const charge = task('charge', (x: { user: string; price: number }) => ({ ...x, charged: true }), { compensate: () => undefined });
const notify = task('notify', (x: { user: string; charged: boolean }) => ({ user: x.user, sent: true }));
const fetchRisk = task(
  'fetchRisk',
  (x: { id: string; failures: number }) => {
    const n = (flakyAttempts.get(x.id) ?? 0) + 1;
    flakyAttempts.set(x.id, n);
    if (n <= x.failures) throw new Error(`risk API 503 (attempt ${n})`);
    return { id: x.id, score: 7 };
  },
  { retry: fast },
);
const reserve = task('reserve', (x: { id: string }) => x, { compensate: () => undefined });
const decline = task('decline', (): { id: string } => {
  throw new NonRetryableError('card declined');
});
const unreachable = task(
  'callPartner',
  (): { id: string } => {
    throw new Error('partner API timed out');
  },
  { retry: { maxRetries: 5, backoff: { initial: '1h', max: '1h', jitter: 'none' } } },
);
const gate = task('gate', async (x: { id: string }) => {
  await latch(x.id);
  return x;
});
const finish = task('finish', (x: { id: string }) => ({ ...x, done: true }));
const hold = task(
  'hold',
  (x: { id: string }, ctx) =>
    new Promise<{ id: string }>((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(new Error('cancelled while holding')));
      void latch(x.id).then(() => resolve(x));
    }),
);

const chains = [
  chain('order', quote, charge, notify),
  chain('risk', fetchRisk),
  chain('booking', reserve, decline),
  chain('partner', unreachable),
  chain('gated', gate, finish),
  chain('slow', reserve, hold),
  chain('validate', decline),
];
const byName = (name: string) => {
  const found = chains.find((c) => c.name === name);
  if (!found) throw new Error(`no chain ${name}`);
  return found;
};

/** Polls `check` until its value passes the matcher (10 s: the page waits on live events and a layout). */
const poll = <T>(check: () => T | Promise<T>) => expect.poll(check, { timeout: 10_000, interval: 50 });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(missing && !required)('dashboard in headless Chromium', { timeout: 60_000 }, () => {
  let dir: string;
  let runtime: Runtime;
  let dashboard: StandaloneDashboard;
  let browser: Browser;
  let page: Page;
  const ids: Record<string, string> = {};
  const pageErrors: string[] = [];

  const statusOf = async (id: string) => (await runtime.getRun(id))?.status;
  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  /** The `name` attribute of every element `selector` matches, in document order. */
  const attrs = async (selector: string, ...names: string[]) =>
    Promise.all((await page.locator(selector).all()).map(async (el) => (await Promise.all(names.map((n) => el.getAttribute(n)))).join('>')));
  const activeStates = async () => (await attrs('[data-testid="state-node"][data-active="true"]', 'data-state-id')).sort();
  const takenEdges = async () => (await attrs('[data-testid="state-edge"][data-taken="true"]', 'data-source', 'data-target')).sort();
  const openRun = async (id: string) => {
    await page.goto(`${dashboard.url}#/runs/${encodeURIComponent(id)}`);
    await page.locator('[data-testid="run-id"]', { hasText: id }).waitFor();
    await page.locator('[data-testid="statechart"]').waitFor();
  };

  beforeAll(async () => {
    if (missing) throw new Error(`TASKCHART_E2E_REQUIRED=1 but ${CHROMIUM} is missing`);
    mkdirSync(artifacts, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'taskchart-dashboard-e2e-'));
    const uiDir = await buildUi({ outDir: join(dir, 'ui') });
    const broker = memoryBroker();
    runtime = createRuntime({ broker, store: sqliteStore(join(dir, 'runs.db')), chains, logger: silentLogger, resultPoll: '50ms' });
    await runtime.start();
    // A message nobody can read: the runtime dead-letters it (the dead letters page shows it).
    await broker.publish('taskchart', '{not json', { headers: { 'x-trace': 't-1' } });
    const start = async (name: string, input: unknown, id: string) => {
      ids[id] = (await runtime.run(byName(name), input, { id })).id;
    };
    await start('order', { user: 'ada' }, 'order-ada');
    await start('order', { user: 'grace' }, 'order-grace');
    await start('risk', { id: 'r1', failures: 2 }, 'risk-r1');
    await start('booking', { id: 'b1' }, 'booking-b1');
    await start('validate', { id: 'v1' }, 'validate-v1');
    await start('partner', { id: 'p1' }, 'partner-p1');
    await start('gated', { id: 'g1' }, 'gated-g1');
    await start('slow', { id: 's1' }, 'slow-s1');
    const expected: Record<string, string> = {
      'order-ada': 'completed',
      'order-grace': 'completed',
      'risk-r1': 'completed',
      'booking-b1': 'compensated',
      'validate-v1': 'failed',
      'partner-p1': 'retrying',
      'gated-g1': 'running',
      'slow-s1': 'running',
    };
    for (const [id, status] of Object.entries(expected)) await until(`${id} to be ${status}`, async () => (await statusOf(id)) === status);
    await until('the malformed message to be dead-lettered', async () => (await runtime.deadLetters()).length === 1);
    await until('the gate and the hold to be reached', async () => latches.has('g1') && (await runtime.getRun('slow-s1'))?.step === 'hold');
    dashboard = await startDashboard({ client: runtime, actions: true, port: 0, uiDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    for (const release of latches.values()) release();
    await browser?.close();
    await dashboard?.close();
    await runtime?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the runs with their status, chain, step and attempts', async () => {
    await page.goto(dashboard.url);
    await poll(() => page.locator('[data-testid="run-row"]').count()).toBe(8);
    const rows = (await attrs('[data-testid="run-row"]', 'data-run-id', 'data-status')).map((r) => r.split('>'));
    expect(Object.fromEntries(rows)).toMatchObject({ 'order-ada': 'completed', 'risk-r1': 'completed', 'booking-b1': 'compensated', 'validate-v1': 'failed', 'partner-p1': 'retrying', 'slow-s1': 'running' });
    const partner = page.locator('[data-testid="run-row"][data-run-id="partner-p1"]');
    await poll(() => partner.textContent()).toContain('callPartner');
    expect(await page.locator('[data-testid="title"]').textContent()).toBe('Taskchart');
    await shot('01-runs');
  });

  it('filters by status, chain and creation time', async () => {
    await page.getByTestId('filter-status-failed').check();
    await poll(() => attrs('[data-testid="run-row"]', 'data-run-id')).toEqual(['validate-v1']);
    await page.getByTestId('filter-status-compensated').check();
    await poll(() => page.locator('[data-testid="run-row"]').count()).toBe(2);
    expect(page.url()).toContain('status=failed%2Ccompensated');
    await shot('02-runs-filtered-status');
    await page.getByTestId('filter-clear').click();
    await page.getByLabel('Chain').selectOption('order');
    await poll(() => attrs('[data-testid="run-row"]', 'data-run-id')).toEqual(['order-grace', 'order-ada']);
    await page.getByLabel('Created after').fill('2099-01-01T00:00');
    await poll(() => page.locator('[data-testid="run-row"]').count()).toBe(0);
    await poll(() => page.locator('td.empty').textContent()).toContain('No run matches');
    await page.getByTestId('filter-clear').click();
    await poll(() => page.locator('[data-testid="run-row"]').count()).toBe(8);
  });

  it('pages with the cursor', async () => {
    await page.goto(`${dashboard.url}#/runs?limit=3`);
    const seen: string[] = [];
    for (const size of [3, 3, 2]) {
      await poll(() => page.locator('[data-testid="run-row"]').count()).toBe(size);
      const ids = await attrs('[data-testid="run-row"]', 'data-run-id');
      expect(ids.filter((id) => seen.includes(id))).toEqual([]);
      seen.push(...ids);
      if (size === 3) await page.getByTestId('next-page').click();
    }
    expect(await page.getByTestId('next-page').count()).toBe(0);
    expect(seen).toHaveLength(8);
    await page.getByTestId('first-page').click();
    await poll(() => attrs('[data-testid="run-row"]', 'data-run-id')).toEqual(seen.slice(0, 3));
  });

  it('refreshes the list live when a run starts or moves', async () => {
    await page.goto(dashboard.url);
    await poll(() => page.locator('[data-testid="live-indicator"]').getAttribute('data-state')).toBe('live');
    await poll(() => page.locator('[data-testid="run-row"]').count()).toBe(8);
    await runtime.run(byName('order'), { user: 'linus' }, { id: 'order-linus' });
    await poll(() => page.locator('[data-testid="run-row"][data-run-id="order-linus"][data-status="completed"]').count()).toBe(1);
  });

  it('jumps to a run by id and shows its retries, errors and output', async () => {
    await page.getByLabel('Go to run').fill('risk-r1');
    await page.getByTestId('run-id-go').click();
    await page.locator('[data-testid="run-id"]', { hasText: 'risk-r1' }).waitFor();
    await page.locator('[data-testid="statechart"]').waitFor();
    expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('completed');
    expect(await activeStates()).toEqual(['completed']);
    const types = await attrs('[data-testid="timeline-entry"]', 'data-type');
    expect(types.filter((t) => t === 'step.retrying')).toHaveLength(2);
    expect(types.at(-1)).toBe('run.completed');
    const timelineText = await page.getByTestId('timeline').textContent();
    expect(timelineText).toContain('risk API 503 (attempt 1)');
    expect(timelineText).toContain('next attempt in');
    await page.locator('.stack summary').first().click();
    expect(await page.locator('.stack pre').first().textContent()).toContain('fetchRisk');
    expect(await page.getByTestId('run-output').textContent()).toContain('"score": 7');
    // The path taken: running -> retrying -> running twice, then done.
    expect(await takenEdges()).toEqual(['fetchRisk.retrying>fetchRisk.running', 'fetchRisk.running>completed', 'fetchRisk.running>fetchRisk.retrying']);
    await shot('03-run-retried');
  });

  it('lights the current state: a step waiting out its backoff, and a compensated run with its path', async () => {
    await openRun('partner-p1');
    expect(await activeStates()).toEqual(['callPartner', 'callPartner.retrying']);
    await shot('04-run-retrying');
    await openRun('booking-b1');
    expect(await activeStates()).toEqual(['compensated']);
    const visited = await attrs('[data-testid="state-node"][data-visited="true"]', 'data-state-id');
    expect(visited).toEqual(expect.arrayContaining(['reserve.running', 'decline.running', 'compensating.reserve.running', 'compensated']));
    expect(await takenEdges()).toEqual(['compensating.reserve.running>compensated', 'decline.running>compensating.reserve', 'reserve.running>decline']);
    await shot('05-run-compensated');
  });

  it('moves live as the run moves', async () => {
    await openRun('gated-g1');
    expect(await activeStates()).toEqual(['gate', 'gate.running']);
    await poll(() => page.locator('[data-testid="live-indicator"]').getAttribute('data-state')).toBe('live');
    await shot('06-run-live-before');
    latches.get('g1')?.();
    await poll(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('completed');
    await poll(activeStates).toEqual(['completed']);
    expect(await page.locator('[data-testid="timeline-entry"][data-type="run.completed"]').count()).toBe(1);
    // The timeline says which worker ran the step (this process: the runtime runs in the test).
    expect(await page.locator('[data-testid="timeline-entry"][data-type="step.completed"] [data-testid="timeline-worker"]').last().textContent()).toBe(`on ${hostname()}:${process.pid}`);
    await shot('07-run-live-after');
  });

  it('cancels a run after confirmation and shows it end cancelled', async () => {
    await openRun('slow-s1');
    expect(await activeStates()).toEqual(['hold', 'hold.running']);
    await page.getByTestId('cancel-button').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    await page.getByLabel('Reason').fill('customer asked');
    await shot('08-cancel-confirm');
    // Dismissing changes nothing.
    await page.getByTestId('confirm-cancel').click();
    await dialog.waitFor({ state: 'detached' });
    expect(await statusOf('slow-s1')).toBe('running');
    await page.getByTestId('cancel-button').click();
    await page.getByLabel('Reason').fill('customer asked');
    await page.getByTestId('confirm-ok').click();
    await poll(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('cancelled');
    await poll(activeStates).toEqual(['cancelled']);
    expect(await statusOf('slow-s1')).toBe('cancelled');
    // The cancel event's own edge into the compensation, then the compensation's `done` to `cancelled`.
    expect(await takenEdges()).toEqual(['compensating.reserve.running>cancelled', 'hold>compensating.reserve', 'reserve.running>hold']);
    const cancelled = page.locator('[data-testid="timeline-entry"][data-type="run.cancelled"]');
    await poll(() => cancelled.textContent()).toContain('customer asked');
    expect(await page.getByTestId('cancel-button').count()).toBe(0);
    await shot('09-run-cancelled');
  });

  it('re-drives a failed run after confirmation', async () => {
    await openRun('validate-v1');
    await page.getByTestId('retry-button').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-ok').click();
    await poll(() => page.locator('[data-testid="timeline-entry"][data-type="run.redriven"]').count()).toBe(1);
    // The step fails for good again (it always declines), after the re-drive.
    await poll(() => page.locator('[data-testid="timeline-entry"][data-type="run.failed"]').count()).toBe(2);
    expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('failed');
    expect(await page.locator('[data-testid="timeline-entry"][data-type="run.redriven"]').textContent()).toContain('by dashboard');
    await shot('10-run-redriven');
  });

  it('lists dead letters with their reasons and redrives one after confirmation', async () => {
    await page.goto(dashboard.url);
    await page.getByTestId('nav-dead-letters').click();
    const row = page.locator('[data-testid="dead-letter-row"]');
    await poll(() => row.count()).toBe(1);
    const text = await row.textContent();
    expect(text).toContain('taskchart');
    expect(text).toContain('malformed message');
    expect(text).toContain('{not json');
    await shot('11-dead-letters');
    const [before] = await runtime.deadLetters();
    await row.getByTestId('redrive-button').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-ok').click();
    await poll(() => page.getByTestId('notice-ok').first().textContent()).toContain('1 message moved back to taskchart');
    // Back on its queue, the runtime cannot read it either: it is dead-lettered again.
    await until('the message to be dead-lettered again', async () => (await runtime.deadLetters()).some((d) => d.body === before?.body));
    await page.getByTestId('nav-runs').click();
    await page.getByTestId('nav-dead-letters').click();
    await poll(() => row.count()).toBe(1);
  });

  it('ran without a script error or a failed request in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
