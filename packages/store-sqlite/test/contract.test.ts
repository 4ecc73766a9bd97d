import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from '@taskchart/core/contract';
import { SqliteStore, sqliteStore } from '../src/index.js';

storeContract({
  name: 'sqlite (a temporary file)',
  open: () => sqliteStore(join(mkdtempSync(join(tmpdir(), 'tc-store-contract-')), 'runs.db')),
  cleanup: (store) => {
    if (store instanceof SqliteStore) rmSync(join(store.path, '..'), { recursive: true, force: true });
  },
});
