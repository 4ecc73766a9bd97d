/**
 * Which file a SQLite store holds, by identity (device and inode) rather than by path: so a
 * store notices when its file is deleted or replaced under it, and a process never opens two
 * stores on one file (two runtimes on one file re-dispatch each other's in-flight steps).
 */
import { statSync } from 'node:fs';

export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
}

/** The identity of the file at `path` now; undefined when nothing is there. Throws what `stat` throws besides ENOENT. */
export function identify(path: string): FileIdentity | undefined {
  const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stats ? { dev: stats.dev, ino: stats.ino } : undefined;
}

export const sameFile = (a: FileIdentity, b: FileIdentity): boolean => a.dev === b.dev && a.ino === b.ino;

/** A store holding a file open. */
export interface FileHolder {
  isOpen(): boolean;
}

// Kept on globalThis: two copies of this module in one process (a source and a built entry) see
// one registry.
const REGISTRY = Symbol.for('taskchart.sqliteStore.openFiles');
function registry(): Map<string, FileHolder> {
  const g = globalThis as { [REGISTRY]?: Map<string, FileHolder> };
  return (g[REGISTRY] ??= new Map<string, FileHolder>());
}
const keyOf = (id: FileIdentity) => `${id.dev}:${id.ino}`;

/** Whether a store of this process holds the file `id` open (a store whose db was closed directly counts as released). */
export function isHeld(id: FileIdentity): boolean {
  const holder = registry().get(keyOf(id));
  return holder !== undefined && holder.isOpen();
}

/** Records that `holder` holds the file `id`; the returned function releases it. */
export function hold(id: FileIdentity, holder: FileHolder): () => void {
  const files = registry();
  const key = keyOf(id);
  files.set(key, holder);
  return () => {
    if (files.get(key) === holder) files.delete(key);
  };
}
