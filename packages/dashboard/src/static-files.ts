/**
 * The built UI: `index.html` with `{{BASE}}` and `{{CSRF}}` (and `{{TITLE}}`) filled in,
 * HTML-escaped, and the files under `assets/` with their content types. A path that leaves the
 * assets directory (`..`, an encoded `/`, a symlink out) is refused.
 */
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DashboardNotFoundError, DashboardRequestError } from './errors.js';
import { BASE_HEADERS } from './http.js';

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** A name with a content hash (`app-3F7A9C2B.js`, `chunk.5d41402abc.css`): its content never changes, so it is cached for a year. */
const HASHED = /[-.][A-Za-z0-9_]{8,}\.[a-z0-9]+$/;

/** The page loads only its own files and talks only to its own server; nobody frames it. */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

export function contentTypeOf(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

export async function sendIndex(res: ServerResponse, uiDir: string, fill: { base: string; csrf: string; title: string }): Promise<void> {
  let template: string;
  try {
    template = await readFile(join(uiDir, 'index.html'), 'utf8');
  } catch {
    const text = `The Taskchart dashboard's UI is not built: ${join(uiDir, 'index.html')} is missing. Run \`pnpm --filter @taskchart/dashboard build\`.\n`;
    res.writeHead(503, { ...BASE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
    return;
  }
  const html = template.replaceAll('{{BASE}}', escapeHtml(fill.base)).replaceAll('{{CSRF}}', escapeHtml(fill.csrf)).replaceAll('{{TITLE}}', escapeHtml(fill.title));
  res.writeHead(200, {
    ...BASE_HEADERS,
    'content-security-policy': PAGE_CSP,
    'content-type': 'text/html; charset=utf-8',
    // The page holds the CSRF token: no cache keeps it.
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

/** Serves `assets/<name>` (`name` still URL-encoded, as in the request path). */
export async function sendAsset(req: IncomingMessage, res: ServerResponse, uiDir: string, name: string): Promise<void> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    throw new DashboardRequestError('the asset path is not valid URL encoding');
  }
  const segments = decoded.split('/');
  if (decoded === '' || decoded.includes('\\') || decoded.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new DashboardNotFoundError(`no asset ${JSON.stringify(decoded)}`);
  }
  const root = join(uiDir, 'assets');
  let file: string;
  let size: number;
  let modified: Date;
  try {
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(join(root, ...segments))]);
    if (!realFile.startsWith(realRoot + sep)) throw new Error('outside the assets directory');
    const info = await stat(realFile);
    if (!info.isFile()) throw new Error('not a file');
    file = realFile;
    size = info.size;
    modified = info.mtime;
  } catch {
    throw new DashboardNotFoundError(`no asset ${JSON.stringify(decoded)}`);
  }
  const headers = {
    ...BASE_HEADERS,
    'content-type': contentTypeOf(file),
    'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
    'last-modified': modified.toUTCString(),
  };
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  if (Number.isFinite(since) && Math.floor(modified.getTime() / 1000) <= Math.floor(since / 1000)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    stream.on('end', resolve);
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}
