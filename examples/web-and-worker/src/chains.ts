/** The chain both processes know: the web process starts it, the worker runs it. */
import { chain, task } from '@taskchart/core';

const fetchQuote = task('fetchQuote', async (input: { tenantId: string }) => ({ ...input, quote: 120 }));
const riskCheck = task(
  'riskCheck',
  async (q: { tenantId: string; quote: number }, ctx) => {
    if (ctx.attempt === 1) throw new Error('risk API timed out'); // the first attempt fails: retried in 200 ms
    return { ...q, score: 42 };
  },
  { retry: { maxRetries: 3, backoff: { initial: 200, jitter: 'none' } } }, // a bare number is milliseconds
);
export const referral = chain('referral', fetchQuote, riskCheck);

/** Both processes share one broker (RabbitMQ here) and one store (a SQLite file on this host). */
export const AMQP_URL = process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
export const QUEUE_PREFIX = process.env['QUEUE_PREFIX'] ?? '';
export const DB = process.env['TASKCHART_DB'] ?? 'taskchart.db';
