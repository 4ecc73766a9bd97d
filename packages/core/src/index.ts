export { chain, type AnyChain, type Chain, type ChainInput, type ChainOutput, type ValidChain } from './chain.js';
export { systemClock, type Clock, type RandomSource, type TimerHandle } from './clock.js';
export { parseDuration, type Duration, type DurationUnit } from './duration.js';
export {
  InvalidOptionError,
  MessageRefusedError,
  NonRetryableError,
  RunFailedError,
  RunParkedError,
  RuntimeStateError,
  SerializationError,
  StoreBusyError,
  StoreLostError,
  TaskchartError,
  TaskTimeoutError,
  UnknownChainError,
  serializeError,
  type SerializedError,
} from './errors.js';
export type { ChainContext, FailureInfo } from './machine/chain-context.js';
export { type ChainMachine, type StepDef } from './machine/compile-machine.js';
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
export {
  ACTIVE_STATUSES,
  isTerminal,
  TERMINAL_STATUSES,
  type Claimant,
  type EventQuery,
  type HistoryEntry,
  type NewOutboxEntry,
  type OutboxEntry,
  type RunEventType,
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
export { assertKnownKeys } from './known-keys.js';
export { backoffDelay, compileRetryPolicy, type BackoffOptions, type BackoffShape, type ErrorClass, type Jitter, type RetryOptions, type RetryPolicy } from './retry-policy.js';
export { DEFAULT_QUEUE, task, type AnyTask, type CompensateFn, type CompensationContext, type Task, type TaskContext, type TaskFn, type TaskInput, type TaskOptions, type TaskOutput } from './task.js';
export { createRuntime, Runtime, type StartRunOptions } from './runtime/runtime.js';
export { Client, createClient, type EventsQuery } from './client/client.js';
export type { ClientOptions, Logger, RuntimeOptions } from './runtime/runtime-options.js';
export type { ResultOptions, RunHandle, RunInfo, RunInfoPage } from './runtime/run-info.js';
export type { AttemptContext, AttemptOutcome, Plugin } from './runtime/plugins.js';
export type { RunEvent, RunEventOf } from './runtime/run-events.js';
export type { FailureReport } from './runtime/failure-report.js';
export { parseMessage, WIRE_VERSION, SIGNATURE_HEADER, type TaskMessage, type TimerMessage, type WireMessage } from './messages.js';
