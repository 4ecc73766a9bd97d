/** The memory broker for `bench/run.ts`: the in-process reference adapter, nothing to clean up. */
import type { Broker } from '../lib/taskchart.js';
import { memoryBroker } from '../lib/taskchart.js';

export async function create(prefix: string): Promise<Broker> {
  return memoryBroker({ queuePrefix: prefix });
}
