import { InvalidOptionError } from '@taskchart/core';
import { describe, expect, it } from 'vitest';
import { sentryPlugin } from '../src/index.js';
import { compileSentryOptions } from '../src/options.js';
import { capValue, redactText, redactValue } from '@taskchart/core/adapter';

describe('sentryPlugin options', () => {
  it('rejects bad options with an error naming the option and its range', () => {
    expect(() => sentryPlugin({ redcat: [] } as never)).toThrow('sentryPlugin: redcat: unknown option; did you mean "redact"?');
    expect(() => sentryPlugin({ redact: 'password' } as never)).toThrow('sentryPlugin: redact: must be an array of strings and RegExps');
    expect(() => sentryPlugin({ redact: ['ok', 3] } as never)).toThrow('sentryPlugin: redact[1]: must be a non-empty string or a RegExp');
    expect(() => sentryPlugin({ maxValueBytes: 10 })).toThrow('sentryPlugin: maxValueBytes: must be an integer from 64 to 1000000 (bytes), got 10');
    expect(() => sentryPlugin({ maxValueBytes: 1.5 })).toThrow(InvalidOptionError);
    expect(() => sentryPlugin({ fingerprint: ['a'] } as never)).toThrow('sentryPlugin: fingerprint: must be a function (report) => string[]');
    expect(() => sentryPlugin({ flushTimeout: -1 })).toThrow('sentryPlugin: flushTimeout: must be an integer from 0 to 60000 (ms), got -1');
    expect(() => sentryPlugin(null as never)).toThrow('sentryPlugin: options must be an object');
  });

  it('redacts the default keys case-insensitively, plus the user rules, at any depth and in free text', () => {
    const { redacts } = compileSentryOptions({ redact: ['iban', /^ssn$/i] });
    for (const key of ['password', 'PASSWD', 'clientSecret', 'apiToken', 'x-api-key', 'Authorization', 'set-cookie', 'iban', 'SSN']) expect(redacts(key), key).toBe(true);
    for (const key of ['user', 'city', 'ssnumber', 'amount']) expect(redacts(key), key).toBe(false);
    expect(redactValue({ a: [{ Password: 'p', n: 1 }], b: { deep: { ssn: '1' } }, ok: null }, redacts)).toEqual({ a: [{ Password: '[Filtered]', n: 1 }], b: { deep: { ssn: '[Filtered]' } }, ok: null });
    expect(redactText('login failed: password=hunter2, user=ann; {"apiToken": "t-1"} (Authorization: Bearer ab.cd) key:', redacts)).toBe(
      'login failed: password=[Filtered], user=ann; {"apiToken": [Filtered]} (Authorization: [Filtered]) key:',
    );
  });

  it('caps a value over maxValueBytes to the start of its JSON, marked as truncated', () => {
    expect(capValue({ a: 'x' }, 64)).toEqual({ a: 'x' });
    const capped = capValue({ text: 'é'.repeat(200) }, 100);
    expect(typeof capped).toBe('string');
    expect(Buffer.byteLength(capped as string)).toBeLessThanOrEqual(100);
    expect(capped).toMatch(/^\{"text":"é+…\[truncated: 411 bytes, cap 100\]$/);
  });
});
