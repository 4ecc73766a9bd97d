import type { AnyChain } from '../chain.js';
import type { Clock, RandomSource } from '../clock.js';
import { parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { Broker } from '../ports/broker.js';
import type { Store } from '../ports/store.js';
import { systemClock } from '../clock.js';
import type { FailureReport } from './failure-report.js';
import { assertKnownKeys } from '../known-keys.js';
import { compilePlugins, type Plugin } from './plugins.js';
import { ChainVersions } from './chain-versions.js';

export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** What a client (`createClient`) and a runtime (`createRuntime`) share. */
export interface ClientOptions {
  broker: Broker;
  store: Store;
  /**
   * Every chain this process may start or advance. Messages of other chains are dead-lettered.
   * Several versions of one chain may be given (`[orderV1, orderV2]`): new runs start on the
   * newest, each run continues on its own version (or is migrated; see docs/deploying.md).
   */
  chains: readonly AnyChain[];
  /** @defaultValue console */
  logger?: Logger;
  /** @defaultValue the system clock */
  clock?: Clock;
  /**
   * When set, every published message is signed (HMAC-SHA256) and unsigned or badly signed
   * messages are dead-lettered. Give every client and runtime of a deployment the same key.
   */
  signingKey?: string;
  /**
   * The longest pause between two reads of the store's event log when following runs other
   * processes advance (`events()`, `result()`); reads start 50 ms apart and back off to this
   * while nothing happens. A duration (a bare number is milliseconds), from 1 ms to 1 day.
   * @defaultValue '1s'
   */
  resultPoll?: Duration;
  /**
   * Plugins. A client calls their `onEvent` for the transitions it commits (starts, cancels,
   * re-drives) and their `messageHeaders` for the messages it writes (so a run started in a web
   * request carries its trace context); `onFailure` and `wrapAttempt` belong to runtimes and are
   * not called by a client. @defaultValue []
   */
  plugins?: readonly Plugin[];
}

export interface RuntimeOptions extends ClientOptions {
  /**
   * Plugins: each may hook run events (`onEvent`), the durable failure report (`onFailure`) and
   * each task attempt (`wrapAttempt`). One that throws is logged with its name; the run goes on.
   * @defaultValue []
   */
  plugins?: readonly Plugin[];
  /**
   * Sugar for one plugin with this `onFailure`. Called once when a step fails for good (after its last retry, or when the broker refused its
   * message for good), before compensation starts, again if a compensation gives up, and when a
   * run is parked (`report.parked`). Delivered through the outbox: at least once, even
   * across a crash (a crash right after the call may repeat it).
   */
  onFailure?: (report: FailureReport) => void | Promise<void>;
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
   * Runs a step this runtime commits here at once, without a round trip through the broker, when
   * its queue is one this runtime consumes and fewer than `prefetch` of that queue's steps are
   * running here that way (so at most twice `prefetch` steps of a queue run at once: the broker's
   * deliveries and these). Its committed outbox entry stays claimed until the step's outcome is
   * committed, so a crash loses nothing: once the claim runs out (`outboxLease`), another process
   * publishes it. A run tends to stay on the worker that ran its previous step; runs spread across
   * workers by the broker's deliveries (runs started by a client, steps that found no free slot).
   * `false`: every step goes through the broker.
   * @defaultValue true
   */
  eagerDispatch?: boolean;
  /**
   * How often the store's outbox is swept for unpublished entries (left by a crashed process);
   * from 1 ms to 1 day. A failed publish is retried sooner: after 100 ms, doubling up to this
   * period (at most 30 s). @defaultValue '5s'
   */
  outboxSweep?: Duration;
  /**
   * How long this process's claim on an outbox entry (or failure report) holds: when it dies
   * holding one, another process takes the entry over after this. Longer than any `onFailure`
   * hook runs. A duration (a bare number is milliseconds), from 100 ms to 1 day.
   * @defaultValue '30s'
   */
  outboxLease?: Duration;
  /**
   * How long a message for a chain version this runtime does not know (and cannot migrate from)
   * is given back to the broker, with a growing delay (1 s doubling to 1 min), so a runtime that
   * knows the version can take it; after this its run is parked (reported through `onFailure`)
   * and the message dead-lettered. A duration, from 1 s to 7 days.
   * @defaultValue '10m'
   */
  unknownVersionGrace?: Duration;
}

export interface CompiledClientOptions {
  readonly broker: Broker;
  readonly store: Store;
  readonly chains: ChainVersions;
  readonly clock: Clock;
  readonly signingKey: string | undefined;
  readonly resultPollMs: number;
  readonly outboxSweepMs: number;
  readonly outboxLeaseMs: number;
  readonly logger: Logger;
  /** Whose hooks this process calls (a client: none). */
  readonly plugins: readonly Plugin[];
  /** Whether this process consumes task queues (a client, or a runtime with `queues: []`: no). */
  readonly consumes: boolean;
  /** How error messages name this process's calls (`runtime`, `client`) and its factory. */
  readonly label: 'runtime' | 'client';
  readonly factory: 'createRuntime' | 'createClient';
}

export interface CompiledRuntimeOptions extends CompiledClientOptions {
  readonly random: RandomSource;
  readonly queues: readonly string[];
  readonly prefetch: number;
  readonly eagerDispatch: boolean;
  readonly unknownVersionGraceMs: number;
}

/** The longest period of `outboxSweep` and `resultPoll`: a day (a period, not a deadline). */
const PERIOD_MAX_MS = 86_400_000;

const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[taskchart] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[taskchart] ${message}`, details ?? ''),
};

const CLIENT_KEYS = ['broker', 'store', 'chains', 'logger', 'clock', 'signingKey', 'resultPoll', 'plugins'] as const;
const RUNTIME_KEYS = [...CLIENT_KEYS, 'onFailure', 'random', 'queues', 'prefetch', 'eagerDispatch', 'outboxSweep', 'outboxLease', 'unknownVersionGrace'] as const;

/** Validates what a client and a runtime share; `factory` names the owner in errors. */
function compileShared(options: ClientOptions, factory: 'createRuntime' | 'createClient', keys: readonly string[]) {
  const opt = (name: string) => `${factory}: ${name}`;
  if (!options || typeof options !== 'object') throw new InvalidOptionError(opt('options'), 'must be an object');
  assertKnownKeys(options, keys, factory);
  const { broker, store } = options;
  if (!broker || typeof broker.publish !== 'function' || typeof broker.consume !== 'function') throw new InvalidOptionError(opt('broker'), 'must be a Broker (e.g. memoryBroker())');
  if (!store || typeof store.commit !== 'function' || typeof store.load !== 'function') throw new InvalidOptionError(opt('store'), "must be a Store (e.g. sqliteStore('taskchart.db'))");
  if (!Array.isArray(options.chains) || options.chains.length === 0) throw new InvalidOptionError(opt('chains'), 'must list at least one chain');
  const chains = new Map<string, AnyChain>();
  options.chains.forEach((c: AnyChain, i) => {
    if (!c || typeof c.name !== 'string' || !c.machine) throw new InvalidOptionError(opt(`chains[${i}]`), 'must be a chain created with chain()');
    const key = `${c.name}\u0000${c.version}`;
    const existing = chains.get(key);
    if (existing && existing !== c) throw new InvalidOptionError(opt(`chains[${i}]`), `duplicate chain name "${c.name}" with version ${c.version} (give each definition of a chain its own version)`);
    chains.set(key, c);
  });
  // Two different tasks with one name would make messages ambiguous (versions of one chain may
  // each have their own: a message names its version).
  const tasks = new Map<string, { task: unknown; chain: string }>();
  for (const c of chains.values()) {
    for (const s of c.steps) {
      const seen = tasks.get(s.task.name);
      if (seen && seen.task !== s.task && seen.chain !== c.name) throw new InvalidOptionError(opt('chains'), `duplicate task name "${s.task.name}" (two different tasks share it; task names must be unique)`);
      tasks.set(s.task.name, { task: s.task, chain: c.name });
    }
  }
  if (options.signingKey !== undefined && (typeof options.signingKey !== 'string' || options.signingKey.length < 16)) {
    throw new InvalidOptionError(opt('signingKey'), 'must be a string of at least 16 characters');
  }
  return {
    broker,
    store,
    chains: new ChainVersions(chains.values()),
    clock: options.clock ?? systemClock,
    signingKey: options.signingKey,
    resultPollMs: parseDuration(options.resultPoll ?? '1s', opt('resultPoll'), { allowZero: false, max: PERIOD_MAX_MS }),
    logger: options.logger ?? consoleLogger,
  };
}

/** Validates and normalises `createClient` options (once). */
export function compileClientOptions(options: ClientOptions): CompiledClientOptions {
  const shared = compileShared(options, 'createClient', CLIENT_KEYS);
  // A client calls no failure hook (it never claims failure reports) and wraps no attempt.
  const plugins = compilePlugins(options.plugins, undefined, 'createClient').map(({ name, onEvent, messageHeaders }) => ({
    name,
    ...(onEvent ? { onEvent } : {}),
    ...(messageHeaders ? { messageHeaders } : {}),
  }));
  return { ...shared, outboxSweepMs: 5000, outboxLeaseMs: 30_000, plugins, consumes: false, label: 'client', factory: 'createClient' };
}

export function compileRuntimeOptions(options: RuntimeOptions): CompiledRuntimeOptions {
  const opt = (name: string) => `createRuntime: ${name}`;
  const shared = compileShared(options, 'createRuntime', RUNTIME_KEYS);
  const plugins = compilePlugins(options.plugins, options.onFailure, 'createRuntime');
  const prefetch = options.prefetch ?? 32;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new InvalidOptionError(opt('prefetch'), `must be a whole number >= 1, got ${String(prefetch)}`);
  const eagerDispatch = options.eagerDispatch ?? true;
  if (typeof eagerDispatch !== 'boolean') throw new InvalidOptionError(opt('eagerDispatch'), `must be true or false, got ${JSON.stringify(eagerDispatch) ?? String(eagerDispatch)}`);
  const defaultQueues = [...new Set(shared.chains.all().flatMap((c) => c.steps.map((s) => s.task.queue)))];
  const queues = options.queues ?? defaultQueues;
  if (!Array.isArray(queues) || !queues.every((q) => typeof q === 'string' && q.length > 0)) throw new InvalidOptionError(opt('queues'), 'must be an array of queue names');
  const outboxLeaseMs = parseDuration(options.outboxLease ?? '30s', opt('outboxLease'), { allowZero: false, max: PERIOD_MAX_MS });
  if (outboxLeaseMs < 100) throw new InvalidOptionError(opt('outboxLease'), `must be a duration between 100 ms and 1d (86400000 ms), got ${outboxLeaseMs} ms`);
  const unknownVersionGraceMs = parseDuration(options.unknownVersionGrace ?? '10m', opt('unknownVersionGrace'), { allowZero: false, max: 7 * PERIOD_MAX_MS });
  if (unknownVersionGraceMs < 1000) throw new InvalidOptionError(opt('unknownVersionGrace'), `must be a duration between 1 s and 7d (604800000 ms), got ${unknownVersionGraceMs} ms`);
  return {
    ...shared,
    plugins,
    random: options.random ?? Math.random,
    queues,
    prefetch,
    eagerDispatch,
    consumes: queues.length > 0,
    outboxSweepMs: parseDuration(options.outboxSweep ?? '5s', opt('outboxSweep'), { allowZero: false, max: PERIOD_MAX_MS }),
    outboxLeaseMs,
    unknownVersionGraceMs,
    label: 'runtime',
    factory: 'createRuntime',
  };
}
