import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve, type HttpBindings } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createDashboard, startDashboard } from '../src/index.js';
import { fastifyDashboard } from '../src/fastify.js';
import { honoDashboard } from '../src/hono.js';
import { chains, eventually, rigs, waiting, type Rig } from './rig.js';
import { get, getText, post, type CancelBody, type ConfigBody } from './http.js';
import { openSse } from './sse-reader.js';

const rig = rigs();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** The same checks through every adapter: config, the page's base, a live stream, and a cancel (a JSON body read through the framework). */
async function exercise(r: Rig, base: string, id: string): Promise<void> {
  const config = await get<ConfigBody>(`${base}/api/config`);
  expect(config.status).toBe(200);
  expect(config.body.actions).toBe(true);
  expect(config.body.chains).toContain('order');
  const page = await getText(`${base}/`);
  expect(page.status).toBe(200);
  expect(page.body).toContain(`content="${new URL(base).pathname}"`);
  expect((await getText(`${base}/assets/style.css`)).body).toBe('body{}');

  await r.client.run(chains.slow, { id }, { id });
  const stream = await openSse(`${base}/api/runs/${id}/stream`);
  await eventually(() => waiting.has(id), 'the wait step to start');
  const cancel = await post<CancelBody>(`${base}/api/runs/${id}/cancel`, { reason: 'adapter test' }, { csrf: config.body.csrfToken });
  expect(cancel.status).toBe(200);
  expect(cancel.body.outcome.cancelled).toBe(true);
  await eventually(() => stream.messages.some((m) => m.data.type === 'run.cancelled'), 'run.cancelled on the stream');
  expect(stream.messages.find((m) => m.data.type === 'run.cancelling')?.data).toMatchObject({ reason: 'adapter test', by: 'dashboard' });
  stream.close();
  expect((await post(`${base}/api/runs/${id}/cancel`, {}, { csrf: 'wrong' })).status).toBe(403);
}

describe('mounting the dashboard', () => {
  it('node:http: the handler with a basePath', async () => {
    const r = await rig();
    const { url } = await r.serve({ basePath: '/taskchart', actions: true });
    await exercise(r, url, 'n1');
  });

  it('Express 5: app.use("/taskchart", handler), other routes untouched', async () => {
    const r = await rig();
    const dashboard = createDashboard({ client: r.client, uiDir: r.uiDir, actions: true });
    const app = express();
    app.use(express.json()); // an app-wide body parser: the dashboard still reads its own POST bodies
    app.use('/taskchart', dashboard.handler);
    app.get('/health', (_req, res) => void res.send('ok'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    closers.push(() => dashboard.close(), () => closeServer(server));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await getText(`${origin}/health`)).body).toBe('ok');
    await exercise(r, `${origin}/taskchart`, 'e1');
  });

  it('Fastify 5: app.register(fastifyDashboard(options), { prefix })', async () => {
    const r = await rig();
    const app = Fastify();
    await app.register(fastifyDashboard({ client: r.client, uiDir: r.uiDir, actions: true }), { prefix: '/taskchart' });
    app.get('/health', async () => 'ok');
    closers.push(() => app.close());
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await getText(`${origin}/health`)).body).toBe('ok');
    await exercise(r, `${origin}/taskchart`, 'fa1');
  });

  it('Hono on @hono/node-server: app.use("/taskchart/*", honoDashboard(options))', async () => {
    const r = await rig();
    const dashboard = honoDashboard({ client: r.client, uiDir: r.uiDir, actions: true, basePath: '/taskchart' });
    const app = new Hono<{ Bindings: HttpBindings }>();
    app.use('/taskchart/*', dashboard);
    app.get('/health', (c) => c.text('ok'));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => (server.listening ? resolve(undefined) : server.once('listening', resolve)));
    closers.push(() => dashboard.close(), () => closeServer(server));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await getText(`${origin}/health`)).body).toBe('ok');
    await exercise(r, `${origin}/taskchart`, 'h1');
  });

  it('standalone: startDashboard({ client, port: 0 })', async () => {
    const r = await rig();
    const started = await startDashboard({ client: r.client, uiDir: r.uiDir, actions: true, port: 0, basePath: '/tc' });
    closers.push(() => started.close());
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tc\/$/);
    await exercise(r, started.url.replace(/\/$/, ''), 's1');
    await started.close();
    await expect(fetch(`${started.url}api/config`)).rejects.toThrow();
  });
});
