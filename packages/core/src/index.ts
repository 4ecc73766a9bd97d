/**
 * `@taskchart/core`: define tasks and chains, run them (`createRuntime`), start and watch runs
 * from another process (`createClient`). Adapter authors: `@taskchart/core/adapter`.
 */
export { chain, type AnyChain, type Chain, type ChainInput, type ChainOutput } from './chain.js';
export { task, type CompensationContext, type TaskContext, type TaskOptions } from './task.js';
export type { BackoffOptions, ErrorClass, Jitter, RetryOptions } from './retry-policy.js';
export type { Duration } from './duration.js';
export { RetryAfterError, parseRetryAfter, type RetryAfterHeaderOptions, type RetryAfterOptions } from './retry-after.js';
export type { Clock } from './clock.js';
export {
  ChainVersionUnknownError,
  InvalidOptionError,
  MessageRefusedError,
  NonRetryableError,
  RunCancelledError,
  RunFailedError,
  RunParkedError,
  RuntimeStateError,
  SerializationError,
  StoreBusyError,
  StoreLostError,
  TaskchartError,
  TaskTimeoutError,
  UnknownChainError,
  type SerializedError,
} from './errors.js';
export type { ChainMachine } from './machine/compile-machine.js';
export type { Broker } from './ports/broker.js';
export type { RunEventType, RunQuery, RunStatus, Store } from './ports/store.js';
export { createRuntime, type Runtime } from './runtime/runtime.js';
export { createClient, type CancelOptions, type Client, type EventsQuery, type RetryRunOptions, type StartRunOptions } from './client/client.js';
export type { CancelOutcome } from './runtime/run-engine.js';
export type { ClientOptions, Logger, RuntimeOptions } from './runtime/runtime-options.js';
export type { ResultOptions, RunHandle, RunInfo, RunInfoPage, StateValue } from './runtime/run-info.js';
export type { ChainDefinition, ChainDefinitionStep } from './client/chain-definitions.js';
export { machineConfig, machineSource } from './machine/machine-config.js';
export type { AttemptContext, AttemptOutcome, MessageCause, OutgoingMessage, Plugin } from './runtime/plugins.js';
export type { RunEvent, RunEventOf } from './runtime/run-events.js';
export type { FailureReport } from './runtime/failure-report.js';
export type { ChainMigration, ChainOptions, ChainSnapshot } from './chain-options.js';
export type { StrandedRun } from './client/check-deploy.js';
export type { DeadLetter, DeadLetterQuery, RedriveDeadLettersOptions } from './client/dead-letters.js';
