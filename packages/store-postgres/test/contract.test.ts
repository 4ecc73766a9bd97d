import { afterAll } from 'vitest';
import { storeContract } from '@taskchart/core/contract';
import { postgresStore } from '../src/index.js';
import { PG_URL, pgTestScope } from './pg-test.js';

const scope = pgTestScope('contract');
afterAll(() => scope.cleanup());

storeContract({
  name: 'postgres (a schema per test)',
  open: async () => {
    const store = postgresStore({ connectionString: PG_URL, schema: scope.schema(), applicationName: scope.applicationName, poolSize: 4 });
    await store.ready();
    return store;
  },
});
