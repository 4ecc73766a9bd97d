import { chain, machineConfig, task, type ChainDefinition } from '@taskchart/core';
import { describe, expect, it } from 'vitest';
import { GraphCache } from '../src/graph/graph-cache.js';
import { layoutMachine } from '../src/graph/layout.js';
import type { GraphNode, LaidOutGraph } from '../src/graph/types.js';

const quote = task('quote', (x: { user: string }) => ({ ...x, price: 42 }), { compensate: () => undefined });
const charge = task('charge', (x: { user: string; price: number }) => ({ ...x, charged: true }), { compensate: () => undefined });
const notify = task('notify', (x: { user: string; charged: boolean }) => ({ ...x, sent: true }));
const order = chain('order', quote, charge, notify);

/** Every state path of an XState config, dot-joined. */
function statePaths(config: Record<string, unknown>, prefix = ''): string[] {
  const states = config['states'] as Record<string, Record<string, unknown>> | undefined;
  return Object.entries(states ?? {}).flatMap(([key, child]) => [`${prefix}${key}`, ...statePaths(child, `${prefix}${key}.`)]);
}

const inside = (child: GraphNode, parent: GraphNode) =>
  child.x >= parent.x && child.y >= parent.y && child.x + child.width <= parent.x + parent.width && child.y + child.height <= parent.y + parent.height;
const overlap = (a: GraphNode, b: GraphNode) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const onBorder = (p: { x: number; y: number }, n: GraphNode) => {
  const e = 1;
  const withinX = p.x >= n.x - e && p.x <= n.x + n.width + e;
  const withinY = p.y >= n.y - e && p.y <= n.y + n.height + e;
  return (withinX && (Math.abs(p.y - n.y) <= e || Math.abs(p.y - n.y - n.height) <= e)) || (withinY && (Math.abs(p.x - n.x) <= e || Math.abs(p.x - n.x - n.width) <= e));
};

