/** `startDashboard(options)`: the dashboard on its own node:http server (what `taskchart dashboard` runs). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '@taskchart/core/adapter';
import { buildDashboard } from './dashboard.js';
import { compileDashboardOptions, type DashboardOptions } from './options.js';

export interface StandaloneDashboardOptions extends DashboardOptions {
  /** The TCP port to listen on; `0` picks a free one (see `url`). @defaultValue 4310 */
  port?: number;
  /**
   * The interface to listen on. The default answers this machine only: to open it to others,
   * put it behind the team's auth (see the README) before choosing `'0.0.0.0'`.
   * @defaultValue '127.0.0.1'
   */
  host?: string;
}

export interface StandaloneDashboard {
  /** Where it answers, e.g. `http://127.0.0.1:4310/` (with the base path). */
  readonly url: string;
  /** Ends the live streams and closes the server. The client stays open (it is the caller's). */
  close(): Promise<void>;
}

const OWNER = 'startDashboard';
export const DEFAULT_PORT = 4310;

export async function startDashboard(raw: StandaloneDashboardOptions): Promise<StandaloneDashboard> {
  if (!raw || typeof raw !== 'object') throw new InvalidOptionError(`${OWNER}: options`, 'must be an object { client, port?, host?, ... }');
  const { port = DEFAULT_PORT, host = '127.0.0.1', ...rest } = raw;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidOptionError(`${OWNER}: port`, `must be a whole number from 0 to 65535, got ${String(port)}`);
  if (typeof host !== 'string' || host.length === 0) throw new InvalidOptionError(`${OWNER}: host`, `must be a host name or IP address, got ${String(host)}`);
  const dashboard = buildDashboard(compileDashboardOptions(rest, OWNER));
  const server = createServer((req, res) => dashboard.handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}${dashboard.options.basePath}/`,
    close() {
      closed ??= (async () => {
        await dashboard.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
      })();
      return closed;
    },
  };
}
