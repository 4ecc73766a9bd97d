/**
 * A chain's statechart laid out for drawing: what `layoutMachine` answers and what the dashboard's
 * browser app draws as SVG. Plain data (JSON as served by `GET /api/chains/<chain>/versions/<v>`).
 * Every coordinate is absolute (from the drawing's top-left corner), in CSS pixels.
 */

/** What a box stands for. */
export type GraphNodeKind =
  /** A step of the chain (a top-level state with `running`/`retrying`), or a compensation of one. */
  | 'step'
  /** An atomic state inside a step: `running` or `retrying`. */
  | 'substate'
  /** A state that only groups others: `compensating`. */
  | 'group'
  /** A final state: `completed`, `compensated`, `failed`, `cancelled`. */
  | 'final';

export interface GraphNode {
  /** The state's path, dot-joined: `quote`, `quote.retrying`, `compensating.charge.running`, `completed`. */
  readonly id: string;
  /** The state's own key (the last segment of `id`). */
  readonly label: string;
  readonly kind: GraphNodeKind;
  /** The id of the enclosing state, absent for a top-level state. */
  readonly parent?: string;
  /** Whether it is its parent's (or the machine's) initial state. */
  readonly initial?: boolean;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphPoint {
  readonly x: number;
  readonly y: number;
}

export interface GraphEdge {
  readonly id: string;
  /** Node ids. */
  readonly source: string;
  readonly target: string;
  /** The event: `done`, `error`, `retryDelay` (an `after` delay by its name), `cancel`, or an event's name. */
  readonly label: string;
  /** The route, start to end (an absolute polyline). */
  readonly points: readonly GraphPoint[];
  /** Where the layout put the label's top-left corner, when it placed one. */
  readonly labelAt?: GraphPoint;
}

export interface LaidOutGraph {
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}
