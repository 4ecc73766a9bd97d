import { describe, expect, it } from 'vitest';
import { chains, eventually, rigs, waiting } from './rig.js';
import { openSse } from './sse-reader.js';

const rig = rigs();

describe('the live streams (server-sent events over client.events())', () => {
  it("replays a run's events, then delivers new ones live, redacted, with cursors as ids", async () => {
    const r = await rig();
    const { url } = await r.serve();
    await r.client.run(chains.flaky, { id: 'f1', failures: 1 }, { id: 'f1' });
    await r.until('f1', 'completed');
    const stream = await openSse(`${url}/api/runs/f1/stream`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    await eventually(() => stream.messages.some((m) => m.data.type === 'run.completed'), 'the replay to reach run.completed');
    expect(stream.messages.every((m) => m.event === 'run-event' && m.id === m.data.cursor && m.data.runId === 'f1')).toBe(true);
    const failed = stream.messages.find((m) => m.data.type === 'step.failed');
    expect(failed?.data.error?.message).toBe('flaky failed (api_token=[Filtered])');

    // Live: a run that is waiting, then cancelled.
    await r.client.run(chains.slow, { id: 's1' }, { id: 's1' });
    const live = await openSse(`${url}/api/runs/s1/stream`);
    await eventually(() => live.messages.some((m) => m.data.type === 'step.started' && m.data.step === 'wait'), 'the wait step to start');
    await eventually(() => waiting.has('s1'), 'the wait step to run');
    await r.client.cancel('s1', { reason: 'stop' });
    await eventually(() => live.messages.some((m) => m.data.type === 'run.cancelled'), 'run.cancelled to arrive live');

    // Resuming after Last-Event-ID sends only what came after it.
    const cut = live.messages.findIndex((m) => m.data.type === 'run.cancelling');
    const resumed = await openSse(`${url}/api/runs/s1/stream`, { 'last-event-id': String(live.messages[cut]?.id) });
    await eventually(() => resumed.messages.some((m) => m.data.type === 'run.cancelled'), 'the resumed stream to deliver run.cancelled');
    expect(resumed.messages.map((m) => m.id)).toEqual(live.messages.slice(cut + 1).map((m) => m.id));
    stream.close();
    live.close();
    resumed.close();
  });

  it('stops its client.events() feed when the browser disconnects, even with nothing new to send', async () => {
    const r = await rig();
    const { url } = await r.serve();
    await r.client.run(chains.order, { user: 'a', password: 'p' }, { id: 'o1' });
    await r.until('o1', 'completed');
    const streams = [await openSse(`${url}/api/runs/o1/stream`), await openSse(`${url}/api/runs/o1/stream`), await openSse(`${url}/api/stream`)];
    await eventually(() => streams[0]!.messages.some((m) => m.data.type === 'run.completed'), 'the replay');
    expect(r.openFeeds()).toBe(3);
    // The run is finished: its feeds are idle, waiting for an event that will not come.
    for (const s of streams) s.close();
    await eventually(() => r.openFeeds() === 0, 'every feed to end after the disconnects');
  });

  it('streams every run event from now on to the list, filtered by chain, through one shared feed', async () => {
    const r = await rig();
    const { url } = await r.serve();
    await r.client.run(chains.order, { user: 'old', password: 'p' }, { id: 'old' });
    await r.until('old', 'completed');
    const all = await openSse(`${url}/api/stream`);
    const orders = await openSse(`${url}/api/stream?chain=order`);
    await eventually(() => r.openFeeds() === 1, 'the shared feed to open');
    await r.client.run(chains.flaky, { id: 'f2', failures: 0 }, { id: 'f2' });
    await r.client.run(chains.order, { user: 'new', password: 'p' }, { id: 'new' });
    await eventually(() => all.messages.some((m) => m.data.runId === 'new' && m.data.type === 'run.completed'), 'the new order to complete on the stream');
    await eventually(() => orders.messages.some((m) => m.data.runId === 'new' && m.data.type === 'run.completed'), 'the order stream');
    await eventually(() => all.messages.some((m) => m.data.runId === 'f2' && m.data.type === 'run.completed'), 'the flaky run on the stream');
    // Nothing from before the connection; only order events on the filtered stream.
    expect(all.messages.some((m) => m.data.runId === 'old')).toBe(false);
    expect(orders.messages.every((m) => m.data.chain === 'order')).toBe(true);
    expect(r.openFeeds()).toBe(1);
    all.close();
    orders.close();
    await eventually(() => r.openFeeds() === 0, 'the shared feed to end with its last listener');
  });

  it('ends every stream when the dashboard closes', async () => {
    const r = await rig();
    const { url, dashboard } = await r.serve();
    const s = await openSse(`${url}/api/stream`);
    await eventually(() => r.openFeeds() === 1, 'the shared feed to open');
    await dashboard.close();
    await eventually(() => r.openFeeds() === 0, 'the feed to end');
    s.close();
  });
});
