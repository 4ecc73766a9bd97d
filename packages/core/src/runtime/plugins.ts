/**
 * Plugins and in-process event listeners. A plugin hooks run events (`onEvent`), the durable
 * `onFailure` report and each task attempt (`wrapAttempt`). A plugin or listener that throws is
 * logged with its name; the run goes on.
 */
import type { MessageHeaders } from '../ports/broker.js';
import type { RunEventType } from '../ports/store.js';
import { InvalidOptionError } from '../errors.js';
import { assertKnownKeys } from '../known-keys.js';
import type { FailureReport } from './failure-report.js';
import type { RunEvent, RunEventOf } from './run-events.js';
import type { Logger } from './runtime-options.js';

/** The invocation an attempt runs, or a message is for: which run, step, task, queue and attempt. */
export interface InvocationInfo {
  readonly runId: string;
  readonly chain: string;
  /** The step (for a timer: the step it retries). */
  readonly step: string;
  readonly task: string;
  /** The queue the message goes to (for an attempt: the queue it was consumed from). */
  readonly queue: string;
  /** The attempt (for a timer: the attempt it starts when it fires). */
  readonly attempt: number;
  /** True for a compensation. */
  readonly compensation: boolean;
}

/** What `wrapAttempt` is told about the attempt it wraps. */
export interface AttemptContext extends InvocationInfo {
  /** The headers of the message the attempt was consumed from (a trace context that `messageHeaders` put there, say). */
  readonly headers: MessageHeaders;
  /** The broker's id of that message. */
  readonly messageId: string;
}

/** What made a commit write a message, as `messageHeaders` is told (to link the message to its cause). */
export type MessageCause =
  /** A client call made it: `run()` started the run (or `cancel()` / `retry()` moved it); the caller's async context is still the current one. */
  | { readonly kind: 'start' }
  /** This attempt's outcome (the object `wrapAttempt` was given for it). */
  | { readonly kind: 'attempt'; readonly attempt: AttemptContext }
  /** A retry timer fired; `headers` are the timer message's. */
  | { readonly kind: 'timer'; readonly headers: MessageHeaders };

/** A message a commit is about to write to its outbox, as `messageHeaders` is told about it. */
export interface OutgoingMessage extends InvocationInfo {
  /** `task`: run an attempt of a step (or compensation); `timer`: a retry timer (or a scheduled start), due after `delayMs`. */
  readonly kind: 'task' | 'timer';
  /** How long the broker holds the message, in ms (0 for a task message). */
  readonly delayMs: number;
  readonly cause: MessageCause;
}

