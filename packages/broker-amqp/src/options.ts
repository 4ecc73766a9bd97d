/**
 * The options of `amqpBroker`, and their compilation: raw user options are validated and
 * normalised once, at construction, and every rejection names the option and its allowed range.
 */
import { InvalidOptionError } from '@taskchart/core';
import { assertKnownKeys } from '@taskchart/core/adapter';
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES_CEILING } from './limits.js';

export interface AmqpReconnectOptions {
  /**
   * Wait before the first reconnect attempt after the connection dropped, from 0 to 1 hour.
   * @defaultValue 100
   */
  initialDelayMs?: number;
  /**
   * The longest wait between two reconnect attempts (the wait doubles from `initialDelayMs`),
   * from 1 ms to 1 hour. @defaultValue 5000
   */
  maxDelayMs?: number;
}

export interface AmqpBrokerOptions {
  /**
   * The AMQP URL of the RabbitMQ server, e.g. `amqp://guest:guest@127.0.0.1:5672`. Query
   * parameters such as `?heartbeat=10` are passed to the server as amqplib reads them.
   */
  url: string;
  /**
   * Prepended to every queue and exchange name this broker declares, to keep several runtimes
   * (or tests) apart on one server.
   * @defaultValue ''
   */
  queuePrefix?: string;
  /**
   * The default prefetch of `consume` when the caller passes none: the most unacknowledged
   * deliveries RabbitMQ hands one consumer at once.
   * @defaultValue 16
   */
  prefetch?: number;
  /**
   * How long one `publish` may take, waiting for the connection to come back included, before it
   * rejects. A publish that rejects this way may still have reached the broker (at-least-once);
   * it never resolves without a publisher confirm. Also bounds how long `consume` waits for a
   * connection. From 1 ms to 1 hour.
   * @defaultValue 30000
   */
  publishTimeoutMs?: number;
  /**
   * How long one connection attempt (TCP connect and AMQP handshake) may take, from 1 ms to 1 hour.
   * @defaultValue 10000
   */
  connectTimeoutMs?: number;
  /**
   * The AMQP heartbeat the adapter asks for, in seconds: a connection that stays silent for about
   * two heartbeats (a half-open TCP connection, a network partition) is declared dead and replaced.
   * `0` leaves it to the server (60 s by default). Give it here or as `?heartbeat=` in `url`, not both.
   * @defaultValue 10
   */
  heartbeatSeconds?: number;
  /** Backoff between reconnect attempts. */
  reconnect?: AmqpReconnectOptions;
  /**
   * The largest message (body plus headers, in bytes) `publish` sends; a larger one is refused
   * with `MessageRefusedError` before anything is sent. Set it to the server's `max_message_size`
   * when that is not RabbitMQ's default; a message the server refuses anyway (its limit is lower)
   * is refused the same way, after the server closed the channel for it. Between 1 and 536870912
   * (512 MiB, RabbitMQ's ceiling for `max_message_size`).
   * @defaultValue 134217728 (128 MiB, RabbitMQ's default `max_message_size`)
   */
  maxMessageBytes?: number;
  /**
   * The name RabbitMQ shows for this broker's connection (`rabbitmqctl list_connections
   * client_properties`, management UI).
   * @defaultValue `taskchart <queuePrefix>`
   */
  connectionName?: string;
  /**
   * Called with errors the adapter recovers from by itself (a dropped connection, a failed
   * reconnect attempt), for logging. It must not throw.
   * @defaultValue does nothing
   */
  onError?: (error: Error) => void;
}

/** Options after validation, every default filled in. */
export interface ResolvedAmqpOptions {
  /** The URL as given, with the heartbeat added to its query when it had none. */
  readonly url: string;
  readonly queuePrefix: string;
  readonly prefetch: number;
  readonly publishTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnectInitialDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly maxMessageBytes: number;
  readonly connectionName: string;
  readonly onError: (error: Error) => void;
}

/** The longest queue or exchange name AMQP 0-9-1 allows, in bytes. */
export const MAX_AMQP_NAME_BYTES = 255;

const at = (option: string) => `amqpBroker: ${option}`;

/** The longest timeout or reconnect delay: one hour. */
const HOUR_MS = 3_600_000;

function wholeNumber(option: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new InvalidOptionError(at(option), `must be a whole number ${range}, got ${String(value)}`);
  }
  return value;
}

