/**
 * Writes the trip chain's machine for the Stately editor: `trip.machine.ts` (a `createMachine({...})`
 * module: in the editor, "Import from code" and paste it) and `trip.machine.json` (the config alone).
 */
import { writeFileSync } from 'node:fs';
import { machineConfig, machineSource } from '@taskchart/inspect';
import { trip } from './trip.js';

const dir = process.argv[2] ?? '.';
writeFileSync(`${dir}/trip.machine.ts`, machineSource(trip));
writeFileSync(`${dir}/trip.machine.json`, `${JSON.stringify(machineConfig(trip), null, 2)}\n`);
console.log(`export: wrote ${dir}/trip.machine.ts and ${dir}/trip.machine.json`);
