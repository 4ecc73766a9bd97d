/**
 * A real Taskchart deployment for the dashboard's tests: a worker runtime and a separate client
 * (what a web process holds), sharing one SQLite file and one in-process memory broker hub; chains
 * that complete, retry, fail, compensate and wait; a built-UI directory; and a dashboard served on
 * a real port. Everything is closed and removed after each test.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createClient, createRuntime, NonRetryableError, task, type Client, type EventsQuery, type Runtime } from '@taskchart/core';
import { silentLogger, waitFor } from '@taskchart/core/testing';
import { memoryBroker, MemoryHub } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterEach } from 'vitest';
import { createDashboard, type Dashboard, type DashboardClient, type DashboardOptions } from '../src/index.js';

const retry = { maxRetries: 3, backoff: { initial: 5, jitter: 'none' } } as const;

/** Attempts of `flaky` before it succeeds (per run input `n`). */
const flakyAttempts = new Map<string, number>();
/** Runs of `healable` whose step now succeeds (a re-drive after a fix). */
export const healed = new Set<string>();
/** Started `wait` steps, by run id (a cancel aborts them; the rig ends those left when a test ends). */
export const waiting = new Map<string, AbortSignal>();
const finishers = new Set<() => void>();

const quote = task('quote', (x: { user: string; password: string }) => ({ user: x.user, price: 42 }));
const charge = task('charge', (x: { user: string; price: number }) => ({ ...x, charged: true }), { compensate: () => undefined });
const notify = task('notify', (x: { user: string; charged: boolean }) => ({ user: x.user, sent: true }));
const flaky = task(
  'flaky',
  (x: { id: string; failures: number }) => {
    const n = (flakyAttempts.get(x.id) ?? 0) + 1;
    flakyAttempts.set(x.id, n);
    if (n <= x.failures) throw new Error(`flaky failed (api_token=abc${n})`);
    return { id: x.id, attempts: n };
  },
  { retry },
);
const reserve = task('reserve', (x: { id: string }) => x, { compensate: () => undefined });
const reject = task('reject', (): { id: string } => {
  throw new NonRetryableError('card declined (secret=s3cr3t)');
});
const healable = task('healable', (x: { id: string }) => {
  if (!healed.has(x.id)) throw new NonRetryableError('not yet');
  return { id: x.id, healed: true };
});
const wait = task(
  'wait',
  (x: { id: string }, ctx) =>
    new Promise<{ id: string }>((resolve, rejectWait) => {
      waiting.set(x.id, ctx.signal);
      ctx.signal.addEventListener('abort', () => rejectWait(new Error('aborted')));
      finishers.add(() => resolve(x));
    }),
  { compensate: () => undefined },
);

export const chains = {
  order: chain('order', quote, charge, notify),
  flaky: chain('flaky', flaky),
  doomed: chain('doomed', reserve, reject),
  healable: chain('healable', healable),
  slow: chain('slow', reserve, wait),
};
const allChains = Object.values(chains);

export interface Rig {
  runtime: Runtime;
  /** The memory broker's queues, shared by the runtime and the client. */
  hub: MemoryHub;
  client: Client;
  uiDir: string;
  /** Opens a dashboard on a real node:http server. */
  serve(options?: Partial<DashboardOptions>): Promise<{ dashboard: Dashboard; url: string }>;
  /** How many `client.events()` feeds the dashboard holds open now. */
  openFeeds(): number;
  /** Waits until run `id` has one of `statuses`. */
  until(id: string, ...statuses: string[]): Promise<void>;
}

export function rigs(): () => Promise<Rig> {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskchart-dashboard-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'runs.db');
    const hub = new MemoryHub();
    // One store object per file and process (the SQLite store's rule); each its own broker handle.
    const store = sqliteStore(file);
    const runtime = createRuntime({ broker: memoryBroker({ hub }), store, chains: allChains, logger: silentLogger, resultPoll: '100ms' });
    await runtime.start();
    const client = createClient({ broker: memoryBroker({ hub }), store, chains: allChains, logger: silentLogger, resultPoll: '100ms' });
    // Closed in reverse: the client, then the runtime (which closes the store).
    cleanups.push(
      () => runtime.close(),
      () => client.close(),
      () => {
        // A step still waiting finishes, so that the runtime's close() can drain it.
        for (const finish of finishers) finish();
        finishers.clear();
        waiting.clear();
      },
    );
    const uiDir = join(dir, 'ui');
    mkdirSync(join(uiDir, 'assets'), { recursive: true });
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><meta name="taskchart-base" content="{{BASE}}"><meta name="taskchart-csrf" content="{{CSRF}}"><title>{{TITLE}}</title>');
    writeFileSync(join(uiDir, 'assets', 'app-3F7A9C2B.js'), 'console.log("app");');
    writeFileSync(join(uiDir, 'assets', 'style.css'), 'body{}');
    writeFileSync(join(dir, 'secret.txt'), 'top secret');

    // The real client, with each events() feed counted until it ends.
    let open = 0;
    const counted: DashboardClient = {
      listRuns: (query) => client.listRuns(query),
      getRun: (id) => client.getRun(id),
      cancel: (id, options) => client.cancel(id, options),
      retry: (id, options) => client.retry(id, options),
      chainDefinitions: (query) => client.chainDefinitions(query),
      chainDefinition: (name, version) => client.chainDefinition(name, version),
      deadLetters: (query) => client.deadLetters(query),
      redriveDeadLetters: (options) => client.redriveDeadLetters(options),
      get deadLetterQueues() {
        return client.deadLetterQueues;
      },
      events(query?: EventsQuery) {
        const feed = client.events(query);
        open++;
        return (async function* () {
          try {
            yield* feed;
          } finally {
            open--;
          }
        })();
      },
    };

    return {
      runtime,
      hub,
      client,
      uiDir,
      openFeeds: () => open,
      async serve(options = {}) {
        const dashboard = createDashboard({ client: counted, uiDir, ...options });
        const server: Server = createServer((req, res) => dashboard.handler(req, res));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        cleanups.push(async () => {
          await dashboard.close();
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        });
        const base = options.basePath ?? '';
        return { dashboard, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${base.replace(/\/$/, '')}` };
      },
      until: (id, ...statuses) => eventually(async () => statuses.includes((await client.getRun(id))?.status ?? ''), `run ${id} to be ${statuses.join(' or ')}`),
    };
  };
}

/** Resolves once the async `check()` holds (asked every 10 ms), rejecting after 10 s naming `what`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export { waitFor };
