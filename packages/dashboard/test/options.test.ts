import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@taskchart/core';
import { createDashboard, startDashboard, type DashboardOptions } from '../src/index.js';
import { fastifyDashboard } from '../src/fastify.js';
import { honoDashboard } from '../src/hono.js';
import { chains, rigs } from './rig.js';

const rig = rigs();

describe('dashboard options', () => {
  it('rejects unknown and invalid options, naming the option', async () => {
    const r = await rig();
    const client = r.client;
    const bad = (options: unknown) => () => createDashboard(options as DashboardOptions);
    expect(bad({ client, action: true })).toThrow(new InvalidOptionError('createDashboard: action', 'unknown option; did you mean "actions"? valid options: client, basePath, actions, authorize, actor, redact, title, uiDir'));
    expect(bad({})).toThrow(/createDashboard: client: is required/);
    expect(bad({ client: {} })).toThrow(/createDashboard: client: must be a Taskchart client/);
    expect(bad({ client, actions: 'yes' })).toThrow(/createDashboard: actions: must be true or false/);
    expect(bad({ client, basePath: 'taskchart' })).toThrow(/createDashboard: basePath: must be a URL path starting with "\/"/);
    expect(bad({ client, basePath: '/a/../b' })).toThrow(/basePath/);
    expect(bad({ client, basePath: '/a b' })).toThrow(/basePath/);
    expect(bad({ client, authorize: true })).toThrow(/createDashboard: authorize: must be a function/);
    expect(bad({ client, actor: 'me' })).toThrow(/createDashboard: actor: must be a function/);
    expect(bad({ client, redact: [''] })).toThrow(/createDashboard: redact\[0\]/);
    expect(bad({ client, title: '' })).toThrow(/createDashboard: title/);
    expect(() => fastifyDashboard({ client, colour: 1 } as unknown as DashboardOptions)).toThrow(/^fastifyDashboard: colour/);
    expect(() => honoDashboard({ client, colour: 1 } as unknown as DashboardOptions)).toThrow(/^honoDashboard: colour/);
    await expect(startDashboard({ client, port: 70_000 })).rejects.toThrow(/startDashboard: port/);
    await expect(startDashboard({ client, colour: 1 } as unknown as DashboardOptions)).rejects.toThrow(/startDashboard: colour/);
  });

  it('redacts the extra keys given, on top of the defaults', async () => {
    const r = await rig();
    const { url } = await r.serve({ redact: ['user', /^pri/] });
    await r.client.run(chains.order, { user: 'ann', password: 'x' }, { id: 'o1' });
    await r.until('o1', 'completed');
    const run = ((await (await fetch(`${url}/api/runs/o1`)).json()) as { run: { input: unknown; output: unknown } }).run;
    expect(run.input).toEqual({ user: '[Filtered]', password: '[Filtered]' });
    expect(run.output).toEqual({ user: '[Filtered]', sent: true });
  });
});
