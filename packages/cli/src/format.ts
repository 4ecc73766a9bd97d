/**
 * How the CLI prints for people: timestamps, tables, one line per run event. (`--json` prints
 * the data itself instead.)
 */
import type { RunEvent } from '@taskchart/core';
import type { HistoryEntry } from '@taskchart/core/adapter';

/** `2026-11-29T05:17:32Z` (UTC, to the second). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `05:17:32.120` (UTC): a timeline's time of day. */
export function formatClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** Rows as columns padded to their widest cell, under a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** What one history entry or run event says, after its type: step and attempt, error, reason, who. */
export function describeEntry(entry: HistoryEntry | RunEvent): string {
  const e = entry as unknown as Partial<Record<string, unknown>> & { type: string };
  const parts: string[] = [];
  if (typeof e['step'] === 'string' && e['step'] !== '') {
    const task = typeof e['task'] === 'string' && e['task'] !== e['step'] ? ` (task ${e['task']})` : '';
    const attempt = typeof e['attempt'] === 'number' && e['attempt'] > 0 ? ` #${e['attempt']}` : '';
    parts.push(`${e['step']}${task}${attempt}`);
  }
  if (typeof e['delayMs'] === 'number' && e.type.endsWith('.retrying')) parts.push(`next attempt in ${formatMs(e['delayMs'])}`);
  if (e.type === 'run.scheduled' && typeof e['dueAt'] === 'number') parts.push(`starts ${formatTime(e['dueAt'])}`);
  if (e.type === 'run.migrated') parts.push(`version ${String(e['fromVersion'])} -> ${String(e['toVersion'])}`);
  const error = e['error'] as { name?: unknown; message?: unknown } | undefined;
  if (error && typeof error === 'object') parts.push(`${typeof error.name === 'string' ? error.name : 'Error'}: ${typeof error.message === 'string' ? error.message : ''}`);
  if (typeof e['reason'] === 'string') parts.push(`reason: ${e['reason']}`);
  if (typeof e['by'] === 'string') parts.push(`by ${e['by']}`);
  if (typeof e['worker'] === 'string') parts.push(`on ${e['worker']}`);
  return parts.join('  ');
}

/** One timeline line: time, type, what it says. */
export function timelineLine(entry: HistoryEntry | RunEvent): string {
  return `${formatClock(entry.at)}  ${entry.type.padEnd(22)}  ${describeEntry(entry)}`.trimEnd();
}

/** `1500` → `1.5s`, `120000` → `2m`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))}m`;
  return `${Number((ms / 3_600_000).toFixed(1))}h`;
}

/** A state value (`{ quote: 'retrying' }`) as a dotted path: `quote.retrying`. */
export function formatState(state: unknown): string {
  if (typeof state === 'string') return state;
  if (typeof state !== 'object' || state === null) return '-';
  return Object.entries(state)
    .map(([k, v]) => `${k}.${formatState(v)}`)
    .join(', ');
}

/** A JSON value on one line, cut to `max` characters. */
export function oneLine(value: unknown, max = 200): string {
  const text = value === undefined ? '-' : (JSON.stringify(value) ?? `(${typeof value})`);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
