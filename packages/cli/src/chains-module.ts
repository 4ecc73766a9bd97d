/**
 * The chains of a deployment, as the config's `chains` module exports them: every export that is
 * a chain, or an array of chains, in export order. Several versions of one chain may be exported.
 */
import type { AnyChain } from '@taskchart/core';
import type { LoadedConfig } from './config.js';
import { NotFoundError, UsageError } from './errors.js';

/** Duck-typed (the module is loaded by jiti and may hold its own copy of `@taskchart/core`). */
export function isChain(value: unknown): value is AnyChain {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<AnyChain>;
  return typeof c.name === 'string' && typeof c.version === 'number' && typeof c.fingerprint === 'string' && c.machine !== undefined;
}

/** Imports the config's chains module and collects its chains. */
export async function loadChains(loaded: LoadedConfig): Promise<AnyChain[]> {
  const where = `chains module "${loaded.config.chains}" (from ${loaded.file})`;
  let exports: Record<string, unknown>;
  try {
    exports = await loaded.importModule(loaded.config.chains);
  } catch (error) {
    throw new UsageError(`${where} could not be loaded: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return collectChains(exports, where);
}

/** The chains among a module's exports; duplicates (one object exported twice) counted once. */
export function collectChains(exports: Record<string, unknown>, where: string): AnyChain[] {
  const found: AnyChain[] = [];
  const byVersion = new Map<string, { chain: AnyChain; exportName: string }>();
  const add = (value: unknown, exportName: string) => {
    if (!isChain(value)) return;
    const key = `${value.name}@${value.version}`;
    const seen = byVersion.get(key);
    if (seen?.chain === value) return;
    if (seen) throw new UsageError(`${where}: exports "${seen.exportName}" and "${exportName}" are two different chains named "${value.name}" with version ${value.version}`);
    byVersion.set(key, { chain: value, exportName });
    found.push(value);
  };
  for (const [name, value] of Object.entries(exports)) {
    if (Array.isArray(value)) value.forEach((v: unknown, i) => add(v, `${name}[${i}]`));
    else add(value, name);
  }
  if (found.length === 0) throw new UsageError(`${where} exports no chain (export each chain, or an array of chains, created with chain())`);
  return found;
}

/** The chain `name` at `version` (the newest exported when no version is given). */
export function pickChain(chains: readonly AnyChain[], name: string, version: number | undefined): AnyChain {
  const versions = chains.filter((c) => c.name === name).sort((a, b) => b.version - a.version);
  if (versions.length === 0) {
    const names = [...new Set(chains.map((c) => c.name))].sort();
    throw new NotFoundError(`no chain "${name}" in the chains module; it exports: ${names.join(', ')}`);
  }
  const picked = version === undefined ? versions[0] : versions.find((c) => c.version === version);
  if (!picked) throw new NotFoundError(`chain "${name}" has no version ${version} in the chains module; it exports versions ${versions.map((c) => c.version).join(', ')}`);
  return picked;
}
