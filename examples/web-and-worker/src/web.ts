/** The web process: starts a run and follows its events. It consumes no queue. */
import { createClient } from '@taskchart/core';
import { amqpBroker } from '@taskchart/broker-amqp';
import { sqliteStore } from '@taskchart/store-sqlite';
import { AMQP_URL, DB, QUEUE_PREFIX, referral } from './chains.js';

const client = createClient({ broker: amqpBroker({ url: AMQP_URL, queuePrefix: QUEUE_PREFIX }), store: sqliteStore(DB), chains: [referral] });
const run = await client.run(referral, { tenantId: 't-1' }, { id: 'referral-t-1' });

// Every transition, whichever worker made it; `after: event.cursor` resumes where a reader stopped.
for await (const event of client.events({ runId: run.id })) {
  console.log(`web: ${event.type}${'step' in event ? ` ${event.step}` : ''}${'attempt' in event ? ` #${event.attempt}` : ''}`);
  if (event.type === 'run.completed' || event.type === 'run.failed' || event.type === 'run.compensated') break;
}
console.log('web: result', await run.result({ timeout: '1m' }));
const info = await client.getRun(run.id);
console.log(`web: ${info?.status} after ${info?.totalAttempts} attempts`);
await client.close();
