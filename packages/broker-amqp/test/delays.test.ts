/**
 * The delay ladder on the real server: every delayed message arrives once, not early, whatever
 * mix of delays shares the ladder; delayed nacks count their redeliveries.
 */
import { randomUUID } from 'node:crypto';
import type { Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { AmqpBroker } from '../src/index.js';
import { cleanupPrefix, trackedBroker } from './helpers.js';

const opened: AmqpBroker[] = [];
const prefixes: string[] = [];

function fresh(): AmqpBroker {
  const prefix = `tc-${randomUUID().slice(0, 8)}-`;
  prefixes.push(prefix);
  const broker = trackedBroker(prefix);
  opened.push(broker);
  return broker;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('amqp delays', () => {
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((b) => b.close()));
    for (const p of prefixes.splice(0)) await cleanupPrefix(p);
  });

  it('delivers each delayed message once, at or after its delay, with several levels in use', async () => {
    const broker = fresh();
    const arrivals = new Map<string, number[]>();
    await broker.consume('work', async (d) => {
      arrivals.set(d.body, [...(arrivals.get(d.body) ?? []), Date.now()]);
      await d.ack();
    });
    const delays = [0, 1, 3, 40, 130, 600, 1000, 1300];
    const sent = new Map<string, number>();
    await Promise.all(
      delays.map(async (ms) => {
        sent.set(`d${ms}`, Date.now());
        await broker.publish('work', `d${ms}`, { delayMs: ms });
      }),
    );
    await waitFor(() => arrivals.size === delays.length, 10_000, 'every delayed message');
    // Long enough for a copy routed to a wrong (longer) level to come back.
    await sleep(1_500);
    for (const ms of delays) {
      const at = arrivals.get(`d${ms}`) ?? [];
      expect(at, `d${ms} arrivals`).toHaveLength(1);
      expect((at[0] ?? 0) - (sent.get(`d${ms}`) ?? 0), `d${ms} delay`).toBeGreaterThanOrEqual(ms);
    }
  });

  it('redelivers a nack with a delay after that delay, counting redeliveries', async () => {
    const broker = fresh();
    const got: Array<{ d: Delivery; at: number }> = [];
    await broker.consume('work', async (d) => {
      got.push({ d, at: Date.now() });
      if (d.redeliveries < 2) await d.nack({ delayMs: 200 });
      else await d.ack();
    });
    await broker.publish('work', 'retry-me', { headers: { 'x-kept': 'yes' } });
    await waitFor(() => got.length === 3, 10_000, 'two delayed redeliveries');
    await sleep(500);
    expect(got.map((g) => g.d.redeliveries)).toEqual([0, 1, 2]);
    expect(got.map((g) => g.d.body)).toEqual(['retry-me', 'retry-me', 'retry-me']);
    expect(got.every((g) => g.d.headers['x-kept'] === 'yes')).toBe(true);
    expect(new Set(got.map((g) => g.d.id)).size).toBe(1);
    for (let i = 1; i < got.length; i++) expect((got[i]?.at ?? 0) - (got[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(200);
    // No adapter header leaks to the handler.
    expect(Object.keys(got[2]?.d.headers ?? {}).filter((k) => k.includes('taskchart'))).toEqual([]);
  });
});
