import { setMaxListeners } from 'node:events';
import type { StrandedRun } from '../client/check-deploy.js';
import type { AnyChain, ChainInput, ChainOutput } from '../chain.js';
import type { ChainDefinition } from '../client/chain-definitions.js';
import type { DeadLetter, DeadLetterQuery, RedriveDeadLettersOptions } from '../client/dead-letters.js';
import { Client, NO_START_OPTIONS, type CancelOptions, type EventsQuery, type RetryRunOptions, type StartRunOptions } from '../client/client.js';
import type { CancelOutcome } from './run-engine.js';
import { RunningAttempts } from './running-attempts.js';
import { claimStore, releaseStore } from './store-workers.js';

/** How often the runs of long attempts are checked for a cancel another process committed. */
const CANCEL_CHECK_MS = 1000;
import { RuntimeStateError } from '../errors.js';
import type { Consumer } from '../ports/broker.js';
import { ACTIVE_STATUSES, type RunEventType, type RunQuery } from '../ports/store.js';
import { EagerDispatch } from './eager-dispatch.js';
import { ExecutingSteps, handleDelivery, pluginHooks, type HandlerDeps } from './message-handler.js';
import type { RunEvent, RunEventOf } from './run-events.js';
import type { ResultOptions, RunHandle, RunInfo, RunInfoPage } from './run-info.js';
import { compileRuntimeOptions, type CompiledRuntimeOptions, type RuntimeOptions } from './runtime-options.js';

export type { StartRunOptions } from '../client/client.js';

type State = 'new' | 'starting' | 'started' | 'closing' | 'closed';

/** Runs per page when a starting runtime re-dispatches what active runs wait for. */
const REDISPATCH_PAGE = 500;

/**
 * The embedded runtime: a client (starts, reads and follows runs) and a worker (consumes task
 * queues, advances runs) in one process. See {@link createRuntime}.
 */
export class Runtime {
  private readonly options: CompiledRuntimeOptions;
  private readonly client: Client;
  private readonly consumers: Consumer[] = [];
  private readonly attempts: RunningAttempts;
  /** Runs the steps this process commits here when it can (`eagerDispatch`). */
  private eager: EagerDispatch | undefined;
  private readonly shutdown = new AbortController();
  /** Aborted as soon as close() begins (before in-flight work drains). */
  private readonly closingSignal = new AbortController();
  /** The first close()'s promise: every later call answers with it. */
  private closed: Promise<void> | undefined;
  /** Set once the store reported it is lost (see stopOnLostStore). */
  private storeLost: Error | undefined;
  /** A started runtime is a server: it keeps the process alive until close(). */
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private state: State = 'new';

  constructor(options: RuntimeOptions) {
    this.options = compileRuntimeOptions(options);
    // Every in-flight step listens to the shutdown signal: as many as the prefetch allows.
    setMaxListeners(0, this.shutdown.signal);
    // And every commit retried through a store outage waits on the closing signal.
    setMaxListeners(0, this.closingSignal.signal);
    this.client = new Client(this.options, { beforeRelease: () => this.shutdown.abort(new RuntimeStateError('runtime closed')) });
    this.attempts = new RunningAttempts(this.options.store, this.options.clock, CANCEL_CHECK_MS, this.options.logger);
  }

