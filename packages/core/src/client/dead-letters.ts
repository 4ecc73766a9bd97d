/**
 * Dead letters for operators: the messages the runtime could not handle (malformed, unsigned,
 * of an unknown chain, task or run) listed with their reasons, and sent back to their queue once
 * what made them fail is fixed (a chain deployed, a signing key shared). The client's
 * `deadLetters()` and `redriveDeadLetters()` are these functions, on the broker's optional
 * {@link DeadLetterAccess}.
 */
import type { ChainVersions } from '../runtime/chain-versions.js';
import { InvalidOptionError, RuntimeStateError } from '../errors.js';
import { assertKnownKeys } from '../known-keys.js';
import { parseMessage } from '../messages.js';
import type { HistoryEntry } from '../ports/store.js';
import { DEFAULT_DEAD_LETTER_LIMIT, MAX_DEAD_LETTER_LIMIT, type Broker, type DeadLetterAccess, type DeadLetterMessage, type MessageHeaders } from '../ports/broker.js';

/** A message waiting in a dead-letter queue. */
export interface DeadLetter {
  /** The broker's id for the message: what `redriveDeadLetters({ ids })` takes. */
  readonly id: string;
  /** The queue it was dead-lettered from (the runtime's name for it). */
  readonly queue: string;
  /** Why the runtime dead-lettered it (`x-taskchart-dead-reason`). */
  readonly reason: string;
  /** The run, chain and step it was for, when its body parses as a task or timer message (timers have no step). */
  readonly runId?: string;
  readonly chain?: string;
  readonly step?: string;
  readonly body: string;
  /** Its headers, without the dead-letter ones: what a redrive publishes it with. */
  readonly headers: MessageHeaders;
}

/** Which dead letters `deadLetters()` lists. */
export interface DeadLetterQuery {
  /** Only this queue's dead letters. @defaultValue every queue the tasks (and compensations) of the client's chains use, in name order */
  readonly queue?: string;
  /** The most dead letters returned, in all, 1 to 1000. @defaultValue 100 */
  readonly limit?: number;
}

/** What `redriveDeadLetters()` sends back. */
export interface RedriveDeadLettersOptions {
  /** The queue whose dead letters go back to it. */
  readonly queue: string;
  /** Only these messages (ids from `deadLetters()`); ids not found are skipped. @defaultValue every dead letter of `queue` */
  readonly ids?: readonly string[];
  /**
   * Who or what asks (at most 200 characters): each run a moved message belongs to gets a
   * `dead-letter.redriven` history entry with it. @defaultValue none (the entry is written without `by`)
   */
  readonly by?: string;
}

/** What the functions need from the client calling them. */
export interface DeadLetterScope {
  readonly broker: Broker;
  readonly chains: ChainVersions;
  /** The call, for error messages (`client.deadLetters()`). */
  readonly call: string;
  /** Why the client cannot act now (closing, closed), if it cannot. */
  readonly refusal: string | undefined;
  /** Adds an entry to a run's history (resolves false for an unknown run). */
  readonly note: (runId: string, entry: HistoryEntry) => Promise<boolean>;
  readonly now: () => number;
}

const QUERY_KEYS = ['queue', 'limit'] as const satisfies ReadonlyArray<keyof DeadLetterQuery>;
const REDRIVE_KEYS = ['queue', 'ids', 'by'] as const satisfies ReadonlyArray<keyof RedriveDeadLettersOptions>;

/** Every queue the tasks and compensations of `chains` use (a compensation runs on its task's queue), in name order. */
export function chainQueues(chains: ChainVersions): string[] {
  return [...new Set(chains.all().flatMap((c) => c.steps.map((s) => s.task.queue)))].sort();
}

