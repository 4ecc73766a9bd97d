/**
 * `taskchart chains export <chain>`: a chain's machine from the chains module, as JSON (what the
 * Stately editor imports: the `createMachine()` config) or as `createMachine({...})` source.
 */
import { machineConfig, machineSource } from '@taskchart/core';
import { pickChain } from '../chains-module.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Session } from '../session.js';

export interface ChainsExportFlags {
  readonly version?: number;
  readonly format: 'json' | 'source';
}

export async function chainsExport(session: Session, name: string, flags: ChainsExportFlags): Promise<ExitCode> {
  const chain = pickChain(await session.chains(), name, flags.version);
  if (flags.format === 'source') session.out(machineSource(chain));
  else session.json(machineConfig(chain));
  return EXIT.ok;
}
