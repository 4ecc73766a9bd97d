/**
 * The options of `sqsBroker`, and their one-time compilation into validated, normalised
 * settings. Every rejection is an `InvalidOptionError` naming the option and the allowed range.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { InvalidOptionError, type Clock } from '@taskchart/core';
import { assertKnownKeys, DEFAULT_QUEUE, systemClock, type RandomSource } from '@taskchart/core/adapter';
import { isValidPhysicalName } from './queue-names.js';

/** Static AWS credentials, or a function returning them (the SDK's credential provider shape). */
export interface SqsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}
export type SqsCredentialsProvider = () => Promise<SqsCredentials>;

/** Where an adapter error happened, for {@link SqsBrokerOptions.onError}. */
export interface SqsErrorContext {
  /** The SQS operation or adapter step (`ReceiveMessage`, `heartbeat`, `release`…). */
  readonly operation: string;
  /** The Taskchart queue name, when the error concerns one queue. */
  readonly queue?: string;
}

export interface SqsBrokerOptions {
  /**
   * AWS region (Celery: `region`). Ignored when `client` is given.
   * @defaultValue the SDK's default chain (`AWS_REGION`, profile)
   */
  region?: string;
  /**
   * SQS endpoint URL, for SQS-compatible servers (fauxqs, LocalStack, ElasticMQ). Ignored when
   * `client` is given.
   * @defaultValue the regional AWS endpoint
   */
  endpoint?: string;
  /**
   * Credentials. Ignored when `client` is given.
   * @defaultValue the SDK's default credential chain
   */
  credentials?: SqsCredentials | SqsCredentialsProvider;
  /**
   * A ready SQS client. The broker does not destroy a client it was given. Its retry strategy
   * is yours; the adapter's own (`maxAttempts`, `retryBaseDelayMs`, `retryMaxDelayMs`) only
   * applies to clients it creates.
   * @defaultValue a client built from `region`, `endpoint`, `credentials`
   */
  client?: SQSClient;
  /**
   * Prepended to every SQS queue name (Celery: `queue_name_prefix`). Applies to created and
   * looked-up queues, not to predefined `queues` URLs.
   * @defaultValue ''
   */
  queuePrefix?: string;
  /**
   * The SQS name of Taskchart's default queue (`'taskchart'`), used by tasks that set no
   * `queue` (Celery: `task_default_queue`).
   * @defaultValue 'taskchart'
   */
  defaultQueue?: string;
  /**
   * Predefined queue URLs by queue name (Celery: `predefined_queues`), for example
   * `{ tasks: 'https://sqs.eu-west-2.amazonaws.com/123/tasks', 'tasks.dead': '…' }`. With it,
   * the broker needs neither `sqs:GetQueueUrl` nor `sqs:CreateQueue`. The default queue is
   * keyed by `defaultQueue`; a dead-letter queue by `<queue>.dead`.
   * @defaultValue none: URLs are looked up (and created) by name
   */
  queues?: Readonly<Record<string, string>>;
  /**
   * Create a queue that does not exist (with `visibilityTimeoutSeconds`, `maxReceiveCount` and,
   * for FIFO, `FifoQueue`). Also re-creates a queue that disappeared while the broker ran.
   * @defaultValue true without `queues`, false with them
   */
  createQueues?: boolean;
  /**
   * Every queue is FIFO: SQS names get the `.fifo` suffix, messages of one `groupId` stay
   * ordered, `deduplicationId` is honoured (`capabilities.deduplicates`). Single queues whose
   * name ends in `.fifo` are FIFO whatever this says.
   * @defaultValue false
   */
  fifo?: boolean;
  /**
   * Long-poll wait of one ReceiveMessage call, 0–20 s (Celery: `wait_time_seconds`).
   * @defaultValue 20
   */
  waitTimeSeconds?: number;
  /**
   * How long a received message stays invisible to other consumers, 1–43200 s (Celery:
   * `visibility_timeout`). A running handler's messages are extended by the heartbeat, so this
   * only bounds how soon a crashed worker's messages come back.
   * @defaultValue 30
   */
  visibilityTimeoutSeconds?: number;
  /**
   * How often in-flight messages get their visibility extended, in ms. Must be below
   * `visibilityTimeoutSeconds`.
   * @defaultValue a third of the visibility timeout
   */
  heartbeatIntervalMs?: number;
  /**
   * Messages asked for per ReceiveMessage, 1–10 (also bounded by the consumer's free prefetch).
   * @defaultValue 10
   */
  receiveBatchSize?: number;
  /**
   * Receives each consumer keeps in flight at once. One receive brings at most 10 messages per
   * round trip. `'adaptive'`: one long poll at idle; while receives come back full, more
   * receives that do not wait, up to the prefetch's worth (at most 10), so a backlog drains
   * several round trips at a time. A number, 1–10: that many long polls all the time (each idle
   * one is a billed empty receive every `waitTimeSeconds`).
   * @defaultValue 'adaptive'
   */
  receiveConcurrency?: number | 'adaptive';
  /**
   * Acks collected into one DeleteMessageBatch, 1–10.
   * @defaultValue 10
   */
  deleteBatchSize?: number;
  /**
   * How long an ack waits for others to share its DeleteMessageBatch, 0–1000 ms.
   * @defaultValue 10
   */
  deleteBatchWindowMs?: number;
  /**
   * Publishes collected into one SendMessageBatch, 1–10 (1 sends each with SendMessage).
   * @defaultValue 10
   */
  publishBatchSize?: number;
  /**
   * How long a publish waits for others to share its SendMessageBatch, 0–1000 ms. 0 still
   * batches publishes made in the same tick.
   * @defaultValue 0
   */
  publishBatchWindowMs?: number;
  /**
   * The largest message accepted at publish, body plus attributes, 1024–1048576 bytes. Set it
   * to your queues' `MaximumMessageSize`. Larger messages are refused with a
   * `MessageTooLargeError` (a `MessageRefusedError`, which the runtime never retries) naming the
   * queue, run, task, size and limit.
   * @defaultValue 262144 (256 KiB)
   */
  maxMessageBytes?: number;
  /**
   * The longest delay one SQS hop holds, 1–900 s. Longer delays are re-published hop by hop
   * (the message carries its due time). Lower it only to test hops.
   * @defaultValue 900
   */
  maxDelaySeconds?: number;
  /**
   * When set, queues the broker creates get a RedrivePolicy sending a message to its
   * `.dead` queue after this many receives, 1–1000 (a poison message that crashes workers).
   * @defaultValue unset: no redrive policy; explicit dead-lettering only
   */
  maxReceiveCount?: number;
  /**
   * Attempts per SQS call (first try included) on throttling, 5xx and network errors, 1–100.
   * @defaultValue 10
   */
  maxAttempts?: number;
  /**
   * Base of the exponential backoff between attempts (full jitter), in ms.
   * @defaultValue 100
   */
  retryBaseDelayMs?: number;
  /**
   * Cap of the backoff between attempts, and of the poll loop's backoff after a failed
   * receive, in ms.
   * @defaultValue 5000
   */
  retryMaxDelayMs?: number;
  /** Time source for due times. @defaultValue the system clock */
  clock?: Clock;
  /** Random source for jitter. @defaultValue Math.random */
  random?: RandomSource;
  /**
   * Called with errors the adapter recovers from by itself (a failed poll, heartbeat or release).
   * @defaultValue logs a warning to the console
   */
  onError?: (error: unknown, context: SqsErrorContext) => void;
}

