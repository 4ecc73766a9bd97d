/** The chain definitions table (`taskchart_chains`): recorded once per (chain, version, fingerprint). */
import type Database from 'better-sqlite3';
import type { ChainDefinitionRecord, DefinitionQuery } from '@taskchart/core/adapter';

interface DefinitionRow {
  chain: string;
  version: number;
  fingerprint: string;
  definition: string;
  recorded_at: number;
}

export interface DefinitionStatements {
  /** Inserts the records that are new, in one transaction. */
  readonly record: Database.Transaction<(records: readonly ChainDefinitionRecord[]) => void>;
  list(query: DefinitionQuery): ChainDefinitionRecord[];
}

/** The statements, prepared once per store. */
export function definitionStatements(db: Database.Database): DefinitionStatements {
  const insert = db.prepare<[string, number, string, string, number]>(
    'INSERT INTO taskchart_chains (chain, version, fingerprint, definition, recorded_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const order = 'ORDER BY chain, version DESC, recorded_at DESC';
  const all = db.prepare<[], DefinitionRow>(`SELECT * FROM taskchart_chains ${order}`);
  const ofChain = db.prepare<[string], DefinitionRow>(`SELECT * FROM taskchart_chains WHERE chain = ? ${order}`);
  return {
    record: db.transaction((records: readonly ChainDefinitionRecord[]) => {
      for (const r of records) insert.run(r.chain, r.version, r.fingerprint, JSON.stringify(r.definition), r.recordedAt);
    }),
    list(query: DefinitionQuery): ChainDefinitionRecord[] {
      const rows = query.chain === undefined ? all.all() : ofChain.all(query.chain);
      return rows.map((row) => ({ chain: row.chain, version: row.version, fingerprint: row.fingerprint, definition: JSON.parse(row.definition) as unknown, recordedAt: row.recorded_at }));
    },
  };
}
