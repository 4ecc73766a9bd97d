import { InvalidOptionError } from '@taskchart/core';
import { describe, expect, it } from 'vitest';
import { memoryBroker } from '../src/index.js';

describe('memoryBroker options', () => {
  it('rejects an unknown key, naming the nearest valid one', () => {
    expect(() => memoryBroker({ queuePrefx: 'a-' } as never)).toThrow(InvalidOptionError);
    expect(() => memoryBroker({ queuePrefx: 'a-' } as never)).toThrow(
      'memoryBroker: queuePrefx: unknown option; did you mean "queuePrefix"? valid options: queuePrefix, clock, hub',
    );
  });

  it('rejects a queuePrefix that is not a string', () => {
    expect(() => memoryBroker({ queuePrefix: 7 } as never)).toThrow('memoryBroker: queuePrefix: must be a string');
  });
});
