/**
 * The client: starts runs, reads them, follows their events and waits for their results. It
 * consumes nothing (a web process, a CLI, a dashboard). `createRuntime` composes a client with
 * a worker in one process.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { TimerHandle } from '../clock.js';
import { newRunId } from '../run-id.js';
import type { AnyChain, ChainInput, ChainOutput } from '../chain.js';
import { formatDuration, MAX_DURATION_MS, parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError, RunCancelledError, RunFailedError, RunParkedError, RuntimeStateError, SerializationError, UnknownChainError } from '../errors.js';
import { assertKnownKeys } from '../known-keys.js';
import { ACTIVE_STATUSES, isTerminal, TERMINAL_STATUSES, type RunQuery, type RunRecord, type RunStatus, type StoreChange, type StoredEvent } from '../ports/store.js';
import type { PersistedChainSnapshot } from '../runtime/decide.js';
import { storedForm } from '../runtime/json-value.js';
import { OutboxRelay } from '../runtime/outbox-relay.js';
import { EventBus, headerHook } from '../runtime/plugins.js';
import { applyRefusal } from '../runtime/refusal.js';
import { RunEngine, type CancelOutcome } from '../runtime/run-engine.js';
import { StoreFollower } from './store-follower.js';
import { isChain, stranded, strandedWhy, type StrandedRun } from './check-deploy.js';
import { chainQueues, listDeadLetters, redriveDeadLetters, type DeadLetterScope, type DeadLetter, type DeadLetterQuery, type RedriveDeadLettersOptions } from './dead-letters.js';
import { ChainVersions, definitionOf } from '../runtime/chain-versions.js';
import { toRunEvent, type RunEvent } from '../runtime/run-events.js';
import type { ResultOptions, RunHandle, RunInfo, RunInfoPage, StateValue } from '../runtime/run-info.js';
import { DefinitionRecorder, toChainDefinition, type ChainDefinition } from './chain-definitions.js';
import { compileClientOptions, type ClientOptions, type CompiledClientOptions } from '../runtime/runtime-options.js';

export interface StartRunOptions {
  /** The run's id. Starting twice with one id starts one run (idempotent start). @defaultValue a new UUID version 7 (time-ordered: runs started together sit together in the store's indexes) */
  id?: string;
  /**
   * Start the run this long from now (a duration, up to 365 days): it is recorded at once as
   * `scheduled` and starts then, on any worker, across restarts (Celery's `countdown`).
   * @defaultValue start now
   */
  delay?: Duration;
  /**
   * Start the run at this time (a `Date`, or epoch ms; at most 365 days ahead; a time in the past
   * starts it now). Celery's `eta`. Not with `delay`. @defaultValue start now
   */
  startAt?: Date | number;
}

export interface CancelOptions {
  /** Why (kept in the run's history and its `RunCancelledError`). At most 1000 characters. @defaultValue none */
  reason?: string;
  /** Compensate the completed steps, in reverse order, before the run ends `cancelled`. @defaultValue true */
  compensate?: boolean;
  /** Who or what asks (a user, `cli:ana@ops-1`, `dashboard:ana`), kept in the run's history. At most 200 characters. @defaultValue none */
  by?: string;
}

export interface RetryRunOptions {
  /** Where the run starts again: the step that failed (`'failed-step'`) or the first step (`'start'`). @defaultValue 'failed-step' */
  from?: 'failed-step' | 'start';
  /** Who or what asks, kept in the run's history (`run.redriven`). At most 200 characters. @defaultValue none */
  by?: string;
}

const RETRY_RUN_OPTION_KEYS = ['from', 'by'] as const satisfies ReadonlyArray<keyof RetryRunOptions>;

const CANCEL_OPTION_KEYS = ['reason', 'compensate', 'by'] as const satisfies ReadonlyArray<keyof CancelOptions>;

const START_OPTION_KEYS = ['id', 'delay', 'startAt'] as const satisfies ReadonlyArray<keyof StartRunOptions>;
/** `run()` without options (one shared object: nothing to check, nothing allocated per run). */
export const NO_START_OPTIONS: StartRunOptions = Object.freeze({});

/** Which events `events()` follows. */
export interface EventsQuery {
  /** Only this run's events. @defaultValue every run */
  readonly runId?: string;
  /** Only runs of this chain. @defaultValue every chain */
  readonly chain?: string;
  /** Resume after this event's `cursor` (no gap, no duplicate). @defaultValue from the beginning of the log (see `from`) */
  readonly after?: string;
  /**
   * Where a feed without `after` starts: `'beginning'` replays the whole log; `'now'` gives only
   * what is committed from about now on (perhaps a few events committed just before), without
   * reading the log's past. Not with `after`. @defaultValue 'beginning'
   */
  readonly from?: 'beginning' | 'now';
  /**
   * Ends the feed when it aborts, at once, even while the feed waits for new events (a feed's
   * `return()` only takes effect when its next event comes). @defaultValue none
   */
  readonly signal?: AbortSignal;
}

