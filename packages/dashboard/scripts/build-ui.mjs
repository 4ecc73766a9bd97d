// Builds the dashboard's browser app: ui/app.ts and ui/app.css bundled by esbuild into
// <outDir>/assets/app.js and app.css, and ui/index.html copied to <outDir>/index.html (the server
// fills in its {{BASE}} and {{CSRF}}). `node scripts/build-ui.mjs [outDir]` (default dist/ui) is
// what `pnpm build` runs; tests import `buildUi` and build into a temporary directory.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds the UI into `outDir` (default `<package>/dist/ui`), replacing what was there.
 * @param {{ outDir?: string, minify?: boolean }} [options] `minify` defaults to true.
 * @returns {Promise<string>} the absolute output directory.
 */
export async function buildUi(options = {}) {
  const known = new Set(['outDir', 'minify']);
  for (const key of Object.keys(options)) if (!known.has(key)) throw new Error(`buildUi: unknown option "${key}" (known: outDir, minify)`);
  const outDir = resolve(options.outDir ?? join(packageRoot, 'dist', 'ui'));
  const assets = join(outDir, 'assets');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  await build({
    entryPoints: [join(packageRoot, 'ui', 'app.ts'), join(packageRoot, 'ui', 'app.css')],
    outdir: assets,
    entryNames: '[name]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome109', 'firefox115', 'safari16'],
    minify: options.minify ?? true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(packageRoot, 'ui', 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const outDir = await buildUi(process.argv[2] ? { outDir: process.argv[2] } : {});
  console.log(`dashboard UI built into ${outDir}`);
}