/** The options, validated and with every default filled in. */
export interface CompiledSqsOptions {
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly credentials: SqsCredentials | SqsCredentialsProvider | undefined;
  readonly client: SQSClient | undefined;
  readonly queuePrefix: string;
  readonly defaultQueue: string;
  readonly queues: ReadonlyMap<string, string>;
  readonly createQueues: boolean;
  readonly fifo: boolean;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  readonly heartbeatIntervalMs: number;
  readonly receiveBatchSize: number;
  readonly receiveConcurrency: number | 'adaptive';
  readonly deleteBatchSize: number;
  readonly deleteBatchWindowMs: number;
  readonly publishBatchSize: number;
  readonly publishBatchWindowMs: number;
  readonly maxMessageBytes: number;
  readonly maxDelaySeconds: number;
  readonly maxReceiveCount: number | undefined;
  readonly maxAttempts: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly onError: (error: unknown, context: SqsErrorContext) => void;
}

const OWNER = 'sqsBroker';

function integer(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${OWNER}: ${name}`, `must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function receiveConcurrencyOf(value: unknown): number | 'adaptive' {
  if (value === undefined || value === 'adaptive') return 'adaptive';
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 10) {
    throw new InvalidOptionError(`${OWNER}: receiveConcurrency`, `must be 'adaptive' or a whole number from 1 to 10, got ${describe(value)}`);
  }
  return value;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new InvalidOptionError(`${OWNER}: ${name}`, `must be a non-empty string, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const defaultOnError = (error: unknown, context: SqsErrorContext): void => {
  const where = context.queue ? ` (queue "${context.queue}")` : '';
  console.warn(`[taskchart sqs] ${context.operation}${where} failed, recovering: ${error instanceof Error ? error.message : String(error)}`);
};

const SQS_OPTION_KEYS = [
  'region',
  'endpoint',
  'credentials',
  'client',
  'queuePrefix',
  'defaultQueue',
  'queues',
  'createQueues',
  'fifo',
  'waitTimeSeconds',
  'visibilityTimeoutSeconds',
  'heartbeatIntervalMs',
  'receiveBatchSize',
  'receiveConcurrency',
  'deleteBatchSize',
  'deleteBatchWindowMs',
  'publishBatchSize',
  'publishBatchWindowMs',
  'maxMessageBytes',
  'maxDelaySeconds',
  'maxReceiveCount',
  'maxAttempts',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'clock',
  'random',
  'onError',
] satisfies Array<keyof SqsBrokerOptions>;

export function compileOptions(options: SqsBrokerOptions): CompiledSqsOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(OWNER, 'options must be an object');
  assertKnownKeys(options, SQS_OPTION_KEYS, OWNER);
  const region = optionalString('region', options.region);
  const endpoint = optionalString('endpoint', options.endpoint);
  if (endpoint !== undefined && !URL.canParse(endpoint)) throw new InvalidOptionError(`${OWNER}: endpoint`, `must be a URL, got ${describe(endpoint)}`);
  const credentials = options.credentials;
  if (credentials !== undefined && typeof credentials !== 'function') {
    if (typeof credentials !== 'object' || credentials === null || typeof credentials.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') {
      throw new InvalidOptionError(`${OWNER}: credentials`, 'must be { accessKeyId, secretAccessKey, sessionToken? } or a function returning them');
    }
  }
  const client = options.client;
  if (client !== undefined && (typeof client !== 'object' || client === null || typeof (client as { send?: unknown }).send !== 'function')) {
    throw new InvalidOptionError(`${OWNER}: client`, 'must be an SQSClient from @aws-sdk/client-sqs');
  }
  if (client !== undefined) {
    for (const name of ['region', 'endpoint', 'credentials', 'maxAttempts', 'retryBaseDelayMs', 'retryMaxDelayMs'] as const) {
      if (options[name] !== undefined) throw new InvalidOptionError(`${OWNER}: ${name}`, 'cannot be combined with `client`; configure the client instead');
    }
  }

  const queuePrefix = options.queuePrefix ?? '';
  if (typeof queuePrefix !== 'string' || (queuePrefix !== '' && !/^[A-Za-z0-9_-]+$/.test(queuePrefix))) {
    throw new InvalidOptionError(`${OWNER}: queuePrefix`, `may only hold letters, digits, '-' and '_' (SQS queue names), got ${describe(queuePrefix)}`);
  }
  const defaultQueue = options.defaultQueue ?? DEFAULT_QUEUE;
  if (typeof defaultQueue !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/.test(defaultQueue) || defaultQueue.endsWith('.dead')) {
    throw new InvalidOptionError(`${OWNER}: defaultQueue`, `must be a queue name (letters, digits, '.', '-', '_', up to 80, not ending in '.dead'), got ${describe(defaultQueue)}`);
  }

  const queues = new Map<string, string>();
  if (options.queues !== undefined) {
    if (typeof options.queues !== 'object' || options.queues === null) throw new InvalidOptionError(`${OWNER}: queues`, 'must be an object of queue name → queue URL');
    for (const [name, url] of Object.entries(options.queues)) {
      if (typeof url !== 'string' || !URL.canParse(url)) throw new InvalidOptionError(`${OWNER}: queues.${name}`, `must be a queue URL, got ${describe(url)}`);
      queues.set(name, url);
    }
  }
  const createQueues = options.createQueues ?? options.queues === undefined;
  if (typeof createQueues !== 'boolean') throw new InvalidOptionError(`${OWNER}: createQueues`, `must be a boolean, got ${describe(createQueues)}`);
  const fifo = options.fifo ?? false;
  if (typeof fifo !== 'boolean') throw new InvalidOptionError(`${OWNER}: fifo`, `must be a boolean, got ${describe(fifo)}`);

  const waitTimeSeconds = integer('waitTimeSeconds', options.waitTimeSeconds, 0, 20, 20);
  const visibilityTimeoutSeconds = integer('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 1, 43_200, 30);
  const heartbeatIntervalMs = integer(
    'heartbeatIntervalMs',
    options.heartbeatIntervalMs,
    100,
    visibilityTimeoutSeconds * 1000 - 1,
    Math.max(100, Math.floor((visibilityTimeoutSeconds * 1000) / 3)),
  );
  const receiveBatchSize = integer('receiveBatchSize', options.receiveBatchSize, 1, 10, 10);
  const receiveConcurrency = receiveConcurrencyOf(options.receiveConcurrency);
  const deleteBatchSize = integer('deleteBatchSize', options.deleteBatchSize, 1, 10, 10);
  const deleteBatchWindowMs = integer('deleteBatchWindowMs', options.deleteBatchWindowMs, 0, 1000, 10);
  const publishBatchSize = integer('publishBatchSize', options.publishBatchSize, 1, 10, 10);
  const publishBatchWindowMs = integer('publishBatchWindowMs', options.publishBatchWindowMs, 0, 1000, 0);
  const maxMessageBytes = integer('maxMessageBytes', options.maxMessageBytes, 1024, 1_048_576, 262_144);
  const maxDelaySeconds = integer('maxDelaySeconds', options.maxDelaySeconds, 1, 900, 900);
  const maxReceiveCount = options.maxReceiveCount === undefined ? undefined : integer('maxReceiveCount', options.maxReceiveCount, 1, 1000, 0);
  const maxAttempts = integer('maxAttempts', options.maxAttempts, 1, 100, 10);
  const retryBaseDelayMs = integer('retryBaseDelayMs', options.retryBaseDelayMs, 1, 60_000, 100);
  const retryMaxDelayMs = integer('retryMaxDelayMs', options.retryMaxDelayMs, retryBaseDelayMs, 300_000, Math.max(5000, retryBaseDelayMs));

  if (options.clock !== undefined && (typeof options.clock !== 'object' || typeof options.clock.now !== 'function')) {
    throw new InvalidOptionError(`${OWNER}: clock`, 'must be a Clock ({ now, setTimeout, clearTimeout })');
  }
  if (options.random !== undefined && typeof options.random !== 'function') throw new InvalidOptionError(`${OWNER}: random`, 'must be a function returning a number in [0, 1)');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new InvalidOptionError(`${OWNER}: onError`, 'must be a function');

  // The default queue's SQS name must fit, prefix included (the longest derived name is its DLQ).
  const probe = `${queuePrefix}${defaultQueue.replaceAll('.', '-')}-dead${fifo ? '.fifo' : ''}`;
  if (!isValidPhysicalName(probe)) {
    throw new InvalidOptionError(`${OWNER}: queuePrefix`, `with defaultQueue ${describe(defaultQueue)} gives the SQS queue name "${probe}", over SQS's 80 characters`);
  }

  return {
    region,
    endpoint,
    credentials,
    client,
    queuePrefix,
    defaultQueue,
    queues,
    createQueues,
    fifo,
    waitTimeSeconds,
    visibilityTimeoutSeconds,
    heartbeatIntervalMs,
    receiveBatchSize,
    receiveConcurrency,
    deleteBatchSize,
    deleteBatchWindowMs,
    publishBatchSize,
    publishBatchWindowMs,
    maxMessageBytes,
    maxDelaySeconds,
    maxReceiveCount,
    maxAttempts,
    retryBaseDelayMs,
    retryMaxDelayMs,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    onError: options.onError ?? defaultOnError,
  };
}
