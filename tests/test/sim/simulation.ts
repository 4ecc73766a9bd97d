/**
 * Drives runs through a sequence of process incarnations on one SQLite file: each incarnation
 * gets a fault plan, may crash, and is replaced by a fresh one that recovers from the store and
 * the broker. On the memory backend the clock is manual and a crash loses the broker's messages
 * (as an in-process broker would); on a real broker (RabbitMQ, SQS) time is real and the server
 * keeps what the dead process had not acknowledged. See `backends.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, createRuntime, task, type Broker, type FailureReport, type Runtime, type RunStatus, type SerializedError, type Store } from '@taskchart/core';
import { type HistoryEntry, type StoredEvent } from '@taskchart/core/adapter';
import { sqliteStore } from '@taskchart/store-sqlite';
import { settle, silentLogger } from '@taskchart/core/testing';
import { memoryBackend, type SimBackend } from './backends.js';
import { faultyBroker, faultyStore, Incarnation, type FaultPlan } from './faults.js';

export interface Scenario {
  /** failures[run][step]: how many attempts of that step fail before one succeeds. */
  readonly failures: readonly (readonly number[])[];
  /** One fault plan per incarnation; incarnations past the list have no faults. */
  readonly plans: readonly FaultPlan[];
  /** Step messages the broker refuses for good, in every life. @defaultValue none */
  readonly refusals?: readonly Refusal[];
  /** Cancels sent while the runs go on. @defaultValue none */
  readonly cancels?: readonly CancelPlan[];
  readonly seed: number;
}

/** `cancel(run-<run>, { compensate })` at the simulation's step `at` (twice at once with `twice`), again in later steps until a call returns. */
export interface CancelPlan {
  readonly run: number;
  readonly at: number;
  readonly compensate: boolean;
  readonly twice: boolean;
}

/** The broker refuses for good every message of step `STEPS[step]` of run `run-<run>` (not its compensation). */
export interface Refusal {
  readonly run: number;
  readonly step: number;
}

function refuser(refusals: readonly Refusal[]): (body: string) => boolean {
  const refused = new Set(refusals.map((r) => `run-${r.run}\u0000${STEPS[r.step] ?? ''}`));
  return (body) => {
    const m = JSON.parse(body) as { kind?: string; runId?: string; step?: string; compensation?: boolean };
    return m.kind === 'task' && m.compensation === false && refused.has(`${m.runId ?? ''}\u0000${m.step ?? ''}`);
  };
}

export const STEPS = ['reserve', 'charge', 'ship'] as const;
export const MAX_RETRIES = 2;

export interface Outcome {
  readonly runs: ReadonlyArray<{
    id: string;
    status: RunStatus;
    output: unknown;
    error: SerializedError | undefined;
    history: readonly HistoryEntry[];
    /** The run's events as the store's event log replays them, three at a time (each page resumed after the last cursor). */
    events: readonly StoredEvent[];
  }>;
  /** The whole event log, replayed three at a time. */
  readonly log: readonly StoredEvent[];
  /** Side effects applied, by idempotency key (deduplicated by key, as a real API would). */
  readonly effects: ReadonlyMap<string, number>;
  /** Every execution start, in order: key and whether the step had completed before. */
  readonly lateExecutions: readonly string[];
  /** Every step execution start (not compensations), in order: run id and step. */
  readonly executions: ReadonlyArray<{ readonly runId: string; readonly step: string }>;
  /** The answers of the cancels that returned, by run. */
  readonly cancelAnswers: ReadonlyMap<string, ReadonlyArray<{ cancelled: boolean; status: RunStatus; compensate: boolean }>>;
  /** Compensation side effects applied, in order (deduplicated by key). */
  readonly compensations: readonly string[];
  readonly reports: readonly FailureReport[];
  readonly incarnations: number;
}

/** Replays the event log `query` selects, in small pages, each resumed after the last cursor read. */
async function readLog(store: Store, query: { runId?: string }): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (;;) {
    const after = all.at(-1)?.cursor;
    const page = await store.events({ ...query, ...(after === undefined ? {} : { after }), limit: 3 });
    all.push(...page);
    if (page.length < 3) return all;
  }
}

