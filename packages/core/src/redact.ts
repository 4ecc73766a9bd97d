/**
 * Redaction and size caps: what leaves the process (for Sentry, a dashboard, a CLI) passes through
 * here first. One set of rules for every tool, so a key hidden from Sentry is hidden everywhere.
 */
import { InvalidOptionError } from './errors.js';

/** A key rule: a string matches any key containing it (case-insensitive); a RegExp is tested against the key. */
export type RedactRule = string | RegExp;

/** Keys always redacted (case-insensitive substrings). */
export const DEFAULT_REDACT: readonly string[] = ['pass', 'secret', 'token', 'key', 'authorization', 'cookie'];

/**
 * The `redacts(key)` predicate of {@link DEFAULT_REDACT} plus `rules`. Throws `InvalidOptionError`
 * naming `owner` (e.g. `sentryPlugin`) for a rule that is not a non-empty string or a RegExp.
 */
export function compileRedaction(rules: readonly RedactRule[] | undefined, owner: string): (key: string) => boolean {
  if (rules !== undefined && !Array.isArray(rules)) throw new InvalidOptionError(`${owner}: redact`, 'must be an array of strings and RegExps');
  const words = [...DEFAULT_REDACT];
  const patterns: RegExp[] = [];
  (rules ?? []).forEach((rule: unknown, i) => {
    if (typeof rule === 'string' && rule.length > 0) words.push(rule.toLowerCase());
    else if (rule instanceof RegExp) patterns.push(new RegExp(rule.source, rule.flags.replace(/[gy]/g, '')));
    else throw new InvalidOptionError(`${owner}: redact[${i}]`, 'must be a non-empty string or a RegExp');
  });
  return (key: string) => {
    const lower = key.toLowerCase();
    return words.some((w) => lower.includes(w)) || patterns.some((p) => p.test(key));
  };
}

export const FILTERED = '[Filtered]';
const MAX_DEPTH = 20;

/** A copy of `value` with the value of every key `redacts` names replaced by `[Filtered]`, at any depth. */
export function redactValue(value: unknown, redacts: (key: string) => boolean, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, redacts);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redacts, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = redacts(key) ? FILTERED : redactValue(v, redacts, depth + 1);
  return out;
}

// `key=value`, `key: value`, `"key": "value"` inside free text (error messages, stacks).
const KEY = /(["']?)([A-Za-z_][\w.-]*)\1(\s*[=:]\s*)/g;
const VALUE = /"[^"]*"|'[^']*'|(?:Bearer|Basic|Token)\s+[^\s,;&"'})\]]+|[^\s,;&"'})\]]+/iy;

/** `text` with the value of every `key=value` / `key: value` pair whose key `redacts` names replaced. */
export function redactText(text: string, redacts: (key: string) => boolean): string {
  let out = '';
  let from = 0;
  KEY.lastIndex = 0;
  for (let m = KEY.exec(text); m; m = KEY.exec(text)) {
    const key = m[2] ?? '';
    if (!redacts(key)) {
      // Only the key is passed: its "value" may be the next pair (`failed: password=…`).
      KEY.lastIndex = m.index + (m[1] ?? '').length + key.length;
      continue;
    }
    VALUE.lastIndex = KEY.lastIndex;
    const value = VALUE.exec(text);
    if (!value) continue;
    out += text.slice(from, KEY.lastIndex) + FILTERED;
    from = VALUE.lastIndex;
    KEY.lastIndex = from;
  }
  return out + text.slice(from);
}

/**
 * `value` as is when its JSON takes at most `maxBytes` bytes; otherwise the start of its JSON (cut
 * on a character boundary) followed by a note of its full size.
 */
export function capValue(value: unknown, maxBytes: number): unknown {
  let json: string;
  try {
    json = JSON.stringify(value) ?? 'undefined';
  } catch (error) {
    return `[not serialisable: ${String(error)}]`;
  }
  const size = Buffer.byteLength(json);
  if (size <= maxBytes) return value;
  const note = `…[truncated: ${size} bytes, cap ${maxBytes}]`;
  const keep = Math.max(0, maxBytes - Buffer.byteLength(note));
  // Cutting a Buffer may split a character; decoding drops the broken tail as U+FFFD, removed here.
  const head = Buffer.from(json).subarray(0, keep).toString('utf8').replace(/\uFFFD+$/, '');
  return head + note;
}
