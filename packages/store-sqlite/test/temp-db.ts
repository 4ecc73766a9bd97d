/** Fresh database paths in temporary folders, removed after each test of the file that asks for them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** Call at a test file's top level: returns a function giving a new `runs.db` path in a folder of its own. */
export function tempDbPaths(prefix = 'tc-store-'): () => string {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return join(dir, 'runs.db');
  };
}
