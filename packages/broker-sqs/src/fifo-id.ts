/**
 * FIFO `MessageGroupId` and `MessageDeduplicationId` values SQS accepts: 1–128 characters of
 * letters, digits and ASCII punctuation (`\x21`–`\x7e`). The runtime builds them from run ids
 * (`runId`, `runId:step:attempt`), which users choose and which may be longer or hold other
 * characters; such a value is replaced by the hex SHA-256 of its UTF-8 bytes (64 characters). The
 * mapping is deterministic, so a group keeps its order and a deduplication id still deduplicates.
 */
import { createHash } from 'node:crypto';

const ACCEPTED = /^[\x21-\x7e]{1,128}$/;

/** `value` itself when SQS accepts it as a group or deduplication id, else its SHA-256 (hex). */
export function fifoId(value: string): string {
  return ACCEPTED.test(value) ? value : createHash('sha256').update(value, 'utf8').digest('hex');
}
