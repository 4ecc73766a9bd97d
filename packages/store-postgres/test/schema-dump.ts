/**
 * The migrated schema as the server's catalog describes it, written as SQL (tables with their
 * columns, defaults and constraints, then indexes), with the schema's name replaced by
 * `:schema`, so that it compares to the frozen `fixtures/schema.sql`.
 */
import type { PgTestScope } from './pg-test.js';

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
}

export async function dumpSchema(scope: PgTestScope, schema: string): Promise<string> {
  const columns = await scope.query<ColumnRow>(
    `SELECT c.table_name, c.column_name, format_type(a.atttypid, a.atttypmod) AS data_type, c.is_nullable, c.column_default
       FROM information_schema.columns c
       JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
      WHERE c.table_schema = $1 ORDER BY c.table_name, c.ordinal_position`,
    [schema],
  );
  const constraints = await scope.query<{ table_name: string; def: string }>(
    `SELECT cl.relname AS table_name, pg_get_constraintdef(co.oid) AS def
       FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
      WHERE n.nspname = $1 ORDER BY cl.relname, co.conname`,
    [schema],
  );
  const indexes = await scope.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema]);
  const tables = [...new Set(columns.map((c) => c.table_name))];
  const lines: string[] = [];
  for (const table of tables) {
    const defs = columns
      .filter((c) => c.table_name === table)
      .map((c) => `  ${c.column_name} ${c.data_type}${c.is_nullable === 'NO' ? ' NOT NULL' : ''}${c.column_default !== null ? ` DEFAULT ${c.column_default}` : ''}`);
    defs.push(...constraints.filter((c) => c.table_name === table).map((c) => `  ${c.def}`));
    lines.push(`CREATE TABLE ${table} (\n${defs.join(',\n')}\n);`);
  }
  lines.push(...indexes.map((i) => `${i.indexdef};`));
  return `${lines.join('\n').split(`${schema}.`).join(':schema.')}\n`;
}
