/**
 * An HTTP proxy in front of the real SQS-compatible server that answers chosen requests itself
 * with an error (throttling, 5xx), as SQS does under load, and forwards everything else
 * unchanged. It records every request it saw (operation, time, and whether it was answered with
 * a fault), so a test can check what the client retried and when.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An error answer, in the AWS JSON protocol SQS speaks. */
export interface FaultAnswer {
  readonly status: number;
  /** The error code (`ThrottlingException`, `InternalError`…). */
  readonly code: string;
}

export const THROTTLED: FaultAnswer = { status: 400, code: 'ThrottlingException' };
export const SERVICE_UNAVAILABLE: FaultAnswer = { status: 503, code: 'ServiceUnavailable' };
export const INTERNAL_ERROR: FaultAnswer = { status: 500, code: 'InternalError' };

export interface SeenRequest {
  /** The SQS operation (`SendMessageBatch`, `ReceiveMessage`…), from `X-Amz-Target`. */
  readonly operation: string;
  readonly at: number;
  readonly fault: FaultAnswer | undefined;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly seen: readonly SeenRequest[];
  /** Answers the next `count` requests of `operation` with `answer`. */
  inject(operation: string, answer: FaultAnswer, count: number): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults = new Map<string, FaultAnswer[]>();
  const seen: SeenRequest[] = [];

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    out.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
      const fault = faults.get(operation)?.shift();
      seen.push({ operation, at: Date.now(), fault });
      if (!fault) return forward(req, res, Buffer.concat(chunks));
      const payload = JSON.stringify({ __type: `com.amazonaws.sqs#${fault.code}`, message: `injected ${fault.code}` });
      res.writeHead(fault.status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': `${fault.code};${fault.status >= 500 ? 'Receiver' : 'Sender'}`,
        'content-length': Buffer.byteLength(payload),
      });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    inject(operation, answer, count) {
      const list = faults.get(operation) ?? [];
      for (let i = 0; i < count; i++) list.push(answer);
      faults.set(operation, list);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
