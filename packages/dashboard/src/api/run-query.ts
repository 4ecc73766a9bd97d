/** `GET /api/runs`'s query string, checked: each rejection names the parameter and its range. */
import type { RunQuery, RunStatus } from '@taskchart/core';
import { InvalidOptionError, MAX_PAGE } from '@taskchart/core/adapter';

const STATUSES: readonly RunStatus[] = ['scheduled', 'running', 'retrying', 'compensating', 'completed', 'failed', 'compensated', 'cancelled', 'parked'];
const PARAMS = ['status', 'chain', 'createdAfter', 'createdBefore', 'id', 'cursor', 'limit'];
const OWNER = 'GET /api/runs';
export const DEFAULT_LIST_LIMIT = 50;

export interface RunListQuery extends RunQuery {
  /** An exact run id: the answer holds that run or none. */
  readonly id?: string;
}

export function parseRunQuery(params: URLSearchParams): RunListQuery {
  for (const key of params.keys()) {
    if (!PARAMS.includes(key)) throw new InvalidOptionError(`${OWNER}: ${key}`, `unknown parameter; valid parameters: ${PARAMS.join(', ')}`);
  }
  const one = (key: string): string | undefined => {
    const all = params.getAll(key);
    if (all.length > 1) throw new InvalidOptionError(`${OWNER}: ${key}`, 'given more than once');
    return all[0] === '' ? undefined : all[0];
  };
  const time = (key: string): number | undefined => {
    const raw = one(key);
    if (raw === undefined) return undefined;
    const ms = Number(raw);
    if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(ms)) throw new InvalidOptionError(`${OWNER}: ${key}`, `must be epoch milliseconds (a whole number), got ${JSON.stringify(raw)}`);
    return ms;
  };
  const statusRaw = one('status');
  const status = statusRaw?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of status ?? []) {
    if (!STATUSES.includes(s as RunStatus)) throw new InvalidOptionError(`${OWNER}: status`, `unknown status ${JSON.stringify(s)}; valid: ${STATUSES.join(', ')}`);
  }
  const limitRaw = one('limit');
  const limit = limitRaw === undefined ? DEFAULT_LIST_LIMIT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new InvalidOptionError(`${OWNER}: limit`, `must be a whole number from 1 to ${MAX_PAGE}, got ${JSON.stringify(limitRaw)}`);
  const chain = one('chain');
  const id = one('id');
  const cursor = one('cursor');
  const createdAfter = time('createdAfter');
  const createdBefore = time('createdBefore');
  return {
    ...(status && status.length > 0 ? { status: status as RunStatus[] } : {}),
    ...(chain === undefined ? {} : { chain }),
    ...(createdAfter === undefined ? {} : { createdAfter }),
    ...(createdBefore === undefined ? {} : { createdBefore }),
    ...(id === undefined ? {} : { id }),
    ...(cursor === undefined ? {} : { cursor }),
    limit,
  };
}

/** Whether a run found by id passes the other filters of `query`. */
export function matches(run: { status: RunStatus; chain: string; createdAt: number }, query: RunListQuery): boolean {
  if (query.status && !query.status.includes(run.status)) return false;
  if (query.chain !== undefined && run.chain !== query.chain) return false;
  if (query.createdAfter !== undefined && run.createdAt < query.createdAfter) return false;
  if (query.createdBefore !== undefined && run.createdAt >= query.createdBefore) return false;
  return true;
}
