/**
 * A local SQS-compatible server for tests and benchmarks: fauxqs 1.9.2 (in-process, JSON
 * protocol) on 127.0.0.1 and a free port.
 *
 * `stop()` and `start()` take the HTTP endpoint down and up again on the same port. By default the
 * queues and messages survive (fauxqs keeps them in memory, and we keep its stores), which is
 * what an SQS outage looks like from a worker: the endpoint is unreachable, the data is not lost.
 * `start({ freshState: true })` models a server that lost everything instead.
 *
 *   node --import tsx scripts/sqs-server.ts [port]   # run one in the foreground
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from 'fauxqs';

type Stores = NonNullable<NonNullable<Parameters<typeof buildApp>[0]>['stores']>;
type App = ReturnType<typeof buildApp>;

export interface LocalSqsServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Whether the endpoint currently answers. */
  readonly running: boolean;
  /** Takes the endpoint down (open connections are cut); state is kept for `start`. */
  stop(): Promise<void>;
  /** Brings the endpoint back on the same port, with the old state unless `freshState`. */
  start(options?: { freshState?: boolean }): Promise<void>;
}

/** fauxqs's dist folder (its package exports only the entry point, so look it up by path). */
function findDistDir(): string {
  for (const dir of createRequire(import.meta.url).resolve.paths('fauxqs') ?? []) {
    const candidate = join(dir, 'fauxqs', 'dist');
    if (existsSync(join(candidate, 'app.js'))) return candidate;
  }
  throw new Error('fauxqs is not installed (a root devDependency: pnpm install)');
}
const distDir = findDistDir();

async function newStores(): Promise<Stores> {
  // fauxqs does not export its stores; they are what survives a restart, so load them by file.
  const load = async (file: string) => (await import(pathToFileURL(join(distDir, file)).href)) as Record<string, new () => unknown>;
  const [sqs, sns, s3] = await Promise.all([load('sqs/sqsStore.js'), load('sns/snsStore.js'), load('s3/s3Store.js')]);
  const make = (mod: Record<string, new () => unknown>, name: string) => {
    const Ctor = mod[name];
    if (!Ctor) throw new Error(`fauxqs: ${name} not found in ${distDir}; is fauxqs 1.9.2 installed?`);
    return new Ctor();
  };
  return { sqsStore: make(sqs, 'SqsStore'), snsStore: make(sns, 'SnsStore'), s3Store: make(s3, 'S3Store') } as Stores;
}

export async function startLocalSqsServer(options: { port?: number } = {}): Promise<LocalSqsServer> {
  let stores = await newStores();
  let app: App | undefined;
  let port = options.port ?? 0;

  const listen = async () => {
    const next = buildApp({ logger: false, stores });
    const address = await next.listen({ port, host: '127.0.0.1' });
    port = Number(new URL(address).port);
    app = next;
  };
  await listen();

  return {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get running() {
      return app !== undefined;
    },
    async stop() {
      const current = app;
      app = undefined;
      await current?.close();
    },
    async start(startOptions = {}) {
      if (app) return;
      if (startOptions.freshState) stores = await newStores();
      await listen();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const server = await startLocalSqsServer({ port: Number(process.argv[2] ?? 4566) });
  console.log(`fauxqs listening on ${server.endpoint} (Ctrl-C to stop)`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
