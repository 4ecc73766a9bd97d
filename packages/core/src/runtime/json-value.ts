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

/** What {@link storedForm} gives: the stored form of a JSON-safe value, or why it is not JSON-safe. */
export type StoredForm = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };

/** Thrown inside {@link copyStored} at the first value JSON would not keep; the path is found afterwards. */
const NOT_JSON = Symbol('not JSON');

/**
 * `jsonProblem(value)` and the JSON round trip of the value in one walk: a task's result is checked and copied
 * on every step, and the check (with a path string per nested value) followed by
 * `JSON.parse(JSON.stringify())` built far more than the copy itself. The path of a problem is
 * worked out only when there is one.
 */
export function storedForm(value: unknown): StoredForm {
  try {
    return { ok: true, value: value === undefined ? null : copyStored(value, undefined) };
  } catch (error) {
    if (error !== NOT_JSON) throw error;
    return { ok: false, problem: jsonProblem(value) ?? 'not JSON-serialisable' };
  }
}

/** The JSON round trip of a value `jsonProblem` accepts, without the text: throws `NOT_JSON` at anything else. */
function copyStored(value: unknown, ancestors: Set<object> | undefined): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  // JSON writes -0 as 0.
  if (typeof value === 'number') return Number.isFinite(value) ? value + 0 : fail();
  if (typeof value !== 'object') return fail();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? fail() : value.toJSON();
  const seen = ancestors ?? new Set<object>();
  if (seen.has(value)) return fail();
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const out: unknown[] = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        out[i] = item === undefined ? fail() : copyStored(item, seen);
      }
      return out;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return fail();
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue; // dropped by JSON, like an absent key
      const copied = copyStored(item, seen);
      // An own `__proto__` key (JSON.parse makes one) stays a key, not the prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value: copied, enumerable: true, writable: true, configurable: true });
      else out[key] = copied;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function fail(): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- a private sentinel, caught in storedForm
  throw NOT_JSON;
}
