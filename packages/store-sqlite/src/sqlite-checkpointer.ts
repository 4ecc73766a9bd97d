/**
 * Checkpoints the WAL from a worker thread with a connection of its own, so the main thread's
 * commits never pay for one. A checkpoint copies the WAL's pages into the database file and
 * syncs it: milliseconds every few thousand pages, which the commit that crossed the threshold
 * used to pay (the p99 of a run at idle). The thread checkpoints `PASSIVE`ly: it never waits for
 * a lock and never blocks a writer. Durability is unchanged: a commit is in the WAL before it returns.
 *
 * After a complete checkpoint, the thread also starts the WAL over itself, with a write that
 * changes nothing (the header's user version set to what it is). SQLite starts the WAL over in the first
 * write after a complete checkpoint, and that write syncs the new WAL header to disk (an fsync:
 * 1.5-4 ms on the project's VM) before its frames: left to the store's connection, the first commit
 * after every pause paid it. The thread takes it only when the WAL holds commits of another
 * connection since it last started it over (`PRAGMA data_version`), so an idle store is left alone,
 * and only once no commit has come for a whole period: while commits keep coming, its write would
 * hold the lock through the fsync just when the next commit wants it (measured: the idle-latency
 * p99 of back-to-back runs rose by 1-2 ms), and those commits do not pay the restart anyway, as a
 * checkpoint rarely completes between them. It never waits for the write lock (a commit holding it
 * wins, and starts the WAL over itself as before). The committing connection drops its page cache after that write (another connection's),
 * so its next commit reads ~10 pages back: microseconds, against the fsync's milliseconds.
 *
 * The thread is plain JavaScript (`eval`), so it runs the same from the built package, from
 * source and under test runners; it loads the better-sqlite3 this package resolves.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// timeout 0: the thread never waits for a lock (a commit holding it goes first).
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
// This connection checkpoints only when told to; its own write is one page.
db.pragma('wal_autocheckpoint = 0');
const dataVersion = db.prepare('PRAGMA data_version').pluck();
// A write that changes nothing but dirties a page (a row set to itself is not written at all):
// the database header's user version, set to what it is, under the write lock.
const userVersion = db.prepare('PRAGMA user_version').pluck();
// Written only if no commit came in since the checkpoint (else the WAL is not all in the file and
// the write would only add a frame).
const startOverNow = db.transaction((version) => {
  if (dataVersion.get() === version) db.pragma('user_version = ' + Number(userVersion.get()));
});
// The data version (of other connections' commits) when the WAL was last checkpointed whole and started over.
let settled;
// The data version the previous tick saw: unchanged means no commit for a whole period.
let seen;
const checkpoint = () => {
  try {
    const version = dataVersion.get();
    if (version === settled) return;
    const quiet = version === seen;
    seen = version;
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (!quiet || result.busy !== 0 || result.log === 0 || result.checkpointed !== result.log) return;
    // Every frame is in the database file: this write starts the WAL over (and syncs its header) here.
    startOverNow.immediate(version);
    settled = version;
  } catch (error) {
    // The write lock is taken (a commit): it starts the WAL over itself, as without this thread.
    if (error && typeof error.code === 'string' && error.code.startsWith('SQLITE_BUSY')) return;
    parentPort.postMessage(String((error && error.message) || error));
  }
};
const timer = setInterval(checkpoint, workerData.periodMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** How often the thread checkpoints (a cheap no-op when the WAL holds nothing new). */
const PERIOD_MS = 100;

export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  /** `onFailure` is called (once) when the thread cannot checkpoint: the caller checkpoints itself again. */
  constructor(path: string, onFailure: (why: string) => void) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, periodMs: PERIOD_MS } });
    // A store left open must not keep the process alive.
    this.worker.unref();
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      onFailure(why);
    };
    this.worker.on('message', (message: unknown) => fail(String(message)));
    this.worker.on('error', (error: Error) => fail(error.message));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Stops the thread and closes its connection. */
  async close(): Promise<void> {
    // Waited for: held in the event loop until it has exited.
    this.worker.ref();
    this.worker.postMessage('close');
    await this.exited;
  }
}
