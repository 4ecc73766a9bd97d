/**
 * One feed of every run event, shared by the dashboard's `/api/stream` connections: however many
 * browser tabs follow the list, the event log is followed once. It runs while someone listens,
 * from the moment the first one came (`events({ from: 'now' })`: the log's past is not read).
 */
import type { RunEvent } from '@taskchart/core';
import type { DashboardClient } from './client.js';
import { openFeed, type Feed } from './feed.js';

interface Listener {
  readonly chain: string | undefined;
  readonly send: (event: RunEvent) => void;
  /** The feed failed: the listener's stream ends (a browser's EventSource connects again). */
  readonly end: () => void;
}

export class EventHub {
  private feed: Feed | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly client: DashboardClient,
    private readonly log: (error: unknown) => void,
  ) {}

  /** Calls `send` with every run event (of `chain`, when given) committed from now on; returns the function that stops it. */
  listen(chain: string | undefined, send: (event: RunEvent) => void, end: () => void): () => void {
    const listener: Listener = { chain, send, end };
    this.listeners.add(listener);
    if (!this.feed) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    const feed = this.feed;
    this.feed = undefined;
    feed?.stop();
  }

  private start(): void {
    // Listeners want what happens from now on: the feed starts there, without reading the log's past.
    const feed = openFeed(this.client, { from: 'now' });
    this.feed = feed;
    void (async () => {
      for await (const event of feed.events) {
        if (this.feed !== feed) return;
        for (const l of [...this.listeners]) if (l.chain === undefined || l.chain === event.chain) l.send(event);
      }
    })().catch((error: unknown) => {
      if (this.feed !== feed) return;
      this.feed = undefined;
      this.log(error);
      for (const l of [...this.listeners]) l.end();
    });
  }
}
