import { InvalidOptionError } from './errors.js';

/** Milliseconds, or a string such as `'250ms'`, `'4s'`, `'10m'`, `'2h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/** The longest duration an option takes unless it names its own limit: 365 days. */
export const MAX_DURATION_MS = 365 * UNIT_MS.d;

export interface ParseDurationOptions {
  /** Whether `0` is allowed. @defaultValue true */
  allowZero?: boolean;
  /** The longest duration allowed, in milliseconds. @defaultValue {@link MAX_DURATION_MS} (365 days) */
  max?: number;
}

/** `86400000` → `'1d'`: the largest unit that divides `ms` exactly. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

/**
 * Parses a {@link Duration} into whole milliseconds. `option` names the option in the error
 * thrown for anything else (`'4 parsecs'`, `-1`, `NaN`) and for a duration over `max` (365 days
 * unless the option names its own limit).
 */
export function parseDuration(value: unknown, option: string, { allowZero = true, max = MAX_DURATION_MS }: ParseDurationOptions = {}): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    if (!match) {
      throw new InvalidOptionError(option, `"${value}" is not a duration; use milliseconds or a number with ms, s, m, h or d (e.g. '4s', '10m')`);
    }
    ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
  } else {
    throw new InvalidOptionError(option, `expected a duration (milliseconds or a string like '4s'), got ${typeof value}`);
  }
  const rounded = Math.round(ms);
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && rounded === 0)) {
    throw new InvalidOptionError(option, `must be a finite duration ${allowZero ? '>= 0' : '> 0'}, got ${String(value)}`);
  }
  if (rounded > max) {
    const shown = typeof value === 'string' ? `"${value}"` : `${value} ms`;
    throw new InvalidOptionError(option, `must be a duration between ${allowZero ? 0 : 1} ms and ${formatDuration(max)} (${max} ms), got ${shown}`);
  }
  return rounded;
}
