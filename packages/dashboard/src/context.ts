/** What every route handler gets: the request, its parsed URL and route parameters, and the dashboard's parts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventHub } from './event-hub.js';
import type { GraphCache } from './graph/graph-cache.js';
import type { CompiledDashboardOptions } from './options.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The route's parameters, decoded. */
  readonly params: readonly string[];
  /** The path the dashboard answers under, as the browser sees it (`''` for the root). */
  readonly base: string;
  readonly options: CompiledDashboardOptions;
  readonly csrfToken: string;
  readonly hub: EventHub;
  /** Each chain version's laid-out statechart, laid out once. */
  readonly graphs: GraphCache;
  /** Registers a stop function for a long-lived response (a stream), called by `close()`. */
  readonly hold: (stop: () => void) => () => void;
  readonly log: (error: unknown) => void;
  /** Whether the broker can list dead letters (asked once). */
  readonly deadLetters: () => Promise<boolean>;
}
