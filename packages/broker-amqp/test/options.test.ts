import { InvalidOptionError, MessageRefusedError } from '@taskchart/core';
import { describe, expect, it } from 'vitest';
import { amqpBroker, type AmqpBrokerOptions } from '../src/index.js';

const url = 'amqp://guest:guest@127.0.0.1:5672';

function rejection(options: unknown): InvalidOptionError {
  try {
    amqpBroker(options as AmqpBrokerOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected the options to be rejected');
}

describe('amqpBroker options', () => {
  it('fills in the documented defaults without connecting', () => {
    const broker = amqpBroker({ url });
    expect(broker.options).toMatchObject({
      queuePrefix: '',
      prefetch: 16,
      publishTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      reconnectInitialDelayMs: 100,
      reconnectMaxDelayMs: 5_000,
      maxMessageBytes: 128 * 1024 * 1024,
      connectionName: 'taskchart',
    });
    expect(broker.options.url).toBe(`${url}?heartbeat=10`);
    expect(amqpBroker({ url: `${url}/?heartbeat=3` }).options.url).toBe(`${url}/?heartbeat=3`);
    expect(amqpBroker({ url: `${url}/?frameMax=8192`, heartbeatSeconds: 0 }).options.url).toBe(`${url}/?frameMax=8192&heartbeat=0`);
    expect(broker.capabilities).toEqual({ durable: true, maxDelayMs: Number.POSITIVE_INFINITY, deduplicates: false, maxMessageBytes: 128 * 1024 * 1024 });
  });

  it.each([
    [{}, 'amqpBroker: url: must be an amqp:// or amqps:// URL, got undefined'],
    [{ url: 'http://localhost' }, 'amqpBroker: url: must be an amqp:// or amqps:// URL, got "http://localhost"'],
    [{ url, prefetchCount: 5 }, 'amqpBroker: prefetchCount: unknown option; did you mean "prefetch"? valid options: url, queuePrefix, prefetch, publishTimeoutMs, connectTimeoutMs, heartbeatSeconds, reconnect, maxMessageBytes, connectionName, onError'],
    [{ url, reconnect: { maxDelay: 5 } }, 'amqpBroker: reconnect: maxDelay: unknown option; did you mean "maxDelayMs"? valid options: initialDelayMs, maxDelayMs'],
    [{ url, queuePrefix: 7 }, 'amqpBroker: queuePrefix: must be a string, got number'],
    [{ url, queuePrefix: 'amq.x' }, 'amqpBroker: queuePrefix: must not start with "amq." (reserved by RabbitMQ)'],
    [{ url, prefetch: 0 }, 'amqpBroker: prefetch: must be a whole number between 1 and 65535, got 0'],
    [{ url, prefetch: 1.5 }, 'amqpBroker: prefetch: must be a whole number between 1 and 65535, got 1.5'],
    [{ url, prefetch: 70_000 }, 'amqpBroker: prefetch: must be a whole number between 1 and 65535, got 70000'],
    [{ url, publishTimeoutMs: 0 }, 'amqpBroker: publishTimeoutMs: must be a whole number between 1 and 3600000, got 0'],
    [{ url, publishTimeoutMs: 25 * 86_400_000 }, 'amqpBroker: publishTimeoutMs: must be a whole number between 1 and 3600000, got 2160000000'],
    [{ url, reconnect: { maxDelayMs: 2 ** 31 } }, 'amqpBroker: reconnect.maxDelayMs: must be a whole number between 1 and 3600000, got 2147483648'],
    [{ url, connectTimeoutMs: -1 }, 'amqpBroker: connectTimeoutMs: must be a whole number between 1 and 3600000, got -1'],
    [{ url, reconnect: { initialDelayMs: -5 } }, 'amqpBroker: reconnect.initialDelayMs: must be a whole number between 0 and 3600000, got -5'],
    [{ url, reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }, 'amqpBroker: reconnect.maxDelayMs: must be >= reconnect.initialDelayMs (500), got 100'],
    [{ url, heartbeatSeconds: 70_000 }, 'amqpBroker: heartbeatSeconds: must be a whole number between 0 and 65535, got 70000'],
    [{ url: `${url}/?heartbeat=5`, heartbeatSeconds: 5 }, 'amqpBroker: heartbeatSeconds: is also set as ?heartbeat= in url: give it in one place'],
    [{ url, onError: 'log' }, 'amqpBroker: onError: must be a function, got string'],
    [{ url, maxMessageBytes: 0 }, 'amqpBroker: maxMessageBytes: must be a whole number between 1 and 536870912, got 0'],
    [{ url, maxMessageBytes: 600 * 1024 * 1024 }, 'amqpBroker: maxMessageBytes: must be a whole number between 1 and 536870912, got 629145600'],
  ])('rejects %j naming the option', (options, message) => {
    expect(rejection(options).message).toBe(message);
  });

  it('rejects a bad delay or prefetch at the call, before touching the network', async () => {
    const broker = amqpBroker({ url: 'amqp://127.0.0.1:1' });
    await expect(broker.publish('q', 'x', { delayMs: -1 })).rejects.toThrow('publish: delayMs: must be a finite number >= 0, got -1');
    await expect(broker.publish('q', 'x', { delayMs: Number.NaN })).rejects.toThrow(InvalidOptionError);
    await expect(broker.consume('q', async () => undefined, { prefetch: 0 })).rejects.toThrow('consume: prefetch: must be a whole number between 1 and 65535, got 0');
    await expect(broker.consume('q'.repeat(251), async () => undefined)).rejects.toThrow(
      `consume: queue: "${'q'.repeat(251)}" with its prefix and dead-letter suffix is 256 bytes long, over AMQP's limit of 255 bytes for a queue name`,
    );
    await expect(broker.publish('q'.repeat(256), 'x')).rejects.toThrow(MessageRefusedError);
    await broker.close();
  });
});
