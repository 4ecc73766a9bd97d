import type { AnyMachineSnapshot } from 'xstate';
import type { AnyChain } from '../chain.js';
import type { Clock } from '../clock.js';
import { TaskchartError } from '../errors.js';
import type { ChainEvent } from '../machine/chain-context.js';
import { isTerminal, type RunRecord, type RunWrite, type Store, type WriteResult } from '../ports/store.js';
import { Batcher } from './batcher.js';
import { decideEvent, decideStart, restoreSnapshot, type Decision } from './decide.js';
import type { OutboxRelay } from './outbox-relay.js';

export interface LoadedRun {
  readonly record: RunRecord;
  readonly snapshot: AnyMachineSnapshot;
}

export type ApplyResult = 'applied' | 'ignored' | 'unknown-run';

const MAX_CONFLICT_RETRIES = 20;
const CACHE_LIMIT = 10_000;

/**
 * Loads runs, applies machine events and commits the outcome with compare-and-swap, many
 * transitions per store transaction. Events of one run are applied one at a time in this
 * process; across processes the version check decides, and the loser reloads and re-applies.
 */
export class RunEngine {
  private readonly cache = new Map<string, LoadedRun>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly commits: Batcher<RunWrite, WriteResult>;

  constructor(
    private readonly store: Store,
    private readonly chains: ReadonlyMap<string, AnyChain>,
    private readonly clock: Clock,
    private readonly relay: OutboxRelay,
    private readonly onTerminal: (record: RunRecord) => void,
    /**
     * Whether runs keep copies of their pending messages. Only a non-durable broker needs them
     * (a starting runtime re-dispatches from them); a durable broker holds the messages itself.
     */
    private readonly keepPending: boolean,
  ) {
    this.commits = new Batcher((writes) => store.commit(writes), 256);
  }

  async load(runId: string, fresh = false): Promise<LoadedRun | undefined> {
    if (!fresh) {
      const cached = this.cache.get(runId);
      if (cached) return cached;
    }
    const record = await this.store.load(runId);
    if (!record) return undefined;
    const chain = this.chains.get(record.chain);
    if (!chain) throw new TaskchartError(`run "${runId}" belongs to chain "${record.chain}", which this runtime does not know`);
    const loaded = { record, snapshot: restoreSnapshot(chain, record) };
    this.remember(loaded);
    return loaded;
  }

  private remember(loaded: LoadedRun): void {
    if (isTerminal(loaded.record.status)) {
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

  /** Whether this process committed a transition of `runId` after `since` (epoch ms). */
  recentlyAdvanced(runId: string, since: number): boolean {
    const cached = this.cache.get(runId);
    return cached !== undefined && cached.record.updatedAt > since;
  }

  forget(runId: string): void {
    this.cache.delete(runId);
  }

  private async commitDecision(decision: Decision, expectedVersion: number | null): Promise<WriteResult> {
    const result = await this.commits.submit({ record: decision.record, expectedVersion, history: decision.history, outbox: decision.outbox });
    if (result.ok) {
      this.remember({ record: decision.record, snapshot: decision.snapshot });
      this.relay.publish(result.outbox);
      if (isTerminal(decision.record.status)) this.onTerminal(decision.record);
    }
    return result;
  }

  /** Creates a run. Resolves `false` when a run with this id already exists. */
  async create(chain: AnyChain, runId: string, input: unknown): Promise<boolean> {
    const decision = decideStart(chain, runId, input, this.clock.now(), { keepPending: this.keepPending });
    const result = await this.commitDecision(decision, null);
    return result.ok;
  }

  /** Applies `event` to run `runId` (exactly once: a duplicate or stale event is ignored). */
  apply(runId: string, event: ChainEvent): Promise<ApplyResult> {
    return this.withLock(runId, async () => {
      let fresh = false;
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const loaded = await this.load(runId, fresh);
        if (!loaded) return 'unknown-run';
        if (isTerminal(loaded.record.status)) return 'ignored';
        const chain = this.chains.get(loaded.record.chain);
        if (!chain) throw new TaskchartError(`run "${runId}" belongs to unknown chain "${loaded.record.chain}"`);
        const decision = decideEvent(chain, loaded.record, loaded.snapshot, event, this.clock.now(), { keepPending: this.keepPending });
        if (!decision) {
          // Ignored on a cached copy: make sure it is not just stale before dropping the event.
          if (!fresh) {
            fresh = true;
            continue;
          }
          return 'ignored';
        }
        const result = await this.commitDecision(decision, loaded.record.version);
        if (result.ok) return 'applied';
        this.forget(runId);
        fresh = true;
      }
      throw new TaskchartError(`run "${runId}": gave up after ${MAX_CONFLICT_RETRIES} version conflicts`);
    });
  }

  private async withLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(runId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(runId, tail);
    void tail.then(() => {
      if (this.locks.get(runId) === tail) this.locks.delete(runId);
    });
    return next;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
    await this.commits.drain();
  }
}
