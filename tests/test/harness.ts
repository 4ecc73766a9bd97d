import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type AnyChain, type Broker, type FailureReport, type Runtime, type RuntimeOptions } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { ManualClock, settle, silentLogger } from '@taskchart/core/testing';
import { memoryBroker, type MemoryBroker } from '@taskchart/broker-memory';

export interface Harness {
  readonly runtime: Runtime;
  readonly clock: ManualClock;
  readonly broker: MemoryBroker;
  readonly reports: FailureReport[];
  readonly dbPath: string;
  /** Fires timers one by one until `done()` or no timer is left. */
  drive(done: () => boolean | Promise<boolean>, maxSteps?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** A runtime on the memory broker + a SQLite file, with a manual clock. */
export async function harness(chains: AnyChain[], extra: Partial<RuntimeOptions> = {}, wrapBroker: (broker: MemoryBroker) => Broker = (b) => b): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'taskchart-test-'));
  const dbPath = join(dir, 'runs.db');
  const clock = new ManualClock();
  const broker = memoryBroker({ clock });
  const reports: FailureReport[] = [];
  const runtime = createRuntime({
    broker: wrapBroker(broker),
    store: sqliteStore(dbPath),
    chains,
    clock,
    logger: silentLogger,
    onFailure: (r) => {
      reports.push(r);
    },
    ...extra,
  });
  await runtime.start();
  return {
    runtime,
    clock,
    broker,
    reports,
    dbPath,
    async drive(done, maxSteps = 1000) {
      for (let i = 0; i < maxSteps; i++) {
        await settle(10);
        if (await done()) return;
        if (!(await clock.runNext())) {
          await settle(10);
          if (await done()) return;
          throw new Error('drive(): no timer left and the condition is still false');
        }
      }
      throw new Error(`drive(): condition still false after ${maxSteps} timers`);
    },
    async dispose() {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
