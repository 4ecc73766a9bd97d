/**
 * One AMQP connection that heals itself.
 *
 * A `Session` is one live connection with its publisher-confirm channel. When the connection or
 * any of its channels drops, the session is discarded, and a new one is opened with exponential
 * backoff; on every new session the topology is re-declared before anything else uses it, then
 * the `onOpen` listeners (consumers) re-subscribe. Publishes wait for a session (bounded by their
 * deadline) and are retried on the next session when their confirm was lost with the old one.
 */
import { connect, type ChannelModel, type ConfirmChannel, type Connection, type Options } from 'amqplib';
import { AmqpUnavailableError } from './errors.js';
import type { ResolvedAmqpOptions } from './options.js';
import type { Declaration, Topology } from './topology.js';

export interface Session {
  readonly model: ChannelModel;
  /** The publisher-confirm channel: every publish and every declaration goes through it. */
  readonly publisher: ConfirmChannel;
  /** Increases by one per connection opened. */
  readonly generation: number;
}

export type SessionListener = (session: Session) => void;

/** A publish waiting for its confirm, rejected by the sweeper at its deadline. */
interface Unconfirmed {
  readonly deadline: number;
  expire(): void;
}

interface Waiter {
  resolve(session: Session): void;
  reject(error: Error): void;
}

const corked = new WeakSet<object>();

/**
 * Batches the socket writes of this turn of the event loop into one: amqplib writes every frame
 * with its own `socket.write`, and with Nagle off each is a syscall and a TCP segment. Corking the
 * socket until amqplib's writer has run turns a burst of publishes and acks into one `writev`.
 */
