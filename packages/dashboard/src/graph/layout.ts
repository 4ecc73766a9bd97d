/**
 * Lays a chain's statechart out with ELK (elkjs: the layered layout engine Stately's own editor
 * uses), so the dashboard draws boxes where a layout algorithm put them instead of by hand.
 * `compensating` is a compound node; a step is a compound node too, whose atomic substates
 * (`running`, `retrying`) sit in one row in the config's order: ELK places the step as a box with
 * a port under each substate that has transitions leaving the step, and routes every edge
 * orthogonally across the hierarchy.
 */
import elk, { type ElkExtendedEdge, type ElkNode, type ElkPort } from 'elkjs/lib/elk.bundled.js';
import { readMachine, type StateNode, type Transition } from './machine-graph.js';
import type { GraphEdge, GraphNode, GraphPoint, LaidOutGraph } from './types.js';

/** The ELK constructor: the CommonJS module's export, which is also its own `default`. */
const ELK = elk.default;

const LEAF_HEIGHT = 34;
const CHAR_WIDTH = 7.2;
const LABEL_HEIGHT = 16;
/** Room above a compound node's children for its title. */
const TITLE_SPACE = 30;
/** A step's padding, and the room between two substates for a pair of labelled arrows. */
const ROW_PADDING = 14;
const ROW_GAP = 84;

const ROOT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.nodeNode': '28',
  'elk.spacing.edgeNode': '14',
  'elk.spacing.edgeEdge': '10',
  'elk.spacing.edgeLabel': '4',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.padding': '[top=32,left=16,bottom=16,right=16]',
  // Answer every shape and every edge in the root's coordinates (absolute), whatever contains it.
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
};
const GROUP_OPTIONS: Record<string, string> = {
  'elk.padding': `[top=${TITLE_SPACE},left=14,bottom=14,right=14]`,
  'elk.spacing.nodeNode': '22',
  'elk.layered.spacing.nodeNodeBetweenLayers': '26',
};

const textWidth = (text: string) => Math.ceil(text.length * CHAR_WIDTH);
const round = (value: number | undefined) => Math.round((value ?? 0) * 10) / 10;
const point = (p: GraphPoint): GraphPoint => ({ x: round(p.x), y: round(p.y) });

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

function leafSize(state: StateNode): { width: number; height: number } {
  return { width: Math.max(state.kind === 'final' ? 104 : 86, textWidth(state.label) + 28), height: LEAF_HEIGHT };
}

/**
 * A compound state whose children are all atomic (a step): drawn as a row. Answers its size and
 * each child's box relative to it.
 */
function rowLayout(state: StateNode, byId: ReadonlyMap<string, StateNode>): { width: number; height: number; children: Map<string, Box> } {
  const sizes = state.children.map((id) => {
    const child = byId.get(id);
    return { id, ...(child ? leafSize(child) : { width: 86, height: LEAF_HEIGHT }) };
  });
  const rowWidth = sizes.reduce((sum, s) => sum + s.width, 0) + ROW_GAP * Math.max(0, sizes.length - 1);
  // Room for the title and for the badges the dashboard draws on the right of it.
  const width = Math.max(rowWidth + 2 * ROW_PADDING, textWidth(state.label) + 130);
  const children = new Map<string, Box>();
  let x = (width - rowWidth) / 2;
  for (const s of sizes) {
    children.set(s.id, { x, y: TITLE_SPACE, width: s.width, height: s.height });
    x += s.width + ROW_GAP;
  }
  return { width, height: TITLE_SPACE + LEAF_HEIGHT + ROW_PADDING, children };
}

/** The ancestors of `id`, nearest first (`a.b.c` -> `a.b`, `a`). */
function ancestors(id: string, byId: ReadonlyMap<string, StateNode>): string[] {
  const out: string[] = [];
  for (let parent = byId.get(id)?.parent; parent !== undefined; parent = byId.get(parent)?.parent) out.push(parent);
  return out;
}

