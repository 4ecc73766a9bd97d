import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, InvalidOptionError, task } from '@taskchart/core';
import { sqliteStore } from '@taskchart/store-sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectRuns, machineConfig, machineSource } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'taskchart-inspect-options-'));
const store = sqliteStore(join(dir, 'runs.db'));
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
const book = task('book', (x: number) => x, { compensate: () => undefined });
const pay = task('pay', (x: number) => x);
const trip = chain('trip', book, pay);
const ok = { store, chains: [trip], inspector: () => undefined };

describe('inspectRuns options', () => {
  it('rejects unknown keys and bad values, naming the option', () => {
    const bad = (options: unknown) => () => inspectRuns(options as Parameters<typeof inspectRuns>[0]);
    expect(bad({ ...ok, folow: false })).toThrow('inspectRuns: folow: unknown option; did you mean "follow"?');
    expect(bad({ ...ok, store: {} })).toThrow('inspectRuns: store: must be a Store');
    expect(bad({ ...ok, chains: [] })).toThrow('inspectRuns: chains: must be a non-empty array');
    expect(bad({ ...ok, chains: [trip, trip] })).toThrow('inspectRuns: chains[1]: chain "trip" is given twice');
    expect(bad({ ...ok, inspector: { inspect: 1 } })).toThrow('inspectRuns: inspector: must be an @statelyai/inspect inspector');
    expect(bad({ ...ok, chain: 'other' })).toThrow('inspectRuns: chain: "other" is not one of the chains given (trip)');
    expect(bad({ ...ok, runId: '' })).toThrow('inspectRuns: runId: must be a non-empty string');
    expect(bad({ ...ok, follow: 'yes' })).toThrow('inspectRuns: follow: must be a boolean');
    expect(bad({ ...ok, poll: '5ms' })).toThrow('inspectRuns: poll: must be from 10 ms to 60 s, got 5 ms');
    expect(bad({ ...ok, poll: '2m' })).toThrow(InvalidOptionError);
    expect(bad(undefined)).toThrow('inspectRuns: options must be an object');
  });

  it('stops a live reader on stop()', async () => {
    const inspection = inspectRuns({ ...ok, poll: '10ms' });
    await inspection.stop();
    await expect(inspection.done).resolves.toBeUndefined();
  });
});

describe('machineConfig / machineSource', () => {
  it('exports the machine the runtime drives as JSON, without its functions', () => {
    const config = machineConfig(trip);
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
    expect(config).toMatchObject({
      id: 'trip',
      initial: 'book',
      states: {
        book: { initial: 'running', states: { running: { invoke: { id: 'book', src: 'book', onDone: { target: '#trip.pay' } } }, retrying: { after: { retryDelay: { target: 'running' } } } } },
        compensating: { initial: 'book', states: { book: { states: { running: { invoke: { src: 'compensate-book' } } } } } },
        completed: { type: 'final' },
      },
    });
    expect(config['context']).toBeUndefined();
    expect(machineSource(trip)).toMatch(/^import \{ createMachine \} from 'xstate';\n\nexport const tripMachine = createMachine\(\{\n {2}"id": "trip",/);
  });
});
