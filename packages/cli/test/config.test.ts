/**
 * Finding and checking the config file, as a user meets it: the CLI spawned in a directory.
 * Every error names the file and the key, and exits 2.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURE_CHAINS, projects, sqliteConfig } from './cli-harness.js';

const project = projects();

const CHAINS_MODULE = `import { chain, task } from '@taskchart/core';
const a = task('a', (x: number) => x + 1);
export const one = chain('one', a);
export const all = [one, chain('two', a)];
export const notAChain = 42;
`;

describe('taskchart config', () => {
  it('finds taskchart.config.ts in the working directory; chains relative to it; --config and TASKCHART_CONFIG elsewhere', async () => {
    const p = project();
    p.write('chains.ts', CHAINS_MODULE);
    p.write('taskchart.config.ts', sqliteConfig(p.db).replace(JSON.stringify(FIXTURE_CHAINS), "'./chains.ts'"));
    const found = await p.run(['chains', 'export', 'two']);
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ id: 'two' });

    p.write('other.config.mjs', `export default { store: () => { throw new Error('unused'); }, broker: () => { throw new Error('unused'); }, chains: './chains.ts' };\n`);
    const viaFlag = await p.run(['chains', 'export', 'one', '--config', 'other.config.mjs']);
    expect(viaFlag.code).toBe(0);
    const viaEnv = await p.run(['chains', 'export', 'one'], { TASKCHART_CONFIG: 'other.config.mjs' });
    expect(viaEnv.code).toBe(0);
    const beforeCommand = await p.run(['--config', 'other.config.mjs', 'chains', 'export', 'one']);
    expect(beforeCommand.code).toBe(0);

    const storeFails = await p.run(['runs', 'list', '--config', 'other.config.mjs']);
    expect(storeFails.code).toBe(1);
    expect(storeFails.stderr).toBe(`taskchart: config file ${p.dir}/other.config.mjs: "store" could not open the store: unused\n`);
  }, 90_000);

  it('rejects an unknown key, a missing factory, a bad chains module and a missing file, naming the file and key (exit 2)', async () => {
    const p = project();
    const missing = await p.run(['runs', 'list']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^taskchart: no config file: none of taskchart\.config\.ts, taskchart\.config\.mts, taskchart\.config\.js, taskchart\.config\.mjs is in /);
    const noFile = await p.run(['runs', 'list', '--config', 'nope.ts']);
    expect(noFile.stderr).toBe(`taskchart: config file ${p.dir}/nope.ts (from --config) does not exist\n`);

    const file = p.write('taskchart.config.ts', sqliteConfig(p.db).replace('  chains:', '  chain: "x",\n  chains:'));
    const unknown = await p.run(['runs', 'list']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`taskchart: config file ${file}: unknown key "chain"; valid keys: store, broker, chains, signingKey, redact\n`);

    p.write('taskchart.config.ts', `export default { store: 'runs.db', broker: () => null, chains: './chains.ts' };\n`);
    const notFactory = await p.run(['runs', 'list']);
    expect(notFactory.code).toBe(2);
    expect(notFactory.stderr).toMatch(/config file .*taskchart\.config\.ts: "store" must be a function that opens the store .*got "runs\.db"/);

    p.write('taskchart.config.ts', `export default { store: () => null, broker: () => null, chains: './chains.ts' };\n`);
    p.write('chains.ts', 'export const nothing = 1;\n');
    const noChains = await p.run(['chains', 'export', 'x']);
    expect(noChains.code).toBe(2);
    expect(noChains.stderr).toMatch(/chains module "\.\/chains\.ts" \(from .*taskchart\.config\.ts\) exports no chain/);

    p.write('taskchart.config.ts', 'export default {;\n');
    const syntax = await p.run(['runs', 'list']);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/^taskchart: config file .*taskchart\.config\.ts could not be loaded: /);
    expect(syntax.stderr).not.toMatch(/\n\s+at /);
    const debug = await p.run(['runs', 'list', '--debug']);
    expect(debug.stderr).toMatch(/\n\s+at /);
  }, 90_000);

  it('usage errors exit 2 with a hint; --help and --version exit 0', async () => {
    const p = project();
    const bad = await p.run(['runs', 'lst']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'lst'/);
    const help = await p.run(['runs', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/list \[options\]/);
    const version = await p.run(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe('0.1.0\n');
    const limit = await p.run(['runs', 'list', '--limit', 'ten']);
    expect(limit.code).toBe(2);
  }, 90_000);
});
