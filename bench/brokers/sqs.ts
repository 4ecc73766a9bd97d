/**
 * SQS for `bench/run.ts` (`--broker sqs`): the adapter on `SQS_ENDPOINT` when set (with the
 * SDK's default region and credentials), otherwise on a local fauxqs server started here in a
 * **child process** on 127.0.0.1 and a free port (so its HTTP handling does not share the
 * benchmark's main thread), and stopped by `shutdown`. `TASKCHART_SQS_BENCH_SERVER=inprocess`
 * runs the server inside the benchmark process instead. `cleanup` deletes the phase's queues.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deleteQueuesWithPrefix, sqsBroker, type SqsBroker, type SqsBrokerOptions } from '../../packages/broker-sqs/src/index.js';
import { startLocalSqsServer, type LocalSqsServer } from '../../scripts/sqs-server.js';
import type { Broker } from '../lib/taskchart.js';

type Connection = Pick<SqsBrokerOptions, 'endpoint' | 'region' | 'credentials'>;

let server: LocalSqsServer | undefined;
let child: ChildProcess | undefined;
let connection: Promise<Connection> | undefined;
const brokers = new Map<string, SqsBroker>();

/** Starts `scripts/sqs-server.ts` in a child process on a free port; resolves with its endpoint. */
function startServerProcess(): Promise<string> {
  const script = fileURLToPath(new URL('../../scripts/sqs-server.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', script, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  child = proc;
  return new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const endpoint = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (endpoint) resolve(endpoint);
    });
    proc.once('exit', (code) => reject(new Error(`the fauxqs server process exited (code ${String(code)}) before listening`)));
    proc.once('error', reject);
  });
}

function connect(): Promise<Connection> {
  connection ??= (async () => {
    const external = process.env.SQS_ENDPOINT;
    if (external) return { endpoint: external, ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}) };
    let endpoint: string;
    if (process.env.TASKCHART_SQS_BENCH_SERVER === 'inprocess') {
      server = await startLocalSqsServer();
      endpoint = server.endpoint;
    } else {
      endpoint = await startServerProcess();
    }
    return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };
  })();
  return connection;
}

export async function create(prefix: string): Promise<Broker> {
  // Short long-polls: under load a receive returns at once anyway; this bounds close() at the end.
  const broker = sqsBroker({ ...(await connect()), queuePrefix: prefix, waitTimeSeconds: 2 });
  brokers.set(prefix, broker);
  return broker;
}

/** Worker processes (`--workers`) reach the same server: its endpoint, and the local server's dummy credentials. */
export async function workerEnv(): Promise<Record<string, string>> {
  const c = await connect();
  if (process.env.SQS_ENDPOINT) return {};
  return { SQS_ENDPOINT: c.endpoint ?? '', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' };
}

export async function cleanup(prefix: string): Promise<void> {
  const broker = brokers.get(prefix);
  brokers.delete(prefix);
  await broker?.close();
  await deleteQueuesWithPrefix(await connect(), prefix);
}

export async function shutdown(): Promise<void> {
  for (const prefix of [...brokers.keys()]) await cleanup(prefix);
  await server?.stop();
  server = undefined;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  connection = undefined;
}
