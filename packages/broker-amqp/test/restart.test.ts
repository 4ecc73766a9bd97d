/**
 * A full RabbitMQ restart (`rabbitmqctl stop_app` / `start_app`). It stops the server for every
 * client on it, so it only runs when asked: TASKCHART_AMQP_RESTART_TEST=1, which
 * `scripts/test.sh` sets for a run of its own after every other suite is done. The server is
 * started again whatever happens.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { waitFor } from '@taskchart/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupPrefix, trackedBroker } from './helpers.js';

const run = promisify(execFile);
const rabbitmqctl = (command: string) => run('rabbitmqctl', ['-q', command], { timeout: 60_000 });
const prefix = `tc-${randomUUID().slice(0, 8)}-`;

describe.runIf(process.env.TASKCHART_AMQP_RESTART_TEST === '1')('amqp server restart', () => {
  afterEach(async () => {
    await rabbitmqctl('start_app');
    await cleanupPrefix(prefix);
  });

  it('keeps durable messages, waits out the restart, reconnects and resumes consuming', { timeout: 120_000 }, async () => {
    const broker = trackedBroker(prefix, { publishTimeoutMs: 60_000, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } });
    try {
      const got: string[] = [];
      await broker.consume('work', async (d) => {
        got.push(d.body);
        await d.ack();
      });
      await broker.publish('kept', 'persisted across the restart');
      await broker.publish('work', 'delayed', { delayMs: 3_000 });
      await rabbitmqctl('stop_app');
      const during = broker.publish('work', 'published while the server was down');
      await new Promise((r) => setTimeout(r, 1_000));
      await rabbitmqctl('start_app');
      await during;
      await waitFor(() => got.includes('published while the server was down') && got.includes('delayed'), 30_000, 'messages after the restart');
      const kept: string[] = [];
      await broker.consume('kept', async (d) => {
        kept.push(d.body);
        await d.ack();
      });
      await waitFor(() => kept.length === 1, 10_000, 'the message stored before the restart');
      expect(kept).toEqual(['persisted across the restart']);
    } finally {
      await broker.close();
    }
  });
});
