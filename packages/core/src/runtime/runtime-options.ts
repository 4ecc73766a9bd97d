import type { AnyChain } from '../chain.js';
import type { Clock, RandomSource } from '../clock.js';
import { parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { Broker } from '../ports/broker.js';
import type { Store } from '../ports/store.js';
import { systemClock } from '../clock.js';
import type { FailureReport } from './failure-report.js';

export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

export interface RuntimeOptions {
  broker: Broker;
  store: Store;
  /** Every chain this runtime may start or advance. Messages of other chains are dead-lettered. */
  chains: readonly AnyChain[];
  /**
   * Called once when a step fails for good (after its last retry, or when the broker refused its
   * message for good), before compensation starts, again if a compensation gives up, and when a
   * run is parked (`report.parked`). Delivered through the outbox: at least once, even
   * across a crash (a crash right after the call may repeat it).
   */
  onFailure?: (report: FailureReport) => void | Promise<void>;
  /** @defaultValue the system clock */
  clock?: Clock;
  /** Random source for retry jitter. @defaultValue Math.random */
  random?: RandomSource;
  /**
   * Queues this runtime consumes. `[]` makes a producer-only runtime.
   * @defaultValue every queue used by the tasks of `chains`
   */
  queues?: readonly string[];
  /** Unacknowledged messages per consumed queue. @defaultValue 32 */
  prefetch?: number;
  /**
   * When set, every published message is signed (HMAC-SHA256) and unsigned or badly signed
   * messages are dead-lettered. Give every runtime of a deployment the same key.
   */
  signingKey?: string;
  /**
   * How often the store's outbox is swept for unpublished entries (left by a crashed process);
   * from 1 ms to 1 day. A failed publish is retried sooner: after 100 ms, doubling up to this
   * period (at most 30 s). @defaultValue '5s'
   */
  outboxSweep?: Duration;
  /**
   * How often `run.result()` polls the store for runs advanced by other processes; from 1 ms to
   * 1 day. @defaultValue '1s'
   */
  resultPoll?: Duration;
  /** @defaultValue console */
  logger?: Logger;
}

export interface CompiledRuntimeOptions {
  readonly broker: Broker;
  readonly store: Store;
  readonly chains: ReadonlyMap<string, AnyChain>;
  readonly onFailure: ((report: FailureReport) => void | Promise<void>) | undefined;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly queues: readonly string[];
  readonly prefetch: number;
  readonly signingKey: string | undefined;
  readonly outboxSweepMs: number;
  readonly resultPollMs: number;
  readonly logger: Logger;
}

/** The longest period of `outboxSweep` and `resultPoll`: a day (a period, not a deadline). */
const PERIOD_MAX_MS = 86_400_000;

const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[taskchart] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[taskchart] ${message}`, details ?? ''),
};

export function compileRuntimeOptions(options: RuntimeOptions): CompiledRuntimeOptions {
  const opt = (name: string) => `createRuntime: ${name}`;
  if (!options || typeof options !== 'object') throw new InvalidOptionError(opt('options'), 'must be an object');
  const { broker, store } = options;
  if (!broker || typeof broker.publish !== 'function' || typeof broker.consume !== 'function') throw new InvalidOptionError(opt('broker'), 'must be a Broker (e.g. memoryBroker())');
  if (!store || typeof store.commit !== 'function' || typeof store.load !== 'function') throw new InvalidOptionError(opt('store'), "must be a Store (e.g. sqliteStore('taskchart.db'))");
  if (!Array.isArray(options.chains) || options.chains.length === 0) throw new InvalidOptionError(opt('chains'), 'must list at least one chain');
  const chains = new Map<string, AnyChain>();
  options.chains.forEach((c: AnyChain, i) => {
    if (!c || typeof c.name !== 'string' || !c.machine) throw new InvalidOptionError(opt(`chains[${i}]`), 'must be a chain created with chain()');
    const existing = chains.get(c.name);
    if (existing && existing !== c) throw new InvalidOptionError(opt(`chains[${i}]`), `duplicate chain name "${c.name}"`);
    chains.set(c.name, c);
  });
  // Two different tasks with one name would make messages ambiguous.
  const tasks = new Map<string, unknown>();
  for (const c of chains.values()) {
    for (const s of c.steps) {
      const seen = tasks.get(s.task.name);
      if (seen && seen !== s.task) throw new InvalidOptionError(opt('chains'), `duplicate task name "${s.task.name}" (two different tasks share it; task names must be unique)`);
      tasks.set(s.task.name, s.task);
    }
  }
  if (options.onFailure !== undefined && typeof options.onFailure !== 'function') throw new InvalidOptionError(opt('onFailure'), 'must be a function');
  const prefetch = options.prefetch ?? 32;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new InvalidOptionError(opt('prefetch'), `must be a whole number >= 1, got ${String(prefetch)}`);
  const defaultQueues = [...new Set([...chains.values()].flatMap((c) => c.steps.map((s) => s.task.queue)))];
  const queues = options.queues ?? defaultQueues;
  if (!Array.isArray(queues) || !queues.every((q) => typeof q === 'string' && q.length > 0)) throw new InvalidOptionError(opt('queues'), 'must be an array of queue names');
  if (options.signingKey !== undefined && (typeof options.signingKey !== 'string' || options.signingKey.length < 16)) {
    throw new InvalidOptionError(opt('signingKey'), 'must be a string of at least 16 characters');
  }
  return {
    broker,
    store,
    chains,
    onFailure: options.onFailure,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    queues,
    prefetch,
    signingKey: options.signingKey,
    outboxSweepMs: parseDuration(options.outboxSweep ?? '5s', opt('outboxSweep'), { allowZero: false, max: PERIOD_MAX_MS }),
    resultPollMs: parseDuration(options.resultPoll ?? '1s', opt('resultPoll'), { allowZero: false, max: PERIOD_MAX_MS }),
    logger: options.logger ?? consoleLogger,
  };
}
