import { InvalidOptionError } from './errors.js';

/** Milliseconds, or a string such as `'250ms'`, `'4s'`, `'10m'`, `'2h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * Parses a {@link Duration} into whole milliseconds. `option` names the option in the error
 * thrown for anything else (`'4 parsecs'`, `-1`, `NaN`).
 */
export function parseDuration(value: unknown, option: string, { allowZero = true } = {}): number {
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
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
    throw new InvalidOptionError(option, `must be a finite duration ${allowZero ? '>= 0' : '> 0'}, got ${String(value)}`);
  }
  return Math.round(ms);
}
