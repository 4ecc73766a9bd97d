/**
 * One feed of every run event, shared by the dashboard's `/api/stream` connections: however many
 * browser tabs follow the list, the event log is followed once. It runs while someone listens,
 * and resumes after the last event it saw when someone listens again.
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
  private after: string | undefined;
  /**
   * Events committed before the feed (re)started are the past: the feed reads them (the log has
   * no "from now" position) and skips them. An event another process commits right after with a
   * clock running behind this one's may be skipped too; the list re-reads its page on connecting.
   */
  private floor = 0;
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
    const feed = openFeed(this.client, this.after === undefined ? {} : { after: this.after });
    this.feed = feed;
    this.floor = Date.now();
    void (async () => {
      for await (const event of feed.events) {
        if (this.feed !== feed) return;
        this.after = event.cursor;
        if (event.at < this.floor) continue;
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
