import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AnyChain, ChainInput, ChainOutput } from '../chain.js';
import { InvalidOptionError, RunFailedError, RunParkedError, RuntimeStateError, UnknownChainError } from '../errors.js';
import type { Consumer } from '../ports/broker.js';
import { isTerminal, TERMINAL_STATUSES, type RunQuery, type RunRecord, type RunStatus } from '../ports/store.js';
import type { PersistedChainSnapshot } from './decide.js';
import { asStored, assertJson } from './json-value.js';
import { handleDelivery, type HandlerDeps } from './message-handler.js';
import { OutboxRelay } from './outbox-relay.js';
import { applyRefusal } from './refusal.js';
import { RunEngine } from './run-engine.js';
import type { RunHandle, RunInfo } from './run-info.js';
import { compileRuntimeOptions, type CompiledRuntimeOptions, type RuntimeOptions } from './runtime-options.js';

export interface StartRunOptions {
  /** The run's id. Starting twice with one id starts one run (idempotent start). @defaultValue a random UUID */
  id?: string;
}

type Waiter = { resolve: (record: RunRecord) => void; reject: (error: unknown) => void };
type State = 'new' | 'starting' | 'started' | 'closing' | 'closed';

const ACTIVE_STATUSES: readonly RunStatus[] = ['running', 'retrying', 'compensating'];
/** Whether `result()` of a run with this status settles now: terminal, or parked. */
const isSettled = (status: RunStatus) => isTerminal(status) || status === 'parked';

/** The embedded runtime: starts runs, consumes task queues, advances runs. See {@link createRuntime}. */
export class Runtime {
  private readonly options: CompiledRuntimeOptions;
  private readonly relay: OutboxRelay;
  private readonly engine: RunEngine;
  private readonly consumers: Consumer[] = [];
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly shutdown = new AbortController();
  /** Aborted as soon as close() begins (before in-flight work drains). */
  private readonly closingSignal = new AbortController();
  /** The first close()'s promise: every later call answers with it. */
  private closed: Promise<void> | undefined;
  /** Set once the store reported it is lost (see stopOnLostStore). */
  private storeLost: Error | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  /** A started runtime is a server: it keeps the process alive until close(). */
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private state: State = 'new';

  constructor(options: RuntimeOptions) {
    this.options = compileRuntimeOptions(options);
    // Every in-flight step listens to the shutdown signal: as many as the prefetch allows.
    setMaxListeners(0, this.shutdown.signal);
    const o = this.options;
    this.relay = new OutboxRelay({
      broker: o.broker,
      store: o.store,
      clock: o.clock,
      signingKey: o.signingKey,
      onFailure: o.onFailure,
      sweepMs: o.outboxSweepMs,
      logger: o.logger,
      onRefused: (entry, refusal) => applyRefusal(this.engine, entry, refusal),
    });
    this.engine = new RunEngine(o.store, o.chains, o.clock, this.relay, (record) => this.settle(record), !o.broker.capabilities.durable);
  }

  /**
   * Starts consuming the task queues and resumes every unfinished run: republishes what the
   * outbox still holds and, with a broker that does not survive a crash (memory), re-dispatches
   * every pending step and timer from the store.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new RuntimeStateError(`runtime.start(): already ${this.state}`);
    this.state = 'starting';
    try {
      await this.startUp();
    } catch (error) {
      // Leave the runtime as it was, so start() can be called again.
      await Promise.allSettled(this.consumers.splice(0).map((c) => c.cancel()));
      this.state = 'new';
      throw error;
    }
    this.relay.startSweeping();
    this.keepAlive = setInterval(() => undefined, 1 << 30);
    this.state = 'started';
  }

  private async startUp(): Promise<void> {
    const o = this.options;
    await this.relay.republishAll();
    if (!o.broker.capabilities.durable) await this.redispatchPending();
    const deps: HandlerDeps = {
      engine: this.engine,
      relay: this.relay,
      chains: o.chains,
      clock: o.clock,
      random: o.random,
      signingKey: o.signingKey,
      shutdown: this.shutdown.signal,
      closing: this.closingSignal.signal,
      onStoreLost: (error) => this.stopOnLostStore(error),
      logger: o.logger,
      executing: new Map(),
    };
    for (const queue of o.queues) {
      this.consumers.push(await o.broker.consume(queue, (d) => handleDelivery(queue, d, deps), { prefetch: o.prefetch }));
    }
  }

  /**
   * With a broker that lost its messages in a crash, the store is the only memory: every
   * pending step and timer is written to the outbox again (a version bump of its run, so a run
   * another process is advancing is left alone) and published from there, failed publishes
   * included, like any other outbox entry.
   */
  private async redispatchPending(): Promise<void> {
    const o = this.options;
    const now = o.clock.now();
    const runs = (await o.store.list({ status: ACTIVE_STATUSES, limit: Number.MAX_SAFE_INTEGER })).filter((r) => r.pending.length > 0);
    for (let i = 0; i < runs.length; i += 500) {
      const writes = runs.slice(i, i + 500).map((run) => ({
        record: { ...run, version: run.version + 1 },
        expectedVersion: run.version,
        history: [],
        outbox: run.pending.map((p) => ({
          queue: p.queue,
          body: p.body,
          options: { ...p.options, ...(p.dueAt === undefined ? {} : { delayMs: Math.max(0, p.dueAt - now) }) },
        })),
      }));
      const results = await o.store.commit(writes);
      for (const result of results) if (result.ok) this.relay.publish(result.outbox);
    }
    await this.relay.idle();
  }