interface FeedOptions {
  /** Whether this process's own commits wake the feed at once. */
  readonly wake: boolean;
  readonly signal?: AbortSignal;
}

/** A feed woken by the store's change hints (`Store.watch`). */
type Watching = { readonly chain: string | undefined; readonly wake: () => void };
/** A feed's state between store hints: `woken` since its last read; `fastMs`: the next quick re-read after a hint. */
type HintState = { woken: boolean; fastMs: number | undefined; end: (() => void) | undefined };
type State = 'open' | 'closing' | 'closed';

/** The first pause of a feed that has nothing new; it doubles up to `resultPoll`. */
const FIRST_POLL_MS = 50;
/** After a store hint, a feed reads again 50 ms later, doubling up to this (the hinted commit may not be readable yet). */
const HINT_REREAD_MAX_MS = 1_000;
/** The reason a settled or cancelled `result()` waiter stops following the event log. */
const WAITER_DONE = new RuntimeStateError('result() waiter done');
const EVENT_PAGE = 100;
const EVENTS_QUERY_KEYS = ['runId', 'chain', 'after', 'from', 'signal'] as const;
const RESULT_OPTION_KEYS = ['timeout'] as const;
/** `result()` without options (shared: nothing to check, nothing allocated per call). */
const NO_RESULT_OPTIONS: ResultOptions = Object.freeze({});
/** Whether `result()` of a run with this status settles now: terminal, or parked. */
const isSettled = (status: RunStatus) => isTerminal(status) || status === 'parked';

/** Parts a runtime hands its client: the worker half is built on the same engine and relay. */
export interface ClientHooks {
  /** Called by `close()` after in-flight work drained, before the broker and store close. */
  readonly beforeRelease?: () => void;
}

export class Client {
  /** @internal The commit point (decider + compare-and-swap + events), shared with the worker half. */
  readonly engine: RunEngine;
  /** @internal The outbox relay, shared with the worker half. */
  readonly relay: OutboxRelay;
  /** @internal In-process run events. */
  readonly bus: EventBus;
  /** The pending `result()` calls, by run (an array: almost always one). */
  private readonly waiters = new Map<string, ResultWaiter[]>();
  private readonly wakers = new Set<() => void>();
  /** How a process that consumes the queues follows awaited runs in the store (undefined for one that consumes nothing). */
  private readonly follower: StoreFollower | undefined;
  private stopWaking: (() => void) | undefined;
  /**
   * Every pending poll pause, ended at once by close(). A set rather than one 'abort' listener
   * each on a shared signal: an EventTarget's addEventListener walks its listeners, and thousands
   * of result() calls would make each add cost as much as all the others.
   */
  private readonly pauses = new Set<() => void>();
  /** Feeds woken by the store's change hints, by run id ('' for feeds of every run). Only with a store that can watch. */
  private readonly watching = new Map<string, Set<Watching>>();
  private unwatch: (() => void) | undefined;
  /** Records this process's chain definitions in the store, once, before its first run starts. */
  private readonly definitions: DefinitionRecorder;
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  private state: State = 'open';
  /** `runtime.run()` or `client.run()`, as errors name the call (built once, not per run). */
  private readonly runCall: string;
  private readonly resultCall: string;

  constructor(
    /** @internal */ readonly options: CompiledClientOptions,
    private readonly hooks: ClientHooks = {},
  ) {
    const o = options;
    // Every pending events() feed and result() listens to the closing signal.
    setMaxListeners(0, this.closing.signal);
    this.bus = new EventBus(o.plugins, o.logger);
    this.relay = new OutboxRelay({
      broker: o.broker,
      store: o.store,
      clock: o.clock,
      signingKey: o.signingKey,
      plugins: o.plugins,
      owner: randomUUID(),
      leaseMs: o.outboxLeaseMs,
      sweepMs: o.outboxSweepMs,
      logger: o.logger,
      onRefused: (entry, refusal) => applyRefusal(this.engine, entry, refusal),
    });
    this.engine = new RunEngine(o.store, o.chains, o.clock, this.relay, (record) => this.settle(record), !o.broker.capabilities.durable, this.bus, headerHook(o.plugins, o.logger));
    this.follower = o.consumes
      ? new StoreFollower({
          store: o.store,
          periodMs: o.resultPollMs,
          recentlyAdvanced: (runId, periodMs) => this.engine.recentlyAdvanced(runId, o.clock.now() - periodMs),
          isSettled: (record) => isSettled(record.status),
          settle: (record) => this.settle(record),
          fail: (runId, error) => this.failWaitersOf(runId, error),
          logger: o.logger,
        })
      : undefined;
    this.definitions = new DefinitionRecorder(o.store, () => o.chains.all(), o.clock);
    this.runCall = `${o.label}.run()`;
    this.resultCall = `${o.label}.result()`;
  }

