/**
 * A pass-through Store that counts what the runtime asks of it: transactions, writes per
 * transaction, loads, outbox deletes, and (sampled) the size of the JSON each write stores. It
 * shows where store time goes without touching the store itself.
 */
import type { Claimant, EventQuery, HistoryEntry, OutboxEntry, RunPage, RunQuery, RunRecord, RunWrite, Store, StoredEvent, WriteResult } from './taskchart.js';

export interface StoreStats {
  readonly commitCalls: number;
  readonly writes: number;
  readonly maxBatch: number;
  readonly historyRows: number;
  readonly outboxRows: number;
  readonly loads: number;
  readonly deleteOutboxCalls: number;
  readonly deletedOutboxRows: number;
  /** Writes refused by compare-and-swap (another process or attempt committed the run first). */
  readonly conflicts: number;
  /** Mean bytes of snapshot + waiting JSON per write (sampled). */
  readonly meanRowJsonBytes: number;
}

export class CountingStore implements Store {
  private s = { commitCalls: 0, writes: 0, maxBatch: 0, historyRows: 0, outboxRows: 0, loads: 0, deleteOutboxCalls: 0, deletedOutboxRows: 0, conflicts: 0 };
  private sampledBytes = 0;
  private samples = 0;

  constructor(private readonly inner: Store) {}

  /** Starts counting afresh (a round after a warm-up on the same store counts its own). */
  resetStats(): void {
    this.s = { commitCalls: 0, writes: 0, maxBatch: 0, historyRows: 0, outboxRows: 0, loads: 0, deleteOutboxCalls: 0, deletedOutboxRows: 0, conflicts: 0 };
    this.sampledBytes = 0;
    this.samples = 0;
  }

  stats(): StoreStats {
    return { ...this.s, meanRowJsonBytes: this.samples === 0 ? 0 : Math.round(this.sampledBytes / this.samples) };
  }

  commit(writes: readonly RunWrite[], claimant: Claimant): Promise<WriteResult[]> {
    const s = this.s;
    s.commitCalls++;
    s.writes += writes.length;
    s.maxBatch = Math.max(s.maxBatch, writes.length);
    for (const w of writes) {
      s.historyRows += w.history.length;
      s.outboxRows += w.outbox.length;
    }
    const first = writes[0];
    if (first && s.commitCalls % 16 === 0) {
      this.sampledBytes += JSON.stringify(first.record.snapshot).length + JSON.stringify(first.record.waiting).length;
      this.samples++;
    }
    return this.inner.commit(writes, claimant).then((results) => {
      for (const r of results) if (!r.ok && r.reason === 'conflict') s.conflicts++;
      return results;
    });
  }

  load(id: string): Promise<RunRecord | undefined> {
    this.s.loads++;
    return this.inner.load(id);
  }

  history(id: string): Promise<HistoryEntry[]> {
    return this.inner.history(id);
  }

  list(query?: RunQuery): Promise<RunPage> {
    return this.inner.list(query);
  }

  events(query?: EventQuery): Promise<StoredEvent[]> {
    return this.inner.events(query);
  }

  claimOutbox(claimant: Claimant, limit: number): Promise<OutboxEntry[]> {
    return this.inner.claimOutbox(claimant, limit);
  }

  deferOutbox(owner: string, ids: readonly number[], until: number): Promise<void> {
    return this.inner.deferOutbox(owner, ids, until);
  }

  deleteOutbox(ids: readonly number[]): Promise<void> {
    this.s.deleteOutboxCalls++;
    this.s.deletedOutboxRows += ids.length;
    return this.inner.deleteOutbox(ids);
  }

  recordDefinitions(records: Parameters<Store['recordDefinitions']>[0]): Promise<void> {
    return this.inner.recordDefinitions(records);
  }

  definitions(query?: Parameters<Store['definitions']>[0]): ReturnType<Store['definitions']> {
    return this.inner.definitions(query);
  }

  lastEventCursor(): Promise<string | undefined> {
    return this.inner.lastEventCursor();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
