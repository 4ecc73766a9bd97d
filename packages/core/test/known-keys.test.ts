import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { assertKnownKeys, nearestKey } from '../src/known-keys.js';

describe('assertKnownKeys', () => {
  const known = ['maxRetries', 'backoff', 'retryOn'];

  it('accepts known keys and an empty object', () => {
    expect(() => assertKnownKeys({ maxRetries: 1, backoff: {} }, known, 'task "t": retry')).not.toThrow();
    expect(() => assertKnownKeys({}, known, 'task "t": retry')).not.toThrow();
  });

  it('names the unknown key, the nearest valid one and the valid set', () => {
    let caught: unknown;
    try {
      assertKnownKeys({ maxRetry: 3 }, known, 'task "t": retry');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).option).toBe('task "t": retry: maxRetry');
    expect((caught as Error).message).toBe('task "t": retry: maxRetry: unknown option; did you mean "maxRetries"? valid options: maxRetries, backoff, retryOn');
  });

  it('gives no hint when nothing is close', () => {
    expect(() => assertKnownKeys({ concurrency: 4 }, known, 'createRuntime')).toThrow(
      'createRuntime: concurrency: unknown option; valid options: maxRetries, backoff, retryOn',
    );
  });
});

describe('nearestKey', () => {
  it.each([
    ['maxRetry', 'maxRetries'],
    ['MaxRetries', 'maxRetries'],
    ['bakcoff', 'backoff'],
    ['retryon', 'retryOn'],
    ['timout', 'timeout'],
    ['queueName', 'queue'],
  ])('%s → %s', (typo, expected) => {
    expect(nearestKey(typo, ['maxRetries', 'backoff', 'retryOn', 'timeout', 'queue'])).toBe(expected);
  });

  it.each(['concurrency', 'x', 'workers'])('%s has no near key', (far) => {
    expect(nearestKey(far, ['maxRetries', 'backoff', 'queue'])).toBeUndefined();
  });
});

describe('unknown option keys are rejected where options are compiled', () => {
  it('task(): a misspelt retry option names the nearest valid key', async () => {
    const { task } = await import('../src/task.js');
    expect(() => task('t', (x: number) => x, { retry: { maxRetry: 3 } as never })).toThrow('task "t": retry: maxRetry: unknown option; did you mean "maxRetries"?');
    expect(() => task('t', (x: number) => x, { timout: '1s' } as never)).toThrow('task "t": timout: unknown option; did you mean "timeout"?');
    expect(() => task('t', (x: number) => x, { retry: { backoff: { inital: '1s' } } } as never)).toThrow(
      'task "t": retry.backoff: inital: unknown option; did you mean "initial"?',
    );
  });
});