describe('layoutMachine', () => {
  let graph: LaidOutGraph;
  const node = (id: string) => {
    const found = graph.nodes.find((n) => n.id === id);
    if (!found) throw new Error(`no node ${id}`);
    return found;
  };
  const edge = (source: string, target: string, label: string) => graph.edges.find((e) => e.source === source && e.target === target && e.label === label);

  it('lays out a node per state of a real chain, children inside their parents, no sibling overlapping', async () => {
    const config = machineConfig(order);
    graph = await layoutMachine(config);
    expect(graph.nodes.map((n) => n.id).sort()).toEqual(statePaths(config).sort());
    expect(node('quote')).toMatchObject({ kind: 'step', label: 'quote', initial: true });
    expect(node('quote.retrying')).toMatchObject({ kind: 'substate', parent: 'quote' });
    expect(node('compensating')).toMatchObject({ kind: 'group' });
    expect(node('compensating.charge.running')).toMatchObject({ kind: 'substate', parent: 'compensating.charge' });
    for (const id of ['completed', 'compensated', 'failed', 'cancelled']) expect(node(id).kind).toBe('final');
    for (const n of graph.nodes) {
      expect(n.width).toBeGreaterThan(0);
      expect(n.height).toBeGreaterThan(0);
      expect(n.x + n.width).toBeLessThanOrEqual(graph.width);
      expect(n.y + n.height).toBeLessThanOrEqual(graph.height);
      if (n.parent !== undefined) expect(inside(n, node(n.parent)), `${n.id} inside ${n.parent}`).toBe(true);
    }
    for (const a of graph.nodes) {
      for (const b of graph.nodes) {
        if (a !== b && a.parent === b.parent) expect(overlap(a, b), `${a.id} overlaps ${b.id}`).toBe(false);
      }
    }
  });

  it('has the done, error, retry and cancel edges, each routed from its source box to its target box', () => {
    expect(edge('quote.running', 'charge', 'done')).toBeDefined();
    expect(edge('notify.running', 'completed', 'done')).toBeDefined();
    expect(edge('quote.running', 'quote.retrying', 'error')).toBeDefined();
    expect(edge('quote.retrying', 'quote.running', 'retryDelay')).toBeDefined();
    expect(edge('quote.running', 'failed', 'error')).toBeDefined();
    // notify fails for good: the completed compensable steps are undone, newest first.
    expect(edge('notify.running', 'compensating.charge', 'error')).toBeDefined();
    expect(edge('compensating.charge.running', 'compensating.quote', 'done')).toBeDefined();
    expect(edge('compensating.quote.running', 'compensated', 'done')).toBeDefined();
    expect(edge('compensating.charge.retrying', 'compensating.charge.running', 'retryDelay')).toBeDefined();
    expect(edge('charge', 'compensating.quote', 'cancel')).toBeDefined();
    expect(edge('quote', 'cancelled', 'cancel')).toBeDefined();
    expect(edge('compensating', 'cancelled', 'cancel')).toBeDefined();
    expect(new Set(graph.edges.map((e) => e.id)).size).toBe(graph.edges.length);
    for (const e of graph.edges) {
      expect(e.points.length, e.id).toBeGreaterThanOrEqual(2);
      const first = e.points[0];
      const last = e.points[e.points.length - 1];
      if (!first || !last) throw new Error('no points');
      expect(onBorder(first, node(e.source)), `${e.id} ${e.source} -> ${e.target} starts on its source`).toBe(true);
      expect(onBorder(last, node(e.target)), `${e.id} ${e.source} -> ${e.target} ends on its target`).toBe(true);
    }
  });

  it('puts a step\'s running and retrying side by side', () => {
    const running = node('charge.running');
    const retrying = node('charge.retrying');
    expect(running.y).toBe(retrying.y);
    expect(running.x + running.width).toBeLessThan(retrying.x);
  });

  it('lays out a chain without compensations: no compensating group, failures go to failed', async () => {
    const single = await layoutMachine(machineConfig(chain('single', notify)));
    expect(single.nodes.map((n) => n.id).sort()).toEqual(['cancelled', 'compensated', 'completed', 'failed', 'notify', 'notify.retrying', 'notify.running']);
    expect(single.edges.some((e) => e.source === 'notify.running' && e.target === 'failed' && e.label === 'error')).toBe(true);
  });

  it('takes the machine as stored JSON (a round trip through JSON.stringify)', async () => {
    const stored = JSON.parse(JSON.stringify(order.machine.config)) as Record<string, unknown>;
    const again = await layoutMachine(stored);
    expect(again.nodes.map((n) => n.id).sort()).toEqual(graph.nodes.map((n) => n.id).sort());
    expect(again.edges.length).toBe(graph.edges.length);
  });

  it('rejects a value that is not a machine config', async () => {
    await expect(layoutMachine({ id: 'x' })).rejects.toMatchObject({ name: 'InvalidOptionError', message: expect.stringContaining('states') as unknown });
  });
});

describe('GraphCache', () => {
  const definition = (version: number, fingerprint: string): ChainDefinition => ({ chain: 'order', version, fingerprint, machine: machineConfig(order), steps: [], recordedAt: 0 });

  it('lays out each chain version once, shares the layout between concurrent asks, and forgets the oldest past its size', async () => {
    const cache = new GraphCache(2);
    const [a, b] = await Promise.all([cache.get(definition(1, 'f1')), cache.get(definition(1, 'f1'))]);
    expect(a).toBe(b);
    expect(await cache.get(definition(1, 'f1'))).toBe(a);
    const other = await cache.get(definition(1, 'f1-changed'));
    expect(other).not.toBe(a);
    await cache.get(definition(2, 'f2')); // a third key: the least recently used (f1) goes
    expect(await cache.get(definition(1, 'f1-changed'))).toBe(other);
    expect(await cache.get(definition(1, 'f1'))).not.toBe(a);
  });
});
