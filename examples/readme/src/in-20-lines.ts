import { task, chain, createRuntime, NonRetryableError } from '@taskchart/core';
import { memoryBroker } from '@taskchart/broker-memory';
import { sqliteStore } from '@taskchart/store-sqlite';

const RISK_API = process.env.RISK_API ?? 'https://risk.example';
const retry = { maxRetries: 10, backoff: { initial: '4s', max: '10m', jitter: 'none' } } as const;

const fetchQuote = task('fetchQuote', async (input: { tenantId: string }) => ({ ...input, quote: 120 }), { retry });
const riskCheck = task('riskCheck', async (q: { tenantId: string; quote: number }, ctx) => {
  const res = await fetch(`${RISK_API}/score/${q.tenantId}`, { signal: ctx.signal, headers: { 'Idempotency-Key': ctx.idempotencyKey } });
  if (res.status === 404) throw new NonRetryableError(`unknown tenant ${q.tenantId}`);   // fails at once
  if (!res.ok) throw new Error(`risk API ${res.status}`);                               // retried: 4, 8, 16 … 600 s
  return { ...q, score: (await res.json()) as number };
}, { retry, timeout: '30s', compensate: async (output, ctx) => console.log(`undo ${ctx.idempotencyKey}: score ${output.score}`) });

const referral = chain('referral', fetchQuote, riskCheck);   // a compile error if the types don't line up

const runtime = createRuntime({ broker: memoryBroker(), store: sqliteStore('taskchart.db'), chains: [referral],
                                onFailure: (f) => console.error(`${f.task} failed ${f.attempts} times`, f.error) });
await runtime.start();                                  // consume queues, resume every unfinished run
const run = await runtime.run(referral, { tenantId: 't-1' }, { id: 'referral-t-1' });   // idempotent by id
console.log(await run.result());                        // the last step's output, or RunFailedError
await runtime.close();                                  // let in-flight steps finish, release the store
