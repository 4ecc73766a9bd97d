/** The end-of-demo table: one row per run, from the store's history, then totals. */
import type { GuaranteeLedger } from './services.js';
import type { Out, Paint } from './output.js';
import type { RunState } from './progress.js';

export interface RunSummary {
  readonly id: string;
  readonly tenantId: string;
  readonly tenant: string;
  readonly status: string;
  /** Step attempts made (first tries and retries), across the chain. */
  readonly attempts: number;
  readonly retries: number;
  readonly compensations: number;
  readonly durationMs: number;
  /** The tenant's guarantee file in the ledger (`issued`, `voided`, or `none`). */
  readonly guarantee: string;
}

export function summarise(id: string, tenantId: string, tenant: string, state: RunState | undefined, ledger: GuaranteeLedger): RunSummary {
  const history = state?.history ?? [];
  const first = history[0]?.at ?? 0;
  const last = history[history.length - 1]?.at ?? first;
  const file = ledger.forTenant(tenantId);
  return {
    id,
    tenantId,
    tenant,
    status: state?.status ?? 'unknown',
    attempts: history.filter((h) => h.type === 'step.started').length,
    retries: history.filter((h) => h.type === 'step.retrying').length,
    compensations: history.filter((h) => h.type === 'compensation.completed').length,
    durationMs: last - first,
    guarantee: file ? `${file.id} ${file.status}` : 'none',
  };
}

export function printSummary(rows: readonly RunSummary[], out: Out, p: Paint): void {
  const header = ['run id', 'tenant', 'status', 'attempts', 'retries', 'duration', 'guarantee'];
  const cells = rows.map((r) => [r.id, r.tenant, r.status, String(r.attempts), String(r.retries), `${(r.durationMs / 1000).toFixed(2)} s`, r.guarantee]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i >= 3 && i <= 5 ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  ');
  out('');
  out(p.bold(line(header)));
  out(p.dim(widths.map((w) => '-'.repeat(w)).join('  ')));
  for (let i = 0; i < rows.length; i++) {
    const text = line(cells[i] ?? []);
    const status = rows[i]?.status;
    out(status === 'completed' ? text : status === 'compensated' ? p.magenta(text) : p.red(text));
  }
  const count = (s: string) => rows.filter((r) => r.status === s).length;
  const sum = (f: (r: RunSummary) => number) => rows.reduce((n, r) => n + f(r), 0);
  out('');
  out(
    `${p.bold('totals')}: ${rows.length} runs, ${p.green(`${count('completed')} completed`)}, ${p.magenta(`${count('compensated')} compensated`)}, ` +
      `${count('failed')} failed; ${sum((r) => r.attempts)} step attempts, ${sum((r) => r.retries)} retries, ${sum((r) => r.compensations)} compensation(s)`,
  );
}
