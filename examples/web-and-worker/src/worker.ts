/** The worker process: consumes the queues and advances runs. Stops on SIGTERM or SIGINT. */
import { createRuntime, type Plugin } from '@taskchart/core';
import { amqpBroker } from '@taskchart/broker-amqp';
import { sqliteStore } from '@taskchart/store-sqlite';
import { AMQP_URL, DB, QUEUE_PREFIX, referral } from './chains.js';

// A plugin: breadcrumbs around each attempt, and the durable failure report (to Sentry, say).
const console_: Plugin = {
  name: 'console',
  wrapAttempt: async (ctx, next) => {
    const outcome = await next();
    console.log(`worker: ${ctx.task} attempt ${ctx.attempt} ${outcome.ok ? 'ok' : `failed: ${outcome.error.message}`}`);
    return outcome;
  },
  onFailure: (report) => console.error(`worker: ${report.task} failed ${report.attempts} times`, report.error.message),
};

const runtime = createRuntime({
  broker: amqpBroker({ url: AMQP_URL, queuePrefix: QUEUE_PREFIX }),
  store: sqliteStore(DB),
  chains: [referral],
  plugins: [console_],
});
await runtime.start();
console.log('worker: ready');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void runtime.close());
