/**
 * Laid-out statecharts, kept per chain version and fingerprint: a definition never changes once
 * recorded, and laying one out costs elkjs 0.5–2 s, so each is laid out once (concurrent asks
 * share the work). The oldest entries go past `max`; a layout that failed is asked again.
 */
import type { ChainDefinition } from '@taskchart/core';
import { layoutMachine } from './layout.js';
import type { LaidOutGraph } from './types.js';

export class GraphCache {
  private readonly graphs = new Map<string, Promise<LaidOutGraph>>();

  constructor(private readonly max = 200) {}

  get(definition: ChainDefinition): Promise<LaidOutGraph> {
    const key = JSON.stringify([definition.chain, definition.version, definition.fingerprint]);
    const cached = this.graphs.get(key);
    if (cached) {
      // Most recently used last: Map keeps insertion order.
      this.graphs.delete(key);
      this.graphs.set(key, cached);
      return cached;
    }
    const graph = layoutMachine(definition.machine);
    this.graphs.set(key, graph);
    graph.catch(() => {
      if (this.graphs.get(key) === graph) this.graphs.delete(key);
    });
    for (const oldest of this.graphs.keys()) {
      if (this.graphs.size <= this.max) break;
      this.graphs.delete(oldest);
    }
    return graph;
  }
}
