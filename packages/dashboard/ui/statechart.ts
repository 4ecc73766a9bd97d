/**
 * Draws a laid-out chain statechart as SVG: compound boxes for steps and `compensating`, pills for
 * `running`/`retrying`, double-bordered finals, orthogonal edges with their event. The run's
 * current states are lit, the states and edges it went through are marked.
 */
import { s } from './dom.js';
import type { RunPath } from './state-path.js';
import type { GraphEdge, GraphNode, LaidOutGraph } from './types.js';

export interface Highlight {
  /** Node ids the run is in now. */
  readonly active: ReadonlySet<string>;
  readonly path: RunPath;
  /** The run's status, which colours the lit states. */
  readonly status: string;
}

const ARROW_ID = 'tc-arrow';

function defs(): SVGDefsElement {
  const marker = (id: string, cls: string) =>
    s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: cls }, s('path', { d: 'M0,1 L9,5 L0,9 z' }));
  return s('defs', {}, marker(ARROW_ID, 'arrow'), marker(`${ARROW_ID}-taken`, 'arrow taken'), marker(`${ARROW_ID}-muted`, 'arrow muted'));
}

function edgePath(edge: GraphEdge): string {
  return edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
}

function drawEdge(edge: GraphEdge, taken: boolean): SVGGElement {
  const muted = edge.label === 'cancel' && !taken;
  const cls = ['edge', `edge-${edge.label.replace(/[^A-Za-z0-9_-]/g, '_')}`, taken ? 'taken' : '', muted ? 'muted' : ''].filter(Boolean).join(' ');
  const marker = taken ? `${ARROW_ID}-taken` : muted ? `${ARROW_ID}-muted` : ARROW_ID;
  const g = s('g', { class: cls, 'data-testid': 'state-edge', 'data-edge-id': edge.id, 'data-source': edge.source, 'data-target': edge.target, 'data-taken': taken ? 'true' : undefined });
  g.append(s('path', { d: edgePath(edge), 'marker-end': `url(#${marker})` }));
  if (edge.labelAt) {
    const width = edge.label.length * 6.4 + 8;
    g.append(
      s('rect', { class: 'edge-label-bg', x: edge.labelAt.x - 1, y: edge.labelAt.y, width, height: 15, rx: 3 }),
      s('text', { class: 'edge-label', x: edge.labelAt.x + 3, y: edge.labelAt.y + 11 }, edge.label),
    );
  }
  return g;
}

function badge(x: number, y: number, text: string, cls: string, title: string): SVGGElement {
  const width = text.length * 6.6 + 12;
  return s('g', { class: `badge ${cls}` }, s('title', {}, title), s('rect', { x: x - width, y, width, height: 16, rx: 8 }), s('text', { x: x - width / 2, y: y + 11.5, 'text-anchor': 'middle' }, text));
}

function drawNode(node: GraphNode, lit: Highlight): SVGGElement {
  const active = lit.active.has(node.id);
  const visited = lit.path.visited.has(node.id);
  const marks = lit.path.marks.get(node.id);
  const cls = ['node', node.kind, active ? `active status-${lit.status}` : '', visited ? 'visited' : '', marks?.failed ? 'failed-step' : ''].filter(Boolean).join(' ');
  const g = s('g', {
    class: cls,
    'data-testid': 'state-node',
    'data-state-id': node.id,
    'data-kind': node.kind,
    'data-active': active ? 'true' : undefined,
    'data-visited': visited ? 'true' : undefined,
  });
  g.append(s('title', {}, node.id));
  const { x, y, width, height } = node;
  if (node.kind === 'step' || node.kind === 'group') {
    g.append(s('rect', { class: 'box', x, y, width, height, rx: node.kind === 'group' ? 12 : 10 }));
    g.append(s('text', { class: 'title', x: x + 12, y: y + 19 }, node.kind === 'group' ? node.label.toUpperCase() : node.label));
    if (marks) {
      let right = x + width - 8;
      const add = (text: string, c: string, title: string) => {
        const b = badge(right, y + 7, text, c, title);
        g.append(b);
        right -= text.length * 6.6 + 16;
      };
      if (marks.failed) add('failed', 'failed', 'failed for good');
      if (marks.compensated) add('undone', 'compensated', 'compensated');
      if (marks.completed && !marks.compensated) add('done', 'done', 'completed');
      if (marks.retries > 0) add(`${marks.retries} ${marks.retries === 1 ? 'retry' : 'retries'}`, 'retries', 'retried');
    }
    return g;
  }
  if (node.kind === 'final') {
    g.append(s('rect', { class: 'box', x, y, width, height, rx: 8 }));
    g.append(s('rect', { class: 'inner', x: x + 3.5, y: y + 3.5, width: width - 7, height: height - 7, rx: 5 }));
  } else {
    g.append(s('rect', { class: 'box', x, y, width, height, rx: height / 2 }));
  }
  g.append(s('text', { class: 'label', x: x + width / 2, y: y + height / 2 + 4.5, 'text-anchor': 'middle' }, node.label));
  return g;
}

/** The statechart of `graph`, lit by `lit`. */
export function drawStatechart(graph: LaidOutGraph, lit: Highlight): SVGSVGElement {
  const svg = s('svg', {
    class: 'statechart',
    'data-testid': 'statechart',
    viewBox: `0 0 ${graph.width} ${graph.height}`,
    width: graph.width,
    height: graph.height,
    role: 'img',
    'aria-label': `Statechart; current state: ${[...lit.active].join(', ') || 'none'}`,
  });
  svg.append(defs());
  // Boxes first (parents before children, as the layout lists them), then every edge over them.
  // A final state nothing leads to (`compensated` in a chain without compensations) is left out.
  const reachable = new Set(graph.edges.map((e) => e.target));
  const nodes = s('g', { class: 'nodes' });
  // The machine's initial state: a dot with an arrow into it (over its own initial substate, if any).
  const first = graph.nodes.find((n) => n.initial && n.parent === undefined);
  if (first) {
    const into = graph.nodes.find((n) => n.initial && n.parent === first.id) ?? first;
    const x = into.x + into.width / 2;
    nodes.append(s('g', { class: 'initial', 'aria-hidden': 'true' }, s('circle', { cx: x, cy: first.y - 20, r: 4.5 }), s('path', { d: `M${x},${first.y - 15} L${x},${first.y}`, 'marker-end': `url(#${ARROW_ID})` })));
  }
  for (const node of graph.nodes) {
    if (node.kind === 'final' && !reachable.has(node.id) && !lit.active.has(node.id)) continue;
    nodes.append(drawNode(node, lit));
  }
  const edges = s('g', { class: 'edges' });
  const ordered = [...graph.edges].sort((a, b) => Number(lit.path.taken.has(a.id)) - Number(lit.path.taken.has(b.id)));
  for (const edge of ordered) edges.append(drawEdge(edge, lit.path.taken.has(edge.id)));
  svg.append(nodes, edges);
  return svg;
}
