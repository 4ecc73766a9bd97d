/**
 * `@taskchart/core/adapter`: what broker and store adapters (and tools such as a dashboard) are
 * built from — the ports, their record and wire shapes, and the helpers every adapter shares
 * (option checks, the one backoff formula, durations, the clock). Applications need only
 * `@taskchart/core`. See docs/adapters.md.
 */
export { DEFAULT_QUEUE, type AnyTask, type CompensateFn, type Task, type TaskFn, type TaskInput, type TaskOutput } from './task.js';
export type { ValidChain } from './chain.js';
export { systemClock, createSystemClock, MAX_TIMER_MS, type Clock, type HostTimers, type RandomSource, type TimerHandle } from './clock.js';
export { parseDuration, type DurationUnit } from './duration.js';
export { InvalidOptionError, MessageRefusedError, StoreBusyError, StoreLostError, TaskchartError, serializeError, type SerializedError } from './errors.js';
export type { ChainContext, FailureInfo } from './machine/chain-context.js';
export { compensationActorId, stepActorId, type StepDef } from './machine/compile-machine.js';
export {
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  deadLetterQueueName,
  type Broker,
  type BrokerCapabilities,
  type BrokerMessage,
  type ConsumeOptions,
  type Consumer,
  type Delivery,
  type DeliveryHandler,
  type MessageHeaders,
  type PublishOptions,
} from './ports/broker.js';
export { deadLetterIds, deadLetterLimit, DEFAULT_DEAD_LETTER_LIMIT, MAX_DEAD_LETTER_LIMIT, withoutDeadLetterHeaders, type DeadLetterAccess, type DeadLetterListOptions, type DeadLetterMessage, type DeadLetterRedriveOptions } from './ports/broker.js';
export {
  ACTIVE_STATUSES,
  isTerminal,
  TERMINAL_STATUSES,
  type ChainDefinitionRecord,
  type Claimant,
  type DefinitionQuery,
  type EventQuery,
  type HistoryEntry,
  type NewOutboxEntry,
  type OutboxEntry,
  type RunPage,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type RunWrite,
  type Store,
  type StoredEvent,
  type WaitingFor,
  type WriteResult,
} from './ports/store.js';
export { fromJsonColumn, runFromRow, toJsonColumn, type RunRow } from './ports/run-row.js';
export { checkClaimant, checkDefinitionRecords, checkPageLimit, DEFAULT_PAGE, MAX_PAGE, parseRunListCursor, runListCursor } from './ports/store-args.js';
export { assertKnownKeys } from './known-keys.js';
export { backoffDelay, compileRetryPolicy, type BackoffShape, type RetryPolicy } from './retry-policy.js';
export { parseMessage, WIRE_VERSION, SIGNATURE_HEADER, type TaskMessage, type TimerMessage, type WireMessage } from './messages.js';
export { capValue, compileRedaction, DEFAULT_REDACT, FILTERED, redactText, redactValue, type RedactRule } from './redact.js';
