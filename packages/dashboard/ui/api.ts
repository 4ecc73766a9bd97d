/** Calls to the dashboard's HTTP API, relative to the mount path the page was served under. */
import type { ChainDefinitionView, ChainVersionInfo, DashboardConfig, DeadLetter, RunInfo, RunSummary } from './types.js';

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? '';

/** The mount path, without a trailing slash (`''` at the root). */
export const BASE = meta('taskchart-base').replace(/\/+$/, '');
let csrfToken = meta('taskchart-csrf');

/** An API call that failed: the server's `{ error: { name, message } }` and the HTTP status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

export const apiUrl = (path: string) => `${BASE}/api/${path}`;

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(apiUrl(path), { credentials: 'same-origin', ...init });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'BadResponse', `the server answered ${res.status} with something other than JSON`);
  }
  if (!res.ok) {
    const error = (body as { error?: { name?: string; message?: string } }).error;
    throw new ApiError(res.status, error?.name ?? 'Error', error?.message ?? `HTTP ${res.status}`);
  }
  return body as T;
}

const post = <T>(path: string, body: unknown) =>
  request<T>(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-taskchart-csrf': csrfToken }, body: JSON.stringify(body) });

export async function getConfig(): Promise<DashboardConfig> {
  const config = await request<DashboardConfig>('config');
  if (csrfToken === '' || csrfToken.startsWith('{{')) csrfToken = config.csrfToken;
  return config;
}

export interface RunFilter {
  readonly status?: readonly string[];
  readonly chain?: string;
  readonly createdAfter?: number;
  readonly createdBefore?: number;
  readonly cursor?: string;
  readonly limit?: number;
}

export function listRuns(filter: RunFilter): Promise<{ runs: RunSummary[]; next?: string }> {
  const query = new URLSearchParams();
  if (filter.status && filter.status.length > 0) query.set('status', filter.status.join(','));
  if (filter.chain) query.set('chain', filter.chain);
  if (filter.createdAfter !== undefined) query.set('createdAfter', String(filter.createdAfter));
  if (filter.createdBefore !== undefined) query.set('createdBefore', String(filter.createdBefore));
  if (filter.cursor) query.set('cursor', filter.cursor);
  query.set('limit', String(filter.limit ?? 50));
  return request(`runs?${query.toString()}`);
}

export const getRun = (id: string) => request<{ run: RunInfo }>(`runs/${encodeURIComponent(id)}`).then((r) => r.run);
export const listChains = () => request<{ chains: ChainVersionInfo[] }>('chains').then((r) => r.chains);
export const getChainVersion = (chain: string, version: number) => request<ChainDefinitionView>(`chains/${encodeURIComponent(chain)}/versions/${version}`);
export const cancelRun = (id: string, body: { reason?: string; compensate?: boolean }) => post<{ outcome: unknown }>(`runs/${encodeURIComponent(id)}/cancel`, body);
export const retryRun = (id: string, body: { from?: 'failed-step' | 'start' }) => post<{ run: RunInfo }>(`runs/${encodeURIComponent(id)}/retry`, body);
export const listDeadLetters = () => request<{ deadLetters: DeadLetter[] }>('dead-letters?limit=500').then((r) => r.deadLetters);
export const redriveDeadLetters = (queue: string, ids?: readonly string[]) => post<{ moved: number }>('dead-letters/redrive', ids ? { queue, ids } : { queue });
