/**
 * Everything one broker handle declares on RabbitMQ: remembered so that it can be re-declared
 * on every new connection (after a reconnect, or a server restart that lost a non-durable
 * object) and listed for cleanup.
 */
import type { Channel } from 'amqplib';
import { DELAY_LEVEL_HEADER, delayExchangeName, delayQueueName } from './delay-ladder.js';

export type Declaration =
  | { readonly kind: 'queue'; readonly name: string; readonly arguments: Readonly<Record<string, unknown>> }
  | { readonly kind: 'exchange'; readonly name: string; readonly type: 'headers' }
  | { readonly kind: 'binding'; readonly queue: string; readonly exchange: string; readonly arguments: Readonly<Record<string, unknown>> };

/** The names of the queues and exchanges a broker declared (for cleanup and inspection). */
export interface TopologyNames {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

const keyOf = (d: Declaration): string =>
  d.kind === 'binding' ? `binding:${d.exchange}->${d.queue}:${JSON.stringify(d.arguments)}` : `${d.kind}:${d.name}`;

export function queueDeclaration(name: string, args: Readonly<Record<string, unknown>> = {}): Declaration {
  return { kind: 'queue', name, arguments: args };
}

/** The exchange, queue and binding that make up one level of the delay ladder. */
export function delayLevelDeclarations(prefix: string, levelMs: number): readonly Declaration[] {
  const exchange = delayExchangeName(prefix);
  const queue = delayQueueName(prefix, levelMs);
  return [
    { kind: 'exchange', name: exchange, type: 'headers' },
    // An expired message is dead-lettered to the default exchange with its own routing key,
    // which is the name of the work queue it was published for.
    queueDeclaration(queue, { 'x-message-ttl': levelMs, 'x-dead-letter-exchange': '' }),
    { kind: 'binding', queue, exchange, arguments: { 'x-match': 'all', [DELAY_LEVEL_HEADER]: String(levelMs) } },
  ];
}

async function assertOne(channel: Channel, d: Declaration): Promise<void> {
  switch (d.kind) {
    case 'queue':
      await channel.assertQueue(d.name, { durable: true, arguments: { ...d.arguments } });
      return;
    case 'exchange':
      await channel.assertExchange(d.name, d.type, { durable: true });
      return;
    case 'binding':
      await channel.bindQueue(d.queue, d.exchange, '', { ...d.arguments });
      return;
  }
}

export class Topology {
  /** Every declaration ever made through this topology, in order (insertion order of the map). */
  private readonly known = new Map<string, Declaration>();
  /** What has been asserted on which channel (one channel per connection declares). */
  private readonly asserted = new WeakMap<Channel, Map<string, Promise<void>>>();
  /** The keys whose assert succeeded, per channel. */
  private readonly confirmed = new WeakMap<Channel, Set<string>>();

  /**
   * Makes sure `declarations` exist on the server, in order, asserting each at most once per
   * channel. Remembers them for {@link replay}.
   */
  async ensure(channel: Channel, declarations: readonly Declaration[]): Promise<void> {
    // Fast path, taken by nearly every publish: everything already declared on this channel.
    const confirmed = this.confirmed.get(channel);
    if (confirmed && declarations.every((d) => confirmed.has(keyOf(d)))) return;
    await this.assertAll(channel, declarations);
  }

  private async assertAll(channel: Channel, declarations: readonly Declaration[]): Promise<void> {
    let confirmed = this.confirmed.get(channel);
    if (!confirmed) {
      confirmed = new Set();
      this.confirmed.set(channel, confirmed);
    }
    let done = this.asserted.get(channel);
    if (!done) {
      done = new Map();
      this.asserted.set(channel, done);
    }
    for (const d of declarations) {
      const key = keyOf(d);
      if (!this.known.has(key)) this.known.set(key, d);
      let pending = done.get(key);
      if (!pending) {
        pending = assertOne(channel, d);
        done.set(key, pending);
        const memo = done;
        // A failed assert (usually: the channel died) must be retried on the next call.
        pending.catch(() => memo.delete(key));
      }
      await pending;
      confirmed.add(key);
    }
  }

  /** Re-declares everything known, on a fresh channel of a new connection. */
  async replay(channel: Channel): Promise<void> {
    await this.ensure(channel, [...this.known.values()]);
  }

  names(): TopologyNames {
    const queues: string[] = [];
    const exchanges: string[] = [];
    for (const d of this.known.values()) {
      if (d.kind === 'queue') queues.push(d.name);
      else if (d.kind === 'exchange') exchanges.push(d.name);
    }
    return { queues, exchanges };
  }
}

/** The declarations a publish needs, built once per queue and level (a publish is the hot path). */
export class DeclarationCache {
  private readonly workQueues = new Map<string, readonly Declaration[]>();
  private readonly delays = new Map<string, readonly Declaration[]>();

  constructor(private readonly prefix: string) {}

  work(fullQueue: string): readonly Declaration[] {
    let d = this.workQueues.get(fullQueue);
    if (!d) {
      d = [queueDeclaration(fullQueue)];
      this.workQueues.set(fullQueue, d);
    }
    return d;
  }

  delayed(fullQueue: string, levelMs: number): readonly Declaration[] {
    const key = `${levelMs}:${fullQueue}`;
    let d = this.delays.get(key);
    if (!d) {
      d = [...this.work(fullQueue), ...delayLevelDeclarations(this.prefix, levelMs)];
      this.delays.set(key, d);
    }
    return d;
  }
}