  /**
   * A feed of this process wakes as soon as this process commits something. The bus listener
   * exists only while a feed waits: with none, a commit builds no run events at all.
   */
  private addWaker(wake: () => void): void {
    this.wakers.add(wake);
    this.stopWaking ??= this.bus.on('*', () => {
      for (const w of [...this.wakers]) w();
    });
  }

  private deleteWaker(wake: () => void): void {
    if (!this.wakers.delete(wake) || this.wakers.size > 0) return;
    this.stopWaking?.();
    this.stopWaking = undefined;
  }

  private get label(): string {
    return this.options.label;
  }

  /** Starts a run of `chain` with `input`. Resolves once the run is durably recorded (and its first step published). */
  async run<C extends AnyChain>(chain: C, input: ChainInput<C>, options: StartRunOptions = NO_START_OPTIONS): Promise<RunHandle<ChainOutput<C>>> {
    const call = this.runCall;
    if (this.state !== 'open') throw new RuntimeStateError(`${call}: the ${this.label} is ${this.state}`);
    if (!this.options.chains.holds(chain)) throw new UnknownChainError(`${call}: chain "${chain?.name}" was not given to ${this.options.factory}({ chains })`);
    // A new run starts on the newest version of its chain held here.
    const newest = this.options.chains.latest(chain.name) ?? chain;
    if (!options || typeof options !== 'object') throw new InvalidOptionError(`${call}: options`, 'must be an object { id?, delay?, startAt? }');
    if (options !== NO_START_OPTIONS) assertKnownKeys(options, START_OPTION_KEYS, call);
    const id = options.id ?? newRunId(this.options.clock.now());
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) throw new InvalidOptionError(`${call}: id`, 'must be a non-empty string of at most 200 characters');
    const startAt = this.startTime(options, call);
    // Checked and copied as the store gives it back in one walk (no JSON text in between).
    const stored = storedForm(input);
    if (!stored.ok) throw new SerializationError(`${call}: input of chain "${chain.name}" is not JSON-serialisable: ${stored.problem}`);
    await this.definitions.ensure();
    const created = await this.engine.create(newest, id, stored.value, startAt);
    if (!created) {
      const existing = await this.options.store.load(id);
      if (existing && existing.chain !== chain.name) {
        throw new InvalidOptionError(`${call}: id`, `run "${id}" already exists for chain "${existing.chain}", not "${chain.name}"`);
      }
      return { id, chain: chain.name, result: (opts?: ResultOptions) => this.result(id, opts) as Promise<ChainOutput<C>> };
    }
    const committedAt = this.options.clock.now();
    return { id, chain: chain.name, result: (opts?: ResultOptions) => this.awaitResult(id, opts, committedAt) as Promise<ChainOutput<C>> };
  }

  /** When a run started with `options` starts (epoch ms); `undefined` for now. */
  private startTime(options: StartRunOptions, call: string): number | undefined {
    const { delay, startAt } = options;
    if (delay !== undefined && startAt !== undefined) throw new InvalidOptionError(`${call}: delay`, 'give delay or startAt, not both');
    const now = this.options.clock.now();
    if (delay !== undefined) {
      const ms = parseDuration(delay, `${call}: delay`);
      return ms > 0 ? now + ms : undefined;
    }
    if (startAt === undefined) return undefined;
    const at = startAt instanceof Date ? startAt.getTime() : startAt;
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new InvalidOptionError(`${call}: startAt`, `must be a Date or epoch milliseconds, got ${String(startAt)}`);
    if (at - now > MAX_DURATION_MS) {
      throw new InvalidOptionError(`${call}: startAt`, `must be at most 365 days ahead, got ${new Date(at).toISOString()} (${formatDuration(at - now)} from now)`);
    }
    return at > now ? at : undefined;
  }

  /**
   * Cancels run `id`: no further step starts, the running attempt's `ctx.signal` aborts (on
   * whichever worker runs it), the completed steps are compensated in reverse order (unless
   * `compensate: false`), and the run ends `cancelled`; its `result()` rejects with
   * `RunCancelledError`. A scheduled run is cancelled before it starts. A finished run is left as
   * it is: the answer says so (`cancelled: false`). Rejects with `InvalidOptionError` for an
   * unknown run.
   */
  async cancel(id: string, options: CancelOptions = {}): Promise<CancelOutcome> {
    const call = `${this.label}.cancel()`;
    if (this.state !== 'open') throw new RuntimeStateError(`${call}: the ${this.label} is ${this.state}`);
    if (!options || typeof options !== 'object') throw new InvalidOptionError(`${call}: options`, 'must be an object { reason?, compensate?, by? }');
    assertKnownKeys(options, CANCEL_OPTION_KEYS, call);
    const { reason, compensate = true } = options;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1000)) throw new InvalidOptionError(`${call}: reason`, 'must be a string of at most 1000 characters');
    if (typeof compensate !== 'boolean') throw new InvalidOptionError(`${call}: compensate`, `must be true or false, got ${String(compensate)}`);
    const outcome = await this.engine.cancel(id, reason ?? null, compensate, checkBy(options.by, call));
    if (!outcome) throw new InvalidOptionError(`${call}: id`, `no run "${id}"`);
    return outcome;
  }

  /**
   * Re-drives a finished or parked run (Celery's retry of a failed task, Temporal's reset). A
   * `parked` run continues where it stood (the invocation it waited for dispatched again) once a
   * definition that can continue it is loaded: its own version, or a newer one with `migrate`
   * functions from it; rejects with `RuntimeStateError` saying why while none is. A `failed` or
   * `compensated` run starts again at the step that failed, with attempts reset and the outputs of
   * the steps before it (`from: 'failed-step'`, the default; refused when compensation has undone
   * those steps, or for a cancelled run), or from its first step with its input (`from: 'start'`,
   * also for a cancelled run). Its history is kept, marked by a `run.redriven` event; `result()`
   * waits for the new outcome. Resolves with the run as it is now; rejects with `RuntimeStateError`
   * saying why it cannot be re-driven, and with `InvalidOptionError` for an unknown run.
   */
  async retry(id: string, options: RetryRunOptions = {}): Promise<RunInfo> {
    const call = `${this.label}.retry()`;
    if (this.state !== 'open') throw new RuntimeStateError(`${call}: the ${this.label} is ${this.state}`);
    if (!options || typeof options !== 'object') throw new InvalidOptionError(`${call}: options`, "must be an object { from?: 'failed-step' | 'start', by? }");
    assertKnownKeys(options, RETRY_RUN_OPTION_KEYS, call);
    const from = options.from ?? 'failed-step';
    if (from !== 'failed-step' && from !== 'start') throw new InvalidOptionError(`${call}: from`, `must be 'failed-step' or 'start', got ${JSON.stringify(from)}`);
    const record = await this.engine.redrive(id, from, checkBy(options.by, call));
    if (!record) throw new InvalidOptionError(`${call}: id`, `no run "${id}"`);
    return { ...toInfo(record), history: await this.options.store.history(id) };
  }

  /**
   * Lists the active runs (scheduled, running, retrying, compensating) that the definitions
   * `chains` (what a deploy would load: several versions of a chain allowed) could not continue:
   * their version is missing and no `migrate` functions lead from it to a given version, the
   * definition of their version changed without a version bump, or their stored state names a
   * step the definition lacks. Pages through every active run (a read per 1,000 runs). An empty
   * list means the deploy strands nothing that is in flight now.
   */
  async checkDeploy(chains: readonly AnyChain[]): Promise<StrandedRun[]> {
    const call = `${this.label}.checkDeploy()`;
    if (!Array.isArray(chains) || chains.length === 0) throw new InvalidOptionError(`${call}: chains`, 'must list at least one chain');
    const seen = new Map<string, AnyChain>();
    chains.forEach((c: unknown, i) => {
      if (!isChain(c)) throw new InvalidOptionError(`${call}: chains[${i}]`, 'must be a chain created with chain()');
      const key = `${c.name}\u0000${c.version}`;
      if (seen.has(key) && seen.get(key) !== c) throw new InvalidOptionError(`${call}: chains[${i}]`, `duplicate chain name "${c.name}" with version ${c.version}`);
      seen.set(key, c);
    });
    const versions = new ChainVersions(seen.values());
    const now = this.options.clock.now();
    const found: StrandedRun[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.options.store.list({ status: ACTIVE_STATUSES, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const record of page.runs) {
        const why = strandedWhy(versions, record, now);
        if (why !== undefined) found.push(stranded(record, why));
      }
      cursor = page.next;
    } while (cursor !== undefined);
    return found;
  }

  /** @internal Records this process's chain definitions in the store (once; a runtime does it when it starts). */
  recordDefinitions(): Promise<void> {
    return this.definitions.ensure();
  }

  /**
   * The chain definitions recorded in the store by every process that started runs or workers
   * (each chain version's machine, for drawing a run without the chain's code), by chain name,
   * newest version first. `chain` selects one chain.
   */
  async chainDefinitions(query: { chain?: string } = {}): Promise<ChainDefinition[]> {
    if (!query || typeof query !== 'object') throw new InvalidOptionError(`${this.label}.chainDefinitions(): query`, 'must be an object { chain? }');
    assertKnownKeys(query, ['chain'], `${this.label}.chainDefinitions()`);
    return (await this.options.store.definitions(query.chain === undefined ? {} : { chain: query.chain })).map(toChainDefinition);
  }

  /**
   * The recorded definition of version `version` of chain `chain` (with `fingerprint`, that exact
   * one; otherwise the latest recorded for the version); `undefined` when none was recorded.
   */
  async chainDefinition(chain: string, version: number, fingerprint?: string): Promise<ChainDefinition | undefined> {
    const found = (await this.chainDefinitions({ chain })).filter((d) => d.version === version);
    return (fingerprint === undefined ? undefined : found.find((d) => d.fingerprint === fingerprint)) ?? found[0];
  }

  /**
   * The queues whose dead letters `deadLetters()` reads by default (every queue of the chains'
   * tasks), or `undefined` when the broker cannot list dead letters.
   */
  get deadLetterQueues(): readonly string[] | undefined {
    return this.options.broker.deadLetters ? chainQueues(this.options.chains) : undefined;
  }

  /**
   * The messages the runtime dead-lettered (malformed, unsigned, of an unknown chain, task or
   * run), with their reasons: `query.queue`'s, or every queue of the chains' tasks, each oldest
   * first, up to `limit` (100) in all. Listing leaves them where they are. Rejects with
   * `RuntimeStateError` when the broker cannot list dead letters. See `dead-letters.ts`.
   */
  deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    return listDeadLetters(this.deadLetterScope('deadLetters'), query);
  }

  /**
   * Sends dead letters of `queue` (those `ids` names, or all) back to it, without their
   * dead-letter headers; resolves with how many moved. Each is published before it leaves the
   * dead-letter queue: a crash in between may duplicate one, never lose it.
   */
  redriveDeadLetters(options: RedriveDeadLettersOptions): Promise<number> {
    return redriveDeadLetters(this.deadLetterScope('redriveDeadLetters'), options);
  }

  private deadLetterScope(method: string): DeadLetterScope {
    return {
      broker: this.options.broker,
      chains: this.options.chains,
      call: `${this.label}.${method}()`,
      refusal: this.state === 'open' ? undefined : `the ${this.label} is ${this.state}`,
      note: (runId, entry) => this.engine.note(runId, entry),
      now: () => this.options.clock.now(),
    };
  }

  /** A run's status, current step, attempts, history and outcome; `undefined` for an unknown id. */
  async getRun(id: string): Promise<RunInfo | undefined> {
    const record = await this.options.store.load(id);
    if (!record) return undefined;
    return { ...toInfo(record), history: await this.options.store.history(id) };
  }

  /** Runs, newest first, without their history, a page at a time: pass `next` as `cursor` for the next page. */
  async listRuns(query: RunQuery = {}): Promise<RunInfoPage> {
    assertKnownKeys(query, ['status', 'chain', 'createdAfter', 'createdBefore', 'limit', 'cursor'], `${this.label}.listRuns()`);
    const page = await this.options.store.list(query);
    return { runs: page.runs.map(toInfo), ...(page.next === undefined ? {} : { next: page.next }) };
  }

  /**
   * Every event of the runs `query` selects, whichever process committed it: replays the store's
   * event log, then follows it (reading it again 50 ms after an empty read, backing off to
   * `resultPoll`; with a store that can watch, such as Postgres, reading when the store hints at
   * a commit and otherwise every `resultPoll`). Ends when the loop breaks (or `return()` is called) or the client closes.
   * Resume after a restart with `after: lastEvent.cursor`.
   */
  events(query: EventsQuery = {}): AsyncGenerator<RunEvent, void, undefined> {
    if (!query || typeof query !== 'object') throw new InvalidOptionError(`${this.label}.events(): query`, 'must be an object { runId?, chain?, after?, from?, signal? }');
    assertKnownKeys(query, EVENTS_QUERY_KEYS, `${this.label}.events()`);
    const { signal, from } = query;
    if (from !== undefined && from !== 'beginning' && from !== 'now') throw new InvalidOptionError(`${this.label}.events(): from`, `must be 'beginning' or 'now', got ${JSON.stringify(from)}`);
    if (from !== undefined && query.after !== undefined) throw new InvalidOptionError(`${this.label}.events(): from`, 'give `after` or `from`, not both');
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError(`${this.label}.events(): signal`, 'must be an AbortSignal');
    return this.feed(query, { wake: true, ...(signal === undefined ? {} : { signal }) });
  }

  /**
   * With a store that can watch (`Store.watch`), calls `wake` on each hint for run `runId` (or, for
   * '', any run of `chain`); returns the function that stops it.
   */
  private watchStore(runId: string, chain: string | undefined, wake: () => void): (() => void) | undefined {
    const store = this.options.store;
    if (!store.watch) return undefined;
    this.unwatch ??= store.watch((change) => this.changed(change));
    const entry: Watching = { chain, wake };
    let set = this.watching.get(runId);
    if (!set) this.watching.set(runId, (set = new Set()));
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.watching.get(runId) === set) this.watching.delete(runId);
    };
  }

  /** A store hint: wakes the feeds it concerns (every feed when it names no run). */
  private changed(change: StoreChange): void {
    const sets = change.runId === undefined ? [...this.watching.values()] : [this.watching.get(change.runId), this.watching.get('')];
    for (const set of sets) {
      for (const w of [...(set ?? [])]) if (change.chain === undefined || w.chain === undefined || w.chain === change.chain) w.wake();
    }
  }

  private async *feed(query: EventsQuery, { wake, signal }: FeedOptions): AsyncGenerator<RunEvent, void, undefined> {
    let after = query.after ?? (query.from === 'now' ? await this.options.store.lastEventCursor() : undefined);
    // With a store that can watch, a feed reads when a hint wakes it, again 50 ms later doubling
    // to 1 s (the hinted events may not be readable yet), and otherwise only every `resultPoll`.
    const hint: HintState = { woken: false, fastMs: undefined, end: undefined };
    const unwatch = this.watchStore(query.runId ?? '', query.chain, () => {
      hint.woken = true;
      hint.fastMs = FIRST_POLL_MS;
      hint.end?.();
    });
    const slowMs = this.options.resultPollMs;
    let pauseMs = unwatch ? slowMs : FIRST_POLL_MS;
    const stopped = () => this.closing.signal.aborted || signal?.aborted === true;
    try {
      while (!stopped()) {
        hint.woken = false;
        let page: StoredEvent[];
        try {
          page = await this.options.store.events({
            ...(after === undefined ? {} : { after }),
            ...(query.runId === undefined ? {} : { runId: query.runId }),
            ...(query.chain === undefined ? {} : { chain: query.chain }),
            limit: EVENT_PAGE,
          });
        } catch (error) {
          if (error instanceof Error && error.name === 'StoreLostError') throw error;
          this.options.logger.warn('could not read the event log; reading it again later', { error: String(error) });
          page = [];
        }
        for (const stored of page) {
          after = stored.cursor;
          yield toRunEvent(stored);
        }
        if (page.length >= EVENT_PAGE || hint.woken) continue;
        if (!unwatch) pauseMs = page.length > 0 ? FIRST_POLL_MS : Math.min(pauseMs * 2, this.options.resultPollMs);
        else if (hint.fastMs !== undefined && hint.fastMs <= Math.min(slowMs, HINT_REREAD_MAX_MS)) {
          pauseMs = hint.fastMs;
          hint.fastMs *= 2;
        } else {
          hint.fastMs = undefined;
          pauseMs = slowMs;
        }
        await this.pause(pauseMs, wake, signal, hint);
      }
    } finally {
      unwatch?.();
    }
  }

  /** Waits `ms` (a real-time poll period), or less when the client closes, `signal` aborts or (with `wake`) this process commits. */
  private pause(ms: number, wake: boolean, signal: AbortSignal | undefined, hint: HintState): Promise<void> {
    // A store hint (`hint.end`) ends the pause too.
    if (hint.woken) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        hint.end = undefined;
        this.deleteWaker(done);
        this.pauses.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (wake) this.addWaker(done);
      this.pauses.add(done);
      hint.end = done;
      signal?.addEventListener('abort', done);
    });
  }

  /**
   * The run's result: resolves with the chain's output, rejects with `RunFailedError` (failed or
   * compensated) or `RunParkedError` (parked). Waits on the run's events: this process's own, and
   * the store's event log for what other processes commit. Rejects with `RuntimeStateError` at
   * once when nothing can finish the run (this process consumes no queue and the broker is in
   * memory), and after `timeout` when given.
   */
  result(id: string, options: ResultOptions = NO_RESULT_OPTIONS): Promise<unknown> {
    return this.awaitResult(id, options, undefined);
  }

  /** `result()`; `committedAt`: when this process created the run (its handle's `result()`). */
  private async awaitResult(id: string, options: ResultOptions = NO_RESULT_OPTIONS, committedAt: number | undefined): Promise<unknown> {
    const call = this.resultCall;
    if (!options || typeof options !== 'object') throw new InvalidOptionError(`${call}: options`, 'must be an object { timeout? }');
    if (options !== NO_RESULT_OPTIONS) assertKnownKeys(options, RESULT_OPTION_KEYS, call);
    const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, `${call}: timeout`, { allowZero: false });
    // The in-process waiter is registered before the load: a commit that settles the run meanwhile is not missed.
    const wait = this.waitFor(id);
    try {
      const record = this.recentlyCommitted(id, committedAt) ?? (await this.options.store.load(id));
      if (!record) throw new InvalidOptionError(`${call}: id`, `no run "${id}"`);
      if (isSettled(record.status)) {
        this.finishWaiter(wait);
        return outcome(record);
      }
      if (!this.options.consumes && !this.options.broker.capabilities.durable) {
        throw new RuntimeStateError(
          `${call}: run "${id}" (chain "${record.chain}") is ${record.status} and nothing can finish it: this ${this.label} consumes no queue and its broker keeps messages in this process only, ` +
            "so no worker anywhere receives them. Start a runtime that consumes the chain's queues on this broker, or use a broker shared between processes (AMQP, SQS)",
        );
      }
      if (this.state !== 'open') throw new RuntimeStateError(`${call}: the ${this.label} is ${this.state}`);
      this.follow(wait, record, timeoutMs, call);
    } catch (error) {
      this.finishWaiter(wait);
      throw error;
    }
    return outcome(await wait.settled);
  }

  /**
   * Run `id` as this process committed (or loaded) it within the last `resultPoll` period, when it
   * was not settled then: `result()` need not read it back. Only in a process that consumes the
   * queues, whose follower loads, once a period, every followed run this process did not advance
   * within the period: a commit of another process since is noticed within a period, as it is
   * when it comes right after a load. `committedAt`: when this process's `run()` created it (its
   * `updatedAt` is when it was decided, before the commit that may have waited for others).
   */
  private recentlyCommitted(id: string, committedAt: number | undefined): RunRecord | undefined {
    if (!this.follower) return undefined;
    // The cache holds what this process last committed or loaded of the run (a settled run leaves it).
    const record = this.engine.cached(id)?.record;
    if (!record || isSettled(record.status)) return undefined;
    const since = this.options.clock.now() - this.options.resultPollMs;
    return record.updatedAt > since || (committedAt !== undefined && committedAt > since) ? record : undefined;
  }

  /**
   * Registers a waiter for run `id`: its `settled` resolves when this process commits the run to
   * a terminal status (or parks it). `follow()` also follows other processes' commits and starts
   * the timeout; `finishWaiter()` drops it unsettled.
   */
  private waitFor(id: string): ResultWaiter {
    const waiter = new ResultWaiter(id, this.finishWaiter);
    const list = this.waiters.get(id);
    if (list) list.push(waiter);
    else this.waiters.set(id, [waiter]);
    return waiter;
  }

  /** `waiter` is done with (settled, or dropped): stops what follows its run for it. Idempotent. */
  private readonly finishWaiter = (waiter: ResultWaiter): void => {
    // With a reason: abort() without one builds a DOMException, once per result() call.
    waiter.stop?.abort(WAITER_DONE);
    if (waiter.timer !== undefined) this.options.clock.clearTimeout(waiter.timer);
    const list = this.waiters.get(waiter.id);
    if (!list) return;
    const at = list.indexOf(waiter);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) {
      this.waiters.delete(waiter.id);
      this.follower?.unfollow(waiter.id);
    }
  };

  /** Follows `waiter`'s run (other processes' commits reach this one through the store) and starts its timeout. */
  private follow(waiter: ResultWaiter, record: RunRecord, timeoutMs: number | undefined, call: string): void {
    const { id } = waiter;
    if (timeoutMs !== undefined) {
      waiter.timer = this.options.clock.setTimeout(() => {
        void this.options.store.load(id).then(
          (now) => {
            if (now && isSettled(now.status)) return waiter.resolve(now);
            const where = now?.step === undefined ? '' : ` at step "${now.step}" (attempt ${now.attempt})`;
            waiter.reject(
              new RuntimeStateError(
                `${call}: run "${id}" (chain "${record.chain}") did not finish within ${formatDuration(timeoutMs)}: it is ${now?.status ?? record.status}${where}. ` +
                  'Is a worker consuming its queues? The run itself goes on.',
              ),
            );
          },
          (error: unknown) => waiter.reject(asError(error)),
        );
      }, timeoutMs);
    }
    // A process that consumes the queues itself sees most transitions in process: one follower
    // loads, once a period, the awaited runs it did not advance within the period. A process
    // that consumes nothing follows the run's events.
    if (this.follower) return this.follower.follow(id);
    const stop = (waiter.stop = new AbortController());
    const feed = this.feed({ runId: id }, { wake: false, signal: stop.signal });
    void (async () => {
      for await (const event of feed) {
        if (event.type !== 'run.completed' && event.type !== 'run.failed' && event.type !== 'run.compensated' && event.type !== 'run.parked') continue;
        const now = await this.options.store.load(id);
        if (now && isSettled(now.status)) return waiter.resolve(now);
      }
    })().catch((error: unknown) => waiter.reject(asError(error)));
  }

  /** @internal Fails the `result()` calls of run `id` with `error`. */
  failWaitersOf(id: string, error: Error): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) w.reject(error);
  }

  /** @internal A run this process committed to a terminal status or parked: its `result()` calls settle. */
  settle(record: RunRecord): void {
    const list = this.waiters.get(record.id);
    if (!list) return;
    for (const w of [...list]) w.resolve(record);
  }

  /** @internal Fails every pending `result()` with `error` (the store is lost). */
  failWaiters(error: Error): void {
    for (const list of [...this.waiters.values()]) for (const w of [...list]) w.reject(error);
  }

  /**
   * Lets in-flight commits finish and publishes what they caused, ends every `events()` feed,
   * rejects pending `result()` calls with `RuntimeStateError`, then closes the broker and the
   * store. Every call resolves once closed.
   */
  close(): Promise<void> {
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private async closeOnce(): Promise<void> {
    this.state = 'closing';
    await this.engine.drain();
    await this.relay.stop();
    this.closing.abort(new RuntimeStateError(`${this.label} closed`));
    for (const end of [...this.pauses]) end();
    this.unwatch?.();
    this.follower?.close();
    for (const [id, list] of [...this.waiters]) {
      for (const w of [...list]) w.reject(new RuntimeStateError(`${this.label} closed before run "${id}" finished; it resumes when a runtime starts on the same store`));
    }
    this.waiters.clear();
    this.hooks.beforeRelease?.();
    await this.options.broker.close();
    await this.options.store.close();
    this.state = 'closed';
  }
}

