import { assertKnownKeys, compileRedaction, InvalidOptionError, type RedactRule } from '@taskchart/core/adapter';
import type { FailureReport } from '@taskchart/core';


export interface SentryPluginOptions {
  /**
   * More keys to redact, on top of the defaults, in `input` (at any depth), in error messages
   * (`key=value`, `key: value`) and in breadcrumbs. A redacted value is sent as `[Filtered]`.
   * @defaultValue [] (the defaults always apply: pass, secret, token, key, authorization, cookie; case-insensitive substrings)
   */
  redact?: readonly RedactRule[];
  /**
   * Size cap of the `input` extra, in bytes of its JSON after redaction, from 64 to 1,000,000.
   * A larger input is sent as the start of its JSON, marked as truncated.
   * @defaultValue 16384
   */
  maxValueBytes?: number;
  /**
   * The Sentry fingerprint of a failure event (which issue it is grouped into).
   * @defaultValue `['taskchart', chain, task]`, with `'compensation'` or `'parked'` appended for those reports
   */
  fingerprint?: (report: FailureReport) => string[];
  /**
   * How long `onFailure` waits for the SDK to send the event (`Sentry.flush`) before it returns,
   * in ms, from 0 (do not wait) to 60,000. The failure report stays in the store's outbox until the
   * hook returns, so waiting means a crash right after the hook cannot lose the event (a report
   * delivered again is the same event id). Keep it below the runtime's `outboxLease`.
   * @defaultValue 2000
   */
  flushTimeout?: number;
}

export interface CompiledSentryOptions {
  /** True when `key` must be redacted. */
  readonly redacts: (key: string) => boolean;
  readonly maxValueBytes: number;
  readonly fingerprint: (report: FailureReport) => string[];
  readonly flushTimeout: number;
}

const KEYS = ['redact', 'maxValueBytes', 'fingerprint', 'flushTimeout'] as const;
const OWNER = 'sentryPlugin';

export function defaultFingerprint(report: FailureReport): string[] {
  const base = ['taskchart', report.chain, report.task];
  if (report.parked) return [...base, 'parked'];
  return report.compensation ? [...base, 'compensation'] : base;
}

/** Validates and normalises the options, once. */
export function compileSentryOptions(options: unknown): CompiledSentryOptions {
  if (options === undefined) options = {};
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionError(OWNER, 'options must be an object');
  assertKnownKeys(options, KEYS, OWNER);
  const raw = options as SentryPluginOptions;

  const redacts = compileRedaction(raw.redact, OWNER);

  const maxValueBytes = raw.maxValueBytes ?? 16_384;
  if (typeof maxValueBytes !== 'number' || !Number.isInteger(maxValueBytes) || maxValueBytes < 64 || maxValueBytes > 1_000_000) {
    throw new InvalidOptionError(`${OWNER}: maxValueBytes`, `must be an integer from 64 to 1000000 (bytes), got ${String(maxValueBytes)}`);
  }
  if (raw.fingerprint !== undefined && typeof raw.fingerprint !== 'function') throw new InvalidOptionError(`${OWNER}: fingerprint`, 'must be a function (report) => string[]');
  const flushTimeout = raw.flushTimeout ?? 2000;
  if (typeof flushTimeout !== 'number' || !Number.isInteger(flushTimeout) || flushTimeout < 0 || flushTimeout > 60_000) {
    throw new InvalidOptionError(`${OWNER}: flushTimeout`, `must be an integer from 0 to 60000 (ms), got ${String(flushTimeout)}`);
  }
  return { redacts, maxValueBytes, fingerprint: raw.fingerprint ?? defaultFingerprint, flushTimeout };
}
