/**
 * Waking followers through LISTEN/NOTIFY. Every commit that writes events sends, inside its own
 * transaction, `pg_notify(channel, '["runId","chain"]')` for each run it changed (Postgres delivers
 * a transaction's notifications when, and only if, it commits). `ChangeWatcher` holds ONE
 * dedicated connection (a `pg.Client` of its own, never a pool connection) that LISTENs on the
 * channel while at least one listener is registered, and hands each notification to them.
 *
 * When that connection drops, it reconnects with the outage backoff (100 ms doubling to 5 s);
 * followers meanwhile rely on their slow poll. After each (re)connection it sends every listener
 * an empty hint ("anything may have changed"): notifications sent while it was not listening are
 * lost, so they read the log once more.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger, Store } from '@taskchart/core';
import { backoffDelay, type BackoffShape } from '@taskchart/core/adapter';

/** What a listener receives (the port's `StoreChange`). */
export type StoreChange = Parameters<Parameters<NonNullable<Store['watch']>>[0]>[0];
type Listener = (change: StoreChange) => void;

const RECONNECT: BackoffShape = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 'none' };
/** Postgres refuses NOTIFY payloads of 8,000 bytes or more; a longer hint is sent empty (wake all). */
const MAX_PAYLOAD = 7_000;

/**
 * The channel of a schema: `taskchart.<schema>`, or, when that is over Postgres's 63-byte limit
 * on names, `taskchart.<first 40 characters>.<hash>` (still one channel per schema).
 */
export function channelOf(schema: string): string {
  const plain = `taskchart.${schema}`;
  if (plain.length <= 63) return plain;
  return `taskchart.${schema.slice(0, 40)}.${createHash('sha256').update(schema).digest('hex').slice(0, 12)}`;
}

/** The NOTIFY payload for one run's change: `["runId","chain"]`, or '' when too long. */
export function changePayload(runId: string, chain: string): string {
  const payload = JSON.stringify([runId, chain]);
  return Buffer.byteLength(payload) < MAX_PAYLOAD ? payload : '';
}

function parsePayload(payload: string | undefined): StoreChange {
  try {
    const value = JSON.parse(payload ?? '') as unknown;
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') return { runId: value[0], chain: value[1] };
  } catch {
    // an empty or foreign payload: wake everyone
  }
  return {};
}

export class ChangeWatcher {
  private readonly listeners = new Set<Listener>();
  private client: pg.Client | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private listening = false;
  private stopped = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  /** Whether the LISTEN connection is up (for tests and diagnostics). */
  get connected(): boolean {
    return this.listening;
  }

  /** The server process id of the LISTEN connection, while it is up (for tests: `pg_terminate_backend`). */
  get backendPid(): number | undefined {
    // `processID` is set by node-postgres on connect, but absent from its type declarations.
    const pid = (this.client as { processID?: unknown } | undefined)?.processID;
    return this.listening && typeof pid === 'number' ? pid : undefined;
  }

  add(listener: Listener): () => void {
    if (this.stopped) return () => undefined;
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.connect();
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      void this.disconnect();
    };
  }

  /** Stops listening for good and ends the connection. */
  async close(): Promise<void> {
    this.stopped = true;
    this.listeners.clear();
    await this.disconnect();
  }

  private emit(change: StoreChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.logger.warn('postgresStore: a watch listener threw', { error: String(error) });
      }
    }
  }

  private connect(): void {
    if (this.stopped || this.client || this.listeners.size === 0) return;
    // TCP keepalive from 10 s of silence: a connection cut without a FIN/RST is noticed (the
    // slow poll covers the gap) instead of after the system's two-hour default.
    const client = new pg.Client({ ...this.config, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    this.client = client;
    // A dropped connection emits 'error' (then 'end'); unhandled, it would crash the process.
    client.on('error', () => undefined);
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.emit(parsePayload(message.payload));
    });
    client.on('end', () => this.lost(client, undefined));
    client
      .connect()
      .then(() => client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`))
      .then(() => {
        if (this.client !== client) return;
        if (this.failures > 0) this.logger.warn('postgresStore: LISTEN connection back; followers wake on commits again', { channel: this.channel });
        this.failures = 0;
        this.listening = true;
        // What was committed before LISTEN took effect (or while it was down) sent no hint here.
        this.emit({});
      })
      .catch((error: unknown) => this.lost(client, error));
  }

  /** The connection failed or dropped: retry after the backoff while anyone listens. */
  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = false;
    void client.end().catch(() => undefined);
    if (this.stopped || this.listeners.size === 0) return;
    const delayMs = backoffDelay(RECONNECT, this.failures++);
    this.logger.warn('postgresStore: LISTEN connection lost; followers poll slowly until it is back', {
      channel: this.channel,
      delayMs,
      ...(error === undefined ? {} : { error: error instanceof Error ? error.message : JSON.stringify(error) }),
    });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delayMs);
  }

  private async disconnect(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    this.failures = 0;
    if (client) await client.end().catch(() => undefined);
  }
}
