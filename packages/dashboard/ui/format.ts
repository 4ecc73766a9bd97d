/** How times, durations and JSON are shown. */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `2026-11-29 05:17:32` in local time. */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `05:17:32.041` in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `850 ms`, `4.2 s`, `3 min 20 s`, `2 h 5 min`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const [big, bigUnit, small, smallUnit] = ms < 3_600_000 ? [Math.floor(ms / 60_000), 'min', Math.round((ms % 60_000) / 1000), 's'] : [Math.floor(ms / 3_600_000), 'h', Math.round((ms % 3_600_000) / 60_000), 'min'];
  return small === 0 ? `${big} ${bigUnit}` : `${big} ${bigUnit} ${small} ${smallUnit}`;
}

/** `just now`, `12 s ago`, `5 min ago`, or the date. */
export function ago(ms: number, now = Date.now()): string {
  const d = now - ms;
  if (d < 2000) return 'just now';
  if (d < 60_000) return `${Math.round(d / 1000)} s ago`;
  if (d < 3_600_000) return `${Math.round(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)} h ago`;
  return dateTime(ms);
}

/** JSON, indented; `undefined` shown as such. */
export function json(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return '(a value JSON cannot show)';
  }
}

/** `datetime-local` input value <-> epoch ms (local time). */
export function toLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(value: string): number | undefined {
  if (value === '') return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
