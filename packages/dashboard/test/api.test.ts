import { describe, expect, it } from 'vitest';
import { chains, healed, rigs, waiting, eventually } from './rig.js';
import { csrfOf, get, post, type CancelBody, type ConfigBody, type RunBody, type RunsBody } from './http.js';

const rig = rigs();

describe('the dashboard API (real SQLite store, memory broker, worker runtime)', () => {
  it('lists runs newest first, filters by status, chain, time and id, and pages with a cursor', async () => {
    const r = await rig();
    const { url } = await r.serve();
    const before = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const h = await r.client.run(chains.order, { user: `u${i}`, password: 'hunter2' }, { id: `order-${i}` });
      ids.push(h.id);
    }
    const doomed = await r.client.run(chains.doomed, { id: 'd' }, { id: 'doomed-1' });
    for (const id of ids) await r.until(id, 'completed');
    await r.until(doomed.id, 'compensated');

    const all = await get<RunsBody>(`${url}/api/runs`);
    expect(all.status).toBe(200);
    expect(all.body.runs.map((x) => x.id)).toEqual(['doomed-1', 'order-4', 'order-3', 'order-2', 'order-1', 'order-0']);
    expect(all.body.next).toBeUndefined();
    // A summary has no history, and its input is redacted.
    expect(all.body.runs[1]?.history).toBeUndefined();
    expect(all.body.runs[1]?.input).toEqual({ user: 'u4', password: '[Filtered]' });
    expect(all.body.runs[1]?.output).toEqual({ user: 'u4', sent: true });

    const page1 = await get<RunsBody>(`${url}/api/runs?chain=order&limit=2`);
    expect(page1.body.runs.map((x) => x.id)).toEqual(['order-4', 'order-3']);
    expect(typeof page1.body.next).toBe('string');
    const page2 = await get<RunsBody>(`${url}/api/runs?chain=order&limit=2&cursor=${encodeURIComponent(page1.body.next ?? '')}`);
    expect(page2.body.runs.map((x) => x.id)).toEqual(['order-2', 'order-1']);
    const page3 = await get<RunsBody>(`${url}/api/runs?chain=order&limit=2&cursor=${encodeURIComponent(page2.body.next ?? '')}`);
    expect(page3.body.runs.map((x) => x.id)).toEqual(['order-0']);
    expect(page3.body.next).toBeUndefined();

    const compensated = await get<RunsBody>(`${url}/api/runs?status=failed,compensated`);
    expect(compensated.body.runs.map((x) => x.id)).toEqual(['doomed-1']);
    expect(compensated.body.runs[0]?.error?.message).toBe('card declined (secret=[Filtered])');

    const inTime = await get<RunsBody>(`${url}/api/runs?createdAfter=${before}&createdBefore=${Date.now() + 1000}&status=completed`);
    expect(inTime.body.runs).toHaveLength(5);
    const future = await get<RunsBody>(`${url}/api/runs?createdAfter=${Date.now() + 60_000}`);
    expect(future.body.runs).toEqual([]);

    const byId = await get<RunsBody>(`${url}/api/runs?id=order-3`);
    expect(byId.body.runs.map((x) => x.id)).toEqual(['order-3']);
    expect((await get<RunsBody>(`${url}/api/runs?id=order-3&status=failed`)).body.runs).toEqual([]);
    expect((await get<RunsBody>(`${url}/api/runs?id=nope`)).body.runs).toEqual([]);

    const bad = await get(`${url}/api/runs?status=sleeping`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.name).toBe('InvalidOptionError');
    expect(bad.body.error.message).toContain('status');
    expect((await get(`${url}/api/runs?limit=0`)).status).toBe(400);
    expect((await get(`${url}/api/runs?createdAfter=yesterday`)).status).toBe(400);
    expect((await get(`${url}/api/runs?colour=red`)).status).toBe(400);
  });

  it('shows a run with its history and state, every input, output and error redacted', async () => {
    const r = await rig();
    const { url } = await r.serve();
    await r.client.run(chains.order, { user: 'ann', password: 'hunter2' }, { id: 'o1' });
    await r.client.run(chains.flaky, { id: 'f1', failures: 2 }, { id: 'f1' });
    await r.until('o1', 'completed');
    await r.until('f1', 'completed');

    const order = await get<RunBody>(`${url}/api/runs/o1`);
    expect(order.status).toBe(200);
    expect(order.body.run).toMatchObject({ id: 'o1', chain: 'order', status: 'completed', state: 'completed', input: { user: 'ann', password: '[Filtered]' } });
    expect(order.body.run.history.map((e) => e.type)).toContain('run.completed');
    expect(JSON.stringify(order.body)).not.toContain('hunter2');

    const flaky = await get<RunBody>(`${url}/api/runs/f1`);
    const failures = flaky.body.run.history.filter((e) => e.type === 'step.failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]?.error?.message).toBe('flaky failed (api_token=[Filtered])');
    expect(JSON.stringify(flaky.body)).not.toMatch(/abc[12]/);
    expect(flaky.body.run.history.filter((e) => e.type === 'step.retrying')).toHaveLength(2);

    const missing = await get(`${url}/api/runs/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.name).toBe('DashboardNotFoundError');
    expect((await get(`${url}/api/nothing-here`)).status).toBe(404);
  });

  it('answers its config and the recorded chains with their machines laid out', async () => {
    const r = await rig();
    const { url } = await r.serve({ title: 'Ops <console>' });
    const config = await get<ConfigBody>(`${url}/api/config`);
    expect(config.body).toEqual({ actions: false, csrfToken: config.body.csrfToken, chains: ['doomed', 'flaky', 'healable', 'order', 'slow'], deadLetters: true, title: 'Ops <console>' });
    const list = await get<{ chains: { chain: string; version: number; fingerprint: string; recordedAt: number }[] }>(`${url}/api/chains`);
    const order = list.body.chains.find((c) => c.chain === 'order');
    expect(order).toEqual({ chain: 'order', version: 1, fingerprint: chains.order.fingerprint, recordedAt: order?.recordedAt });
    expect(typeof order?.recordedAt).toBe('number');
    const one = await get<{ definition: { steps: { key: string }[] }; graph: { width: number; nodes: { id: string }[] } }>(`${url}/api/chains/order/versions/1`);
    expect(one.status).toBe(200);
    expect(one.body.definition.steps.map((s) => s.key)).toEqual(['quote', 'charge', 'notify']);
    const nodeIds = one.body.graph.nodes.map((n) => n.id);
    for (const id of ['quote', 'quote.running', 'charge', 'completed']) expect(nodeIds).toContain(id);
    expect(one.body.graph.width).toBeGreaterThan(0);
    expect((await get(`${url}/api/chains/order/versions/9`)).status).toBe(404);
    expect((await get(`${url}/api/chains/order/versions/x`)).status).toBe(400);
  });

  it('is read-only by default: every POST is refused with 403 and nothing changes', async () => {
    const r = await rig();
    const { url } = await r.serve();
    await r.client.run(chains.slow, { id: 's1' }, { id: 's1' });
    await eventually(() => waiting.has('s1'), 'the wait step to start');
    const token = await csrfOf(url);
    const refused = await post(`${url}/api/runs/s1/cancel`, {}, { csrf: token });
    expect(refused.status).toBe(403);
    expect(refused.body.error.name).toBe('DashboardForbiddenError');
    expect(refused.body.error.message).toContain('actions are disabled');
    expect((await post(`${url}/api/dead-letters/redrive`, { queue: 'default' }, { csrf: token })).status).toBe(403);
    expect((await r.client.getRun('s1'))?.status).toBe('running');
    // A GET never acts.
    expect((await get(`${url}/api/runs/s1/cancel`)).status).toBe(404);
    expect((await r.client.getRun('s1'))?.status).toBe('running');
    waiting.delete('s1');
  });

  it('refuses a POST without the CSRF token, with a wrong one, or not as JSON', async () => {
    const r = await rig();
    const { url } = await r.serve({ actions: true });
    await r.client.run(chains.slow, { id: 's2' }, { id: 's2' });
    await eventually(() => waiting.has('s2'), 'the wait step to start');
    const token = await csrfOf(url);
    const missing = await post(`${url}/api/runs/s2/cancel`, {}, { csrf: null });
    expect(missing.status).toBe(403);
    expect(missing.body.error.message).toContain('x-taskchart-csrf');
    expect((await post(`${url}/api/runs/s2/cancel`, {}, { csrf: `${token}x` })).status).toBe(403);
    expect((await post(`${url}/api/runs/s2/cancel`, {}, { csrf: '' })).status).toBe(403);
    // A form post (a cross-site form's only way to POST without a preflight) is refused too.
    const form = await post(`${url}/api/runs/s2/cancel`, 'reason=x', { csrf: token, contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    expect((await post(`${url}/api/runs/s2/cancel`, '{not json', { csrf: token })).status).toBe(400);
    expect((await post(`${url}/api/runs/s2/cancel`, { reason: 'x', force: true }, { csrf: token })).status).toBe(400);
    expect((await r.client.getRun('s2'))?.status).toBe('running');
    // Another dashboard's token is not this one's.
    const other = await r.serve({ actions: true });
    expect((await post(`${url}/api/runs/s2/cancel`, {}, { csrf: await csrfOf(other.url) })).status).toBe(403);
    expect((await r.client.getRun('s2'))?.status).toBe('running');
  });

  it('asks authorize for every request and refuses with 403 when it says no', async () => {
    const r = await rig();
    const asked: string[] = [];
    const { url } = await r.serve({
      actions: true,
      authorize: (req, action) => {
        asked.push(action);
        return action === 'read' ? req.headers['x-user'] !== 'mallory' : req.headers['x-role'] === 'admin';
      },
    });
    await r.client.run(chains.slow, { id: 's3' }, { id: 's3' });
    await eventually(() => waiting.has('s3'), 'the wait step to start');
    expect((await get(`${url}/api/runs`)).status).toBe(200);
    const denied = await get(`${url}/api/runs`, { 'x-user': 'mallory' });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({ name: 'DashboardForbiddenError', message: 'not authorized to read' });
    expect((await get(`${url}/`, { 'x-user': 'mallory' })).status).toBe(403);
    const token = await csrfOf(url);
    const cancel = await post(`${url}/api/runs/s3/cancel`, {}, { csrf: token });
    expect(cancel.status).toBe(403);
    expect(cancel.body.error.message).toBe('not authorized to cancel');
    expect(asked).toContain('cancel');
    expect((await r.client.getRun('s3'))?.status).toBe('running');
  });

  it('cancels a run through the API: it ends cancelled, and its history says who did it', async () => {
    const r = await rig();
    const { url } = await r.serve({ actions: true, actor: (req) => `user:${String(req.headers['x-user'] ?? 'anon')}` });
    await r.client.run(chains.slow, { id: 's4' }, { id: 's4' });
    await eventually(() => waiting.has('s4'), 'the wait step to start');
    const token = await csrfOf(url);
    const res = await post<CancelBody>(`${url}/api/runs/s4/cancel`, { reason: 'customer asked' }, { csrf: token, headers: { 'x-user': 'ann' } });
    expect(res.status).toBe(200);
    expect(res.body.outcome.cancelled).toBe(true);
    await r.until('s4', 'cancelled');
    expect(waiting.get('s4')?.aborted).toBe(true);
    const run = (await get<RunBody>(`${url}/api/runs/s4`)).body.run;
    const cancelled = run.history.filter((e) => e.type === 'run.cancelling' || e.type === 'run.cancelled');
    expect(cancelled.length).toBeGreaterThan(0);
    // The cancel's own entry is signed (the final `run.cancelled` after compensation is the worker's).
    expect(cancelled[0]).toMatchObject({ by: 'user:ann', reason: 'customer asked' });
    expect(run.status).toBe('cancelled');
    // A finished run is left as it is; an unknown one is a 404.
    const again = await post<CancelBody>(`${url}/api/runs/s4/cancel`, {}, { csrf: token });
    expect(again.status).toBe(200);
    expect(again.body.outcome.cancelled).toBe(false);
    expect((await post(`${url}/api/runs/nope/cancel`, {}, { csrf: token })).status).toBe(404);
  });

  it('re-drives a failed run through the API (retry): it completes, and the history says who', async () => {
    const r = await rig();
    const { url } = await r.serve({ actions: true });
    await r.client.run(chains.healable, { id: 'h1' }, { id: 'h1' });
    await r.until('h1', 'failed');
    const token = await csrfOf(url);
    healed.add('h1');
    const res = await post<RunBody>(`${url}/api/runs/h1/retry`, { from: 'failed-step' }, { csrf: token });
    expect(res.status).toBe(200);
    expect(res.body.run.id).toBe('h1');
    await r.until('h1', 'completed');
    const run = (await get<RunBody>(`${url}/api/runs/h1`)).body.run;
    expect(run.output).toEqual({ id: 'h1', healed: true });
    expect(run.history.find((e) => e.type === 'run.redriven')).toMatchObject({ by: 'dashboard' });
    // Re-driving a completed run cannot be done now: 409; a bad `from` is a 400.
    const conflict = await post(`${url}/api/runs/h1/retry`, {}, { csrf: token });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.name).toBe('RuntimeStateError');
    expect((await post(`${url}/api/runs/h1/retry`, { from: 'middle' }, { csrf: token })).status).toBe(400);
    expect((await post(`${url}/api/runs/nope/retry`, {}, { csrf: token })).status).toBe(404);
  });
});
