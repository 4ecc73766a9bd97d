/**
 * The adapter's own SQS requests, for the calls it makes per message (send, receive, delete,
 * change visibility): SQS's AWS JSON 1.0 protocol over a keep-alive `node:http(s)` agent, signed
 * with SigV4 (`sigv4.ts`), retried as the SDK client would be (`retry-strategy.ts`'s backoff,
 * the SDK's error classes). Going through the SDK cost ≈ 0.6 ms of main-thread CPU per call
 * (middleware stack, schema serde, endpoint rules, signing), most of what bounded a worker's
 * throughput; this costs a fraction of it. Credentials, region and clock offset still come from
 * the SDK client the broker built, so its credential chain and clock-skew correction apply.
 *
 * Errors look like the SDK's: `name` is SQS's error type (`QueueDoesNotExist`), `Code` its query
 * code (`AWS.SimpleQueueService.NonExistentQueue`), `$metadata.httpStatusCode` the status.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { RandomSource } from '@taskchart/core/adapter';
import { backoffDelay } from './retry-strategy.js';
import { SigV4Signer, type SigningCredentials } from './sigv4.js';

export interface SqsHttpClientOptions {
  /** The endpoint every request goes to; undefined: the origin of each call's queue URL (as the SDK does). */
  readonly endpoint: string | undefined;
  readonly region: () => Promise<string>;
  readonly credentials: () => Promise<SigningCredentials>;
  /** Milliseconds to add to the local clock when signing (the SDK client's `systemClockOffset`). */
  readonly clockOffset: { get(): number; set(ms: number): void };
  readonly maxAttempts: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly random: RandomSource;
  /** How long a request may go without an answer, past its long poll's wait. @defaultValue 60 s */
  readonly silenceMs?: number;
}

/** An error SQS answered with, shaped like the SDK's service exceptions. */
export class SqsServiceError extends Error {
  readonly Code: string | undefined;
  readonly $fault: 'client' | 'server';
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string | undefined };
  /** The server's clock when it answered (its `Date` header), epoch ms. */
  readonly serverTime: number | undefined;

  constructor(name: string, message: string, code: string | undefined, status: number, requestId: string | undefined, serverTime: number | undefined) {
    super(message);
    this.name = name;
    this.Code = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, ...(requestId ? { requestId } : {}) };
    this.serverTime = serverTime;
  }
}

// The SDK's classification (@smithy/core retry): what it retries, and what it retries after correcting the clock.
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CLOCK_SKEW = new Set(['AccessDeniedException', 'AuthFailure', 'InvalidSignatureException', 'RequestExpired', 'RequestInTheFuture', 'RequestTimeTooSkewed', 'SignatureDoesNotMatch']);
/** How far the server's clock may be from ours before requests are signed with its time (as the SDK does). */
const SKEW_TOLERANCE_MS = 300_000;
/**
 * How long a request may go without any byte before it is dropped and retried (past a long poll's
 * own wait): a connection that died without a reset would otherwise hang a consumer for good.
 */
const SILENCE_MS = 60_000;

