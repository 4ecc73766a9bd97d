/**
 * The worker: runs three trips on the embedded setup (memory broker + the SQLite file `DB`), one
 * that pays at once, one that retries, one whose payment fails for good and is compensated,
 * then stops. Every transition is in the store's event log, for `pnpm inspect` to draw.
 */
import { createRuntime } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';
import { DB, trip, type Order } from './trip.js';

const runtime = createRuntime({ broker: memoryBroker(), store: sqliteStore(DB), chains: [trip], logger: { warn: () => undefined, error: console.error } });
await runtime.start();
const stamp = Date.now().toString(36);
const orders: Order[] = [
  { orderId: `${stamp}-ok`, card: 'ok' },
  { orderId: `${stamp}-flaky`, card: 'flaky' },
  { orderId: `${stamp}-declined`, card: 'declined' },
];
const runs = await Promise.all(orders.map((order) => runtime.run(trip, order, { id: `trip-${order.orderId}` })));
for (const run of runs) {
  // Settles when the run ends: with its output, or rejected when it failed or was compensated.
  await run.result().catch(() => undefined);
  const info = await runtime.getRun(run.id);
  console.log(`worker: ${run.id} ${info?.status ?? 'unknown'}`);
}
await runtime.close();
