import { hostname } from 'node:os';
import type { AnyMachineSnapshot } from 'xstate';
import type { AnyChain } from '../chain.js';
import type { Clock } from '../clock.js';
import { ChainVersionUnknownError, RunParkedError, RuntimeStateError, TaskchartError, UnknownChainError, type SerializedError } from '../errors.js';
import { CANCEL_EVENT, type ChainEvent } from '../machine/chain-context.js';
import { isTerminal, type HistoryEntry, type NewOutboxEntry, type RunRecord, type RunStatus, type RunWrite, type Store, type WriteResult } from '../ports/store.js';
import { Batcher } from './batcher.js';
import { definitionOf, type ChainVersions, type Resolution } from './chain-versions.js';
import { cancelledError, decideEvent, decideSchedule, decideStart, restoreSnapshot, type Decision, type DecideOptions, type PersistedChainSnapshot } from './decide.js';
import type { FailureReport } from './failure-report.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { EventBus, HeaderHook, MessageCause } from './plugins.js';
import { decideRedrive, type RedriveFrom } from './redrive.js';
import { decideResume, migrateSnapshot, ResumeError } from './resume.js';
import { eventsOf } from './run-events.js';

export interface LoadedRun {
  readonly record: RunRecord;
  /** The restored machine snapshot; `undefined` when the run is parked, scheduled (not started: it has none) or finished. */
  readonly snapshot: AnyMachineSnapshot | undefined;
  /** The definition that continues the run (its version, or the one it was migrated to); `undefined` with no snapshot. */
  readonly chain?: AnyChain;
}

export type ApplyResult = 'applied' | 'ignored' | 'unknown-run' | 'parked';

/** What `cancel()` answers. */
export interface CancelOutcome {
  /** Whether this call cancelled the run (false: it had finished, or was compensating a failure already). */
  readonly cancelled: boolean;
  /** The run's status now: `cancelled`, `compensating` (undoing its completed steps first), or the status it kept. */
  readonly status: RunStatus;
  readonly message: string;
}

const MAX_CONFLICT_RETRIES = 20;
const CACHE_LIMIT = 10_000;

/**
 * Loads runs, applies machine events and commits the outcome with compare-and-swap, many
 * transitions per store transaction. Events of one run are applied one at a time in this
 * process; across processes the version check decides, and the loser reloads and re-applies.
 *
 * A stored run the loaded definition cannot restore or advance (a deploy renamed its step) is
 * parked instead of failing on every message: status `parked`, snapshot untouched, a
 * `RunParkedError`, a `run.parked` history entry and an `onFailure` report.
 */
export class RunEngine {
  private readonly cache = new Map<string, LoadedRun>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly commits: Batcher<RunWrite, WriteResult>;
  /** The decide options of a transition without header hooks (one object, not one per call). */
  private readonly plainOptions: DecideOptions;
  /** The same, for an attempt's outcome run by this process (its history entry names the worker). */
  private readonly outcomeOptions: DecideOptions;
  /** Told of every run this process commits (the worker aborts the attempts of a run it cancelled). */
  onCommitted: ((record: RunRecord) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly chains: ChainVersions,
    private readonly clock: Clock,
    private readonly relay: OutboxRelay,
    /** Called with a run that reached a terminal status or was parked (its `result()` settles). */
    private readonly onSettled: (record: RunRecord) => void,
    /**
     * Whether `waiting` keeps copies of the messages. Only a non-durable broker needs them
     * (a starting runtime re-dispatches from them); a durable broker holds the messages itself.
     */
    private readonly keepMessages: boolean,
    /** Where the run events of every commit go (in process: `runtime.on` and plugins). */
    private readonly bus: EventBus,
    /** The plugins' `messageHeaders` hook (`headerHook`); `undefined` when no plugin has one. */
    private readonly headers?: HeaderHook,
  ) {
    this.commits = new Batcher((writes) => store.commit(writes, relay.claimant()), 256);
    this.plainOptions = { keepMessages };
    this.outcomeOptions = { keepMessages, worker: WORKER };
  }

