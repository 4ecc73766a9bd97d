import { connect } from 'node:net';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rigs } from './rig.js';
import { get, getText, type ConfigBody } from './http.js';

const rig = rigs();

/** Sends `path` as is (fetch would normalise `..` away), answering the status line and the body. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.on('end', () => resolve({ status: Number(text.split(' ')[1]), body: text.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
    socket.on('error', reject);
  });
}

describe('the page and its assets', () => {
  it('serves index.html with the base path and the CSRF token filled in, HTML-escaped', async () => {
    const r = await rig();
    const { url } = await r.serve({ basePath: '/ops/taskchart', title: '<b>"Ops"</b>' });
    const page = await getText(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const token = (await get<ConfigBody>(`${url}/api/config`)).body.csrfToken;
    expect(page.body).toBe(
      `<!doctype html><meta name="taskchart-base" content="/ops/taskchart"><meta name="taskchart-csrf" content="${token}"><title>&lt;b&gt;&quot;Ops&quot;&lt;/b&gt;</title>`,
    );
    // Without the slash, the page's relative URLs would resolve one level up: redirected.
    const bare = await getText(url);
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/ops/taskchart/');
    // Outside the base path: not the dashboard's.
    expect((await getText(url.replace('/ops/taskchart', '/ops/api/config'))).status).toBe(404);
  });

  it('serves assets with their content types, hashed names cached for a year', async () => {
    const r = await rig();
    const { url } = await r.serve();
    const js = await getText(`${url}/assets/app-3F7A9C2B.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.body).toBe('console.log("app");');
    const css = await getText(`${url}/assets/style.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(css.headers.get('cache-control')).toBe('no-cache');
    expect(css.headers.get('x-content-type-options')).toBe('nosniff');
    const again = await getText(`${url}/assets/style.css`, { 'if-modified-since': css.headers.get('last-modified') ?? '' });
    expect(again.status).toBe(304);
    expect((await getText(`${url}/assets/missing.js`)).status).toBe(404);
    expect((await getText(`${url}/assets/`)).status).toBe(404);
  });

  it('refuses every path that leaves the assets directory', async () => {
    const r = await rig();
    const { url } = await r.serve();
    const port = Number(new URL(url).port);
    symlinkSync(join(r.uiDir, '..', 'secret.txt'), join(r.uiDir, 'assets', 'link.txt'));
    const attempts = [
      '/assets/../../secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/assets//etc/passwd',
      '/assets/%00secret.txt',
      '/assets/link.txt',
      '/assets/../index.html',
      '/assets/%E0%A4%A',
    ];
    for (const path of attempts) {
      const answer = await rawGet(port, path);
      expect([400, 404], path).toContain(answer.status);
      expect(answer.body, path).not.toContain('top secret');
    }
  });

  it('answers 503 with a clear message while the UI is not built', async () => {
    const r = await rig();
    const { url } = await r.serve({ uiDir: join(r.uiDir, 'nowhere') });
    const page = await getText(`${url}/`);
    expect(page.status).toBe(503);
    expect(page.body).toContain('not built');
    expect((await get(`${url}/api/config`)).status).toBe(200);
  });
});