/** Lists the dead letters `query` selects: each queue's oldest first, queues in name order, up to `limit` in all. */
export async function listDeadLetters(scope: DeadLetterScope, query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
  const { call } = scope;
  if (!query || typeof query !== 'object') throw new InvalidOptionError(`${call}: query`, 'must be an object { queue?, limit? }');
  assertKnownKeys(query, QUERY_KEYS, call);
  const limit = query.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LETTER_LIMIT) {
    throw new InvalidOptionError(`${call}: limit`, `must be a whole number from 1 to ${MAX_DEAD_LETTER_LIMIT}, got ${String(limit)}`);
  }
  const queues = query.queue === undefined ? chainQueues(scope.chains) : [checkQueue(query.queue, call)];
  const access = accessOf(scope, 'list');
  const found: DeadLetter[] = [];
  for (const queue of queues) {
    if (found.length >= limit) break;
    for (const message of await access.list(queue, { limit: limit - found.length })) found.push(describe(message));
  }
  return found;
}

/** Moves the dead letters of `options.queue` (those `ids` names, or all) back to it; resolves with how many moved. */
export async function redriveDeadLetters(scope: DeadLetterScope, options: RedriveDeadLettersOptions): Promise<number> {
  const { call } = scope;
  if (!options || typeof options !== 'object') throw new InvalidOptionError(`${call}: options`, 'must be an object { queue, ids?, by? }');
  assertKnownKeys(options, REDRIVE_KEYS, call);
  const queue = checkQueue(options.queue, call);
  const { ids } = options;
  if (ids !== undefined && (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id.length > 0))) {
    throw new InvalidOptionError(`${call}: ids`, 'must be an array of dead-letter ids (non-empty strings) from deadLetters()');
  }
  const { by } = options;
  if (by !== undefined && (typeof by !== 'string' || by.length === 0 || by.length > 200)) throw new InvalidOptionError(`${call}: by`, 'must be a non-empty string of at most 200 characters');
  const access = accessOf(scope, 'redrive');
  // What is there now, to tell each run its message went back (a redrive moves at most what was there when it began).
  const wanted = ids === undefined ? undefined : new Set(ids);
  const targets = (await access.list(queue, { limit: MAX_DEAD_LETTER_LIMIT })).map(describe).filter((d) => wanted === undefined || wanted.has(d.id));
  const moved = await access.redrive(queue, ids === undefined ? {} : { ids });
  if (moved === 0) return moved;
  const at = scope.now();
  for (const letter of targets) {
    if (letter.runId === undefined) continue;
    const entry: HistoryEntry = { at, type: 'dead-letter.redriven', reason: letter.reason, ...(letter.step === undefined ? {} : { step: letter.step }), ...(by === undefined ? {} : { by }) };
    // The message is back on its queue whatever happens here: a run that cannot be noted is only logged by the caller's error.
    await scope.note(letter.runId, entry);
  }
  return moved;
}

function checkQueue(queue: unknown, call: string): string {
  if (typeof queue !== 'string' || queue.length === 0) throw new InvalidOptionError(`${call}: queue`, `must be a non-empty queue name, got ${JSON.stringify(queue) ?? String(queue)}`);
  return queue;
}

function accessOf(scope: DeadLetterScope, verb: 'list' | 'redrive'): DeadLetterAccess {
  if (scope.refusal !== undefined) throw new RuntimeStateError(`${scope.call}: ${scope.refusal}`);
  const access = scope.broker.deadLetters;
  if (!access) throw new RuntimeStateError(`${scope.call}: broker "${scope.broker.name}" cannot ${verb} dead letters (it has no deadLetters access)`);
  return access;
}

/** The broker's message, with the run, chain and step its body names when it parses. */
function describe(message: DeadLetterMessage): DeadLetter {
  const parsed = parseMessage(message.body);
  const wire = parsed.ok ? parsed.message : undefined;
  return {
    id: message.id,
    queue: message.queue,
    reason: message.reason,
    ...(wire ? { runId: wire.runId, chain: wire.chain } : {}),
    ...(wire?.kind === 'task' ? { step: wire.step } : {}),
    body: message.body,
    headers: message.headers,
  };
}
