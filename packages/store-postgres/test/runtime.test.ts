import { afterAll } from 'vitest';
import { MemoryHub, memoryBroker } from '@taskchart/broker-memory';
import { runtimeContract } from '@taskchart/core/contract';
import { postgresStore } from '../src/index.js';
import { PG_URL, pgTestScope } from './pg-test.js';

const scope = pgTestScope('runtime');
afterAll(() => scope.cleanup());

// The contract names a fresh file per scenario; here each file is a schema of its own, and opening
// the same file again (a runtime restart) opens the same schema.
const schemas = new Map<string, string>();
const schemaFor = (file: string) => {
  let schema = schemas.get(file);
  if (schema === undefined) {
    schema = scope.schema();
    schemas.set(file, schema);
  }
  return schema;
};

const hub = new MemoryHub();
runtimeContract({
  name: 'memory broker + postgres store',
  connect: (prefix) => memoryBroker({ hub, queuePrefix: prefix }),
  store: (file) => postgresStore({ connectionString: PG_URL, schema: schemaFor(file), applicationName: scope.applicationName, poolSize: 4 }),
});
