/**
 * Opening and stopping a `client.events()` feed. A feed is stopped through its AbortSignal (the
 * client ends its poll pause at once), and `return()` besides: an async generator that waits
 * inside its pause would otherwise see `return()` only at its next event.
 */
import type { EventsQuery, RunEvent } from '@taskchart/core';
import type { DashboardClient } from './client.js';

export interface Feed {
  readonly events: AsyncGenerator<RunEvent, void, undefined>;
  /** Stops the feed (idempotent). */
  stop(): void;
}

export function openFeed(client: DashboardClient, query: Omit<EventsQuery, 'signal'>): Feed {
  const abort = new AbortController();
  const events = client.events({ ...query, signal: abort.signal });
  return {
    events,
    stop() {
      if (abort.signal.aborted) return;
      abort.abort();
      void events.return(undefined).catch(() => undefined);
    },
  };
}