  /** Starts a run of `chain` with `input`. Resolves once the run is durably recorded. */
  async run<C extends AnyChain>(chain: C, input: ChainInput<C>, options: StartRunOptions = {}): Promise<RunHandle<ChainOutput<C>>> {
    if (this.state === 'closing' || this.state === 'closed') throw new RuntimeStateError(`runtime.run(): the runtime is ${this.state}`);
    const known = this.options.chains.get(chain?.name);
    if (!known || known !== chain) throw new UnknownChainError(`runtime.run(): chain "${chain?.name}" was not given to createRuntime({ chains })`);
    const id = options.id ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) throw new InvalidOptionError('runtime.run(): id', 'must be a non-empty string of at most 200 characters');
    assertJson(input, `runtime.run(): input of chain "${chain.name}"`);
    const created = await this.engine.create(chain, id, asStored(input));
    if (!created) {
      const existing = await this.options.store.load(id);
      if (existing && existing.chain !== chain.name) {
        throw new InvalidOptionError('runtime.run(): id', `run "${id}" already exists for chain "${existing.chain}", not "${chain.name}"`);
      }
    }
    return { id, chain: chain.name, result: () => this.result(id) as Promise<ChainOutput<C>> };
  }

  /** A run's status, current step, attempts, history and outcome; `undefined` for an unknown id. */
  async getRun(id: string): Promise<RunInfo | undefined> {
    const record = await this.options.store.load(id);
    if (!record) return undefined;
    return { ...toInfo(record), history: await this.options.store.history(id) };
  }

  /** Runs, newest first, without their history. */
  async listRuns(query: RunQuery = {}): Promise<Array<Omit<RunInfo, 'history'>>> {
    return (await this.options.store.list(query)).map(toInfo);
  }

  /**
   * The run's result: resolves with the chain's output, rejects with `RunFailedError` (failed or
   * compensated) or `RunParkedError` (parked: the loaded definition cannot continue it).
   */
  async result(id: string): Promise<unknown> {
    const record = await this.options.store.load(id);
    if (!record) throw new InvalidOptionError('runtime.result(): id', `no run "${id}"`);
    const final = isSettled(record.status) ? record : await this.waitTerminal(id);
    return outcome(final);
  }

  private waitTerminal(id: string): Promise<RunRecord> {
    return new Promise<RunRecord>((resolve, reject) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add({ resolve, reject });
      this.ensurePolling();
    });
  }

  /** Runs finished by other processes are noticed by polling the store. */
  private ensurePolling(): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      if (this.waiters.size === 0) {
        clearInterval(this.pollTimer);
        this.pollTimer = undefined;
        return;
      }
      const now = this.options.clock.now();
      for (const id of this.waiters.keys()) {
        // A run this process advanced within the last period is being watched from inside.
        if (this.engine.recentlyAdvanced(id, now - this.options.resultPollMs)) continue;
        void this.options.store.load(id).then(
          (r) => r && isSettled(r.status) && this.settle(r),
          () => undefined,
        );
      }
    }, this.options.resultPollMs);
    this.pollTimer.unref();
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
    void Promise.allSettled(this.consumers.splice(0).map((c) => c.cancel()));
    for (const set of this.waiters.values()) for (const w of set) w.reject(error);
    this.waiters.clear();
  }

  private settle(record: RunRecord): void {
    const set = this.waiters.get(record.id);
    if (!set) return;
    this.waiters.delete(record.id);
    for (const w of set) w.resolve(record);
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
    await Promise.allSettled(this.consumers.splice(0).map((c) => c.cancel()));
    await this.engine.drain();
    await this.relay.stop();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    for (const [id, set] of this.waiters) {
      for (const w of set) w.reject(new RuntimeStateError(`runtime closed before run "${id}" finished; it resumes when a runtime starts on the same store`));
    }
    this.waiters.clear();
    this.shutdown.abort(new RuntimeStateError('runtime closed'));
    await this.options.broker.close();
    await this.options.store.close();
    this.state = 'closed';
  }
}

function toInfo(record: RunRecord): Omit<RunInfo, 'history'> {
  return {
    id: record.id,
    chain: record.chain,
    status: record.status,
    step: record.step,
    attempts: record.attempt,
    input: record.input,
    ...('output' in record ? { output: record.output } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.failedTask ? { failedTask: record.failedTask } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

function outcome(record: RunRecord): unknown {
  if (record.status === 'completed') return record.output;
  if (record.status === 'parked') {
    const prefix = `run "${record.id}" (chain "${record.chain}") is parked: `;
    const message = record.error?.message ?? '';
    throw new RunParkedError(record.id, record.chain, message.startsWith(prefix) ? message.slice(prefix.length) : message || 'the loaded definition cannot continue it');
  }
  const context = (record.snapshot as PersistedChainSnapshot).context;
  const failure = context.failure;
  if (!TERMINAL_STATUSES.includes(record.status) || !failure) throw new RuntimeStateError(`run "${record.id}" is ${record.status}`);
  throw new RunFailedError(record.id, record.status as 'failed' | 'compensated', failure);
}

/** Creates an embedded runtime. Call `start()` to consume queues and resume unfinished runs. */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new Runtime(options);
}
