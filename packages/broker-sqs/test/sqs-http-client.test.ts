/**
 * The adapter's own SQS requests, against a scripted HTTP server (what each answer makes the
 * client do: error shape, retries, clock-skew correction, abort) and against the real local
 * server (errors and binary attributes as SQS sends them).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { directSqsApi } from '../src/direct-sqs-api.js';
import { compileOptions } from '../src/options.js';
import { createClient, isQueueDoesNotExist, sdkSqsApi } from '../src/sqs-api.js';
import { SqsHttpClient, SqsServiceError } from '../src/sqs-http-client.js';
import { openTestEndpoint } from './sqs-endpoint.js';

interface Scripted {
  readonly status: number;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

interface Seen {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A server that answers each request with the next scripted answer, and records what it got. */
async function scriptedServer(answers: Scripted[]): Promise<{ endpoint: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = answers.shift() ?? { status: 200, body: '{}' };
      res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const servers: Server[] = [];
const clients: SqsHttpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

function client(endpoint: string | undefined, offset = { value: 0 }, silenceMs?: number): SqsHttpClient {
  const c = new SqsHttpClient({
    endpoint,
    region: async () => 'eu-west-2',
    credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' }),
    clockOffset: { get: () => offset.value, set: (ms) => (offset.value = ms) },
    maxAttempts: 3,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    random: () => 0.5,
    ...(silenceMs !== undefined ? { silenceMs } : {}),
  });
  clients.push(c);
  return c;
}

async function scripted(answers: Scripted[]) {
  const s = await scriptedServer(answers);
  servers.push(s.server);
  return s;
}

const error = (status: number, type: string, query?: string, extra: Record<string, string> = {}): Scripted => ({
  status,
  body: JSON.stringify({ __type: `com.amazonaws.sqs#${type}`, message: `said ${type}` }),
  headers: { ...(query ? { 'x-amzn-query-error': query } : {}), 'x-amzn-requestid': 'req-1', ...extra },
});

describe('sqs http client (scripted server)', () => {
  it('posts signed AWS JSON 1.0 to the endpoint and returns the parsed answer', async () => {
    const s = await scripted([{ status: 200, body: '{"Failed":[]}' }]);
    const out = await client(s.endpoint).call('DeleteMessageBatch', `${s.endpoint}/000/work`, { QueueUrl: 'q', Entries: [] });
    expect(out).toEqual({ Failed: [] });
    const [request] = s.seen;
    expect(request?.headers['x-amz-target']).toBe('AmazonSQS.DeleteMessageBatch');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request?.headers['x-amz-security-token']).toBe('token');
    expect(request?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-2\/sqs\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amzn-query-mode, Signature=[0-9a-f]{64}$/);
    expect(JSON.parse(request?.body ?? '')).toEqual({ QueueUrl: 'q', Entries: [] });
  });

  it('goes to the queue URL’s origin when no endpoint is set', async () => {
    const s = await scripted([{ status: 200, body: '{}' }]);
    await client(undefined).call('ChangeMessageVisibility', `${s.endpoint}/000/work`, {});
    expect(s.seen).toHaveLength(1);
  });

  it('shapes errors as the SDK does (name, query Code, status) and does not retry a client error', async () => {
    const s = await scripted([error(400, 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue;Sender')]);
    const failure = await client(s.endpoint)
      .call('ReceiveMessage', 'q', {})
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SqsServiceError);
    expect(failure).toMatchObject({ name: 'QueueDoesNotExist', Code: 'AWS.SimpleQueueService.NonExistentQueue', message: 'said QueueDoesNotExist', $metadata: { httpStatusCode: 400, requestId: 'req-1' } });
    expect(isQueueDoesNotExist(failure)).toBe(true);
    expect(s.seen).toHaveLength(1);
  });

  it('retries throttling and 5xx answers up to maxAttempts', async () => {
    const s = await scripted([error(400, 'ThrottlingException'), error(503, 'ServiceUnavailable'), { status: 200, body: '{"ok":1}' }]);
    expect(await client(s.endpoint).call('SendMessageBatch', 'q', {})).toEqual({ ok: 1 });
    expect(s.seen).toHaveLength(3);

    const t = await scripted([error(500, 'InternalError'), error(500, 'InternalError'), error(500, 'InternalError'), { status: 200, body: '{}' }]);
    await expect(client(t.endpoint).call('SendMessageBatch', 'q', {})).rejects.toMatchObject({ name: 'InternalError' });
    expect(t.seen).toHaveLength(3);
  });

  it('names a non-JSON error answer by its status', async () => {
    const s = await scripted([{ status: 502, body: '<html>bad gateway</html>' }, { status: 403, body: 'nope' }]);
    await expect(client(s.endpoint).call('SendMessage', 'q', {})).rejects.toMatchObject({ name: 'HTTP403', $metadata: { httpStatusCode: 403 } });
    expect(s.seen).toHaveLength(2);
  });

  it('retries a refused connection (server down) and then fails with the network error', async () => {
    const s = await scripted([]);
    const endpoint = s.endpoint;
    s.server.closeAllConnections();
    await new Promise((resolve) => s.server.close(resolve));
    servers.splice(servers.indexOf(s.server), 1);
    await expect(client(endpoint).call('SendMessage', 'q', {})).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('corrects its clock from the server’s Date on a clock-skew answer, and retries signed with it', async () => {
    const serverTime = Date.now() + 3_600_000;
    const s = await scripted([error(403, 'SignatureDoesNotMatch', 'SignatureDoesNotMatch;Sender', { date: new Date(serverTime).toUTCString() }), { status: 200, body: '{}' }]);
    const offset = { value: 0 };
    await client(s.endpoint, offset).call('SendMessage', 'q', {});
    expect(Math.abs(offset.value - 3_600_000)).toBeLessThan(5000);
    const [first, second] = s.seen.map((r) => String(r.headers['x-amz-date']));
    expect(second?.slice(0, 13)).not.toBe(first?.slice(0, 13));
  });

  it('does not retry a signature error when the clocks agree', async () => {
    const s = await scripted([error(403, 'SignatureDoesNotMatch', undefined, { date: new Date().toUTCString() }), { status: 200, body: '{}' }]);
    await expect(client(s.endpoint).call('SendMessage', 'q', {})).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    expect(s.seen).toHaveLength(1);
  });

  it('drops a request that gets no answer (a connection dead without a reset), retries it, then fails', async () => {
    let requests = 0;
    const silent = createServer(() => requests++);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    servers.push(silent);
    await expect(client(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { value: 0 }, 100).call('ReceiveMessage', 'q', {}, undefined, 0)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(requests).toBe(3);
  });

  it('rejects with an AbortError when its signal is aborted', async () => {
    const hanging = createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    servers.push(hanging);
    const controller = new AbortController();
    const call = client(`http://127.0.0.1:${(hanging.address() as AddressInfo).port}`).call('ReceiveMessage', 'q', {}, controller.signal);
    setTimeout(() => controller.abort(), 20);
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
  });
});

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

describe('sqs http client (local SQS server)', () => {
  it('receives binary attributes as bytes, and says QueueDoesNotExist for a deleted queue', async () => {
    const options = compileOptions({ ...sqs.connection, onError: () => undefined });
    const { client: sdkClient, owned } = createClient(options);
    const api = directSqsApi(sdkSqsApi(sdkClient, owned), sdkClient, options);
    try {
      const name = `http-client-${randomUUID().slice(0, 8)}`;
      const url = (await sqs.client.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
      const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
      await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: 'ü',
          MessageAttributes: { blob: { DataType: 'Binary', BinaryValue: bytes }, text: { DataType: 'String', StringValue: 'v' } },
        }),
      );
      const [message] = await api.receive(url, { max: 10, waitSeconds: 2, visibilitySeconds: 30 });
      expect(message?.body).toBe('ü');
      expect(message?.receiveCount).toBe(1);
      expect(Buffer.from(message?.attributes['blob']?.BinaryValue ?? []).equals(Buffer.from(bytes))).toBe(true);
      expect(message?.attributes['text']).toMatchObject({ DataType: 'String', StringValue: 'v' });

      // Sent back with its binary attribute through our own request: SQS gets the same bytes.
      await api.send(url, { body: 'again', attributes: message?.attributes ?? {} });
      expect((await api.deleteBatch(url, [message?.receiptHandle ?? ''])).failed.size).toBe(0);
      const [again] = await api.receive(url, { max: 10, waitSeconds: 2, visibilitySeconds: 30 });
      expect(Buffer.from(again?.attributes['blob']?.BinaryValue ?? []).equals(Buffer.from(bytes))).toBe(true);

      await sqs.client.send(new DeleteQueueCommand({ QueueUrl: url }));
      const failure = await api.receive(url, { max: 1, waitSeconds: 0, visibilitySeconds: 30 }).catch((e: unknown) => e);
      expect(isQueueDoesNotExist(failure)).toBe(true);
    } finally {
      api.destroy();
    }
  });
});
