/**
 * How a SQL store keeps a run: one row with these columns, JSON values as text. Shared by the
 * SQLite and Postgres stores so a run reads back the same from either.
 */
import type { SerializedError } from '../errors.js';
import type { RunRecord, RunStatus, WaitingFor } from './store.js';

export interface RunRow {
  id: string;
  chain: string;
  status: string;
  version: number;
  step: string | null;
  attempt: number;
  total_attempts: number;
  snapshot: string;
  input: string | null;
  output: string | null;
  error: string | null;
  failed_task: string | null;
  waiting: string;
  /** Epoch ms; a string where the driver returns 64-bit integers as strings (node-postgres). */
  created_at: number | string;
  updated_at: number | string;
}

/** JSON text of `value`, or SQL NULL for `undefined`. */
export const toJsonColumn = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
/** The value of a JSON text column; `undefined` for SQL NULL. */
export const fromJsonColumn = <T>(text: string | null): T | undefined => (text === null ? undefined : (JSON.parse(text) as T));

/** The run a row holds. */
export function runFromRow(row: RunRow): RunRecord {
  const error = fromJsonColumn<SerializedError>(row.error);
  return {
    id: row.id,
    chain: row.chain,
    status: row.status as RunStatus,
    version: row.version,
    step: row.step ?? undefined,
    attempt: row.attempt,
    totalAttempts: row.total_attempts,
    waiting: JSON.parse(row.waiting) as WaitingFor[],
    snapshot: JSON.parse(row.snapshot) as unknown,
    input: fromJsonColumn<unknown>(row.input),
    ...(row.output !== null ? { output: fromJsonColumn<unknown>(row.output) } : {}),
    ...(error ? { error } : {}),
    ...(row.failed_task !== null ? { failedTask: row.failed_task } : {}),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
