/**
 * Rejects option keys nobody reads. A misspelt `maxRetry` or an invented `concurrency` would
 * otherwise be ignored in silence and the default used instead; here it throws an
 * `InvalidOptionError` naming the key, the nearest valid one and the valid set.
 */
import { InvalidOptionError } from './errors.js';

/**
 * Throws when `options` has an own key not in `known`. `owner` names the options object in the
 * error (`task "riskCheck": retry`, `sqsBroker`), as every other option error does.
 */
export function assertKnownKeys(options: object, known: readonly string[], owner: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const nearest = nearestKey(key, known);
    const hint = nearest === undefined ? '' : `did you mean "${nearest}"? `;
    throw new InvalidOptionError(`${owner}: ${key}`, `unknown option; ${hint}valid options: ${known.join(', ')}`);
  }
}

/** The valid key closest to `key` (case-insensitive edit distance), if one is close enough to be a typo. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = key.toLowerCase();
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the longer name, at least 2 edits: `maxRetry` → `maxRetries`, not `foo` → `queue`.
  const allowed = best === undefined ? 0 : Math.max(2, Math.floor(Math.max(key.length, best.length) / 3));
  if (bestDistance <= allowed) return best;
  // Or one name starts with the other: `prefetchCount` → `prefetch`, `maxDelay` → `maxDelayMs`.
  return known.find((candidate) => {
    const c = candidate.toLowerCase();
    return Math.min(c.length, lower.length) >= 4 && (c.startsWith(lower) || lower.startsWith(c));
  });
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number) => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}
