/**
 * One AMQP connection that heals itself.
 *
 * A `Session` is one live connection with its publisher-confirm channel. When the connection or
 * any of its channels drops, the session is discarded, and a new one is opened with exponential
 * backoff; on every new session the topology is re-declared before anything else uses it, then
 * the `onOpen` listeners (consumers) re-subscribe. Publishes wait for a session (bounded by their
 * deadline) and are retried on the next session when their confirm was lost with the old one —
 * except a publish that only moves a delivery (see {@link DeliveryHold}): once the channel holding
 * that delivery has closed, RabbitMQ redelivers the original, and the publish is dropped.
 *
 * When the server closes the publisher channel over a `basic.publish` (it refused one message:
 * PRECONDITION_FAILED), only that channel is replaced, on the same connection: consumers keep
 * their channels. The publish the close can be pinned on rejects with a `MessageRefusal` (see
 * `limits.ts`); the others in flight on that channel are sent again on the new one.
 */
import { backoffDelay } from '@taskchart/core/adapter';
import { connect, type ChannelModel, type ConfirmChannel, type Connection, type Options } from 'amqplib';
import { AmqpUnavailableError, DeliveryReleased } from './errors.js';
import { attributeClose, closedOnPublish, frameRefusalReason, MessageRefusal, type ServerClose } from './limits.js';
import type { ResolvedAmqpOptions } from './options.js';
import type { Declaration, Topology } from './topology.js';

export interface Session {
  readonly model: ChannelModel;
  /**
   * The publisher-confirm channel: every publish and every declaration goes through it. Replaced
   * (on the same connection) when the server closes it for one message.
   */
  publisher: ConfirmChannel;
  /** Increases by one per connection opened. */
  readonly generation: number;
}

export type SessionListener = (session: Session) => void;

/**
 * Whether the delivery a publish moves (a ladder hop, a delayed nack, a dead letter) is still
 * held, unacked, on an open channel of the current session. Once it is not, RabbitMQ has handed
 * the original back to its queue (a closed channel's unacked deliveries are requeued), so the
 * publish must not be sent again: the redelivered original carries on in its place.
 */
export type DeliveryHold = () => boolean;

/** A publish waiting for its confirm, rejected by the sweeper at its deadline. */
interface Unconfirmed {
  readonly deadline: number;
  expire(): void;
}

/** What the connection knows of one publisher channel. */
interface PublisherState {
  /** Publishes sent on it and not confirmed yet. */
  inFlight: number;
  /** How the server (or amqplib, on a protocol error) closed this channel alone, if it did. */
  close: ServerClose | undefined;
  /** Closed by the adapter after amqplib failed to encode a message on it (its confirm window is off by one). */
  recycled: boolean;
  /** Drops the session this channel belongs to (its connection is going). */
  readonly lost: (error: Error) => void;
}

interface Waiter {
  resolve(session: Session): void;
  reject(error: Error): void;
}

interface CorkableStream {
  cork(): void;
  uncork(): void;
  prependListener(event: 'drain', listener: () => void): unknown;
}

/** The sockets corked until the end of this turn, and those whose 'drain' corks them too. */
const corked = new WeakSet<CorkableStream>();
const watched = new WeakSet<CorkableStream>();

/**
 * Batches the socket writes of this turn of the event loop into one: amqplib writes every frame
 * with its own `socket.write`, and with Nagle off each is a syscall and a TCP segment. Corking the
 * socket until amqplib's writer has run turns a burst of publishes and acks into one `writev`.
 * A burst larger than the socket's buffer stops amqplib's writer until the socket drains; it then
 * writes the rest from the 'drain' event, which corks the socket as well (else each of those
 * frames was a `write` of its own: 4 % of the main thread under load).
 */
export function coalesceWrites(connection: Connection): void {
  const stream = (connection as unknown as { stream?: Partial<CorkableStream> }).stream;
  if (!stream?.cork || !stream.uncork || !stream.prependListener) return;
  const socket = stream as CorkableStream;
  if (!watched.has(socket)) {
    watched.add(socket);
    // Before amqplib's own 'drain' listener, which goes on writing.
    socket.prependListener('drain', () => corkUntilImmediate(socket));
  }
  // amqplib's writer is scheduled (setImmediate) from the stream's 'readable' event, itself a
  // nextTick after the publish: scheduling the uncork from a later nextTick runs it after the writer.
  if (!corked.has(socket)) process.nextTick(() => setImmediate(() => uncork(socket)));
  cork(socket);
}

