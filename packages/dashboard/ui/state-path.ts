/**
 * Where a run is in its statechart, and how it got there: the nodes its XState state value lights,
 * and, from its history, the states it went through and the edges it took.
 */
import type { GraphEdge, HistoryEntry, LaidOutGraph, StateValue } from './types.js';

/** The node ids a state value lights: `{ quote: 'retrying' }` -> `quote`, `quote.retrying`. */
export function activeNodeIds(state: StateValue | undefined, prefix = ''): string[] {
  if (state === undefined) return [];
  if (typeof state === 'string') return [`${prefix}${state}`];
  return Object.entries(state).flatMap(([key, value]) => [`${prefix}${key}`, ...activeNodeIds(value, `${prefix}${key}.`)]);
}

/** What happened to one step, from the history: shown as badges on its box. */
export interface StepMarks {
  completed: boolean;
  retries: number;
  failed: boolean;
  compensated: boolean;
}

export interface RunPath {
  /** Every node the run has been in (with their ancestors). */
  readonly visited: ReadonlySet<string>;
  /** The edges it took, in order (ids). */
  readonly taken: ReadonlySet<string>;
  /** By step node id (`quote`, `compensating.quote`). */
  readonly marks: ReadonlyMap<string, StepMarks>;
}

/** The leaf state an entry puts the run in, if it moves it. */
function positionOf(entry: HistoryEntry): string | undefined {
  const step = entry.step;
  switch (entry.type) {
    case 'step.started':
      return step === undefined ? undefined : `${step}.running`;
    case 'step.retrying':
      return step === undefined ? undefined : `${step}.retrying`;
    case 'compensation.started':
      return step === undefined ? undefined : `compensating.${step}.running`;
    case 'compensation.retrying':
      return step === undefined ? undefined : `compensating.${step}.retrying`;
    case 'run.completed':
      return 'completed';
    case 'run.failed':
      return 'failed';
    case 'run.compensated':
      return 'compensated';
    case 'run.cancelled':
      return 'cancelled';
    default:
      return undefined;
  }
}

const lineage = (id: string): string[] => id.split('.').map((_, i, parts) => parts.slice(0, parts.length - i).join('.'));

/** The edge that best explains a move from `from` to `to`: the most specific ends; a cancel only when one happened. */
function edgeFor(edges: readonly GraphEdge[], from: string, to: string, cancelled: boolean): GraphEdge | undefined {
  const sources = lineage(from);
  const targets = lineage(to);
  let best: { edge: GraphEdge; score: number } | undefined;
  for (const edge of edges) {
    const si = sources.indexOf(edge.source);
    const ti = targets.indexOf(edge.target);
    if (si < 0 || ti < 0) continue;
    const score = (edge.label === 'cancel') === cancelled ? 0 : 100;
    const total = score + si + ti;
    if (!best || total < best.score) best = { edge, score: total };
  }
  return best?.edge;
}

function marksFor(marks: Map<string, StepMarks>, id: string): StepMarks {
  let m = marks.get(id);
  if (!m) {
    m = { completed: false, retries: 0, failed: false, compensated: false };
    marks.set(id, m);
  }
  return m;
}

/** The path `history` took through `graph`. */
export function runPath(history: readonly HistoryEntry[], graph: LaidOutGraph, failedStep?: string): RunPath {
  const nodeIds = new Set(graph.nodes.map((n) => n.id));
  const visited = new Set<string>();
  const taken = new Set<string>();
  const marks = new Map<string, StepMarks>();
  let previous: string | undefined;
  history.forEach((entry, index) => {
    const step = entry.step;
    if (step !== undefined) {
      if (entry.type === 'step.completed') marksFor(marks, step).completed = true;
      if (entry.type === 'step.retrying') marksFor(marks, step).retries += 1;
      if (entry.type === 'compensation.retrying') marksFor(marks, `compensating.${step}`).retries += 1;
      if (entry.type === 'compensation.completed') {
        marksFor(marks, step).compensated = true;
        marksFor(marks, `compensating.${step}`).completed = true;
      }
      if (entry.type === 'compensation.failed' && failedStep === undefined) marksFor(marks, `compensating.${step}`).failed = true;
    }
    if (entry.type === 'run.redriven') {
      previous = undefined;
      return;
    }
    const position = positionOf(entry);
    if (position === undefined || !nodeIds.has(position)) return;
    // The move was the cancel event's own: announced by `run.cancelling`, or straight to `cancelled`
    // (not after the last compensation of a cancel, whose `done` ends the run `cancelled`).
    const before = history[index - 1]?.type;
    const cancelled = before === 'run.cancelling' || (entry.type === 'run.cancelled' && before !== 'compensation.completed');
    for (const id of lineage(position)) visited.add(id);
    if (previous !== undefined && previous !== position) {
      const edge = edgeFor(graph.edges, previous, position, cancelled);
      if (edge) taken.add(edge.id);
    }
    previous = position;
  });
  if (failedStep !== undefined && nodeIds.has(failedStep)) marksFor(marks, failedStep).failed = true;
  return { visited, taken, marks };
}
