import type { InspectionEvent, Observer } from 'xstate';
import type { AnyChain, Duration, Logger } from '@taskchart/core';
import { assertKnownKeys, InvalidOptionError, parseDuration, systemClock, type Clock, type Store } from '@taskchart/core/adapter';

/**
 * Where the inspection events go: an `@statelyai/inspect` inspector (`createWebSocketInspector()`,
 * `createBrowserInspector()`, `createSkyInspector()`: anything with an `inspect` observer), or
 * an XState inspection observer itself (`{ next(event) }` or a function), as `createActor(machine,
 * { inspect })` takes.
 */
export type InspectionTarget = { readonly inspect: Observer<InspectionEvent> } | Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export interface InspectRunsOptions {
  /** The store the runs are kept in: the runs are read from its event log (any process may read it). */
  store: Store;
  /** The chain definitions, as the workers have them: each run is drawn with its chain's compiled machine. */
  chains: readonly AnyChain[];
  /** Where the inspection events go. */
  inspector: InspectionTarget;
  /** Only this run. @defaultValue every run (of `chain`, when given) */
  runId?: string;
  /** Only runs of this chain. @defaultValue every chain */
  chain?: string;
  /**
   * Keep following the log after replaying it (live); `false` replays what is there and stops.
   * With `runId`, following ends by itself once that run has completed, failed or been compensated.
   * @defaultValue true
   */
  follow?: boolean;
  /**
   * How long to wait before reading the log again after it had nothing new, from 10 ms to 60 s.
   * A store that can `watch` wakes the reader earlier.
   * @defaultValue '250ms'
   */
  poll?: Duration;
  /** Where read failures (retried) and skipped runs (unknown chain) are reported. @defaultValue console */
  logger?: Logger;
  /** @defaultValue the system clock */
  clock?: Clock;
}

export interface CompiledInspectOptions {
  readonly store: Store;
  readonly chains: ReadonlyMap<string, AnyChain>;
  readonly emit: (event: InspectionEvent) => void;
  readonly runId: string | undefined;
  readonly chain: string | undefined;
  readonly follow: boolean;
  readonly pollMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
}

const OWNER = 'inspectRuns';
const KEYS = ['store', 'chains', 'inspector', 'runId', 'chain', 'follow', 'poll', 'logger', 'clock'] as const;
const consoleLogger: Logger = {
  warn: (message, details) => console.warn(message, details ?? ''),
  error: (message, details) => console.error(message, details ?? ''),
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The function one inspection event is handed to, from any accepted `inspector`. */
function emitterOf(target: unknown): (event: InspectionEvent) => void {
  if (typeof target === 'function') return target as (event: InspectionEvent) => void;
  if (isObject(target)) {
    const observer = isObject(target['inspect']) ? target['inspect'] : target;
    const next = observer['next'];
    if (typeof next === 'function') return (event) => void (next as (e: InspectionEvent) => unknown).call(observer, event);
  }
  throw new InvalidOptionError(`${OWNER}: inspector`, 'must be an @statelyai/inspect inspector (with an `inspect` observer), an observer { next(event) } or a function (event) => void');
}

/** Validates and normalises the options, once. */
export function compileInspectOptions(options: unknown): CompiledInspectOptions {
  if (!isObject(options) || Array.isArray(options)) throw new InvalidOptionError(OWNER, 'options must be an object { store, chains, inspector, ... }');
  assertKnownKeys(options, KEYS, OWNER);
  const raw = options as Partial<InspectRunsOptions>;
  const store = raw.store;
  if (!isObject(store) || typeof store['events'] !== 'function' || typeof store['load'] !== 'function') {
    throw new InvalidOptionError(`${OWNER}: store`, 'must be a Store (such as sqliteStore(file) or postgresStore(...))');
  }
  if (!Array.isArray(raw.chains) || raw.chains.length === 0) throw new InvalidOptionError(`${OWNER}: chains`, 'must be a non-empty array of chains (chain(...))');
  const chains = new Map<string, AnyChain>();
  raw.chains.forEach((c: unknown, i) => {
    if (!isObject(c) || typeof c['name'] !== 'string' || !isObject(c['machine'])) throw new InvalidOptionError(`${OWNER}: chains[${i}]`, 'must be a chain (chain(...))');
    if (chains.has(c['name'])) throw new InvalidOptionError(`${OWNER}: chains[${i}]`, `chain "${c['name']}" is given twice`);
    chains.set(c['name'], c as unknown as AnyChain);
  });
  const emit = emitterOf(raw.inspector);
  for (const key of ['runId', 'chain'] as const) {
    const v = raw[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) throw new InvalidOptionError(`${OWNER}: ${key}`, `must be a non-empty string, got ${String(v)}`);
  }
  if (raw.chain !== undefined && !chains.has(raw.chain)) throw new InvalidOptionError(`${OWNER}: chain`, `"${raw.chain}" is not one of the chains given (${[...chains.keys()].join(', ')})`);
  if (raw.follow !== undefined && typeof raw.follow !== 'boolean') throw new InvalidOptionError(`${OWNER}: follow`, `must be a boolean, got ${String(raw.follow)}`);
  const pollMs = parseDuration(raw.poll ?? '250ms', `${OWNER}: poll`, { allowZero: false, max: 60_000 });
  if (pollMs < 10) throw new InvalidOptionError(`${OWNER}: poll`, `must be from 10 ms to 60 s, got ${pollMs} ms`);
  const logger = raw.logger ?? consoleLogger;
  if (!isObject(logger) || typeof logger['warn'] !== 'function' || typeof logger['error'] !== 'function') throw new InvalidOptionError(`${OWNER}: logger`, 'must be { warn, error }');
  const clock = raw.clock ?? systemClock;
  if (!isObject(clock) || typeof clock['setTimeout'] !== 'function' || typeof clock['clearTimeout'] !== 'function') throw new InvalidOptionError(`${OWNER}: clock`, 'must be a Clock');
  return { store, chains, emit, runId: raw.runId, chain: raw.chain, follow: raw.follow ?? true, pollMs, logger, clock };
}