function cork(socket: CorkableStream): void {
  if (corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
}

function uncork(socket: CorkableStream): void {
  if (!corked.delete(socket)) return;
  socket.uncork();
}

/** Corks `socket` until the immediates of this turn (amqplib's writer writes meanwhile). */
function corkUntilImmediate(socket: CorkableStream): void {
  if (corked.has(socket)) return;
  cork(socket);
  setImmediate(() => uncork(socket));
}

const errorOf = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** An error amqplib throws while encoding a message (a field over its limit), as opposed to "channel closed". */
const isEncodingError = (e: unknown): boolean => e instanceof TypeError || e instanceof RangeError;

/** The frame size the connection negotiated with the server (amqplib keeps it on its connection). */
const frameMaxOf = (model: ChannelModel): number | undefined => {
  const frameMax = (model.connection as unknown as { frameMax?: unknown }).frameMax;
  return typeof frameMax === 'number' && frameMax > 0 ? frameMax : undefined;
};

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
  /** The publisher channel being replaced after the server closed the old one, if it is. */
  private reopening: Promise<void> | undefined;
  private readonly publishers = new WeakMap<ConfirmChannel, PublisherState>();
  /** How the server closed a connection (recorded before its channels close), when it said why. */
  private readonly connectionCloses = new WeakMap<ChannelModel, ServerClose>();
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

  /** Whether `session` is the open one (it has not been dropped). */
  isCurrent(session: Session): boolean {
    return this.current === session;
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
   *
   * With `hold` (a publish that only moves a delivery), it is sent only while `hold()` is true,
   * and rejects with {@link DeliveryReleased} as soon as it is not: its first attempt included
   * (the channel died before the handler settled), and above all after a lost session, where a
   * retry would duplicate the original that RabbitMQ redelivers. The caller acks the original
   * only after this resolves, so the message always exists once: as this confirmed copy, or as
   * the redelivered original.
   */
  async publish(declarations: readonly Declaration[], exchange: string, routingKey: string, content: Buffer, properties: Options.Publish, deadline: number, hold?: DeliveryHold): Promise<void> {
    for (;;) {
      if (hold && !hold()) throw new DeliveryReleased(routingKey);
      const session = await this.session(deadline);
      if (this.reopening) {
        await this.reopening;
        continue;
      }
      // Checked again after waiting for a session: the one the delivery came on may have gone meanwhile.
      if (hold && !hold()) throw new DeliveryReleased(routingKey);
      const publisher = session.publisher;
      // Too large for one frame: the server would close the whole connection over it.
      const tooLarge = frameRefusalReason(properties, frameMaxOf(session.model));
      if (tooLarge !== undefined) throw new MessageRefusal(tooLarge);
      try {
        await this.topology.ensure(publisher, declarations);
        await this.confirmedPublish(session, publisher, exchange, routingKey, content, properties, deadline);
        return;
      } catch (error) {
        if (error instanceof AmqpUnavailableError || error instanceof MessageRefusal || this.closed) throw error;
        const state = this.publishers.get(publisher);
        // The server closed the channel or the connection because of one message: if it was this
        // one, it is refused for good; the others in flight with it are sent again.
        const refusal = attributeClose(state?.close ?? this.connectionCloses.get(session.model), content.length);
        if (refusal) throw refusal;
        // The session died under this publish (channel closed, connection lost): the message
        // may or may not have reached the broker; publish it again on the next session (or on
        // the new publisher channel, when it was closed over a message: it is being replaced),
        // unless it moves a delivery that went with the session (`hold`, checked at the top).
        if (!closedOnPublish(state?.close) && !state?.recycled) this.drop(session, errorOf(error));
        if (Date.now() >= deadline) throw new AmqpUnavailableError(`publish to "${routingKey}" not confirmed within ${this.options.publishTimeoutMs} ms: ${errorOf(error).message}`, { cause: error });
      }
    }
  }

  private async confirmedPublish(session: Session, publisher: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, properties: Options.Publish, deadline: number): Promise<void> {
    while (this.draining) await this.draining;
    const state = this.publishers.get(publisher);
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
      let counted = false;
      const callback = (err: unknown) => {
        this.unconfirmed.delete(watch);
        if (counted && state) state.inFlight--;
        counted = false;
        if (done) return;
        done = true;
        if (err == null) resolve();
        else if (errorOf(err).message === 'message nacked') reject(new AmqpUnavailableError(`RabbitMQ refused the message for "${routingKey}" (publisher nack)`));
        else reject(errorOf(err));
      };
      let flushed: boolean;
      try {
        if (state) state.inFlight++;
        counted = true;
        flushed = publisher.publish(exchange, routingKey, content, properties, callback);
        coalesceWrites(session.model.connection);
      } catch (error) {
        if (isEncodingError(error) && state && !state.close) {
          // amqplib could not encode this message (`limits.ts` checks what it knows of first). It
          // had already queued a confirm callback for it, so every later confirm on this channel
          // would be off by one: replace the channel, and refuse the message.
          state.recycled = true;
          this.reopenPublisher(session, publisher);
          publisher.close().catch(() => undefined);
          this.unconfirmed.delete(watch);
          done = true;
          reject(new MessageRefusal(`amqplib could not encode it: ${errorOf(error).message}`));
          return;
        }
        // amqplib throws synchronously on a channel that is already closed.
        callback(error);
        return;
      }
      if (!flushed && !this.draining) {
        this.draining = new Promise<void>((r) => {
          const release = () => {
            publisher.off('drain', release);
            publisher.off('close', release);
            this.draining = undefined;
            r();
          };
          publisher.on('drain', release);
          publisher.on('close', release);
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
    const ms = backoffDelay({ initialMs: initial, maxMs: max, factor: 2, jitter: 'none' }, Math.min(this.failures, 30));
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
    model.on('error', (e: unknown) => {
      const error = errorOf(e) as ServerClose['error'];
      const inFlight = session ? (this.publishers.get(session.publisher)?.inFlight ?? 0) : 0;
      if (typeof error.code === 'number') this.connectionCloses.set(model, { error, inFlight });
      this.options.onError(error);
    });
    model.on('close', (e: unknown) => lost(e ? errorOf(e) : new Error('connection to RabbitMQ closed')));
    model.on('blocked', (reason: unknown) => this.options.onError(new Error(`RabbitMQ blocked publishing on this connection: ${String(reason)}`)));
    try {
      const publisher = await this.openPublisher(model, () => session, lost);
      await this.topology.replay(publisher);
      if (!alive || this.closed) throw this.lastError ?? new Error('connection closed while opening');
      session = { model, publisher, generation: ++this.generation };
      return session;
    } catch (error) {
      await model.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * A new publisher-confirm channel on `model`. When the server closes it alone (or the adapter
   * recycles it), it is replaced on the same connection; any other close means the connection is
   * going: `lost` drops the session.
   */
  private async openPublisher(model: ChannelModel, sessionOf: () => Session | undefined, lost: (error: Error) => void): Promise<ConfirmChannel> {
    const publisher = await model.createConfirmChannel();
    const state: PublisherState = { inFlight: 0, close: undefined, recycled: false, lost };
    this.publishers.set(publisher, state);
    publisher.on('error', (e: unknown) => {
      const error = errorOf(e) as ServerClose['error'];
      // A channel-level close carries its reply code; recorded before 'close' fails the
      // publishes in flight, so that they can tell whether it was theirs.
      if (typeof error.code === 'number') state.close = { error, inFlight: state.inFlight };
      this.options.onError(error);
    });
    publisher.on('close', () => {
      const session = sessionOf();
      if (state.recycled) return; // being replaced already
      // Closed over one message: replaced at once on the same connection. Closed for anything
      // else (a declaration refused, the connection going): a new session, with backoff.
      if (closedOnPublish(state.close) && session) this.reopenPublisher(session, publisher);
      else lost(new Error(state.close ? `publisher channel closed: ${state.close.error.message}` : 'publisher channel closed'));
    });
    return publisher;
  }

  /**
   * Replaces the publisher channel of `session` after the server closed `old` alone (or the
   * adapter recycles it). Publishes wait for {@link reopening} meanwhile, so none spins on the
   * closed channel.
   */
  private reopenPublisher(session: Session, old: ConfirmChannel): void {
    const lost = this.publishers.get(old)?.lost;
    if (!lost || this.current !== session || session.publisher !== old || this.closed || this.reopening) return;
    const reopening: Promise<void> = this.openPublisher(session.model, () => session, lost)
      .then((publisher) => {
        if (this.current === session) session.publisher = publisher;
        else publisher.close().catch(() => undefined);
      })
      .catch((error: unknown) => this.drop(session, errorOf(error)))
      .finally(() => {
        if (this.reopening === reopening) this.reopening = undefined;
      });
    this.reopening = reopening;
  }
}
