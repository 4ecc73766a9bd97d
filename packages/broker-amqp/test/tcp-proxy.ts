/**
 * A TCP proxy in front of the real RabbitMQ, to cut the network in tests: `down()` drops every
 * connection and refuses new ones (as a dead server or a broken network does), `up()` listens
 * again on the same port, `freeze()` silently stops forwarding on open connections, `cutAt(bytes)`
 * cuts every connection at the moment the client sends given bytes. The broker under test talks
 * real AMQP to the real server through it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Transform } from 'node:stream';

interface Cut {
  readonly marker: Buffer;
  done(): void;
}

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private cut: Cut | undefined;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.setNoDelay(true);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      // Client-to-server bytes pass through a filter that can cut the connection before a chosen write.
      const filter = new Transform({
        transform: (chunk: Buffer, _encoding, next) => {
          const cut = this.cut;
          if (!cut || !chunk.includes(cut.marker)) return next(null, chunk);
          this.cut = undefined;
          next();
          this.cutAll();
          cut.done();
        },
      });
      client.pipe(filter).pipe(upstream);
      upstream.pipe(client);
      this.pairs.add([client, upstream]);
      client.on('close', () => this.pairs.forEach((p) => p[0] === client && this.pairs.delete(p)));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
  }

  /** Drops every proxied connection and stops accepting new ones. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Arms a cut: the next chunk the client sends that contains `marker` is dropped (it never
   * reaches the server) and every proxied connection is cut at once, as a network failure at the
   * moment of that write would. New connections work normally. Resolves when the cut happened.
   */
  cutAt(marker: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      this.cut = { marker: typeof marker === 'string' ? Buffer.from(marker, 'utf8') : marker, done: resolve };
    });
  }

  private cutAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
  }

  /**
   * Stops forwarding on every open connection without closing it (a half-open connection, as a
   * network partition leaves): neither side sees a FIN or RST. New connections work normally.
   */
  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe();
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
      // Nor does a close on one side reach the other any more.
      for (const s of [client, upstream]) {
        s.removeAllListeners('close');
        s.on('close', () => this.sockets.delete(s));
      }
    }
    this.pairs.clear();
  }

  /** How many proxied sockets are open (client and upstream sides both count). */
  get openSockets(): number {
    return this.sockets.size;
  }
}
