/**
 * What every store checks of its callers' arguments, and the run-list cursor every SQL store
 * pages with: one copy, with the store's name in each message (`sqliteStore`, `postgresStore`).
 */
import { InvalidOptionError } from '../errors.js';
import type { ChainDefinitionRecord, Claimant, RunRecord } from './store.js';

/** `list()` and `events()` page sizes: the default and the most. */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** A page size (`limit`), checked: a whole number from 1 to 1000, 100 when absent. */
export function checkPageLimit(limit: number | undefined, store: string, option: string): number {
  const value = limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE) throw new InvalidOptionError(`${store}: ${option}`, `must be a whole number from 1 to ${MAX_PAGE}, got ${String(limit)}`);
  return value;
}

/** A claimant, checked: an owner, a time and a positive lease. */
export function checkClaimant(claimant: Claimant, store: string): void {
  if (typeof claimant?.owner !== 'string' || claimant.owner.length === 0) throw new InvalidOptionError(`${store}: claimant.owner`, 'must be a non-empty string');
  if (!Number.isFinite(claimant.now)) throw new InvalidOptionError(`${store}: claimant.now`, `must be epoch milliseconds, got ${String(claimant.now)}`);
  if (!Number.isFinite(claimant.leaseMs) || claimant.leaseMs <= 0) throw new InvalidOptionError(`${store}: claimant.leaseMs`, `must be a positive number of milliseconds, got ${String(claimant.leaseMs)}`);
}

/** The cursor of the run-list page after `run` (the last run of a page): its (created_at, id), as base64url JSON. */
export const runListCursor = (run: RunRecord): string => Buffer.from(JSON.stringify([run.createdAt, run.id])).toString('base64url');

/** The (created_at, id) a run-list cursor stands for; an `InvalidOptionError` for anything a store did not return. */
export function parseRunListCursor(cursor: string, store: string): [number, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === 'string') return [value[0] as number, value[1]];
  } catch {
    // reported below
  }
  throw new InvalidOptionError(`${store}: list: cursor`, `must be the \`next\` of a page this store returned, got ${JSON.stringify(cursor)}`);
}

/** Definition records, checked: a chain name, a whole version from 1, a fingerprint and a time. */
export function checkDefinitionRecords(records: readonly ChainDefinitionRecord[], store: string): void {
  if (!Array.isArray(records)) throw new InvalidOptionError(`${store}: recordDefinitions: records`, 'must be an array');
  records.forEach((r: ChainDefinitionRecord | undefined, i) => {
    const at = `${store}: recordDefinitions: records[${i}]`;
    if (typeof r?.chain !== 'string' || r.chain.length === 0) throw new InvalidOptionError(`${at}.chain`, 'must be a non-empty string');
    if (!Number.isInteger(r.version) || r.version < 1) throw new InvalidOptionError(`${at}.version`, `must be a whole number from 1, got ${String(r.version)}`);
    if (typeof r.fingerprint !== 'string' || r.fingerprint.length === 0) throw new InvalidOptionError(`${at}.fingerprint`, 'must be a non-empty string');
    if (!Number.isFinite(r.recordedAt)) throw new InvalidOptionError(`${at}.recordedAt`, `must be epoch milliseconds, got ${String(r.recordedAt)}`);
  });
}