  /**
   * Starts consuming the task queues and resumes every unfinished run: republishes what the
   * outbox still holds (what nobody holds a claim on) and, with a broker that does not survive a
   * crash (memory), re-dispatches what every active run waits for, a page of runs at a time.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new RuntimeStateError(`runtime.start(): already ${this.state}`);
    const { redispatch } = claimStore(this.options.store, this, this.options.broker.capabilities.durable);
    this.state = 'starting';
    try {
      await this.startUp(redispatch);
    } catch (error) {
      // Leave the runtime as it was, so start() can be called again.
      await Promise.allSettled(this.consumers.splice(0).map((c) => c.cancel()));
      releaseStore(this.options.store, this);
      this.state = 'new';
      throw error;
    }
    this.client.relay.startSweeping();
    this.keepAlive = setInterval(() => undefined, 1 << 30);
    this.state = 'started';
  }

  /** `redispatch`: re-dispatch what active runs wait for (see `claimStore`: not beside a live runtime that did). */
  private async startUp(redispatch: boolean): Promise<void> {
    const o = this.options;
    await this.client.recordDefinitions();
    await this.client.relay.republishAll();
    if (redispatch) await this.redispatchWaiting();
    const deps: HandlerDeps = {
      engine: this.client.engine,
      relay: this.client.relay,
      chains: o.chains,
      clock: o.clock,
      random: o.random,
      signingKey: o.signingKey,
      shutdown: this.shutdown.signal,
      closing: this.closingSignal.signal,
      onStoreLost: (error) => this.stopOnLostStore(error),
      logger: o.logger,
      plugins: o.plugins,
      hooks: pluginHooks(o.plugins),
      executing: new ExecutingSteps(),
      attempts: this.attempts,
      unknownVersionGraceMs: o.unknownVersionGraceMs,
    };
    this.client.engine.onCommitted = (record) => this.attempts.committed(record);
    const eager = o.eagerDispatch ? new EagerDispatch(new Set(o.queues), o.prefetch, (queue, d, outbox) => handleDelivery(queue, d, deps, outbox)) : undefined;
    for (const queue of o.queues) {
      this.consumers.push(await o.broker.consume(queue, (d) => handleDelivery(queue, d, deps), { prefetch: o.prefetch }));
    }
    if (eager) {
      this.eager = eager;
      this.client.relay.setEager((entry, settle) => eager.take(entry, settle));
      eager.start();
    }
  }

  /**
   * With a broker that lost its messages in a crash, the store is the only memory: what every
   * active run waits for is written to the outbox again (a version bump of its run, so a run
   * another process is advancing is left alone) and published from there, failed publishes
   * included, like any other outbox entry. Pages through the active runs.
   */
  private async redispatchWaiting(): Promise<void> {
    const { store, clock } = this.options;
    const relay = this.client.relay;
    let cursor: string | undefined;
    do {
      const page = await store.list({ status: ACTIVE_STATUSES, limit: REDISPATCH_PAGE, ...(cursor === undefined ? {} : { cursor }) });
      cursor = page.next;
      const now = clock.now();
      const writes = page.runs
        .filter((run) => run.waiting.some((w) => w.message))
        .map((run) => ({
          record: { ...run, version: run.version + 1 },
          expectedVersion: run.version,
          history: [],
          outbox: run.waiting.flatMap((w) =>
            w.message ? [{ queue: w.message.queue, body: w.message.body, options: { ...w.message.options, ...(w.dueAt === undefined ? {} : { delayMs: Math.max(0, w.dueAt - now) }) } }] : [],
          ),
        }));
      if (writes.length === 0) continue;
      const results = await store.commit(writes, relay.claimant());
      for (const result of results) if (result.ok) relay.publish(result.outbox);
    } while (cursor !== undefined);
    await relay.idle();
  }

  /** Starts a run of `chain` with `input`. Resolves once the run is durably recorded. */
  run<C extends AnyChain>(chain: C, input: ChainInput<C>, options: StartRunOptions = NO_START_OPTIONS): Promise<RunHandle<ChainOutput<C>>> {
    if (this.state === 'closing' || this.state === 'closed') return Promise.reject(new RuntimeStateError(`runtime.run(): the runtime is ${this.state}`));
    return this.client.run(chain, input, options);
  }

  /** Lists the active runs the definitions `chains` could not continue (see `Client.checkDeploy`). */
  checkDeploy(chains: readonly AnyChain[]): Promise<StrandedRun[]> {
    return this.client.checkDeploy(chains);
  }

  /** Re-drives a failed, compensated, cancelled or parked run (see `Client.retry`). */
  retry(id: string, options: RetryRunOptions = {}): Promise<RunInfo> {
    return this.client.retry(id, options);
  }

  /** Cancels a run (see `Client.cancel`). */
  cancel(id: string, options: CancelOptions = {}): Promise<CancelOutcome> {
    return this.client.cancel(id, options);
  }

