/**
 * The CLI's config file: `taskchart.config.{ts,mts,js,mjs}`, which names the deployment's store,
 * broker and the module that exports its chains. Loaded with jiti, so a TypeScript config runs on
 * Node 20 without a build step.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Broker, Store } from '@taskchart/core';
import type { RedactRule } from '@taskchart/core/adapter';
import { createJiti } from 'jiti';
import { UsageError } from './errors.js';

/** What `taskchart.config.ts` exports (as its default export, through {@link defineConfig}). */
export interface TaskchartConfig {
  /**
   * Opens the store the deployment keeps its runs in (`() => sqliteStore('./runs.db')`,
   * `() => postgresStore({ connectionString })`). A factory: the CLI calls it only for commands
   * that read or act on runs (not for `chains export`), once per command.
   */
  store: () => Store | Promise<Store>;
  /**
   * Opens the deployment's broker (`() => amqpBroker({ url })`). A factory, called with `store`.
   * Cancel, retry and redrive publish messages: they need the broker the deployment's workers
   * consume (RabbitMQ, SQS). A `memoryBroker()` lives inside one process, so with it only the
   * read commands are meaningful.
   */
  broker: () => Broker | Promise<Broker>;
  /**
   * The module that exports the deployment's chains, relative to the config file
   * (`'./src/chains.ts'`). Every export that is a chain, or an array of chains, is collected
   * (several versions of a chain allowed), as the workers would load them.
   */
  chains: string;
  /**
   * The deployment's message signing key (`createRuntime({ signingKey })`), when it signs:
   * messages the CLI publishes (cancel, retry) must be signed with it. @defaultValue unsigned
   */
  signingKey?: string;
  /**
   * Keys whose values are shown as `[Filtered]` in run inputs, outputs and errors (`runs show`,
   * `runs list --json`, `dlq list`), in addition to the defaults (pass, secret, token, key,
   * authorization, cookie). Strings match case-insensitive substrings of a key. @defaultValue the defaults only
   */
  redact?: readonly RedactRule[];
}

const CONFIG_KEYS = ['store', 'broker', 'chains', 'signingKey', 'redact'] as const satisfies ReadonlyArray<keyof TaskchartConfig>;

/** The names the CLI looks for in the working directory, in this order. */
export const CONFIG_FILES = ['taskchart.config.ts', 'taskchart.config.mts', 'taskchart.config.js', 'taskchart.config.mjs'] as const;

/** Types a config file (an identity function: the config is checked when the CLI loads it). */
export function defineConfig(config: TaskchartConfig): TaskchartConfig {
  return config;
}

/** A loaded, checked config file. */
export interface LoadedConfig {
  /** The config file's absolute path. */
  readonly file: string;
  readonly config: TaskchartConfig;
  /** Imports a module relative to the config file (with jiti, as the config itself). */
  readonly importModule: (specifier: string) => Promise<Record<string, unknown>>;
}

/** Where the config comes from: `--config`, else `TASKCHART_CONFIG`, else a `taskchart.config.*` in `cwd`. */
export function findConfigFile(cwd: string, explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  const given = explicit ?? (env['TASKCHART_CONFIG'] || undefined);
  if (given !== undefined) {
    const file = resolve(cwd, given);
    const via = explicit === undefined ? 'TASKCHART_CONFIG' : '--config';
    if (!existsSync(file)) throw new UsageError(`config file ${file} (from ${via}) does not exist`);
    return file;
  }
  const found = CONFIG_FILES.map((name) => resolve(cwd, name)).filter((file) => existsSync(file));
  const [first, second] = found;
  if (first === undefined) {
    throw new UsageError(`no config file: none of ${CONFIG_FILES.join(', ')} is in ${cwd}. Create one (see the README of @taskchart/cli), or pass --config <file> or set TASKCHART_CONFIG`);
  }
  if (second !== undefined) throw new UsageError(`several config files in ${cwd}: ${found.join(', ')}; keep one, or pass --config <file>`);
  return first;
}

/** Loads and checks the config file `file` (absolute). */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const jiti = createJiti(file, { moduleCache: true });
  let exported: unknown;
  try {
    exported = await jiti.import(file, { default: true });
  } catch (error) {
    throw new UsageError(`config file ${file} could not be loaded: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const config = checkConfig(exported, file);
  const importModule = async (specifier: string) => {
    const path = specifier.startsWith('.') || isAbsolute(specifier) ? resolve(dirname(file), specifier) : specifier;
    return jiti.import<Record<string, unknown>>(path);
  };
  return { file, config, importModule };
}

/** Checks what a config file exports; every error names the file and the key. */
export function checkConfig(exported: unknown, file: string): TaskchartConfig {
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw new UsageError(`config file ${file}: its default export must be an object (export default defineConfig({ store, broker, chains })), got ${describe(exported)}`);
  }
  const config = exported as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`config file ${file}: unknown key "${key}"; valid keys: ${CONFIG_KEYS.join(', ')}`);
    }
  }
  for (const key of ['store', 'broker'] as const) {
    if (typeof config[key] !== 'function') {
      throw new UsageError(`config file ${file}: "${key}" must be a function that opens the ${key} (${key}: () => ${key === 'store' ? "sqliteStore('./runs.db')" : 'amqpBroker({ url })'}), got ${describe(config[key])}`);
    }
  }
  if (typeof config['chains'] !== 'string' || config['chains'].length === 0) {
    throw new UsageError(`config file ${file}: "chains" must be the path of the module that exports the chains, relative to the config file ('./src/chains.ts'), got ${describe(config['chains'])}`);
  }
  if (config['signingKey'] !== undefined && (typeof config['signingKey'] !== 'string' || config['signingKey'].length === 0)) {
    throw new UsageError(`config file ${file}: "signingKey" must be a non-empty string`);
  }
  const redact = config['redact'];
  if (redact !== undefined && (!Array.isArray(redact) || !redact.every((r) => typeof r === 'string' || r instanceof RegExp))) {
    throw new UsageError(`config file ${file}: "redact" must be an array of strings and regular expressions`);
  }
  return config as unknown as TaskchartConfig;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : `a ${typeof value}`;
}