/** Where ELK wants an edge declared: the lowest common ancestor of its ends (undefined: the root). */
function containerOf(source: string, target: string, byId: ReadonlyMap<string, StateNode>): string | undefined {
  const up = new Set([source, ...ancestors(source, byId)]);
  for (const candidate of ancestors(target, byId)) if (up.has(candidate) && candidate !== source) return candidate;
  return undefined;
}

/** A straight arrow between two boxes side by side: left to right above the middle, back below it. */
function innerRoute(source: Box, target: Box, labelWidth: number): { points: GraphPoint[]; labelAt: GraphPoint } {
  const forward = source.x < target.x;
  const y = source.y + source.height / 2 + (forward ? -7 : 7);
  const from = forward ? source.x + source.width : source.x;
  const to = forward ? target.x : target.x + target.width;
  const middle = (from + to) / 2;
  return {
    points: [point({ x: from, y }), point({ x: to, y })],
    labelAt: point({ x: middle - labelWidth / 2, y: forward ? y - LABEL_HEIGHT - 1 : y + 2 }),
  };
}

/**
 * Lays out `machine` (an XState machine config as JSON: `machineConfig(chain)`, or a stored
 * `ChainDefinition.machine`): a node per state with absolute boxes, children inside their parents,
 * and an edge per transition (`done`, `error`, the `after` delays, events such as `cancel`).
 * Throws InvalidOptionError when `machine` has no `states`.
 */
