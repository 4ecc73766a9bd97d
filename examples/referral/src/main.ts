/**
 * `pnpm demo`: the tenant-referral flow on the memory broker and a fresh SQLite file.
 *
 *   node --conditions=source --import tsx src/main.ts [--broker memory|amqp|sqs] [--seed 1] [--db file]
 *   TASKCHART_BROKER=amqp AMQP_URL=amqp://guest:guest@127.0.0.1:5672 pnpm demo
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKER_NAMES, isBrokerName } from './broker.js';
import { runDemo } from './demo.js';
import { wantsColor } from './output.js';

const USAGE = 'usage: src/main.ts [--broker memory|amqp|sqs] [--seed 1] [--db path/to/file.db]';
// `pnpm start -- --seed 7` passes the `--` through: skip it.
const argv = process.argv.slice(2);
let values: { broker?: string; seed?: string; db?: string };
try {
  ({ values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: { broker: { type: 'string' }, seed: { type: 'string' }, db: { type: 'string' } },
  }));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}

const broker = values.broker ?? process.env.TASKCHART_BROKER ?? 'memory';
if (!isBrokerName(broker)) {
  console.error(`unknown broker "${broker}": use one of ${BROKER_NAMES.join(', ')}`);
  process.exit(2);
}
const seed = Number(values.seed ?? 1);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be a whole number, got ${values.seed}`);
  process.exit(2);
}
const dbPath = values.db ?? fileURLToPath(new URL('../.tmp/taskchart.db', import.meta.url));

try {
  const result = await runDemo({ dbPath, broker, seed, color: wantsColor() });
  const allTerminal = result.runs.every((r) => ['completed', 'compensated', 'failed'].includes(r.status));
  process.exitCode = allTerminal ? 0 : 1;
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  const hints: Record<string, string> = {
    amqp: 'is RabbitMQ running? set AMQP_URL (default amqp://guest:guest@127.0.0.1:5672)',
    sqs: 'set SQS_ENDPOINT for a local SQS server (any credentials; start one from the repository root with `node --import tsx scripts/sqs-server.ts 4599 &` and use SQS_ENDPOINT=http://127.0.0.1:4599), or AWS_REGION and AWS credentials for AWS',
  };
  const hint = hints[broker];
  if (hint) console.error(`the ${broker} broker failed: ${hint}; or run the demo on the memory broker (unset TASKCHART_BROKER)`);
  process.exitCode = 1;
}