export function coalesceWrites(connection: Connection): void {
  const stream = (connection as unknown as { stream?: { cork?: () => void; uncork?: () => void } }).stream;
  if (!stream?.cork || !stream.uncork || corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  // amqplib's writer is scheduled (setImmediate) from the stream's 'readable' event, itself a
  // nextTick after the publish: scheduling the uncork from a later nextTick runs it after the writer.
  process.nextTick(() =>
    setImmediate(() => {
      corked.delete(stream);
      stream.uncork?.();
    }),
  );
}

const errorOf = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export class AmqpConnection {
  private current: Session | undefined;
  private connecting = false;
  private closed = false;
  private generation = 0;
  private failures = 0;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeBackoff: (() => void) | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<SessionListener>();
  private readonly unconfirmed = new Set<Unconfirmed>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** Resolves when the publisher channel's write buffer drained (amqplib `publish` returned false). */
  private draining: Promise<void> | undefined;
  /** The last error that took a session down or failed a connection attempt. */
  lastError: Error | undefined;

  constructor(
    private readonly options: ResolvedAmqpOptions,
    private readonly topology: Topology,
  ) {}

  /** Calls `listener` with every session opened from now on (after the topology is declared). */
  onOpen(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The open session, if there is one right now. */
  openSession(): Session | undefined {
    return this.current;
  }

  /** The open session, connecting first if needed; rejects at `deadline` (epoch ms) or on close. */
  session(deadline: number): Promise<Session> {
    if (this.closed) return Promise.reject(new AmqpUnavailableError('amqp broker is closed'));
    if (this.current) return Promise.resolve(this.current);
    this.startConnecting();
    return new Promise<Session>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const cause = this.lastError ? `: last error: ${this.lastError.message}` : '';
        reject(new AmqpUnavailableError(`no connection to RabbitMQ within ${this.options.publishTimeoutMs} ms${cause}`, { cause: this.lastError }));
      }, Math.max(0, deadline - Date.now()));
      const waiter: Waiter = {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Declares `declarations` then publishes with a publisher confirm; resolves once RabbitMQ
   * confirmed. Retries on the next session when the connection dropped before the confirm;
   * rejects at `deadline`, on a publisher nack, or when the connection is closed.
   */
  async publish(declarations: readonly Declaration[], exchange: string, routingKey: string, content: Buffer, properties: Options.Publish, deadline: number): Promise<void> {
    for (;;) {
      const session = await this.session(deadline);
      try {
        await this.topology.ensure(session.publisher, declarations);
        await this.confirmedPublish(session, exchange, routingKey, content, properties, deadline);
        return;
      } catch (error) {
        if (error instanceof AmqpUnavailableError || this.closed) throw error;
        // The session died under this publish (channel closed, connection lost): the message
        // may or may not have reached the broker; publish it again on the next session.
        this.drop(session, errorOf(error));
        if (Date.now() >= deadline) throw new AmqpUnavailableError(`publish to "${routingKey}" not confirmed within ${this.options.publishTimeoutMs} ms: ${errorOf(error).message}`, { cause: error });
      }
    }
  }

  private async confirmedPublish(session: Session, exchange: string, routingKey: string, content: Buffer, properties: Options.Publish, deadline: number): Promise<void> {
    while (this.draining) await this.draining;
    await new Promise<void>((resolve, reject) => {
      let done = false;
      // One sweeper for every unconfirmed publish, not a timer each (a timer per message is a
      // measurable share of the cost of a hop).
      const watch: Unconfirmed = {
        deadline,
        expire: () => {
          if (done) return;
          done = true;
          reject(new AmqpUnavailableError(`publish to "${routingKey}" not confirmed by RabbitMQ within ${this.options.publishTimeoutMs} ms`));
        },
      };
      this.watchConfirm(watch);
      const callback = (err: unknown) => {
        this.unconfirmed.delete(watch);
        if (done) return;
        done = true;
        if (err == null) resolve();
        else if (errorOf(err).message === 'message nacked') reject(new AmqpUnavailableError(`RabbitMQ refused the message for "${routingKey}" (publisher nack)`));
        else reject(errorOf(err));
      };
      let flushed: boolean;
      try {
        flushed = session.publisher.publish(exchange, routingKey, content, properties, callback);
        coalesceWrites(session.model.connection);
      } catch (error) {
        // amqplib throws synchronously on a channel that is already closed.
        callback(error);
        return;
      }
      if (!flushed && !this.draining) {
        this.draining = new Promise<void>((r) => {
          const release = () => {
            session.publisher.off('drain', release);
            session.publisher.off('close', release);
            this.draining = undefined;
            r();
          };
          session.publisher.on('drain', release);
          session.publisher.on('close', release);
        });
      }
    });
  }

  private watchConfirm(entry: Unconfirmed): void {
    this.unconfirmed.add(entry);
    if (this.sweeper) return;
    const every = Math.min(250, Math.max(10, Math.floor(this.options.publishTimeoutMs / 10)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const e of this.unconfirmed) {
        if (e.deadline > now) continue;
        this.unconfirmed.delete(e);
        e.expire();
      }
      if (this.unconfirmed.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, every);
    this.sweeper.unref();
  }

  /** Discards `session` after a failure of its connection or one of its channels, and reconnects. */
  drop(session: Session, error: Error): void {
    if (this.current !== session) return;
    this.current = undefined;
    this.lastError = error;
    this.options.onError(error);
    session.model.close().catch(() => undefined);
    this.startConnecting();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.wakeBackoff?.();
    for (const w of this.waiters) w.reject(new AmqpUnavailableError('amqp broker is closed'));
    this.waiters.clear();
    const session = this.current;
    this.current = undefined;
    if (session) await session.model.close().catch(() => undefined);
  }

  private startConnecting(): void {
    if (this.closed || this.current || this.connecting) return;
    this.connecting = true;
    void this.connectLoop().finally(() => {
      this.connecting = false;
    });
  }

  private async connectLoop(): Promise<void> {
    // After a drop, wait a little before the first attempt (the server may be restarting).
    if (this.generation > 0) await this.backoff();
    while (!this.closed) {
      try {
        const session = await this.open();
        if (this.closed) {
          await session.model.close().catch(() => undefined);
          return;
        }
        this.failures = 0;
        this.current = session;
        for (const w of this.waiters) w.resolve(session);
        this.waiters.clear();
        for (const listener of this.listeners) listener(session);
        return;
      } catch (error) {
        this.lastError = errorOf(error);
        this.options.onError(this.lastError);
        await this.backoff();
      }
    }
  }

  private backoff(): Promise<void> {
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: max } = this.options;
    const ms = Math.min(max, initial * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return new Promise((resolve) => {
      this.wakeBackoff = resolve;
      this.backoffTimer = setTimeout(resolve, ms);
    });
  }

  private async open(): Promise<Session> {
    const model = await connect(this.options.url, {
      noDelay: true,
      timeout: this.options.connectTimeoutMs,
      clientProperties: { connection_name: this.options.connectionName },
    });
    let alive = true;
    let session: Session | undefined;
    const lost = (error: Error) => {
      alive = false;
      if (session) this.drop(session, error);
    };
    // 'error' precedes 'close' on a server-side close; 'close' alone ends a clean one.
    model.on('error', (e: unknown) => this.options.onError(errorOf(e)));
    model.on('close', (e: unknown) => lost(e ? errorOf(e) : new Error('connection to RabbitMQ closed')));
    model.on('blocked', (reason: unknown) => this.options.onError(new Error(`RabbitMQ blocked publishing on this connection: ${String(reason)}`)));
    try {
      const publisher = await model.createConfirmChannel();
      publisher.on('error', (e: unknown) => this.options.onError(errorOf(e)));
      publisher.on('close', () => lost(new Error('publisher channel closed')));
      await this.topology.replay(publisher);
      if (!alive || this.closed) throw this.lastError ?? new Error('connection closed while opening');
      session = { model, publisher, generation: ++this.generation };
      return session;
    } catch (error) {
      await model.close().catch(() => undefined);
      throw error;
    }
  }
}