  /**
   * Loads run `runId` and restores its machine snapshot; a run whose snapshot the loaded
   * definition cannot restore is parked here. Rejects when the store does, and with
   * `UnknownChainError` for a run of a chain this runtime was not given.
   */
  async load(runId: string, fresh = false): Promise<LoadedRun | undefined> {
    if (!fresh) {
      const cached = this.cache.get(runId);
      if (cached) return cached;
    }
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const record = await this.store.load(runId);
      if (!record) return undefined;
      // Nothing to restore: not started, parked, or finished (a finished run of a version no longer
      // held is neither migrated nor parked).
      if (record.status === 'parked' || record.status === 'scheduled' || isTerminal(record.status)) {
        this.forget(runId);
        return { record, snapshot: undefined };
      }
      const resolution = this.chains.resolve(record);
      if (resolution.kind === 'migrate') {
        const migrated = await this.commitMigration(record, resolution);
        if (migrated) return migrated;
        continue; // Another writer moved the run on: look again.
      }
      const chain = this.definite(record, resolution);
      let snapshot: AnyMachineSnapshot;
      try {
        if (resolution.kind === 'changed') throw new ResumeError(resolution.why);
        snapshot = restoreSnapshot(chain, record);
      } catch (error) {
        const why = error instanceof ResumeError ? error.message : `the loaded definition cannot restore its stored state: ${messageOf(error)}`;
        const parked = await this.commitPark(record, chain, why);
        if (parked) return { record: parked, snapshot: undefined };
        continue; // Another writer moved the run on: look again.
      }
      const loaded = { record, snapshot, chain };
      this.remember(loaded);
      return loaded;
    }
    throw new TaskchartError(`run "${runId}": gave up loading after ${MAX_CONFLICT_RETRIES} version conflicts`);
  }

  /**
   * The definition of `record`'s own version. Throws `UnknownChainError` for a chain this runtime
   * was not given, `ChainVersionUnknownError` for a version it lacks (and cannot migrate from).
   */
  private definite(record: RunRecord, resolution: Resolution = this.chains.resolve(record)): AnyChain {
    switch (resolution.kind) {
      case 'exact':
      case 'changed':
      case 'migrate':
        return resolution.chain;
      case 'unknown-chain':
        throw new UnknownChainError(`run "${record.id}" belongs to chain "${record.chain}", which this runtime does not know`);
      case 'unknown-version':
        throw new ChainVersionUnknownError(record.id, record.chain, definitionOf(record).version, `${resolution.why} (the run waits at step "${record.step ?? '(none)'}")`);
    }
  }

  /**
   * Migrates `record` to the newest version (its `migrate` functions) and re-dispatches the
   * invocation it stands at; parks it when a function throws or the result does not fit. Resolves
   * `undefined` on a version conflict.
   */
  private async commitMigration(record: RunRecord, resolution: Extract<Resolution, { kind: 'migrate' }>): Promise<LoadedRun | undefined> {
    const now = this.clock.now();
    const { chain, from } = resolution;
    let decision: Decision;
    try {
      const snapshot = migrateSnapshot(record, resolution.steps);
      decision = decideResume(chain, record, snapshot, { at: now, type: 'run.migrated', fromVersion: from, toVersion: chain.version }, now, this.decideOptions(undefined));
    } catch (error) {
      if (!(error instanceof ResumeError)) throw error;
      const parked = await this.commitPark(record, chain, `migrating it from version ${from} to version ${chain.version} failed: ${error.message}`);
      return parked && { record: parked, snapshot: undefined };
    }
    if (!(await this.commitDecision(decision, record.version)).ok) return undefined;
    return { record: decision.record, snapshot: decision.snapshot, chain };
  }

  private remember(loaded: LoadedRun): void {
    if (isTerminal(loaded.record.status) || loaded.record.status === 'parked') {
      this.cache.delete(loaded.record.id);
      return;
    }
    this.cache.delete(loaded.record.id);
    this.cache.set(loaded.record.id, loaded);
    if (this.cache.size > CACHE_LIMIT) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /**
   * The run as this process last loaded or committed it, if it is cached (no store read, no
   * promise): what `load(runId)` resolves with then.
   */
  cached(runId: string): LoadedRun | undefined {
    return this.cache.get(runId);
  }

  /** Whether this process committed a transition of `runId` after `since` (epoch ms). */
  recentlyAdvanced(runId: string, since: number): boolean {
    const cached = this.cache.get(runId);
    return cached !== undefined && cached.record.updatedAt > since;
  }

  forget(runId: string): void {
    this.cache.delete(runId);
  }

  /** Commits `decision`: its write built once, with the outbox the store keeps (see {@link commit}). */
  private commitDecision(decision: Decision, expectedVersion: number | null, settles?: readonly number[]): Promise<WriteResult> {
    const { record, history, outbox } = decision;
    const unstored = this.unstoredOf(outbox);
    const kept = storedOf(outbox, unstored);
    return this.commitStored(settles ? { record, expectedVersion, history, outbox: kept, settles } : { record, expectedVersion, history, outbox: kept }, unstored, decision.snapshot);
  }

  /**
   * The one commit point of every transition (a decision, or a park): writes it with
   * compare-and-swap, then publishes its outbox, emits the run events of its history entries
   * (with the cursors the store gave them) and settles `result()` calls of a finished run.
   * `snapshot` is the machine snapshot to cache; `undefined` (a parked run) caches nothing.
   */
  private commit(write: RunWrite, snapshot: AnyMachineSnapshot | undefined): Promise<WriteResult> {
    const unstored = this.unstoredOf(write.outbox);
    const kept = storedOf(write.outbox, unstored);
    return this.commitStored(kept === write.outbox ? write : { ...write, outbox: kept }, unstored, snapshot);
  }

  /**
   * A broker that keeps nothing across a crash needs no outbox row for its messages: the run's
   * `waiting` copies (kept with such a broker) re-dispatch them when a runtime starts. Failure
   * reports keep theirs (a hook is called at least once, by whichever process holds the claim).
   */
  private unstoredOf(outbox: readonly NewOutboxEntry[]): readonly NewOutboxEntry[] {
    return this.keepMessages ? messagesOf(outbox) : NONE;
  }

  /**
   * {@link commit} of `write`, whose outbox holds what the store keeps; `unstored` are published
   * without a row. Not `async`: one callback on the batch's promise costs less than an async frame
   * and its await (this runs on every step).
   */
  private commitStored(write: RunWrite, unstored: readonly NewOutboxEntry[], snapshot: AnyMachineSnapshot | undefined): Promise<WriteResult> {
    return this.commits.submit(write).then((result) => this.committed(write, unstored, snapshot, result));
  }

  /** What follows the commit of `write` (see {@link commit}). */
  private committed(write: RunWrite, unstored: readonly NewOutboxEntry[], snapshot: AnyMachineSnapshot | undefined, result: WriteResult): WriteResult {
    const { record } = write;
    if (!result.ok) return result;
    // A decision is written by the definition of the version its record names.
    if (snapshot) this.remember({ record, snapshot, chain: this.chains.get(record.chain, definitionOf(record).version) });
    else this.forget(record.id);
    this.relay.publish(result.outbox);
    if (unstored.length > 0) this.relay.publishUnstored(record.id, unstored);
    this.onCommitted?.(record);
    if (this.bus.listening) this.bus.emit(eventsOf(record.id, record.chain, write.history, result.cursors, record.status === 'completed' ? { value: record.output } : undefined));
    if (isTerminal(record.status) || record.status === 'parked') this.onSettled(record);
    return result;
  }

  /**
   * Parks `record` (compare-and-swap on its version): the snapshot is kept untouched so a later
   * re-drive can continue it. Resolves with the parked record, or `undefined` on a conflict.
   */
  private async commitPark(record: RunRecord, chain: AnyChain | undefined, why: string): Promise<RunRecord | undefined> {
    const now = this.clock.now();
    const state = JSON.stringify((record.snapshot as PersistedChainSnapshot | undefined)?.value ?? null);
    const steps = chain ? chain.steps.map((s) => s.key).join(', ') : '(chain not loaded)';
    const parkedError = new RunParkedError(record.id, record.chain, `${why} (stored state ${state}; steps of the loaded definition: ${steps})`);
    const error: SerializedError = { name: parkedError.name, message: parkedError.message, retryable: false };
    const parked: RunRecord = { ...record, status: 'parked', version: record.version + 1, error, updatedAt: now };
    const step = record.step ?? '(none)';
    const def = chain?.steps.find((s) => s.key === record.step);
    const report: FailureReport = {
      runId: record.id,
      chain: record.chain,
      task: def?.task.name ?? step,
      step,
      queue: def?.task.queue,
      input: record.input,
      attempts: record.attempt,
      error,
      compensation: record.status === 'compensating',
      parked: true,
    };
    const history: HistoryEntry[] = [{ at: now, type: 'run.parked', ...(record.step === undefined ? {} : { step: record.step, task: report.task }), attempt: record.attempt, error }];
    const result = await this.commit({ record: parked, expectedVersion: record.version, history, outbox: [{ queue: null, body: JSON.stringify(report) }] }, undefined);
    if (!result.ok) {
      this.forget(record.id);
      return undefined;
    }
    return parked;
  }

  /**
   * How to decide a transition `cause` made: the header hook is asked only when there is one.
   * `outcome`: the event is the outcome of an attempt this process ran (its entry names the worker).
   */
  private decideOptions(cause: MessageCause | undefined, outcome = false): DecideOptions {
    if (this.headers && cause) return { keepMessages: this.keepMessages, headers: { hook: this.headers, cause }, ...(outcome ? { worker: WORKER } : {}) };
    return outcome ? this.outcomeOptions : this.plainOptions;
  }

  /**
   * Creates a run, started now or (with `startAt`, epoch ms, in the future) recorded as
   * `scheduled` with a durable start timer. Resolves `false` when a run with this id already exists.
   */
  async create(chain: AnyChain, runId: string, input: unknown, startAt?: number): Promise<boolean> {
    const now = this.clock.now();
    const options = this.decideOptions(this.headers && { kind: 'start' });
    if (startAt !== undefined && startAt > now) {
      const scheduled = decideSchedule(chain, runId, input, now, startAt, options);
      return (await this.commit({ ...scheduled, expectedVersion: null }, undefined)).ok;
    }
    const decision = decideStart(chain, runId, input, now, options);
    const result = await this.commitDecision(decision, null);
    return result.ok;
  }

  /**
   * Starts scheduled run `runId` (its start timer is due): the first transition, as `create`
   * makes for a run started at once. A run no longer scheduled (started already, cancelled) is
   * left alone: `'ignored'`.
   */
  startScheduled(runId: string, cause?: MessageCause): Promise<ApplyResult> {
    return this.withLock(runId, async () => {
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const record = await this.store.load(runId);
        if (!record) return 'unknown-run';
        if (record.status !== 'scheduled') return 'ignored';
        const chain = this.chains.latest(record.chain);
        if (!chain) throw new UnknownChainError(`run "${runId}" belongs to chain "${record.chain}", which this runtime does not know`);
        // A scheduled run has no state yet: it starts on the newest version.
        const decision = decideStart(chain, runId, record.input, this.clock.now(), this.decideOptions(cause), record);
        if ((await this.commitDecision(decision, record.version)).ok) return 'applied';
      }
      throw new TaskchartError(`run "${runId}": gave up starting it after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  /**
   * Applies `event` to run `runId` (exactly once: a duplicate or stale event is ignored).
   * Resolves `'parked'` when the run is parked, or was parked now because the loaded definition
   * could not restore or advance it. `cause` is what the plugins' `messageHeaders` are told.
   * `settles`: outbox entries the transition's commit deletes (see `RunWrite.settles`); they are
   * deleted only when it resolves `'applied'`.
   */
  apply(runId: string, event: ChainEvent, cause?: MessageCause, chainVersion?: number, settles?: readonly number[]): Promise<ApplyResult> {
    return this.withLock(runId, async () => {
      let fresh = false;
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        // The cached copy as it is (no promise, no turn to wait: the lock is held already).
        const loaded = (fresh ? undefined : this.cache.get(runId)) ?? (await this.load(runId, fresh));
        if (!loaded) return 'unknown-run';
        if (isTerminal(loaded.record.status) || loaded.record.status === 'scheduled') return 'ignored';
        if (!loaded.snapshot || !loaded.chain) return 'parked';
        // A timer of another version than the run is on now (it was migrated): stale.
        if (chainVersion !== undefined && loaded.chain.version !== chainVersion) return 'ignored';
        const chain = loaded.chain;
        let decision: Decision | undefined;
        try {
          decision = decideEvent(chain, loaded.record, loaded.snapshot, event, this.clock.now(), this.decideOptions(cause, isAttemptOutcome(event)));
        } catch (error) {
          if (await this.commitPark(loaded.record, chain, `the loaded definition cannot apply ${event.type} to it: ${messageOf(error)}`)) return 'parked';
          fresh = true;
          continue;
        }
        if (!decision) {
          // Ignored on a cached copy: make sure it is not just stale before dropping the event.
          if (!fresh) {
            fresh = true;
            continue;
          }
          return 'ignored';
        }
        const result = await this.commitDecision(decision, loaded.record.version, settles);
        if (result.ok) return 'applied';
        this.forget(runId);
        fresh = true;
      }
      throw new TaskchartError(`run "${runId}": gave up after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  /**
   * Cancels run `runId` (see `Client.cancel`): a scheduled or parked run ends `cancelled` at once;
   * a running or retrying one takes the machine's cancel transition (compensating the completed
   * steps unless `compensate` is false). `by` (who asked) marks the history entry the cancel
   * commits. Resolves `undefined` for an unknown run.
   */
  cancel(runId: string, reason: string | null, compensate: boolean, by?: string): Promise<CancelOutcome | undefined> {
    return this.withLock(runId, async () => {
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const loaded = await this.load(runId, true);
        if (!loaded) return undefined;
        const { record, snapshot } = loaded;
        if (isTerminal(record.status)) return { cancelled: false, status: record.status, message: `run "${runId}" is ${record.status} already: nothing to cancel` };
        let write: RunWrite;
        let next: AnyMachineSnapshot | undefined;
        const now = this.clock.now();
        if (!snapshot) {
          // Scheduled (not started) or parked (the definition cannot advance it): nothing runs, nothing to undo.
          const cancelled: RunRecord = { ...record, status: 'cancelled', version: record.version + 1, waiting: [], error: cancelledError(runId, record.chain, reason), updatedAt: now };
          write = { record: cancelled, expectedVersion: record.version, history: [signed({ at: now, type: 'run.cancelled', ...(reason === null ? {} : { reason }) }, by)], outbox: [] };
        } else {
          const decision = decideEvent(loaded.chain ?? this.definite(record), record, snapshot, { type: CANCEL_EVENT, reason, compensate }, now, this.decideOptions(this.headers && { kind: 'start' }));
          if (!decision) {
            const cancelling = (record.snapshot as PersistedChainSnapshot).context.cancel != null;
            return {
              cancelled: false,
              status: record.status,
              message: cancelling
                ? `run "${runId}" is being cancelled already: its completed steps are being compensated`
                : `run "${runId}" is compensating a failure already; cancel it with { compensate: false } to stop the compensations`,
            };
          }
          write = { record: decision.record, expectedVersion: record.version, history: decision.history.map((h) => (h.type === 'run.cancelling' || h.type === 'run.cancelled' ? signed(h, by) : h)), outbox: decision.outbox };
          next = decision.snapshot;
        }
        const result = await this.commit(write, next);
        if (result.ok) {
          const status = write.record.status;
          return { cancelled: true, status, message: status === 'cancelled' ? `run "${runId}" is cancelled` : `run "${runId}" is cancelling: compensating its completed steps` };
        }
      }
      throw new TaskchartError(`run "${runId}": gave up cancelling after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  /**
   * Re-drives finished run `runId` (see `Client.retry`): commits the decision that starts it
   * again. Resolves `undefined` for an unknown run; rejects with `RuntimeStateError` when the run
   * cannot be re-driven from there. `by` (who asked) marks the `run.redriven` entry.
   */
  redrive(runId: string, from: RedriveFrom, by?: string): Promise<RunRecord | undefined> {
    return this.withLock(runId, async () => {
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const record = await this.store.load(runId);
        if (!record) return undefined;
        if (record.status === 'parked') {
          const resumed = await this.commitResume(record, by);
          if (resumed) return resumed;
          continue;
        }
        const decided = decideRedrive(this.definite(record), record, from, this.clock.now(), this.decideOptions(this.headers && { kind: 'start' }));
        const decision = { ...decided, history: decided.history.map((h) => (h.type === 'run.redriven' ? signed(h, by) : h)) };
        if ((await this.commitDecision(decision, record.version)).ok) return decision.record;
      }
      throw new TaskchartError(`run "${runId}": gave up re-driving after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  /**
   * Adds `entry` to run `runId`'s history without changing where the run stands (an operator's
   * action on something other than the run itself, such as a dead letter of it sent back).
   * Resolves `false` for an unknown run.
   */
  note(runId: string, entry: HistoryEntry): Promise<boolean> {
    return this.withLock(runId, async () => {
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const record = await this.store.load(runId);
        if (!record) return false;
        const noted: RunRecord = { ...record, version: record.version + 1, updatedAt: Math.max(record.updatedAt, entry.at) };
        if ((await this.commit({ record: noted, expectedVersion: record.version, history: [entry], outbox: [] }, undefined)).ok) return true;
      }
      throw new TaskchartError(`run "${runId}": gave up recording ${entry.type} after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  /**
   * Re-drives parked `record` on the definition loaded now for its version (or migrated to the
   * newest): re-dispatches the invocation it stood at. Rejects with `RuntimeStateError` when the
   * loaded definitions cannot continue it either; resolves `undefined` on a version conflict.
   */
  private async commitResume(record: RunRecord, by: string | undefined): Promise<RunRecord | undefined> {
    const now = this.clock.now();
    const name = `cannot re-drive run "${record.id}" (chain "${record.chain}")`;
    const resolution = this.chains.resolve(record);
    if (resolution.kind === 'unknown-chain' || resolution.kind === 'unknown-version' || resolution.kind === 'changed') {
      throw new RuntimeStateError(`${name}: it is parked, and the loaded definitions cannot continue it: ${resolution.why}`);
    }
    const persisted = record.snapshot as PersistedChainSnapshot | null;
    if (!persisted) throw new RuntimeStateError(`${name}: it is parked with no stored state to continue`);
    const marker = signed({ at: now, type: 'run.redriven' as const }, by);
    let decision: Decision;
    try {
      if (resolution.kind === 'exact') {
        decision = decideResume(resolution.chain, record, persisted, marker, now, this.decideOptions(this.headers && { kind: 'start' }));
      } else {
        const migrated = decideResume(resolution.chain, record, migrateSnapshot(record, resolution.steps), marker, now, this.decideOptions(this.headers && { kind: 'start' }));
        const [first, ...rest] = migrated.history;
        const note: HistoryEntry = { at: now, type: 'run.migrated', fromVersion: resolution.from, toVersion: resolution.chain.version, ...(first?.step === undefined ? {} : { step: first.step, task: first.task }) };
        decision = { ...migrated, history: first ? [first, note, ...rest] : [note] };
      }
    } catch (error) {
      if (error instanceof ResumeError) throw new RuntimeStateError(`${name}: it is parked, and the loaded definition cannot continue it: ${error.message}`);
      throw error;
    }
    return (await this.commitDecision(decision, record.version)).ok ? decision.record : undefined;
  }

  /**
   * Parks run `runId` because of `why` (the broker refused its timer message for good). Resolves
   * with the run as it now is (untouched when it was terminal or parked already).
   */
  park(runId: string, why: string): Promise<RunRecord | undefined> {
    return this.withLock(runId, async () => {
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const record = await this.store.load(runId);
        if (!record || isTerminal(record.status) || record.status === 'parked') return record;
        const parked = await this.commitPark(record, this.chains.get(record.chain, definitionOf(record).version) ?? this.chains.latest(record.chain), why);
        if (parked) return parked;
      }
      throw new TaskchartError(`run "${runId}": gave up parking after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  /**
   * Runs `fn` once every earlier call for `runId` has settled (one transition of a run at a time
   * in this process). The lock is released by `fn`'s own settlement: one promise and two small
   * closures per call (anonymous: a bundler keeping names would add a defineProperty to a named
   * one), as this runs on every step.
   */
  private withLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(runId);
    // Unlocked: `fn` starts now (it is async: it runs only to its first await before this returns,
    // and the lock is taken just below). Every `fn` here awaits the store or the commit batcher
    // before it could reach code that locks the same run again.
    const next = previous ? previous.then(fn, fn) : fn();
    const tail: Promise<void> = next.then(
      () => this.unlock(runId, tail),
      () => this.unlock(runId, tail),
    );
    this.locks.set(runId, tail);
    return next;
  }

  /** `tail` (the end of `runId`'s lock chain when it was made) has settled: the lock goes if nothing queued behind it. */
  private unlock(runId: string, tail: Promise<void>): void {
    if (this.locks.get(runId) === tail) this.locks.delete(runId);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
    await this.commits.drain();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `entry` marked with who asked for it, when known. */
function signed<E extends HistoryEntry>(entry: E, by: string | undefined): E {
  return by === undefined ? entry : { ...entry, by };
}

/** This process, as the history names the worker that ran an attempt: `<hostname>:<pid>`. */
const WORKER = `${hostname()}:${process.pid}`;

/** Whether `event` is the outcome of a task or compensation attempt (this process ran it). */
const isAttemptOutcome = (event: ChainEvent) => event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.');

const NONE: readonly NewOutboxEntry[] = [];

/** What of `outbox` the store keeps when `unstored` (its messages, or none) are published without a row: `outbox` itself when that is all of it. */
function storedOf(outbox: readonly NewOutboxEntry[], unstored: readonly NewOutboxEntry[]): readonly NewOutboxEntry[] {
  if (unstored.length === 0) return outbox;
  return unstored.length === outbox.length ? NONE : outbox.filter((o) => o.queue === null);
}

/** The messages (not failure reports) of `outbox`: `outbox` itself when it holds nothing else, none without a copy when it holds no message. */
function messagesOf(outbox: readonly NewOutboxEntry[]): readonly NewOutboxEntry[] {
  let messages = 0;
  for (const o of outbox) if (o.queue !== null) messages++;
  if (messages === outbox.length) return outbox;
  return messages === 0 ? NONE : outbox.filter((o) => o.queue !== null);
}
