/**
 * Messages SQS can never accept are `MessageRefusedError`s (so the runtime fails the step rather
 * than retrying the publish forever), each naming the size or character and the limit, and the
 * next publish on the same broker goes through. Against the real local SQS server.
 */
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { MessageRefusedError, type Broker } from '@taskchart/core';
import { type Delivery } from '@taskchart/core/adapter';
import { waitFor } from '@taskchart/core/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { findInvalidCharacter } from '../src/characters.js';
import { fifoId } from '../src/fifo-id.js';
import { MessageTooLargeError, sqsBroker, type SqsBrokerOptions } from '../src/index.js';
import { openTestEndpoint } from './sqs-endpoint.js';

const sqs = await openTestEndpoint();
afterAll(() => sqs.stop());

const opened: Broker[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((b) => b.close()));
  for (const p of prefixes.splice(0)) await sqs.cleanup(p);
});

const newPrefix = () => {
  const p = `refuse-${randomUUID().slice(0, 8)}-`;
  prefixes.push(p);
  return p;
};
const open = (options: SqsBrokerOptions = {}) => {
  const b = sqsBroker({ ...sqs.connection, queuePrefix: newPrefix(), waitTimeSeconds: 1, onError: () => undefined, ...options });
  opened.push(b);
  return b;
};
const collect = async (broker: Broker, queue = 'work') => {
  const got: Delivery[] = [];
  await broker.consume(queue, async (d) => {
    got.push(d);
    await d.ack();
  });
  return got;
};
/** A task message of the wire format, as the runtime publishes it. */
const wire = (input: unknown, runId = 'run-7') => JSON.stringify({ v: 1, kind: 'task', runId, chain: 'referral', step: 's1', task: 'createGuarantee', attempt: 1, compensation: false, input });

/**
 * Publishes `refused` (expecting a MessageRefusedError) then a good message, and checks that only
 * the good one arrives (besides the `earlier` bodies already published to the queue).
 */
async function refusedThenGood(broker: Broker, refused: () => Promise<void>, earlier: string[] = []): Promise<MessageRefusedError> {
  const error = await refused().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MessageRefusedError);
  await broker.publish('work', 'next');
  const got = await collect(broker);
  await waitFor(() => got.some((d) => d.body === 'next'), 5000, 'the message published after the refusal');
  expect(got.map((d) => d.body).sort()).toEqual([...earlier, 'next'].sort());
  return error as MessageRefusedError;
}

describe('sqs: permanent refusals are MessageRefusedError', () => {
  it('refuses a ~300 KB step message over the default 256 KiB, naming run, task, size and limit', async () => {
    const broker = open();
    const body = wire({ report: 'r'.repeat(300_000) });
    const error = await refusedThenGood(broker, () => broker.publish('work', body));
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error.name).toBe('MessageRefusedError');
    expect(error.broker).toBe('sqs');
    expect(error.queue).toBe('work');
    expect(error.message).toContain(`run run-7, task "createGuarantee": the message is ${body.length} bytes`);
    expect(error.message).toContain('over the 262144-byte limit (maxMessageBytes)');
  });

  it('counts headers in the size, as SQS does', async () => {
    const broker = open({ maxMessageBytes: 2048 });
    const error = await refusedThenGood(broker, () => broker.publish('work', 'b'.repeat(2000), { headers: { 'x-trace': 't'.repeat(100) } }));
    expect(error.message).toMatch(/the message is 2113 bytes .*over the 2048-byte limit/);
  });

  it('refuses U+FFFF before sending, naming the character, its position, where in the input, and the rule', async () => {
    const broker = open();
    const body = wire({ notes: ['fine', 'bad \uffff here'] });
    const error = await refusedThenGood(broker, () => broker.publish('work', body));
    expect(error.message).toContain('run run-7, task "createGuarantee": character U+FFFF (a noncharacter)');
    expect(error.message).toContain(`at index ${body.indexOf('\uffff')} of the body (input.notes[1])`);
    expect(error.message).toContain('#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF');
  });

  it('refuses a lone surrogate and a control character, in the body or in a header', async () => {
    const broker = open();
    await expect(broker.publish('work', 'half a pair: \ud83d.')).rejects.toThrow(/character U\+D83D \(a lone surrogate\) at index 13 of the body/);
    await expect(broker.publish('work', 'bell\u0007')).rejects.toThrow(/character U\+0007 \(a control character\) at index 4 of the body/);
    const error = await refusedThenGood(broker, () => broker.publish('work', 'ok body', { headers: { 'x-note': 'a\ufffeb' } }));
    expect(error.message).toContain('character U+FFFE (a noncharacter) at index 1 of header "x-note"');
  });

  it('carries the characters SQS allows: tab, newline, U+FFFD, and escaped surrogates in JSON', async () => {
    const broker = open();
    const body = `${JSON.stringify({ s: 'lone \ud800 escaped by JSON.stringify' })}\t\n\r\ufffd\u00e9`;
    await broker.publish('work', body);
    const got = await collect(broker);
    await waitFor(() => got.length === 1, 5000, 'the message');
    expect(got[0]?.body).toBe(body);
  });

  it("maps SQS's own refusal (a queue whose MaximumMessageSize is lower than maxMessageBytes) to MessageRefusedError", async () => {
    const prefix = newPrefix();
    const created = await sqs.client.send(new CreateQueueCommand({ QueueName: `${prefix}work`, Attributes: { MaximumMessageSize: '1024' } }));
    const url = created.QueueUrl ?? '';
    const broker = open({ queuePrefix: prefix, queues: { work: url } });
    // Published in one tick, the two share a SendMessageBatch: only the large entry is refused.
    const [large, small] = await Promise.allSettled([broker.publish('work', wire('x'.repeat(2000), 'run-big')), broker.publish('work', 'small')]);
    expect(small.status).toBe('fulfilled');
    const error = large.status === 'rejected' ? (large.reason as unknown) : undefined;
    expect(error).toBeInstanceOf(MessageRefusedError);
    expect((error as Error).message).toMatch(/run run-big, task "createGuarantee": SQS answered InvalidParameterValue: .*shorter than 1024 bytes/);
    // Alone, it goes through SendMessage: refused the same way.
    const error2 = await refusedThenGood(broker, () => broker.publish('work', 'y'.repeat(1500)), ['small']);
    expect(error2.message).toMatch(/SQS answered InvalidParameterValue: .*shorter than 1024 bytes/);
  });

  it('refuses more than 10 attributes and a header name SQS does not take', async () => {
    const broker = open();
    const headers = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`x-h${i}`, 'v']));
    await expect(broker.publish('work', 'many', { headers })).rejects.toThrow(/11 message attributes \(headers\), over SQS's limit of 10/);
    await expect(broker.publish('work', 'many', { headers })).rejects.toBeInstanceOf(MessageRefusedError);
    const error = await refusedThenGood(broker, () => broker.publish('work', 'bad name', { headers: { 'AWS.trace': 'v' } }));
    expect(error.message).toContain('header "AWS.trace" is not a valid SQS message attribute name');
  });

  it('names the refusal a publish would meet without sending it (refusal()), and none for a message it carries', () => {
    const broker = open();
    expect(broker.refusal?.('work', wire({ report: 'r'.repeat(300_000) }))).toBeInstanceOf(MessageTooLargeError);
    expect(broker.refusal?.('work', 'bad \uffff')?.message).toContain('U+FFFF');
    expect(broker.refusal?.('q'.repeat(90), 'x')?.message).toMatch(/up to 80 characters/);
    expect(broker.refusal?.('work', 'fine', { headers: { 'x-trace': 't' } })).toBeUndefined();
  });

  it('refuses a queue name SQS would never take', async () => {
    const broker = open();
    const error = await refusedThenGood(broker, () => broker.publish('q'.repeat(90), 'x'));
    expect(error.message).toMatch(/which SQS refuses .*up to 80 characters/);
  });
});

