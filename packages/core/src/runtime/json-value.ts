import { SerializationError } from '../errors.js';

/**
 * Checks that `value` survives JSON unchanged in meaning: plain objects, arrays, strings,
 * finite numbers, booleans and null (and `undefined` at the top, kept as "no value"). Dates are
 * accepted and become ISO strings. Returns a description of the first offending path, or
 * undefined when the value is fine.
 */
export function jsonProblem(value: unknown, path = '$', seen = new Set<object>()): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (value === undefined) return path === '$' ? undefined : `${path} is undefined`;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} is ${value} (not representable in JSON)`;
  if (typeof value === 'bigint') return `${path} is a BigInt`;
  if (typeof value === 'function') return `${path} is a function`;
  if (typeof value === 'symbol') return `${path} is a symbol`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? `${path} is an invalid Date` : undefined;
  const object = value;
  if (seen.has(object)) return `${path} is a circular reference`;
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const item: unknown = object[i];
        const problem = item === undefined ? `${path}[${i}] is undefined` : jsonProblem(item, `${path}[${i}]`, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(object) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const name = (object as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
      return `${path} is a ${name} instance (only plain objects, arrays and primitives survive JSON)`;
    }
    for (const [key, item] of Object.entries(object)) {
      if (item === undefined) continue; // dropped by JSON, like an absent key
      const problem = jsonProblem(item, `${path}.${key}`, seen);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(object);
  }
}

/** Throws a `SerializationError` naming `what` and the offending path when `value` is not JSON-safe. */
export function assertJson(value: unknown, what: string): void {
  const problem = jsonProblem(value);
  if (problem) throw new SerializationError(`${what} is not JSON-serialisable: ${problem}`);
}

/**
 * The value as the store will give it back: Dates become ISO strings, undefined keys vanish,
 * and a missing value is null. Keeps what a machine holds in memory equal to what it reloads.
 * Call on values `jsonProblem` accepted.
 */
export function asStored(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}
