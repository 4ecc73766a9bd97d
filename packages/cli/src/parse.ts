/** Flag values: checked once, each rejection naming the flag and what it accepts. */
import type { RunStatus } from '@taskchart/core';
import { parseDuration } from '@taskchart/core/adapter';
import { UsageError } from './errors.js';

export const RUN_STATUSES: readonly RunStatus[] = ['scheduled', 'running', 'retrying', 'compensating', 'completed', 'failed', 'compensated', 'cancelled', 'parked'];

/** `--status failed,parked` → `['failed', 'parked']`. */
export function parseStatuses(value: string): RunStatus[] {
  const statuses = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (statuses.length === 0) throw new UsageError(`--status: give one or more of ${RUN_STATUSES.join(', ')} (comma-separated)`);
  for (const s of statuses) {
    if (!(RUN_STATUSES as readonly string[]).includes(s)) throw new UsageError(`--status: unknown status "${s}"; valid: ${RUN_STATUSES.join(', ')}`);
  }
  return statuses as RunStatus[];
}

/** `--since 1h` (that long ago) or `--since 2026-11-29T05:00:00Z` (an ISO time) → epoch ms. */
export function parseSince(value: string, now: number): number {
  if (/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/.test(value)) return now - parseDuration(value, '--since');
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = Date.parse(value);
    if (Number.isFinite(at)) return at;
  }
  throw new UsageError(`--since: give a duration ago (30m, 1h, 7d) or an ISO time (2026-11-29T05:00:00Z), got "${value}"`);
}

/** A whole number flag from `min` to `max`. */
export function parseIntFlag(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag}: give a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** One of `allowed`. */
export function parseChoice<T extends string>(value: string, flag: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: give one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}
