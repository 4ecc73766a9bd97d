/**
 * A server-sent-events response: `event: run-event` per run event (`id:` its cursor), a
 * `: keep-alive` comment every 15 s, and an end when the request closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunEvent } from '@taskchart/core';
import { BASE_HEADERS } from './http.js';

export const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Writes one event; resolves when the socket took it (or the stream closed). */
  send(event: RunEvent): Promise<void>;
  readonly closed: boolean;
  /** Resolves when the request closes. */
  readonly done: Promise<void>;
  /** Ends the response. */
  end(): void;
}

export function openEventStream(req: IncomingMessage, res: ServerResponse, onClose: () => void): EventStream {
  res.writeHead(200, {
    ...BASE_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // Proxies (nginx) must not buffer the stream.
    'x-accel-buffering': 'no',
  });
  // A first comment sends the headers at once: the browser's EventSource opens now.
  res.write(': connected\n\n');
  let closed = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    onClose();
    resolveDone();
  };
  req.on('close', close);
  res.on('close', close);
  res.on('error', close);
  return {
    get closed() {
      return closed;
    },
    done,
    async send(event) {
      if (closed) return;
      const ok = res.write(`id: ${event.cursor}\nevent: run-event\ndata: ${JSON.stringify(event)}\n\n`);
      if (!ok && !closed) await new Promise<void>((resolve) => {
        res.once('drain', resolve);
        void done.then(resolve);
      });
    },
    end() {
      close();
      res.end();
    },
  };
}
