/**
 * Checkpoints the WAL from a worker thread with a connection of its own, so the main thread's
 * commits never pay for one. A checkpoint copies the WAL's pages into the database file and
 * syncs it: milliseconds every few thousand pages, which the commit that crossed the threshold
 * used to pay (the p99 of a run at idle). The thread checkpoints `PASSIVE`ly: it never waits for
 * a lock and never blocks a writer; the next commit after a complete checkpoint starts the WAL
 * over, so it stays small. Durability is unchanged: a commit is in the WAL before it returns.
 *
 * The thread is plain JavaScript (`eval`), so it runs the same from the built package, from
 * source and under test runners; it loads the better-sqlite3 this package resolves.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
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