  /** A run's status, current step, attempts (of the step, of the failed step, of the whole run), history and outcome; `undefined` for an unknown id. */
  getRun(id: string): Promise<RunInfo | undefined> {
    return this.client.getRun(id);
  }

  /** Runs, newest first, without their history, a page at a time. */
  listRuns(query: RunQuery = {}): Promise<RunInfoPage> {
    return this.client.listRuns(query);
  }

  /** The chain definitions recorded in the store (see `Client.chainDefinitions`). */
  chainDefinitions(query: { chain?: string } = {}): Promise<ChainDefinition[]> {
    return this.client.chainDefinitions(query);
  }

  /** One recorded chain definition (see `Client.chainDefinition`). */
  chainDefinition(chain: string, version: number, fingerprint?: string): Promise<ChainDefinition | undefined> {
    return this.client.chainDefinition(chain, version, fingerprint);
  }

  /** The queues `deadLetters()` reads, or `undefined` when the broker cannot list dead letters (see `Client.deadLetterQueues`). */
  get deadLetterQueues(): readonly string[] | undefined {
    return this.client.deadLetterQueues;
  }

  /** The messages the runtime dead-lettered, with their reasons (see `Client.deadLetters`). */
  deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.client.deadLetters(query);
  }

  /** Sends dead letters back to their queue (see `Client.redriveDeadLetters`). */
  redriveDeadLetters(options: RedriveDeadLettersOptions): Promise<number> {
    return this.client.redriveDeadLetters(options);
  }

  /** Every event of the runs `query` selects, whichever process committed it (see `Client.events`). */
  events(query: EventsQuery = {}): AsyncGenerator<RunEvent, void, undefined> {
    return this.client.events(query);
  }

  /**
   * Calls `fn` with every run event of `type` (or every event, `'*'`) this process commits,
   * right after the commit. Returns the function that unsubscribes. A listener that throws is
   * logged; the run goes on.
   */
  on<T extends RunEventType | '*'>(type: T, fn: (event: T extends RunEventType ? RunEventOf<T> : RunEvent) => void | Promise<void>): () => void {
    return this.client.bus.on(type, fn);
  }

  /**
   * The run's result: resolves with the chain's output, rejects with `RunFailedError` (failed or
   * compensated) or `RunParkedError` (parked), or `RuntimeStateError` when nothing can finish it
   * or `timeout` passed (see `Client.result`).
   */
  result(id: string, options: ResultOptions = {}): Promise<unknown> {
    return this.client.result(id, options);
  }

  /**
   * The store can keep nothing any more (`StoreLostError`): acknowledging more work would lose
   * it. Stop consuming (deliveries go back to the broker), fail pending `result()` calls with the
   * error, and say so loudly, once. `close()` still releases what is left.
   */
  private stopOnLostStore(error: Error): void {
    if (this.storeLost) return;
    this.storeLost = error;
    this.options.logger.error('the store is lost: this runtime stops consuming; restart it on a store that keeps its data', { error: error.message });
    this.eager?.stop();
    void Promise.allSettled(this.consumers.splice(0).map((c) => c.cancel()));
    this.client.failWaiters(error);
  }

  /**
   * Stops consuming, lets in-flight steps finish and commit, publishes what they caused, then
   * closes the broker and the store. Pending `result()` promises reject with `RuntimeStateError`.
   * A step outcome the store keeps refusing is not waited for: its message is given back. Every
   * call resolves once the runtime is closed (a second call while the first runs included).
   */
  close(): Promise<void> {
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private async closeOnce(): Promise<void> {
    this.state = 'closing';
    this.closingSignal.abort(new RuntimeStateError('runtime closing'));
    this.eager?.stop();
    await Promise.allSettled(this.consumers.splice(0).map((c) => c.cancel()));
    if (this.keepAlive) clearInterval(this.keepAlive);
    await this.client.close();
    this.attempts.stop();
    releaseStore(this.options.store, this);
    this.state = 'closed';
  }
}

/** Creates an embedded runtime (client and worker). Call `start()` to consume queues and resume unfinished runs. */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new Runtime(options);
}
