/**
 * Taskchart queue names → SQS queue names.
 *
 * Taskchart names may hold dots (`work.dead`, `emails.fifo`); SQS names may not, except for the
 * `.fifo` suffix a FIFO queue must end with. So: the default queue name is substituted, every
 * dot becomes `-`, a `fifo` segment anywhere (`work.fifo.dead`) moves to the end as `.fifo`
 * (a FIFO queue's dead-letter queue must be FIFO too), and the prefix goes in front.
 *
 *   work           → <prefix>work
 *   work.dead      → <prefix>work-dead
 *   emails.fifo    → <prefix>emails.fifo
 *   emails.fifo.dead → <prefix>emails-dead.fifo
 */
import { DEFAULT_QUEUE } from '@taskchart/core/adapter';

export interface QueueName {
  /** The queue name the runtime uses (`work.dead`). */
  readonly logical: string;
  /** The name after default-queue substitution, used as key of predefined `queues`. */
  readonly key: string;
  /** The SQS queue name (`staging-work-dead`). */
  readonly physical: string;
  readonly fifo: boolean;
  /** Whether this is a dead-letter queue (`….dead`). */
  readonly dead: boolean;
}

export interface NamingRules {
  readonly queuePrefix: string;
  readonly defaultQueue: string;
  /** Every queue is FIFO. */
  readonly fifo: boolean;
}

const PHYSICAL = /^[A-Za-z0-9_-]{1,75}(\.fifo)?$/;

export function isValidPhysicalName(name: string): boolean {
  return name.length <= 80 && PHYSICAL.test(name);
}

export function mapQueueName(logical: string, rules: NamingRules): QueueName {
  let key = logical;
  if (logical === DEFAULT_QUEUE || logical.startsWith(`${DEFAULT_QUEUE}.`)) key = rules.defaultQueue + logical.slice(DEFAULT_QUEUE.length);
  const segments = key.split('.');
  const fifo = rules.fifo || segments.includes('fifo');
  const base = segments.filter((s, i) => !(s === 'fifo' && i > 0)).join('-');
  const physical = `${rules.queuePrefix}${base}${fifo ? '.fifo' : ''}`;
  if (!isValidPhysicalName(physical)) {
    throw new Error(
      `sqs: queue "${logical}" maps to the SQS queue name "${physical}", which SQS refuses (letters, digits, '-', '_', up to 80 characters including '.fifo'); use a shorter queue name or queuePrefix`,
    );
  }
  return { logical, key, physical, fifo, dead: logical.endsWith('.dead') };
}
