/**
 * The root README's "In 20 lines" example is this package's src/in-20-lines.ts, word for word
 * (so the typecheck and lint check what the README shows), and it runs: as a process of its own,
 * in a fresh directory, against a local risk API.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const example = fileURLToPath(new URL('../src/in-20-lines.ts', import.meta.url));
const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));
// The example runs in a fresh directory, where `--import tsx` would not resolve: give its path.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const dir = mkdtempSync(join(tmpdir(), 'taskchart-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('is the example the README shows', () => {
  const section = readFileSync(readme, 'utf8').split('## In 20 lines')[1] ?? '';
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block).toBe(readFileSync(example, 'utf8'));
});

it('runs: the chain calls the risk API with its idempotency key and prints the last step output', { timeout: 30_000 }, async () => {
  const seen: Array<{ url: string | undefined; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('42');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=source', '--import', tsx, example], {
      cwd: dir,
      env: { ...process.env, RISK_API: `http://127.0.0.1:${port}` },
      timeout: 25_000,
    });
    expect(stdout).toContain("{ tenantId: 't-1', quote: 120, score: 42 }");
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('/score/t-1');
    expect(seen[0]?.headers['idempotency-key']).toBe('referral-t-1:riskCheck');
  } finally {
    server.close();
  }
});