describe("SQS's character rule", () => {
  it('allows exactly #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF', () => {
    for (const ok of ['\t\n\r', ' ~\u007f\u0085', '\ud7ff\ue000\ufffd', '😀', '\u{10ffff}', 'é€']) expect(findInvalidCharacter(ok), JSON.stringify(ok)).toBeUndefined();
    const refused: Array<[string, number, number]> = [
      ['\u0000', 0x0, 0],
      ['ab\u000b', 0xb, 2],
      ['\u001f', 0x1f, 0],
      ['😀\ud800', 0xd800, 2],
      ['\udc00😀', 0xdc00, 0],
      ['x\ufffe', 0xfffe, 1],
      ['\uffff', 0xffff, 0],
    ];
    for (const [text, codePoint, index] of refused) expect(findInvalidCharacter(text), JSON.stringify(text)).toEqual({ codePoint, index });
  });
});

describe('sqs FIFO ids never depend on what a run id holds', () => {
  it('keeps SQS-safe ids as they are and hashes the others deterministically', () => {
    expect(fifoId('run-1:step:2')).toBe('run-1:step:2');
    expect(fifoId('x'.repeat(128))).toBe('x'.repeat(128));
    for (const id of ['x'.repeat(129), 'r'.repeat(200), 'ü'.repeat(130), 'with space', '']) {
      expect(fifoId(id)).toMatch(/^[0-9a-f]{64}$/);
      expect(fifoId(id)).toBe(fifoId(`${id}`));
    }
    expect(fifoId('ü'.repeat(130))).not.toBe(fifoId('u'.repeat(130)));
  });

  it('takes a 200-character run id and one with ü as group and deduplication ids, and still deduplicates', async () => {
    const broker = open({ fifo: true });
    const long = `run-${'r'.repeat(196)}`;
    const umlaut = `rün-${'ü'.repeat(126)}`;
    for (const run of [long, umlaut]) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        // Published twice each, as an outbox republish would: SQS keeps one.
        for (let copy = 0; copy < 2; copy++) await broker.publish('work', `${run.slice(0, 5)}:${attempt}`, { groupId: run, deduplicationId: `${run}:s1:${attempt}` });
      }
    }
    const got = await collect(broker);
    await waitFor(() => got.length >= 4, 5000, 'four deliveries');
    await new Promise((r) => setTimeout(r, 300));
    expect(got.map((d) => d.body).sort()).toEqual(['run-r:1', 'run-r:2', 'rün-ü:1', 'rün-ü:2']);
    // One group per run: its messages stay in order.
    expect(got.filter((d) => d.body.startsWith('run-r')).map((d) => d.body)).toEqual(['run-r:1', 'run-r:2']);
  });
});
