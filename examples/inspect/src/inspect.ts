/**
 * Draws the runs of the SQLite file `DB` in the Stately inspector, from this process alone:
 *
 *   pnpm inspect                      live: every run, then each new one as workers advance it
 *   pnpm inspect --run trip-…         one run (stops once it has ended)
 *   pnpm inspect --replay             what the log holds, then stop
 *   pnpm inspect --url ws://host:port  send to a running inspector relay instead of starting one
 *
 * Without `--url` it starts `@statelyai/inspect`'s local relay on --port (8080): open
 * http://localhost:8080 in a browser (the page embeds the hosted inspector, so the browser needs
 * the internet; this process does not).
 */
import { parseArgs } from 'node:util';
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { inspectRuns } from '@taskchart/inspect';
import { sqliteStore } from '@taskchart/store-sqlite';
import { DB, trip } from './trip.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    replay: { type: 'boolean', default: false },
    url: { type: 'string' },
    port: { type: 'string', default: '8080' },
  },
});

const relay = values.url ? undefined : createInspectorServer({ port: Number(values.port), autoOpen: false });
if (relay) console.log(`inspect: open http://localhost:${values.port} to see the runs`);
// Events wait in the inspector until its WebSocket is open: keep them all (its default keeps 200).
const inspector = createWebSocketInspector({ url: values.url ?? `ws://localhost:${values.port}`, maxDeferredEvents: 100_000 });
const store = sqliteStore(DB);
const inspection = inspectRuns({ store, chains: [trip], inspector, follow: !values.replay, ...(values.run ? { runId: values.run } : {}) });

let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await inspection.stop();
    await store.close();
    // The inspector hands each event to its socket on the next turn of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 500));
    inspector.stop();
    relay?.stop();
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop());
await inspection.done;
console.log(values.replay ? 'inspect: the log is drawn' : 'inspect: stopped');
// Without a relay of its own, this process is done; with one, it serves the page until Ctrl-C.
if (!relay) await stop();
