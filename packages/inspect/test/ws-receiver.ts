/**
 * A WebSocket endpoint on 127.0.0.1 (a free port) standing in for the Stately inspector's relay:
 * `createWebSocketInspector({ url })` connects to it and sends one JSON inspection event per
 * message, which are recorded in order.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/** An inspection event as `@statelyai/inspect` frames it on the wire. */
export interface WireInspectionEvent {
  readonly type: '@xstate.actor' | '@xstate.event' | '@xstate.snapshot';
  readonly sessionId: string;
  readonly rootId?: string;
  readonly name?: string;
  readonly definition?: string;
  readonly parentId?: string;
  readonly sourceId?: string;
  readonly event?: { readonly type: string; readonly [key: string]: unknown };
  readonly snapshot?: { readonly status?: string; readonly value?: unknown; readonly context?: Record<string, unknown>; readonly [key: string]: unknown };
}

export interface InspectorReceiver {
  readonly url: string;
  readonly received: WireInspectionEvent[];
  close(): Promise<void>;
}

export async function startInspectorReceiver(): Promise<InspectorReceiver> {
  const received: WireInspectionEvent[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => received.push(JSON.parse(data.toString('utf8')) as WireInspectionEvent));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const client of server.clients) client.terminate();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
