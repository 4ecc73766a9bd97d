/**
 * The dashboard's options, compiled once: every rejection names `createDashboard`, the option and
 * what it must be.
 */
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { assertKnownKeys, compileRedaction, InvalidOptionError, type RedactRule } from '@taskchart/core/adapter';
import type { DashboardClient } from './client.js';

/** What an action (or a read) asks `authorize` for. */
export type DashboardAction = 'read' | 'cancel' | 'retry' | 'redrive';

export interface DashboardOptions {
  /** The Taskchart client the dashboard reads and acts through (a `createClient()` client; a runtime works too). Required. */
  client: DashboardClient;
  /**
   * The path the dashboard answers under, e.g. `/taskchart`. Mounted in Express/Connect
   * (`app.use('/taskchart', handler)`), it is relative to the mount point (`req.baseUrl`), so
   * leave it at `/` there; with Fastify it is relative to the plugin's `prefix`.
   * @defaultValue '/'
   */
  basePath?: string;
  /** Whether cancel, re-drive and dead-letter redrive are allowed. Without, every POST is refused with 403. @defaultValue false */
  actions?: boolean;
  /**
   * Asked before every request (`'read'` for every GET, the action's name for a POST); answer
   * `false` to refuse it with 403. Put the team's own checks here (a session, a role).
   * @defaultValue allow every request
   */
  authorize?: (request: IncomingMessage, action: DashboardAction) => boolean | Promise<boolean>;
  /**
   * Who acts, kept in the run's history as `by` (at most 200 characters), e.g. the signed-in
   * user's e-mail. @defaultValue `'dashboard'`
   */
  actor?: (request: IncomingMessage) => string | Promise<string>;
  /**
   * Extra keys to redact in inputs, outputs, errors and dead-letter bodies (strings: case-insensitive
   * substrings; RegExps: tested against the key), on top of the defaults the Sentry plugin uses
   * (`pass`, `secret`, `token`, `key`, `authorization`, `cookie`). @defaultValue none extra
   */
  redact?: readonly RedactRule[];
  /** The page's title. @defaultValue 'Taskchart' */
  title?: string;
  /** @internal Where the built UI is (testing). @defaultValue `<package root>/dist/ui` */
  uiDir?: string;
}

export interface CompiledDashboardOptions {
  readonly client: DashboardClient;
  /** Normalised: starts with `/`, no trailing `/` (`''` for the root). */
  readonly basePath: string;
  readonly actions: boolean;
  readonly authorize: (request: IncomingMessage, action: DashboardAction) => boolean | Promise<boolean>;
  readonly actor: (request: IncomingMessage) => string | Promise<string>;
  readonly redacts: (key: string) => boolean;
  readonly title: string;
  readonly uiDir: string;
}

const OWNER = 'createDashboard';
const KEYS = ['client', 'basePath', 'actions', 'authorize', 'actor', 'redact', 'title', 'uiDir'] as const satisfies ReadonlyArray<keyof DashboardOptions>;
/** The client methods the dashboard calls. */
const CLIENT_METHODS = ['listRuns', 'getRun', 'events', 'cancel', 'retry', 'chainDefinitions', 'chainDefinition'] as const;

/** `<package root>/dist/ui`, from `src/` (sources) or `dist/` (built). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../dist/ui', import.meta.url));

export function compileDashboardOptions(options: DashboardOptions, owner = OWNER): CompiledDashboardOptions {
  if (!options || typeof options !== 'object') throw new InvalidOptionError(`${owner}: options`, 'must be an object { client, basePath?, actions?, authorize?, actor?, redact?, title? }');
  assertKnownKeys(options, KEYS, owner);
  const { client, actions = false, title = 'Taskchart', uiDir = DEFAULT_UI_DIR } = options;
  if (!client || typeof client !== 'object') throw new InvalidOptionError(`${owner}: client`, 'is required: a Taskchart client (createClient()) or runtime');
  for (const method of CLIENT_METHODS) {
    if (typeof (client as unknown as Record<string, unknown>)[method] !== 'function') throw new InvalidOptionError(`${owner}: client`, `must be a Taskchart client (createClient()); it has no ${method}()`);
  }
  if (typeof actions !== 'boolean') throw new InvalidOptionError(`${owner}: actions`, `must be true or false, got ${String(actions)}`);
  if (options.authorize !== undefined && typeof options.authorize !== 'function') throw new InvalidOptionError(`${owner}: authorize`, 'must be a function (request, action) => boolean | Promise<boolean>');
  if (options.actor !== undefined && typeof options.actor !== 'function') throw new InvalidOptionError(`${owner}: actor`, 'must be a function (request) => string');
  if (typeof title !== 'string' || title.length === 0 || title.length > 200) throw new InvalidOptionError(`${owner}: title`, 'must be a non-empty string of at most 200 characters');
  if (typeof uiDir !== 'string' || uiDir.length === 0) throw new InvalidOptionError(`${owner}: uiDir`, 'must be a directory path');
  return {
    client,
    basePath: normaliseBasePath(options.basePath, owner),
    actions,
    authorize: options.authorize ?? (() => true),
    actor: options.actor ?? (() => 'dashboard'),
    redacts: compileRedaction(options.redact, owner),
    title,
    uiDir,
  };
}

/** `'/taskchart/'` → `'/taskchart'`; `'/'` → `''`. */
export function normaliseBasePath(basePath: string | undefined, owner: string): string {
  if (basePath === undefined) return '';
  if (typeof basePath !== 'string' || !basePath.startsWith('/') || !/^[\w\-./~%]*$/.test(basePath) || basePath.includes('//') || /(^|\/)\.\.?(\/|$)/.test(basePath)) {
    throw new InvalidOptionError(`${owner}: basePath`, `must be a URL path starting with "/" (letters, digits, - _ . ~ %; no "//", "." or ".." segments), got ${JSON.stringify(basePath)}`);
  }
  return basePath.replace(/\/+$/, '');
}

/** Joins normalised base paths (`''`, `'/a'`). */
export function joinBasePaths(outer: string, inner: string): string {
  return `${outer.replace(/\/+$/, '')}${inner}`;
}
