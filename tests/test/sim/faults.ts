/**
 * Fault injection for the simulation: a process "incarnation" whose store and broker calls can
 * crash it at chosen points, fail transiently, and whose publishes can be duplicated, delayed
 * (reordered), refused for a while (transient refusals) or refused for good (`MessageRefusedError`).
 */
import { MessageRefusedError, type Broker, type Store } from '@taskchart/core';
import { type ConsumeOptions, type Delivery, type DeliveryHandler, type PublishOptions, type RunWrite, type WriteResult, type Claimant } from '@taskchart/core/adapter';

export type CrashPoint = 'beforeCommit' | 'afterCommit' | 'beforePublish' | 'afterPublish' | 'beforeAck';

export interface FaultPlan {
  /** Crash the incarnation at the `at`-th operation of kind `point` (1-based). */
  readonly crash?: { readonly point: CrashPoint; readonly at: number };
  /** Store commits (by index) that fail once, transiently. */
  readonly failCommits: readonly number[];
  /** Publishes (by index) that fail once, transiently. */
  readonly failPublishes: readonly number[];
  /**
   * Transient refusals: `count` consecutive publishes from the `from`-th on are rejected with a
   * plain error (a throttled or unreachable broker), so one outbox entry fails several times in a
   * row and its retries back off.
   */
  readonly throttle?: { readonly from: number; readonly count: number };
  /** Publishes (by index) delivered twice. */
  readonly duplicates: readonly number[];
  /** Extra delay per publish (cycled), which reorders deliveries. */
  readonly extraDelays: readonly number[];
  /** Whether the life runs the steps it commits itself (`eagerDispatch`). @defaultValue true */
  readonly eager?: boolean;
}

export class CrashError extends Error {
  override readonly name = 'CrashError';
}

/** One life of a simulated process. After `crash()`, everything it touches throws. */
export class Incarnation {
  dead = false;
  private counts: Record<CrashPoint, number> = { beforeCommit: 0, afterCommit: 0, beforePublish: 0, afterPublish: 0, beforeAck: 0 };

  constructor(readonly plan: FaultPlan) {}

  assertAlive(): void {
    if (this.dead) throw new CrashError('process is dead');
  }

  /** Counts an operation of kind `point`; crashes when the plan says so. */
  maybeCrash(point: CrashPoint): void {
    this.assertAlive();
    this.counts[point]++;
    const crash = this.plan.crash;
    if (crash && crash.point === point && crash.at === this.counts[point]) {
      this.dead = true;
      throw new CrashError(`crash at ${point} #${crash.at}`);
    }
  }
}

export function faultyStore(inner: Store, life: Incarnation): Store {
  let commits = 0;
  const failed = new Set<number>();
  return {
    async commit(writes: readonly RunWrite[], claimant: Claimant): Promise<WriteResult[]> {
      life.maybeCrash('beforeCommit');
      const n = ++commits;
      if (life.plan.failCommits.includes(n) && !failed.has(n)) {
        failed.add(n);
        throw new Error(`transient store failure (commit #${n})`);
      }
      const result = await inner.commit(writes, claimant);
      life.maybeCrash('afterCommit');
      return result;
    },
    load: async (id) => (life.assertAlive(), inner.load(id)),
    history: async (id) => (life.assertAlive(), inner.history(id)),
    list: async (q) => (life.assertAlive(), inner.list(q)),
    events: async (q) => (life.assertAlive(), inner.events(q)),
    claimOutbox: async (claimant, limit) => (life.assertAlive(), inner.claimOutbox(claimant, limit)),
    deferOutbox: async (owner, ids, until) => (life.assertAlive(), inner.deferOutbox(owner, ids, until)),
    deleteOutbox: async (ids) => (life.assertAlive(), inner.deleteOutbox(ids)),
    recordDefinitions: async (r) => (life.assertAlive(), inner.recordDefinitions(r)),
    definitions: async (q) => (life.assertAlive(), inner.definitions(q)),
    lastEventCursor: async () => (life.assertAlive(), inner.lastEventCursor()),
    close: () => inner.close(),
  };
}

export interface FaultyBrokerOptions {
  /**
   * What a dead process's consumer does with a delivery: `'hang'` never answers (the memory
   * broker's message dies with the process, instead of bouncing back in a tight loop);
   * `'return'` returns without settling it, as a dropped connection does on a real broker (the
   * server takes the message back). @defaultValue 'hang'
   */
  readonly deadDelivery?: 'hang' | 'return';
  /** Multiplies the plan's extra delays. @defaultValue 1 */
  readonly delayScale?: number;
  /**
   * Permanent refusals: a message for which this returns true is rejected with
   * `MessageRefusedError` on every publish, in every life (as SQS refuses a body over 256 KiB).
   */
  readonly refuse?: (body: string) => boolean;
}

export function faultyBroker(inner: Broker, life: Incarnation, options: FaultyBrokerOptions = {}): Broker {
  const { deadDelivery = 'hang', delayScale = 1, refuse } = options;
  let publishes = 0;
  const failed = new Set<number>();
  return {
    name: `faulty-${inner.name}`,
    capabilities: inner.capabilities,
    async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
      life.maybeCrash('beforePublish');
      const n = ++publishes;
      if (life.plan.failPublishes.includes(n) && !failed.has(n)) {
        failed.add(n);
        throw new Error(`transient broker failure (publish #${n})`);
      }
      const throttle = life.plan.throttle;
      if (throttle && n >= throttle.from && n < throttle.from + throttle.count) throw new Error(`broker throttling (publish #${n})`);
      if (refuse?.(body)) throw new MessageRefusedError(inner.name, queue, 'simulated: the message is over the broker\'s size limit');
      const delays = life.plan.extraDelays;
      const extra = Math.round((delays.length > 0 ? (delays[n % delays.length] ?? 0) : 0) * delayScale);
      await inner.publish(queue, body, { ...options, delayMs: (options.delayMs ?? 0) + extra });
      if (life.plan.duplicates.includes(n)) await inner.publish(queue, body, { ...options, delayMs: (options.delayMs ?? 0) + extra * 2 + 1 });
      life.maybeCrash('afterPublish');
    },
    // The limit a real adapter checks before sending (see Broker.refusal): eager dispatch asks it.
    refusal(queue: string, body: string, options?: PublishOptions): Error | undefined {
      if (refuse?.(body)) return new MessageRefusedError(inner.name, queue, 'simulated: the message is over the broker\'s size limit');
      return inner.refusal?.(queue, body, options);
    },
    consume(queue: string, handler: DeliveryHandler, options?: ConsumeOptions) {
      return inner.consume(
        queue,
        (d: Delivery) => {
          // A dead process handles nothing (see FaultyBrokerOptions.deadDelivery).
          if (life.dead) return deadDelivery === 'hang' ? new Promise<void>(() => undefined) : Promise.resolve();
          return handler({
            ...d,
            ack: async () => {
              life.maybeCrash('beforeAck');
              await d.ack();
            },
            nack: async (o) => (life.assertAlive(), d.nack(o)),
            deadLetter: async (reason) => (life.assertAlive(), d.deadLetter(reason)),
          });
        },
        options,
      );
    },
    close: () => inner.close(),
  };
}
