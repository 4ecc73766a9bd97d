/**
 * One consumer of one queue: its own channel (so its prefetch bound is its own), re-subscribed
 * on every new session, with the deliveries in flight tracked so that `cancel` can let them settle.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Consumer } from '@taskchart/core/adapter';
import { coalesceWrites, type AmqpConnection, type DeliveryHold, type Session } from './connection.js';
import { AmqpUnavailableError } from './errors.js';
import type { Declaration, Topology } from './topology.js';

/**
 * Handles one raw message received on `channel`; it must ack or nack it there exactly once, even
 * when it fails. `hold` tells whether `channel` still holds it (see `DeliveryHold`).
 */
export type RawHandler = (message: ConsumeMessage, channel: Channel, hold: DeliveryHold) => Promise<void>;

/** Acks on a channel that may have died with its connection; the broker then redelivers the message. */
export function safeAck(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
    coalesceWrites(channel.connection);
  } catch {
    // Channel closed: the broker has already put the message back.
  }
}

/** Gives `message` back to its queue (redelivered with the `redelivered` flag). */
export function safeRequeue(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.nack(message, false, true);
    coalesceWrites(channel.connection);
  } catch {
    // Channel closed: the broker has already put the message back.
  }
}

export class AmqpConsumer implements Consumer {
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private subscribedGeneration = -1;
  private subscribing: Promise<void> | undefined;
  private cancelling: Promise<void> | undefined;
  private readonly running = new Set<Promise<void>>();
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly topology: Topology,
    /** The full (prefixed) queue name. */
    private readonly queue: string,
    private readonly declarations: readonly Declaration[],
    private readonly prefetch: number,
    private readonly handle: RawHandler,
    private readonly onError: (error: Error) => void,
    private readonly onCancelled: (consumer: AmqpConsumer) => void,
  ) {}

  /** Subscribes on the current session (connecting first if needed), and on every later one. */
  async start(deadline: number): Promise<void> {
    this.unsubscribe = this.connection.onOpen((session) => {
      this.subscribe(session).catch((error: unknown) => this.failed(session, error));
    });
    for (;;) {
      const session = await this.connection.session(deadline).catch((error: unknown) => {
        this.unsubscribe();
        throw error;
      });
      try {
        await this.subscribe(session);
        return;
      } catch (error) {
        this.failed(session, error);
        if (Date.now() >= deadline) {
          this.unsubscribe();
          throw new AmqpUnavailableError(`could not consume "${this.queue}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
      }
    }
  }

  private failed(session: Session, error: unknown): void {
    this.subscribedGeneration = -1;
    this.subscribing = undefined;
    this.connection.drop(session, error instanceof Error ? error : new Error(String(error)));
  }

  /** Subscribes on `session` once: a second call for the same session joins the first. */
  private subscribe(session: Session): Promise<void> {
    if (this.cancelling) return Promise.resolve();
    if (this.subscribing && this.subscribedGeneration === session.generation) return this.subscribing;
    this.subscribedGeneration = session.generation;
    this.subscribing = this.subscribeOnce(session);
    return this.subscribing;
  }

  private async subscribeOnce(session: Session): Promise<void> {
    await this.topology.ensure(session.publisher, this.declarations);
    const channel = await session.model.createChannel();
    channel.on('error', (e: unknown) => this.onError(e instanceof Error ? e : new Error(String(e))));
    let open = true;
    // The deliveries of this channel are held while it is open and its connection not dropped
    // (a dropped session's connection is closing: RabbitMQ requeues what its channels held).
    const hold: DeliveryHold = () => open && this.connection.isCurrent(session);
    channel.on('close', () => {
      open = false;
      // Closed by us (cancel) or with the connection: nothing to do. Closed by the server alone
      // (an unknown delivery tag, a deleted queue): start over on a fresh connection.
      if (this.channel === channel && !this.cancelling) this.connection.drop(session, new Error(`consumer channel of "${this.queue}" closed by the server`));
    });
    this.channel = channel;
    await channel.prefetch(this.prefetch);
    const { consumerTag } = await channel.consume(
      this.queue,
      (message) => {
        // `null`: RabbitMQ cancelled the consumer (the queue was deleted): re-declare and resume.
        if (message === null) this.connection.drop(session, new Error(`RabbitMQ cancelled the consumer of "${this.queue}"`));
        else this.dispatch(message, channel, hold);
      },
      { noAck: false },
    );
    this.consumerTag = consumerTag;
    if (this.cancelling) await channel.close().catch(() => undefined);
  }

  private dispatch(message: ConsumeMessage, channel: Channel, hold: DeliveryHold): void {
    // Delivered between our basic.cancel and its cancel-ok: not ours to handle any more.
    if (this.cancelling) return safeRequeue(channel, message);
    // The handler settles the message itself, whatever happens; a rejection here is only logged
    // (settling twice would be a protocol error that closes the channel).
    const run = this.handle(message, channel, hold).catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))));
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Deliveries handed to the handler and not yet settled. */
  get inFlight(): number {
    return this.running.size;
  }

  cancel(): Promise<void> {
    this.cancelling ??= this.doCancel();
    return this.cancelling;
  }

  private async doCancel(): Promise<void> {
    this.unsubscribe();
    const channel = this.channel;
    if (channel && this.consumerTag) await channel.cancel(this.consumerTag).catch(() => undefined);
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    // Closing the channel gives back anything it still holds unacknowledged.
    if (channel) await channel.close().catch(() => undefined);
    this.onCancelled(this);
  }
}