/** Creates a client: it starts, reads and follows runs, and consumes nothing. */
/** `CancelOptions.by` / `RetryRunOptions.by`, checked. */
function checkBy(by: unknown, call: string): string | undefined {
  if (by === undefined) return undefined;
  if (typeof by !== 'string' || by.length === 0 || by.length > 200) throw new InvalidOptionError(`${call}: by`, 'must be a non-empty string of at most 200 characters');
  return by;
}

export function createClient(options: ClientOptions): Client {
  return new Client(compileClientOptions(options));
}

export function toInfo(record: RunRecord): Omit<RunInfo, 'history'> {
  const failure = (record.snapshot as PersistedChainSnapshot | undefined)?.context?.failure;
  return {
    id: record.id,
    chain: record.chain,
    status: record.status,
    step: record.step,
    attempts: record.attempt,
    totalAttempts: record.totalAttempts,
    ...(record.status === 'scheduled' ? {} : { chainVersion: definitionOf(record).version }),
    ...stateField(record),
    input: record.input,
    ...('output' in record ? { output: record.output } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.failedTask ? { failedTask: record.failedTask } : {}),
    ...(failure && record.status !== 'completed' ? { failedStep: failure.step, failedAttempts: failure.attempts } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** The XState state value a run's stored snapshot holds, as `{ state }` (nothing for a scheduled run). */
function stateField(record: RunRecord): { state?: StateValue } {
  const state = (record.snapshot as { value?: StateValue } | null | undefined)?.value;
  return state === undefined ? {} : { state };
}

function outcome(record: RunRecord): unknown {
  if (record.status === 'completed') return record.output;
  if (record.status === 'cancelled') {
    const prefix = `run "${record.id}" (chain "${record.chain}") was cancelled: `;
    const message = record.error?.message ?? '';
    throw new RunCancelledError(record.id, record.chain, message.startsWith(prefix) ? message.slice(prefix.length) : null);
  }
  if (record.status === 'parked') {
    const prefix = `run "${record.id}" (chain "${record.chain}") is parked: `;
    const message = record.error?.message ?? '';
    throw new RunParkedError(record.id, record.chain, message.startsWith(prefix) ? message.slice(prefix.length) : message || 'the loaded definition cannot continue it');
  }
  const context = (record.snapshot as PersistedChainSnapshot).context;
  const failure = context.failure;
  if (!TERMINAL_STATUSES.includes(record.status) || !failure) throw new RuntimeStateError(`run "${record.id}" is ${record.status}`);
  throw new RunFailedError(record.id, record.status as 'failed' | 'compensated', failure);
}

/**
 * A pending `result()` call: `settled` resolves with the run's record once it is terminal or
 * parked, or rejects. One object per call (no closures of its own); `resolve`/`reject` first let
 * the client drop it (`finished`), and only the first of them counts.
 */
class ResultWaiter {
  readonly settled: Promise<RunRecord>;
  /** Only a feed of the event log (a process that consumes nothing) needs a stop signal. */
  stop: AbortController | undefined;
  timer: TimerHandle | undefined;
  private resolveSettled!: (record: RunRecord) => void;
  private rejectSettled!: (error: Error) => void;

  constructor(
    readonly id: string,
    private readonly finished: (waiter: ResultWaiter) => void,
  ) {
    this.settled = new Promise<RunRecord>((resolve, reject) => {
      this.resolveSettled = resolve;
      this.rejectSettled = reject;
    });
  }

  resolve(record: RunRecord): void {
    this.finished(this);
    this.resolveSettled(record);
  }

  reject(error: Error): void {
    this.finished(this);
    this.rejectSettled(error);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
