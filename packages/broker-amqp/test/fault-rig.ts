/**
 * What a fault test opens on the real RabbitMQ — brokers, TCP proxies in front of the server,
 * queue prefixes — so that it is all closed and deleted after each test, and checked gone from
 * the server at the end of the file.
 */
import { randomUUID } from 'node:crypto';
import type { AmqpBroker } from '../src/index.js';
import { cleanupPrefix, serverQueues } from './helpers.js';
import type { TcpProxy } from './tcp-proxy.js';

export class FaultRig {
  private readonly opened: AmqpBroker[] = [];
  private readonly proxies: TcpProxy[] = [];
  private readonly prefixes: string[] = [];

  /** A fresh queue prefix, deleted after the test. */
  prefix(): string {
    const prefix = `tc-${randomUUID().slice(0, 8)}-`;
    this.prefixes.push(prefix);
    return prefix;
  }

  /** `broker`, closed after the test. */
  broker(broker: AmqpBroker): AmqpBroker {
    this.opened.push(broker);
    return broker;
  }

  /** `proxy`, taken down after the test. */
  proxy(proxy: TcpProxy): TcpProxy {
    this.proxies.push(proxy);
    return proxy;
  }

  /** For `afterEach`: closes the brokers, takes the proxies down and deletes what the prefixes declared. */
  async cleanUp(): Promise<void> {
    await Promise.allSettled(this.opened.splice(0).map((b) => b.close()));
    await Promise.allSettled(this.proxies.splice(0).map((p) => p.down()));
    for (const p of this.prefixes) await cleanupPrefix(p);
  }

  /** For `afterAll`: the queues of every prefix still on the server (none, when all went well). */
  async queuesLeft(): Promise<string[]> {
    const left: string[] = [];
    for (const p of this.prefixes.splice(0)) left.push(...(await serverQueues(p)));
    return left;
  }
}
