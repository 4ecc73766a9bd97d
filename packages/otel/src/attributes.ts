/**
 * The span attributes: OpenTelemetry's messaging semantic conventions, then Taskchart's own
 * (`taskchart.*`). Names are spelt out here rather than taken from
 * `@opentelemetry/semantic-conventions`, whose messaging names are still marked experimental.
 */
import type { Attributes } from '@opentelemetry/api';
import type { AttemptContext, OutgoingMessage } from '@taskchart/core';

export const ATTR = {
  messagingSystem: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  errorType: 'error.type',
  runId: 'taskchart.run.id',
  chain: 'taskchart.chain',
  step: 'taskchart.step',
  task: 'taskchart.task',
  attempt: 'taskchart.attempt',
  compensation: 'taskchart.compensation',
  delayMs: 'taskchart.delay_ms',
} as const;

/** What each span does (`messaging.operation.name`, and the first word of its name). */
export type Operation = 'run' | 'publish' | 'retry' | 'process' | 'compensate';

/** The taskchart attributes every span of a step carries. */
function stepAttributes(m: Pick<OutgoingMessage, 'runId' | 'chain' | 'step' | 'task' | 'attempt' | 'compensation' | 'queue'>, system: string): Attributes {
  return {
    [ATTR.messagingSystem]: system,
    [ATTR.destination]: m.queue,
    [ATTR.conversationId]: m.runId,
    [ATTR.runId]: m.runId,
    [ATTR.chain]: m.chain,
    [ATTR.step]: m.step,
    [ATTR.task]: m.task,
    [ATTR.attempt]: m.attempt,
    [ATTR.compensation]: m.compensation,
  };
}

/** The attributes of the span that writes `message` (operation type `send`: `publish` is its deprecated name). */
export function sendAttributes(message: OutgoingMessage, operation: Operation, system: string): Attributes {
  return {
    ...stepAttributes(message, system),
    [ATTR.operationType]: 'send',
    [ATTR.operationName]: operation,
    ...(message.kind === 'timer' ? { [ATTR.delayMs]: message.delayMs } : {}),
  };
}

/** The attributes of an attempt's span. */
export function processAttributes(ctx: AttemptContext, system: string): Attributes {
  return {
    ...stepAttributes(ctx, system),
    [ATTR.operationType]: 'process',
    [ATTR.operationName]: ctx.compensation ? 'compensate' : 'process',
    [ATTR.messageId]: ctx.messageId,
  };
}