/** How an attempt ended, as `wrapAttempt`'s `next()` resolves it (it never rejects). */
export type AttemptOutcome = { readonly ok: true } | { readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

export interface Plugin {
  /** Names the plugin in logs when one of its hooks throws. */
  readonly name: string;
  /** Every run event this process commits (in process, after the commit). */
  readonly onEvent?: (event: RunEvent) => void | Promise<void>;
  /**
   * A step or compensation failed for good, or a run was parked. Durable and at least once: the
   * report is kept in the store's outbox until a process with an `onFailure` hook has called it.
   */
  readonly onFailure?: (report: FailureReport) => void | Promise<void>;
  /**
   * Wraps each task attempt run by this process (spans, isolation scopes, breadcrumbs). Call
   * `next()` exactly once and return what it resolves; it never rejects. A wrapper that throws
   * is logged, and the attempt runs unwrapped if it did not run yet.
   */
  readonly wrapAttempt?: (ctx: AttemptContext, next: () => Promise<AttemptOutcome>) => Promise<AttemptOutcome>;
  /**
   * Headers to carry on a message a commit writes (a trace context, say), called before the
   * commit, once per message (again if a version conflict makes the commit be decided again).
   * Stored with the message in the outbox; the receiving attempt sees them as `ctx.headers`, and
   * an early timer re-delayed hop by hop keeps them. String values only; names starting with
   * `x-taskchart-` are the runtime's and adapters' own, and dropped. A hook that throws is logged;
   * the message goes without its headers. Mind the broker's limits: SQS carries 10 headers.
   */
  readonly messageHeaders?: (message: OutgoingMessage) => MessageHeaders | undefined;
}

const PLUGIN_KEYS = ['name', 'onEvent', 'onFailure', 'wrapAttempt', 'messageHeaders'] as const;

/** Validates `plugins` (and folds the `onFailure` option in as one more plugin). */
export function compilePlugins(plugins: unknown, onFailure: unknown, owner: string): readonly Plugin[] {
  if (plugins !== undefined && !Array.isArray(plugins)) throw new InvalidOptionError(`${owner}: plugins`, 'must be an array of plugins');
  const out: Plugin[] = [];
  ((plugins as unknown[] | undefined) ?? []).forEach((p, i) => {
    const at = `${owner}: plugins[${i}]`;
    if (!p || typeof p !== 'object') throw new InvalidOptionError(at, 'must be an object { name, onEvent?, onFailure?, wrapAttempt?, messageHeaders? }');
    assertKnownKeys(p, PLUGIN_KEYS, at);
    const plugin = p as Record<string, unknown>;
    if (typeof plugin['name'] !== 'string' || plugin['name'].length === 0) throw new InvalidOptionError(`${at}.name`, 'must be a non-empty string');
    for (const hook of ['onEvent', 'onFailure', 'wrapAttempt', 'messageHeaders']) {
      if (plugin[hook] !== undefined && typeof plugin[hook] !== 'function') throw new InvalidOptionError(`${at}.${hook}`, 'must be a function');
    }
    out.push(p as Plugin);
  });
  if (onFailure !== undefined) {
    if (typeof onFailure !== 'function') throw new InvalidOptionError(`${owner}: onFailure`, 'must be a function');
    out.push({ name: 'onFailure', onFailure: onFailure as Plugin['onFailure'] & object });
  }
  return out;
}

type Listener = (event: RunEvent) => void | Promise<void>;

/** In-process delivery of run events to `on()` listeners and plugins. Never throws. */
export class EventBus {
  private readonly listeners = new Map<RunEventType | '*', Set<Listener>>();
  /** Whether a plugin has `onEvent` (the plugins are fixed). */
  private readonly pluginsListen: boolean;
  /** How many `on()` listeners are subscribed, so `listening` (asked on every commit) counts nothing. */
  private subscribed = 0;

  constructor(
    private readonly plugins: readonly Plugin[],
    private readonly logger: Logger,
  ) {
    this.pluginsListen = plugins.some((p) => p.onEvent);
  }

  on<T extends RunEventType | '*'>(type: T, fn: (event: T extends RunEventType ? RunEventOf<T> : RunEvent) => void | Promise<void>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    const listener = fn as Listener;
    if (!set.has(listener)) {
      set.add(listener);
      this.subscribed++;
    }
    return () => {
      if (set.delete(listener)) this.subscribed--;
    };
  }

  /** Whether anything listens: when not, a commit builds no events at all. */
  get listening(): boolean {
    return this.pluginsListen || this.subscribed > 0;
  }

  emit(events: readonly RunEvent[]): void {
    for (const event of events) {
      for (const plugin of this.plugins) if (plugin.onEvent) this.call(`plugin "${plugin.name}" onEvent`, event, plugin.onEvent);
      for (const set of [this.listeners.get(event.type), this.listeners.get('*')]) {
        for (const fn of set ?? []) this.call(`runtime.on("${event.type}") listener`, event, fn);
      }
    }
  }

  private call(who: string, event: RunEvent, fn: Listener): void {
    const fail = (error: unknown) => this.logger.error(`${who} threw; the run goes on`, { runId: event.runId, event: event.type, error: String(error) });
    try {
      const result = fn(event);
      if (result instanceof Promise) result.then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  }
}

/** Calls every plugin's `onFailure` with `report`; each throw is logged with its plugin's name. */
export async function callFailureHooks(plugins: readonly Plugin[], report: FailureReport, logger: Logger): Promise<void> {
  for (const plugin of plugins) {
    if (!plugin.onFailure) continue;
    try {
      await plugin.onFailure(report);
    } catch (error) {
      logger.error(`plugin "${plugin.name}" onFailure threw`, { runId: report.runId, error: String(error) });
    }
  }
}

/** Asks every plugin's `messageHeaders` for the headers of one message. */
export type HeaderHook = (message: OutgoingMessage) => MessageHeaders | undefined;

/**
 * The plugins' `messageHeaders` hooks as one (a later plugin's header wins a clash; non-string
 * values and reserved `x-taskchart-` names are dropped); `undefined` when no plugin has one, so a
 * commit then builds nothing.
 */
export function headerHook(plugins: readonly Plugin[], logger: Logger): HeaderHook | undefined {
  const hooks = plugins.filter((p) => p.messageHeaders);
  if (hooks.length === 0) return undefined;
  return (message) => {
    let out: Record<string, string> | undefined;
    for (const plugin of hooks) {
      try {
        const headers = plugin.messageHeaders?.(message);
        if (!headers) continue;
        for (const [name, value] of Object.entries(headers)) if (typeof value === 'string' && !name.startsWith('x-taskchart-')) (out ??= {})[name] = value;
      } catch (error) {
        logger.error(`plugin "${plugin.name}" messageHeaders threw; the message goes without its headers`, { runId: message.runId, step: message.step, error: String(error) });
      }
    }
    return out;
  };
}

/** Runs `attempt` inside every plugin's `wrapAttempt`, the first plugin outermost. */
export function wrapAttempt(plugins: readonly Plugin[], ctx: AttemptContext, attempt: () => Promise<AttemptOutcome>, logger: Logger): Promise<AttemptOutcome> {
  let next = attempt;
  for (const plugin of [...plugins].reverse()) {
    const wrap = plugin.wrapAttempt;
    if (!wrap) continue;
    const inner = next;
    next = async () => {
      let ran: Promise<AttemptOutcome> | undefined;
      const once = () => (ran ??= inner());
      try {
        return await wrap(ctx, once);
      } catch (error) {
        logger.error(`plugin "${plugin.name}" wrapAttempt threw; the attempt's own outcome stands`, { runId: ctx.runId, step: ctx.step, attempt: ctx.attempt, error: String(error) });
        return once();
      }
    };
  }
  return next();
}
