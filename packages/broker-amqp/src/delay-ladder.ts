/**
 * Delays without the delayed-message plugin: a fixed ladder of TTL queues.
 *
 * Level `k` is a durable queue whose `x-message-ttl` is 2^k ms (k = 0..25, so 1 ms to about
 * 9.3 hours) and whose `x-dead-letter-exchange` is the default exchange: an expired message is
 * dead-lettered with its original routing key, which is the work queue's name, so it lands back
 * in the work queue. A delayed message carries its due time in a header; the consumer that
 * receives it before it is due sends it down the ladder again (largest level <= the time left),
 * so a delay of any length takes at most one hop per level of its binary decomposition plus one
 * hop per 2^25 ms beyond — never more than 26 queues per prefix, whatever the delays.
 */

/** The smallest and largest exponents of the ladder: levels are 2^0 ms .. 2^25 ms. */
export const MIN_DELAY_EXPONENT = 0;
export const MAX_DELAY_EXPONENT = 25;

/** Every level of the ladder, in milliseconds, shortest first. */
export const DELAY_LEVELS_MS: readonly number[] = Array.from(
  { length: MAX_DELAY_EXPONENT - MIN_DELAY_EXPONENT + 1 },
  (_, i) => 2 ** (MIN_DELAY_EXPONENT + i),
);

const SHORTEST = 2 ** MIN_DELAY_EXPONENT;
const LONGEST = 2 ** MAX_DELAY_EXPONENT;

/**
 * The level to hold a message for when `remainingMs` are left before it is due: the largest
 * level not longer than what is left, or `undefined` when the message is due (less than the
 * shortest level is left).
 */
export function pickDelayLevel(remainingMs: number): number | undefined {
  if (!(remainingMs >= SHORTEST)) return undefined;
  if (remainingMs >= LONGEST) return LONGEST;
  return 2 ** Math.floor(Math.log2(remainingMs));
}

/** The name of the ladder queue of `levelMs` under `prefix`. */
export function delayQueueName(prefix: string, levelMs: number): string {
  return `${prefix}taskchart.delay.${levelMs}ms`;
}

/**
 * The headers exchange that routes a delayed message to its level's queue (by the
 * {@link DELAY_LEVEL_HEADER} header) while keeping the work queue's name as its routing key.
 */
export function delayExchangeName(prefix: string): string {
  return `${prefix}taskchart.delay`;
}

/**
 * Header naming the ladder level a message is published to (matched by the delay exchange).
 * It must not start with `x-`: a headers exchange ignores `x-` binding arguments when matching
 * (before `x-match: all-with-x`, RabbitMQ 3.10+), so such a binding would match every message
 * and a delayed message would be copied into every level's queue.
 */
export const DELAY_LEVEL_HEADER = 'taskchart-delay-level';
/** Header holding the epoch milliseconds at which a delayed message is due. */
export const DUE_AT_HEADER = 'x-taskchart-due-at';