export async function layoutMachine(machine: Record<string, unknown>): Promise<LaidOutGraph> {
  const { states, transitions } = readMachine(machine);
  const byId = new Map(states.map((s) => [s.id, s]));
  const isRow = (state: StateNode | undefined) => state !== undefined && state.children.length > 0 && state.children.every((c) => byId.get(c)?.children.length === 0);
  const rows = new Map<string, ReturnType<typeof rowLayout>>();
  for (const state of states) if (isRow(state)) rows.set(state.id, rowLayout(state, byId));
  /** The row a state sits in (its parent), if it does. */
  const rowOf = (id: string) => {
    const parent = byId.get(id)?.parent;
    return parent !== undefined && rows.has(parent) ? parent : undefined;
  };

  const elkNodes = new Map<string, ElkNode>();
  const root: ElkNode = { id: '__root', layoutOptions: ROOT_OPTIONS, children: [], edges: [] };
  for (const state of states) {
    if (rowOf(state.id) !== undefined) continue; // placed by its row
    const row = rows.get(state.id);
    const node: ElkNode = row
      ? { id: state.id, width: row.width, height: row.height, ports: [], layoutOptions: { 'elk.portConstraints': 'FIXED_POS' } }
      : state.children.length > 0
        ? {
            id: state.id,
            children: [],
            edges: [],
            layoutOptions: { ...GROUP_OPTIONS, 'elk.nodeSize.minimum': `(${textWidth(state.label) + 40}, ${TITLE_SPACE + 20})`, 'elk.nodeSize.constraints': 'MINIMUM_SIZE' },
          }
        : { id: state.id, ...leafSize(state) };
    elkNodes.set(state.id, node);
    const parent = state.parent === undefined ? root : elkNodes.get(state.parent);
    parent?.children?.push(node);
  }

  // A port under (edges out) or over (edges in) a substate, where an edge leaves or enters its row;
  // an edge into a step enters over its initial substate, so a step's way in and way out line up.
  const portOf = (id: string, side: 'out' | 'in'): string => {
    const entered = side === 'in' && rows.has(id) ? byId.get(id) : undefined;
    const row = entered ? id : rowOf(id);
    if (row === undefined) return id;
    const node = elkNodes.get(row);
    const layout = rows.get(row);
    const at = entered ? (entered.children.find((c) => byId.get(c)?.initial) ?? entered.children[0] ?? '') : id;
    const box = layout?.children.get(at);
    const portId = `${id}#${side}`;
    if (node && layout && box && !node.ports?.some((p) => p.id === portId)) {
      const port: ElkPort = { id: portId, width: 0, height: 0, x: box.x + box.width / 2, y: side === 'out' ? layout.height : 0, layoutOptions: { 'elk.port.side': side === 'out' ? 'SOUTH' : 'NORTH' } };
      node.ports?.push(port);
    }
    return portId;
  };
  const inner = transitions.filter((t) => rowOf(t.source) !== undefined && rowOf(t.source) === rowOf(t.target));
  for (const t of transitions) {
    if (inner.includes(t)) continue;
    const container = containerOf(rowOf(t.source) ?? t.source, rowOf(t.target) ?? t.target, byId);
    const owner = container === undefined ? root : (elkNodes.get(container) ?? root);
    const edge: ElkExtendedEdge = {
      id: t.id,
      sources: [portOf(t.source, 'out')],
      targets: [portOf(t.target, 'in')],
      labels: [{ id: `${t.id}-label`, text: t.label, width: textWidth(t.label) + 6, height: LABEL_HEIGHT }],
      // The way forward (`done`) is drawn straight where it can be; cancels give way to everything.
      ...(t.label === 'done' ? { layoutOptions: { 'elk.layered.priority.straightness': '10' } } : {}),
    };
    owner.edges?.push(edge);
  }

  const laid = await new ELK().layout(root);

  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const boxes = new Map<string, Box>();
  const add = (state: StateNode, box: Box) => {
    const rounded = { x: round(box.x), y: round(box.y), width: round(box.width), height: round(box.height) };
    boxes.set(state.id, rounded);
    nodes.push({
      id: state.id,
      label: state.label,
      kind: state.kind,
      ...(state.parent === undefined ? {} : { parent: state.parent }),
      ...(state.initial ? { initial: true } : {}),
      ...rounded,
    });
  };
  const byTransition = new Map<string, Transition>(transitions.map((t) => [t.id, t]));
  const walk = (node: ElkNode): void => {
    for (const child of node.children ?? []) {
      const state = byId.get(child.id);
      if (!state) continue;
      const box = { x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? 0, height: child.height ?? 0 };
      add(state, box);
      for (const [id, rel] of rows.get(state.id)?.children ?? []) {
        const sub = byId.get(id);
        if (sub) add(sub, { x: box.x + rel.x, y: box.y + rel.y, width: rel.width, height: rel.height });
      }
      walk(child);
    }
    for (const edge of node.edges ?? []) {
      const t = byTransition.get(edge.id);
      if (!t) continue;
      const points: GraphPoint[] = [];
      for (const section of edge.sections ?? []) points.push(point(section.startPoint), ...(section.bendPoints ?? []).map(point), point(section.endPoint));
      const label = edge.labels?.[0];
      edges.push({
        id: t.id,
        source: t.source,
        target: t.target,
        label: t.label,
        points,
        ...(label?.x === undefined || label.y === undefined ? {} : { labelAt: { x: round(label.x), y: round(label.y) } }),
      });
    }
  };
  walk(laid);
  // Edges through a port start (end) at their substate's box, not at the row's border.
  const routed = edges.map((edge): GraphEdge => {
    const points = [...edge.points];
    const source = rowOf(edge.source) === undefined ? undefined : boxes.get(edge.source);
    const target = rowOf(edge.target) === undefined ? undefined : boxes.get(edge.target);
    const first = points[0];
    const last = points[points.length - 1];
    if (source && first) points.unshift(point({ x: first.x, y: source.y + source.height }));
    if (target && last) points.push(point({ x: last.x, y: target.y }));
    return { ...edge, points };
  });
  for (const t of inner) {
    const source = boxes.get(t.source);
    const target = boxes.get(t.target);
    if (source && target) routed.push({ ...t, ...innerRoute(source, target, textWidth(t.label) + 6) });
  }
  routed.sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1)));
  return { width: round(laid.width), height: round(laid.height), nodes, edges: routed };
}