function retryable(error: unknown): boolean {
  if (error instanceof SqsServiceError) {
    const status = error.$metadata.httpStatusCode;
    return THROTTLING.has(error.name) || TRANSIENT_NAMES.has(error.name) || TRANSIENT_STATUS.has(status) || status >= 500;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

function abortError(): Error {
  const error = new Error('the request was aborted');
  error.name = 'AbortError';
  return error;
}

export class SqsHttpClient {
  private readonly signer = new SigV4Signer();
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: Infinity });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity });
  private readonly fixedEndpoint: URL | undefined;
  private readonly origins = new Map<string, URL>();
  /** The region, once known: it does not change for a client's life. */
  private region: string | undefined;

  constructor(private readonly options: SqsHttpClientOptions) {
    this.fixedEndpoint = options.endpoint === undefined ? undefined : new URL(options.endpoint);
  }

  /**
   * Calls `operation` (`SendMessageBatch`…) with `input` (its JSON request) and returns SQS's JSON
   * answer. `waitSeconds`: how long the server may hold the request (a long poll's wait).
   */
  async call<T>(operation: string, queueUrl: string, input: object, signal?: AbortSignal, waitSeconds = 0): Promise<T> {
    const body = JSON.stringify(input);
    const endpoint = this.endpointFor(queueUrl);
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw abortError();
      let failure: unknown;
      try {
        const answer = await this.send(endpoint, operation, body, signal, waitSeconds * 1000 + (this.options.silenceMs ?? SILENCE_MS));
        if (answer.status >= 200 && answer.status < 300) return (answer.body === '' ? {} : JSON.parse(answer.body)) as T;
        failure = this.serviceError(answer);
      } catch (error) {
        failure = error;
      }
      const skewCorrected = this.correctClock(failure);
      if (attempt >= this.options.maxAttempts || (!skewCorrected && !retryable(failure))) throw failure;
      await this.sleep(backoffDelay(attempt - 1, this.options.retryBaseDelayMs, this.options.retryMaxDelayMs, this.options.random), signal);
    }
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private endpointFor(queueUrl: string): URL {
    if (this.fixedEndpoint) return this.fixedEndpoint;
    let origin = this.origins.get(queueUrl);
    if (!origin) {
      origin = new URL(new URL(queueUrl).origin);
      this.origins.set(queueUrl, origin);
    }
    return origin;
  }

  private async send(endpoint: URL, operation: string, body: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<Answer> {
    this.region ??= await this.options.region();
    const region = this.region;
    // The SDK's provider, memoised: it refreshes credentials before they expire.
    const credentials = await this.options.credentials();
    const path = endpoint.pathname || '/';
    const headers = this.signer.sign({
      credentials,
      region,
      service: 'sqs',
      path,
      body,
      now: Date.now() + this.options.clockOffset.get(),
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AmazonSQS.${operation}`,
        // Asks for the query-protocol error code too (x-amzn-query-error), as the SDK does.
        'x-amzn-query-mode': 'true',
      },
    });
    headers['content-length'] = String(Buffer.byteLength(body));
    const https = endpoint.protocol === 'https:';
    return new Promise<Answer>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        {
          protocol: endpoint.protocol,
          hostname: endpoint.hostname.replace(/^\[|\]$/g, ''),
          port: endpoint.port || (https ? 443 : 80),
          method: 'POST',
          path,
          headers,
          agent: https ? this.httpsAgent : this.httpAgent,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', (error) => reject(signal?.aborted ? abortError() : error));
      req.setTimeout(timeoutMs, () => {
        const error = new Error(`no answer from SQS for ${timeoutMs} ms (${operation})`);
        // A network error the SDK's classification retries.
        req.destroy(Object.assign(error, { code: 'ETIMEDOUT' }));
      });
      req.end(body);
    });
  }

  private serviceError(answer: Answer): SqsServiceError {
    let type: string | undefined;
    let message: string | undefined;
    try {
      const parsed = JSON.parse(answer.body) as { __type?: unknown; message?: unknown; Message?: unknown };
      if (typeof parsed.__type === 'string') type = parsed.__type;
      const m = parsed.message ?? parsed.Message;
      if (typeof m === 'string') message = m;
    } catch {
      // Not JSON (a proxy's HTML page): the status says what happened.
    }
    const header = answer.headers['x-amzn-errortype'];
    type ??= typeof header === 'string' ? header : undefined;
    // `com.amazonaws.sqs#QueueDoesNotExist`, or `QueueDoesNotExist:http://internal.amazon.com/…`
    const name = type?.split(':')[0]?.split('#').pop() || (answer.status >= 500 ? 'ServiceUnavailable' : `HTTP${answer.status}`);
    const query = answer.headers['x-amzn-query-error'];
    const code = typeof query === 'string' ? query.split(';')[0] : undefined;
    const requestId = answer.headers['x-amzn-requestid'];
    const date = answer.headers['date'];
    const serverTime = date === undefined ? undefined : Date.parse(date);
    return new SqsServiceError(name, message ?? `SQS answered HTTP ${answer.status}`, code || undefined, answer.status, typeof requestId === 'string' ? requestId : undefined, serverTime);
  }

  /** On a clock-skew answer from a server whose clock is far from ours, signs with its time from now on. */
  private correctClock(error: unknown): boolean {
    if (!(error instanceof SqsServiceError) || !CLOCK_SKEW.has(error.name)) return false;
    const serverTime = error.serverTime;
    if (serverTime === undefined || !Number.isFinite(serverTime)) return false;
    const offset = this.options.clockOffset.get();
    if (Math.abs(serverTime - (Date.now() + offset)) < SKEW_TOLERANCE_MS) return false;
    this.options.clockOffset.set(serverTime - Date.now());
    return true;
  }

  private sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        if (signal?.aborted) reject(abortError());
        else resolve();
      }
      signal?.addEventListener('abort', done);
    });
  }
}