export async function simulate(scenario: Scenario, backend: SimBackend = memoryBackend()): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-sim-'));
  const dbPath = join(dir, 'runs.db');
  const { clock } = backend;
  const effects = new Map<string, number>();
  const completedKeys = new Set<string>();
  const lateExecutions: string[] = [];
  const executions: Array<{ runId: string; step: string }> = [];
  const cancelAnswers = new Map<string, Array<{ cancelled: boolean; status: RunStatus; compensate: boolean }>>();
  // (A cancel of a run the scenario does not have is never made.)
  const pendingCancels = (scenario.cancels ?? []).filter((c) => c.run < scenario.failures.length);
  const compensations: string[] = [];
  const reports: FailureReport[] = [];
  let life: Incarnation | undefined;

  const attemptsSeen = new Map<string, number>();
  const makeTask = (name: (typeof STEPS)[number], index: number) =>
    task(
      name,
      (input: { run: number; trail: string[] }, ctx) => {
        life?.assertAlive();
        if (completedKeys.has(ctx.idempotencyKey)) lateExecutions.push(ctx.idempotencyKey);
        executions.push({ runId: ctx.runId, step: name });
        const failuresWanted = scenario.failures[input.run]?.[index] ?? 0;
        const n = Math.max(attemptsSeen.get(ctx.idempotencyKey) ?? 0, ctx.attempt);
        attemptsSeen.set(ctx.idempotencyKey, n);
        if (ctx.attempt <= failuresWanted) throw new Error(`${name} flaked (attempt ${ctx.attempt})`);
        if (!effects.has(ctx.idempotencyKey)) effects.set(ctx.idempotencyKey, 1);
        return { run: input.run, trail: [...input.trail, name] };
      },
      {
        retry: { maxRetries: MAX_RETRIES, backoff: { initial: backend.backoff.initialMs, max: backend.backoff.maxMs, jitter: 'full' } },
        // The last step has nothing to undo.
        ...(index < STEPS.length - 1
          ? {
              compensate: (_output: { run: number; trail: string[] }, ctx: { idempotencyKey: string }) => {
                life?.assertAlive();
                const key = `undo:${ctx.idempotencyKey}`;
                if (!compensations.includes(key)) compensations.push(key);
              },
            }
          : {}),
      },
    );
  const order = chain('sim-order', makeTask('reserve', 0), makeTask('charge', 1), makeTask('ship', 2));
  const runIds = scenario.failures.map((_, i) => `run-${i}`);
  let seed = scenario.seed;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };

  const refuse = refuser(scenario.refusals ?? []);
  let incarnations = 0;
  let runtime: Runtime | undefined;
  let broker: Broker | undefined;
  // The life's own store (one per process: a second store on the file is refused while it is open).
  let store: Store | undefined;
  const boot = async () => {
    const plan = scenario.plans[incarnations] ?? { failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] };
    incarnations++;
    life = new Incarnation(plan);
    const current = life;
    broker = await backend.open();
    store = sqliteStore(dbPath);
    runtime = createRuntime({
      broker: faultyBroker(broker, current, { deadDelivery: backend.deadDelivery, delayScale: backend.delayScale, refuse }),
      store: faultyStore(store, current),
      chains: [order],
      clock,
      random,
      outboxSweep: backend.outboxSweepMs,
      outboxLease: backend.outboxLeaseMs,
      eagerDispatch: plan.eager ?? true,
      logger: silentLogger,
      onFailure: (r) => {
        current.assertAlive();
        reports.push(r);
      },
    });
    // A start that fails on a transient fault fails loudly and can be called again (as a
    // supervisor restarting the process would); one that crashed leaves it to the next life.
    for (let attempt = 1; ; attempt++) {
      try {
        await runtime.start();
        return;
      } catch (error) {
        if (current.dead) return;
        if (attempt >= 3) throw error;
      }
    }
  };
  const bury = async () => {
    if (broker) await backend.crashed(broker, runtime, store);
  };
  const statusOf = async (id: string) => (await runtime?.getRun(id).catch(() => undefined))?.status;

  try {
    await boot();
    const started = new Set<string>();
    for (let step = 0; step < 5000; step++) {
      await settle(4);
      if (life?.dead) {
        await bury();
        await boot();
        continue;
      }
      // Start (or idempotently re-start) runs whose start did not make it.
      for (const [i, id] of runIds.entries()) {
        if (started.has(id)) continue;
        try {
          await runtime?.run(order, { run: i, trail: [] }, { id });
          started.add(id);
        } catch {
          break;
        }
      }
      if (life?.dead) continue;
      // Cancels due now (a call that failed on a fault is made again at the next step).
      for (const plan of pendingCancels.filter((c) => c.at <= step && started.has(`run-${c.run}`))) {
        const id = `run-${plan.run}`;
        const current = runtime;
        if (!current) break;
        const calls = Array.from({ length: plan.twice ? 2 : 1 }, () => current.cancel(id, { compensate: plan.compensate }));
        const answers = await Promise.allSettled(calls);
        for (const a of answers) {
          if (a.status === 'fulfilled') {
            const list = cancelAnswers.get(id) ?? [];
            list.push({ cancelled: a.value.cancelled, status: a.value.status, compensate: plan.compensate });
            cancelAnswers.set(id, list);
          }
        }
        if (answers.some((a) => a.status === 'fulfilled')) pendingCancels.splice(pendingCancels.indexOf(plan), 1);
      }
      if (life?.dead) continue;
      const statuses = await Promise.all(runIds.map(statusOf));
      // Done when every run is terminal and each failed one was reported: a report claimed by a
      // life that died in its hook is taken over when that claim's lease runs out, later.
      // (A cancelled run is reported only when it had failed before the cancel: its history says.)
      const histories = await Promise.all(runIds.map(async (id) => (await runtime?.getRun(id).catch(() => undefined))?.history ?? []));
      const failedFirst = (i: number) => histories[i]?.some((e) => e.type === 'compensation.started' && !histories[i]?.slice(0, histories[i]?.indexOf(e)).some((x) => x.type === 'run.cancelling'));
      const reported = runIds.every((id, i) => statuses[i] === 'completed' || (statuses[i] === 'cancelled' && !failedFirst(i)) || reports.some((r) => r.runId === id));
      const terminal = (st: RunStatus | undefined) => st === 'completed' || st === 'failed' || st === 'compensated' || st === 'cancelled';
      if (started.size === runIds.length && pendingCancels.length === 0 && statuses.every(terminal) && reported) break;
      // Track completions so a late execution of a completed step can be recognised.
      for (const id of runIds) {
        const info = await runtime?.getRun(id).catch(() => undefined);
        for (const h of info?.history ?? []) if (h.type === 'step.completed' && h.step) completedKeys.add(`${id}:${h.step}`);
      }
      if (!(await backend.advance(() => life?.dead ?? false))) throw new Error(`simulation stuck on ${backend.name}: statuses ${JSON.stringify(statuses)}`);
    }
    // The last life lets go of the file before it is read back.
    if (!life?.dead) await runtime?.close().catch(() => undefined);
    else await bury();
    const fresh = sqliteStore(dbPath);
    const runs = [];
    for (const id of runIds) {
      const record = await fresh.load(id);
      runs.push({ id, status: record?.status ?? ('missing' as RunStatus), output: record?.output, error: record?.error, history: await fresh.history(id), events: await readLog(fresh, { runId: id }) });
    }
    const log = await readLog(fresh, {});
    await fresh.close();
    return { runs, log, effects, lateExecutions, executions, cancelAnswers, compensations, reports, incarnations };
  } finally {
    if (!life?.dead) await runtime?.close().catch(() => undefined);
    else await bury().catch(() => undefined);
    await backend.dispose().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
