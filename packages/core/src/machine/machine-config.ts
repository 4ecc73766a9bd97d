/**
 * A chain's machine as plain JSON, for the Stately editor ("Import from code" takes
 * `createMachine(<this JSON>)`) and for any tool that reads XState configs.
 */
import type { AnyChain } from '../chain.js';

/**
 * The config of `chain.machine` (the machine the runtime drives) as JSON-safe data: states,
 * invocations (`src` names the task), transitions with their guards and actions by name, `after`
 * delays by name. The functions it holds (the context factory, each invocation's `input`) are
 * code, not data: they are left out.
 */
export function machineConfig(chain: AnyChain): Record<string, unknown> {
  return strip(chain.machine.config) as Record<string, unknown>;
}

/** `createMachine({...})` source text of `chain`'s machine, for the Stately editor's "Import from code". */
export function machineSource(chain: AnyChain): string {
  return `import { createMachine } from 'xstate';\n\nexport const ${identifier(chain.name)}Machine = createMachine(${JSON.stringify(machineConfig(chain), null, 2)});\n`;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'function') continue;
    out[key] = strip(v);
  }
  return out;
}

function identifier(name: string): string {
  const camel = name.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
  return /^[A-Za-z_]/.test(camel) ? camel : `chain${camel}`;
}