const AMQP_OPTION_KEYS = [
  'url',
  'queuePrefix',
  'prefetch',
  'publishTimeoutMs',
  'connectTimeoutMs',
  'heartbeatSeconds',
  'reconnect',
  'maxMessageBytes',
  'connectionName',
  'onError',
] satisfies Array<keyof AmqpBrokerOptions>;

export function compileOptions(raw: AmqpBrokerOptions): ResolvedAmqpOptions {
  if (typeof raw !== 'object' || raw === null) throw new InvalidOptionError('amqpBroker', 'options must be an object with at least `url`');
  assertKnownKeys(raw, AMQP_OPTION_KEYS, 'amqpBroker');
  const { url } = raw;
  if (typeof url !== 'string' || !/^amqps?:\/\/./.test(url)) {
    throw new InvalidOptionError(at('url'), `must be an amqp:// or amqps:// URL, got ${JSON.stringify(url)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError(at('url'), `is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.searchParams.has('heartbeat') && raw.heartbeatSeconds !== undefined) {
    throw new InvalidOptionError(at('heartbeatSeconds'), 'is also set as ?heartbeat= in url: give it in one place');
  }
  // AMQP's heartbeat is a 16-bit number of seconds.
  const heartbeatSeconds = wholeNumber('heartbeatSeconds', raw.heartbeatSeconds ?? 10, 0, 65_535);
  const finalUrl = parsed.searchParams.has('heartbeat') ? url : `${url}${parsed.search ? '&' : '?'}heartbeat=${heartbeatSeconds}`;
  const queuePrefix = raw.queuePrefix ?? '';
  if (typeof queuePrefix !== 'string') throw new InvalidOptionError(at('queuePrefix'), `must be a string, got ${typeof queuePrefix}`);
  // Leave room for the longest suffix the adapter adds (".dead", ".delay.33554432ms").
  if (Buffer.byteLength(queuePrefix) > 128) throw new InvalidOptionError(at('queuePrefix'), 'must be at most 128 bytes long');
  if (queuePrefix.startsWith('amq.')) throw new InvalidOptionError(at('queuePrefix'), 'must not start with "amq." (reserved by RabbitMQ)');

  // AMQP's basic.qos prefetch-count is a 16-bit field.
  const prefetch = wholeNumber('prefetch', raw.prefetch ?? 16, 1, 65_535);
  // Waits and backoffs run on host timers: at most an hour, far below their 2^31 ms ceiling.
  const publishTimeoutMs = wholeNumber('publishTimeoutMs', raw.publishTimeoutMs ?? 30_000, 1, HOUR_MS);
  const connectTimeoutMs = wholeNumber('connectTimeoutMs', raw.connectTimeoutMs ?? 10_000, 1, HOUR_MS);
  const reconnect = raw.reconnect ?? {};
  if (typeof reconnect !== 'object' || reconnect === null) throw new InvalidOptionError(at('reconnect'), 'must be an object');
  assertKnownKeys(reconnect, ['initialDelayMs', 'maxDelayMs'] satisfies Array<keyof AmqpReconnectOptions>, 'amqpBroker: reconnect');
  const reconnectInitialDelayMs = wholeNumber('reconnect.initialDelayMs', reconnect.initialDelayMs ?? 100, 0, HOUR_MS);
  const reconnectMaxDelayMs = wholeNumber('reconnect.maxDelayMs', reconnect.maxDelayMs ?? 5_000, 1, HOUR_MS);
  if (reconnectMaxDelayMs < reconnectInitialDelayMs) {
    throw new InvalidOptionError(at('reconnect.maxDelayMs'), `must be >= reconnect.initialDelayMs (${reconnectInitialDelayMs}), got ${reconnectMaxDelayMs}`);
  }
  const maxMessageBytes = wholeNumber('maxMessageBytes', raw.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 1, MAX_MESSAGE_BYTES_CEILING);
  const connectionName = raw.connectionName ?? `taskchart ${queuePrefix}`.trim();
  if (typeof connectionName !== 'string') throw new InvalidOptionError(at('connectionName'), `must be a string, got ${typeof connectionName}`);
  const onError = raw.onError ?? (() => undefined);
  if (typeof onError !== 'function') throw new InvalidOptionError(at('onError'), `must be a function, got ${typeof onError}`);

  return {
    url: finalUrl,
    queuePrefix,
    prefetch,
    publishTimeoutMs,
    connectTimeoutMs,
    reconnectInitialDelayMs,
    reconnectMaxDelayMs,
    maxMessageBytes,
    connectionName,
    onError: (error) => {
      try {
        onError(error);
      } catch {
        // A logging callback must never break recovery.
      }
    },
  };
}
