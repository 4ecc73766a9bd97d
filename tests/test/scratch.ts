/**
 * A test file's scratch space: fresh SQLite file paths in temporary folders, and a list for the
 * runtimes its tests start. After each test every runtime listed is closed and every folder removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '@taskchart/core';
import { afterEach } from 'vitest';

export function scratch(name: string): { database: () => string; runtimes: Runtime[] } {
  const dirs: string[] = [];
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    database() {
      const dir = mkdtempSync(join(tmpdir(), `taskchart-${name}-`));
      dirs.push(dir);
      return join(dir, 'runs.db');
    },
    runtimes,
  };
}
