/**
 * Where the simulation's process lives run: the memory broker on a manual clock (time jumps from
 * timer to timer; a crash loses what the broker held, as an in-process broker would), or a real
 * broker — RabbitMQ, SQS — on the system clock, where a crash drops the process's connection and
 * the broker keeps and redelivers what that process had not acknowledged.
 */
import { randomUUID } from 'node:crypto';
import { type Broker, type Clock, type Runtime, type Store } from '@taskchart/core';
import { systemClock } from '@taskchart/core/adapter';
import { ManualClock, settle } from '@taskchart/core/testing';
import { memoryBroker, type MemoryBroker } from '@taskchart/broker-memory';
import { sqsBroker } from '@taskchart/broker-sqs';
import { cleanupPrefix, trackedBroker } from '../../../packages/broker-amqp/test/helpers.js';
import type { TestEndpoint } from '../../../packages/broker-sqs/test/sqs-endpoint.js';

export interface SimBackend {
  readonly name: string;
  readonly clock: Clock;
  /** The simulated chain's retry backoff, in this backend's time. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** How often the runtime retries outbox entries whose publish failed. */
  readonly outboxSweepMs: number;
  /** How long a life's claim on an outbox entry holds (a dead life's entries are taken over after it). */
  readonly outboxLeaseMs: number;
  /** Multiplies the fault plan's extra publish delays (real brokers run on real time). */
  readonly delayScale: number;
  /**
   * What a dead process's consumer does with a delivery: never answer it (memory: the message
   * dies with the process's broker) or return without settling it (a real broker takes it back).
   */
  readonly deadDelivery: 'hang' | 'return';
  /** The broker of a new process life. */
  open(): Promise<Broker>;
  /**
   * The life that opened `broker` and `store` and ran `runtime` died: its broker memory is gone,
   * or its connection drops. Its runtime is abandoned (a killed process runs no shutdown code), or,
   * on a real broker, closed only to release its timers, handles and connection — everything it
   * touches fails by then, so it can no longer write or publish anything. Its store is closed
   * either way, as the OS closes a killed process's files (a store of this process may then open
   * the file again).
   */
  crashed(broker: Broker, runtime: Runtime | undefined, store: Store | undefined): Promise<void>;
  /** Lets time pass; false when nothing more can happen (`dead`: the life just died). */
  advance(dead: () => boolean): Promise<boolean>;
  /** Deletes what the case declared on a real server. */
  dispose(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `work`, at most `ms` (a release that hangs must not hang the case); never rejects. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

export function memoryBackend(): SimBackend {
  const clock = new ManualClock();
  let broker: MemoryBroker | undefined;
  return {
    name: 'memory',
    clock,
    backoff: { initialMs: 1000, maxMs: 4000 },
    outboxSweepMs: 5000,
    outboxLeaseMs: 30_000,
    delayScale: 1,
    deadDelivery: 'hang',
    open: async () => (broker = memoryBroker({ clock })),
    crashed: async (_broker, _runtime, store) => {
      // The process died: its in-memory broker (queued and delayed messages) dies with it, and
      // the OS closes its store file.
      broker?.hub.clear();
      await store?.close();
    },
    async advance(dead) {
      if (await clock.runNext()) return true;
      await settle(10);
      return dead() || clock.runNext();
    },
    dispose: async () => undefined,
  };
}

/** A backend on a real broker: one queue prefix per case, shared by the case's process lives. */
function realBackend(name: string, make: (prefix: string) => Broker, cleanup: (prefix: string) => Promise<void>, limitMs: number): SimBackend {
  const prefix = `tc-sim-${randomUUID().slice(0, 8)}-`;
  const deadline = Date.now() + limitMs;
  return {
    name,
    clock: systemClock,
    backoff: { initialMs: 50, maxMs: 200 },
    // Real time: a failed publish is retried by the sweep after one to two periods.
    outboxSweepMs: 200,
    outboxLeaseMs: 1000,
    delayScale: 0.1,
    deadDelivery: 'return',
    open: async () => make(prefix),
    async crashed(broker, runtime, store) {
      // A killed process's connection drops; the server gives its unacknowledged messages back.
      await within(broker.close(), 10_000);
      if (runtime) await within(runtime.close(), 10_000);
      // Closed by the runtime, unless its close hung: the OS closes a dead process's files.
      await store?.close();
    },
    async advance() {
      await sleep(20);
      return Date.now() < deadline;
    },
    dispose: () => cleanup(prefix),
  };
}

export function amqpBackend(limitMs = 60_000): SimBackend {
  return realBackend('amqp', (prefix) => trackedBroker(prefix, { reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, onError: () => undefined }), cleanupPrefix, limitMs);
}

export function sqsBackend(sqs: TestEndpoint, limitMs = 90_000): SimBackend {
  return realBackend(
    'sqs',
    (queuePrefix) => sqsBroker({ ...sqs.connection, queuePrefix, waitTimeSeconds: 1, visibilityTimeoutSeconds: 5, onError: () => undefined }),
    (prefix) => sqs.cleanup(prefix),
    limitMs,
  );
}
