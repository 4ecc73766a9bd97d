/**
 * A Sentry ingest endpoint on 127.0.0.1 for tests: accepts envelopes (POST /api/<project>/envelope/,
 * gzip or not), decodes them and records their `event` items.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Event } from '@sentry/node';

export interface SentryReceiver {
  readonly dsn: string;
  readonly events: Event[];
  readonly envelopes: number;
  /** Envelope requests that were held (see `holdNext`) and whose sender went away before a response: never recorded. */
  readonly dropped: number;
  /**
   * Holds the next envelope request: it is read but neither recorded nor answered, as an ingest
   * that has not committed it yet. Resolves when that request has arrived. If its sender goes
   * away meanwhile (killed), the envelope is dropped; `release()` records and answers it.
   */
  holdNext(): Promise<{ release(): void }>;
  close(): Promise<void>;
}

export async function startSentryReceiver(): Promise<SentryReceiver> {
  const events: Event[] = [];
  let envelopes = 0;
  let dropped = 0;
  let hold: ((held: { release(): void }) => void) | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !/^\/api\/\d+\/envelope\/?(\?|$)/.test(req.url ?? '')) {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const record = () => {
        envelopes++;
        for (const item of parseEnvelope(body)) if (item.type === 'event') events.push(item.payload as Event);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      };
      const held = hold;
      if (!held) return record();
      hold = undefined;
      let gone = false;
      res.on('close', () => {
        if (!res.writableEnded && !gone) {
          gone = true;
          dropped++;
        }
      });
      held({ release: () => (gone ? undefined : record()) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://public@127.0.0.1:${port}/1`,
    events,
    get envelopes() {
      return envelopes;
    },
    get dropped() {
      return dropped;
    },
    holdNext: () => new Promise((resolve) => (hold = resolve)),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The items of one envelope: a header line, then per item a header line and its payload (`length` bytes, or up to a newline). */
export function parseEnvelope(body: Buffer): { type: string; payload: unknown }[] {
  let at = 0;
  const line = (): Buffer => {
    const end = body.indexOf(0x0a, at);
    const out = body.subarray(at, end === -1 ? body.length : end);
    at = end === -1 ? body.length : end + 1;
    return out;
  };
  line(); // the envelope header
  const items: { type: string; payload: unknown }[] = [];
  while (at < body.length) {
    const headerLine = line();
    if (headerLine.length === 0) continue;
    const header = JSON.parse(headerLine.toString('utf8')) as { type: string; length?: number };
    let payload: Buffer;
    if (typeof header.length === 'number') {
      payload = body.subarray(at, at + header.length);
      at += header.length;
      if (body[at] === 0x0a) at++;
    } else {
      payload = line();
    }
    const text = payload.toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // an attachment or another binary item: kept as text
    }
    items.push({ type: header.type, payload: parsed });
  }
  return items;
}
