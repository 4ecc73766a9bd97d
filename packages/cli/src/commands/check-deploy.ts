/**
 * `taskchart check-deploy`: which in-flight runs the config's chains (what the next deploy would
 * load) could not continue. Exit code 1 when any would be stranded.
 */
import { EXIT, type ExitCode } from '../errors.js';
import { formatState, table } from '../format.js';
import type { Session } from '../session.js';

export async function checkDeploy(session: Session, flags: { readonly json?: boolean }): Promise<ExitCode> {
  const chains = await session.chains();
  const client = await session.client();
  const stranded = await client.checkDeploy(chains);
  const loaded = [...chains].sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version).map((c) => ({ chain: c.name, version: c.version }));
  if (flags.json) {
    session.json({ ok: stranded.length === 0, chains: loaded, stranded });
  } else if (stranded.length === 0) {
    session.out(`ok: no in-flight run would be stranded by ${loaded.map((c) => `${c.chain}@${c.version}`).join(', ')}`);
  } else {
    session.out(`${stranded.length} in-flight run(s) would be stranded:\n`);
    session.out(table(['ID', 'CHAIN', 'VERSION', 'STATUS', 'STATE', 'WHY'], stranded.map((s) => [s.id, s.chain, String(s.version), s.status, formatState(s.state), s.why])));
  }
  return stranded.length === 0 ? EXIT.ok : EXIT.failed;
}
