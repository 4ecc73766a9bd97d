import { SQSClient } from '@aws-sdk/client-sqs';
import { InvalidOptionError } from '@taskchart/core';
import { DEFAULT_QUEUE } from '@taskchart/core/adapter';
import { describe, expect, it } from 'vitest';
import { mapQueueName, sqsBroker, type SqsBrokerOptions } from '../src/index.js';
import { compileOptions } from '../src/options.js';
import { backoffDelay, JitteredRetryStrategy } from '../src/retry-strategy.js';

const rejects = (options: SqsBrokerOptions, option: string, detail: RegExp) => {
  let error: unknown;
  try {
    sqsBroker(options);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as InvalidOptionError).option).toBe(`sqsBroker: ${option}`);
  expect((error as Error).message).toMatch(detail);
};

describe('sqsBroker options', () => {
  it('fills in the documented defaults', () => {
    const o = compileOptions({});
    expect(o).toMatchObject({
      queuePrefix: '',
      defaultQueue: DEFAULT_QUEUE,
      createQueues: true,
      fifo: false,
      waitTimeSeconds: 20,
      visibilityTimeoutSeconds: 30,
      heartbeatIntervalMs: 10_000,
      receiveBatchSize: 10,
      receiveConcurrency: 'adaptive',
      deleteBatchSize: 10,
      deleteBatchWindowMs: 10,
      publishBatchSize: 10,
      publishBatchWindowMs: 0,
      maxMessageBytes: 262_144,
      maxDelaySeconds: 900,
      maxReceiveCount: undefined,
      maxAttempts: 10,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 5000,
    });
    expect(compileOptions({ queues: { tasks: 'https://sqs.eu-west-2.amazonaws.com/1/tasks' } }).createQueues).toBe(false);
  });

  it('declares SQS capabilities: durable, 15-minute delays, deduplication only when FIFO', () => {
    expect(sqsBroker({ region: 'eu-west-2' }).capabilities).toEqual({ durable: true, maxDelayMs: 900_000, deduplicates: false, maxMessageBytes: 262_144 });
    expect(sqsBroker({ region: 'eu-west-2', fifo: true }).capabilities.deduplicates).toBe(true);
  });

  it('rejects bad values with the option name and the allowed range', () => {
    rejects({ waitTimeSeconds: 21 }, 'waitTimeSeconds', /from 0 to 20, got 21/);
    rejects({ waitTimeSecond: 5 } as never, 'waitTimeSecond', /unknown option; did you mean "waitTimeSeconds"\?/);
    rejects({ concurrency: 5 } as never, 'concurrency', /unknown option; valid options: region, endpoint/);
    rejects({ waitTimeSeconds: 1.5 }, 'waitTimeSeconds', /whole number/);
    rejects({ visibilityTimeoutSeconds: 0 }, 'visibilityTimeoutSeconds', /from 1 to 43200/);
    rejects({ visibilityTimeoutSeconds: 3, heartbeatIntervalMs: 3000 }, 'heartbeatIntervalMs', /from 100 to 2999/);
    rejects({ receiveBatchSize: 11 }, 'receiveBatchSize', /from 1 to 10/);
    rejects({ receiveConcurrency: 0 }, 'receiveConcurrency', /'adaptive' or a whole number from 1 to 10/);
    rejects({ receiveConcurrency: 'auto' as unknown as number }, 'receiveConcurrency', /'adaptive' or a whole number from 1 to 10, got "auto"/);
    rejects({ deleteBatchSize: 0 }, 'deleteBatchSize', /from 1 to 10/);
    rejects({ maxMessageBytes: 2_000_000 }, 'maxMessageBytes', /from 1024 to 1048576/);
    rejects({ maxDelaySeconds: 901 }, 'maxDelaySeconds', /from 1 to 900/);
    rejects({ maxReceiveCount: 0 }, 'maxReceiveCount', /from 1 to 1000/);
    rejects({ queuePrefix: 'staging.' }, 'queuePrefix', /letters, digits/);
    rejects({ queuePrefix: 'x'.repeat(70) }, 'queuePrefix', /over SQS's 80 characters/);
    rejects({ defaultQueue: 'tasks.dead' }, 'defaultQueue', /not ending in '.dead'/);
    rejects({ endpoint: 'not a url' }, 'endpoint', /must be a URL/);
    rejects({ queues: { tasks: 'nope' } }, 'queues.tasks', /queue URL/);
    rejects({ region: '' }, 'region', /non-empty string/);
    rejects({ credentials: { accessKeyId: 'a' } as never }, 'credentials', /accessKeyId, secretAccessKey/);
  });

  it('refuses connection options beside a ready client, instead of ignoring them', () => {
    const client = new SQSClient({ region: 'eu-west-2' });
    try {
      rejects({ client, region: 'eu-west-1' }, 'region', /cannot be combined with `client`/);
      rejects({ client, maxAttempts: 3 }, 'maxAttempts', /cannot be combined with `client`/);
    } finally {
      client.destroy();
    }
  });
});

describe('queue names', () => {
  const rules = { queuePrefix: 'staging-', defaultQueue: 'tasks', fifo: false };

  it('maps Taskchart names to legal SQS names', () => {
    expect(mapQueueName('work', rules).physical).toBe('staging-work');
    expect(mapQueueName('work.dead', rules).physical).toBe('staging-work-dead');
    expect(mapQueueName('emails.fifo', rules)).toMatchObject({ physical: 'staging-emails.fifo', fifo: true });
    expect(mapQueueName('emails.fifo.dead', rules)).toMatchObject({ physical: 'staging-emails-dead.fifo', fifo: true, dead: true });
    expect(mapQueueName(DEFAULT_QUEUE, rules)).toMatchObject({ key: 'tasks', physical: 'staging-tasks' });
    expect(mapQueueName(`${DEFAULT_QUEUE}.dead`, rules)).toMatchObject({ key: 'tasks.dead', physical: 'staging-tasks-dead' });
    expect(mapQueueName('work', { ...rules, fifo: true }).physical).toBe('staging-work.fifo');
  });

  it('names the queue when SQS would refuse the name', () => {
    expect(() => mapQueueName('w'.repeat(80), rules)).toThrow(/queue "w+" maps to the SQS queue name/);
  });
});

describe('retry strategy', () => {
  it('backs off exponentially with full jitter, capped', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 100, 5000, () => 0.999999))).toEqual([100, 200, 400, 800, 5000]);
    expect(backoffDelay(5, 100, 5000, () => 0)).toBe(0);
  });

  it('retries throttling, 5xx and network errors up to maxAttempts, never client errors', async () => {
    const strategy = new JitteredRetryStrategy({ maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 });
    let token = await strategy.acquireInitialRetryToken('');
    token = await strategy.refreshRetryTokenForRetry(token, { errorType: 'THROTTLING' });
    expect([token.getRetryCount(), token.getRetryDelay()]).toEqual([1, 50]);
    token = await strategy.refreshRetryTokenForRetry(token, { errorType: 'SERVER_ERROR' });
    expect([token.getRetryCount(), token.getRetryDelay()]).toEqual([2, 100]);
    await expect(strategy.refreshRetryTokenForRetry(token, { errorType: 'TRANSIENT' })).rejects.toThrow(/3 attempts/);
    await expect(strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken(''), { errorType: 'CLIENT_ERROR' })).rejects.toThrow(/client error/);
  });
});
