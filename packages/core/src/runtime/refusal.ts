/**
 * A message the broker refused for good (`MessageRefusedError`: too large, a character or an id it
 * cannot carry) is never published again: the step it was for fails, through the run's normal
 * failure path; a refused timer parks its run.
 */
import type { SerializedError } from '../errors.js';
import type { ChainEvent } from '../machine/chain-context.js';
import { compensationActorId, stepActorId } from '../machine/compile-machine.js';
import { parseMessage, type TaskMessage } from '../messages.js';
import type { OutboxEntry } from '../ports/store.js';
import type { RunEngine } from './run-engine.js';

/**
 * Whether `error` is a broker's permanent refusal. By name as well as by class: an adapter may
 * bundle another copy of core, whose `MessageRefusedError` is another class.
 */
export function isRefusal(error: unknown): error is Error {
  return error instanceof Error && error.name === 'MessageRefusedError';
}

/**
 * The machine event that fails the step (or the compensation) a refused task message was for:
 * not retryable, for that message's attempt (an old attempt's refusal changes nothing).
 */
export function refusalEvent(message: TaskMessage, refusal: Error): ChainEvent {
  const actorId = message.compensation ? compensationActorId(message.step) : stepActorId(message.step);
  const what = message.compensation ? `the compensation of step "${message.step}"` : `step "${message.step}"`;
  const error: SerializedError = {
    name: 'MessageRefusedError',
    message: `run "${message.runId}": ${what} (task "${message.task}", attempt ${message.attempt}) cannot be dispatched: ${refusal.message}`,
    ...(refusal.stack ? { stack: refusal.stack } : {}),
    retryable: false,
  };
  return { type: `xstate.error.actor.${actorId}`, error, attempt: message.attempt };
}

/**
 * Applies the refusal of outbox `entry` to its run: a task message fails its step, a timer
 * message parks the run. Rejects when the store is unavailable (the relay then keeps the entry
 * and tries again later).
 */
export async function applyRefusal(engine: RunEngine, entry: OutboxEntry, refusal: Error): Promise<void> {
  if (entry.queue === null) return;
  const parsed = parseMessage(entry.body);
  if (!parsed.ok) return;
  const message = parsed.message;
  if (message.kind === 'task') await engine.apply(message.runId, refusalEvent(message, refusal));
  else await engine.park(message.runId, `the broker refused its timer message (${message.event}) for good: ${refusal.message}`);
}
