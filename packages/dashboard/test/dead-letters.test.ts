import { memoryBroker } from '@taskchart/broker-memory';
import { DEFAULT_QUEUE } from '@taskchart/core/adapter';
import { describe, expect, it } from 'vitest';
import { eventually, rigs } from './rig.js';
import { csrfOf, get, post, type ConfigBody } from './http.js';

const rig = rigs();

interface DeadLetterView {
  id: string;
  queue: string;
  reason: string;
  body: string;
  headers: Record<string, string>;
}

describe('dead letters', () => {
  it('lists dead-lettered messages with their reasons, bodies redacted, and redrives them (actions on)', async () => {
    const r = await rig();
    const { url } = await r.serve({ actions: true });
    expect((await get<ConfigBody>(`${url}/api/config`)).body.deadLetters).toBe(true);
    // A message no runtime sent (unsigned, not a task message): the worker dead-letters it with a reason.
    await memoryBroker({ hub: r.hub }).publish(DEFAULT_QUEUE, JSON.stringify({ hello: 'world', password: 'hunter2' }));
    let letters: DeadLetterView[] = [];
    await eventually(async () => {
      letters = (await get<{ deadLetters: DeadLetterView[] }>(`${url}/api/dead-letters`)).body.deadLetters;
      return letters.length === 1;
    }, 'the message to be dead-lettered');
    const [letter] = letters;
    expect(letter?.queue).toBe(DEFAULT_QUEUE);
    expect(letter?.reason.length).toBeGreaterThan(0);
    expect(JSON.parse(letter?.body ?? '{}')).toEqual({ hello: 'world', password: '[Filtered]' });
    expect((await get<{ deadLetters: DeadLetterView[] }>(`${url}/api/dead-letters?queue=${DEFAULT_QUEUE}&limit=10`)).body.deadLetters).toHaveLength(1);
    expect((await get(`${url}/api/dead-letters?limit=0`)).status).toBe(400);

    const token = await csrfOf(url);
    expect((await post(`${url}/api/dead-letters/redrive`, { ids: [letter?.id] }, { csrf: token })).status).toBe(400);
    const moved = await post<{ moved: number }>(`${url}/api/dead-letters/redrive`, { queue: DEFAULT_QUEUE, ids: [letter?.id] }, { csrf: token });
    expect(moved.status).toBe(200);
    expect(moved.body.moved).toBe(1);
  });
});
