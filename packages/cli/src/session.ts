/**
 * One invocation of the CLI: where it writes, and the config, chains and client it opens lazily
 * (a command opens only what it needs; `close()` releases whatever was opened).
 */
import type { AnyChain, Client, Logger } from '@taskchart/core';
import { createClient } from '@taskchart/core';
import { compileRedaction, redactValue } from '@taskchart/core/adapter';
import { findConfigFile, loadConfig, type LoadedConfig } from './config.js';
import { loadChains } from './chains-module.js';
import { UsageError } from './errors.js';

/** A stream the CLI writes to. */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Where an invocation reads and writes (the process's streams; a test may pass its own). */
export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface SessionOptions {
  /** `--config <file>`. */
  readonly config?: string;
  /** `--debug`: stacks on errors, the client's warnings in full. */
  readonly debug?: boolean;
}

export class Session {
  private loaded: Promise<LoadedConfig> | undefined;
  private chainList: Promise<AnyChain[]> | undefined;
  private opened: Promise<Client> | undefined;
  private redactor: ((key: string) => boolean) | undefined;
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor(
    readonly io: Io,
    readonly options: SessionOptions,
  ) {}

  /** Writes a line (or lines) to stdout. */
  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Writes a line to stderr. */
  err(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Writes `value` as JSON (one document, indented, or one line with `line`). */
  json(value: unknown, line = false): void {
    this.out(line ? JSON.stringify(value) : JSON.stringify(value, null, 2));
  }

  config(): Promise<LoadedConfig> {
    this.loaded ??= Promise.resolve().then(() => loadConfig(findConfigFile(this.io.cwd, this.options.config, this.io.env)));
    return this.loaded;
  }

  /** The chains the config's module exports. */
  chains(): Promise<AnyChain[]> {
    this.chainList ??= this.config().then(loadChains);
    return this.chainList;
  }

  /** A client on the config's store and broker (opened on first use, closed by `close()`). */
  client(): Promise<Client> {
    this.opened ??= this.openClient();
    return this.opened;
  }

  /** `value` with the configured (and default) keys filtered (the client must be open: it compiles the rules). */
  redact(value: unknown): unknown {
    if (!this.redactor) throw new Error('Session.redact() before client()');
    return redactValue(value, this.redactor);
  }

  /** Runs `cleanup` at `close()`, before the client closes (a dashboard server). */
  onClose(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  private async openClient(): Promise<Client> {
    const loaded = await this.config();
    const chains = await this.chains();
    this.redactor = compileRedaction(loaded.config.redact, `config file ${loaded.file}`);
    const store = await opened(loaded, 'store', () => loaded.config.store());
    let broker;
    try {
      broker = await opened(loaded, 'broker', () => loaded.config.broker());
    } catch (error) {
      await store.close();
      throw error;
    }
    return createClient({
      store,
      broker,
      chains,
      logger: this.logger(),
      ...(loaded.config.signingKey === undefined ? {} : { signingKey: loaded.config.signingKey }),
    });
  }

  private logger(): Logger {
    const line = (level: string, message: string, details?: Record<string, unknown>) =>
      this.err(`taskchart: ${level}: ${message}${details && this.options.debug ? ` ${JSON.stringify(details)}` : ''}`);
    return { warn: (m, d) => line('warning', m, d), error: (m, d) => line('error', m, d) };
  }

  /** Releases what this invocation opened. */
  async close(): Promise<void> {
    const cleanups = this.cleanups.splice(0);
    await Promise.allSettled(cleanups.map((c) => c()));
    const client = this.opened;
    this.opened = undefined;
    if (client) await client.then((c) => c.close(), () => undefined);
  }
}

/** Calls a config factory; a throw or a wrong answer is a config error naming the key. */
async function opened<T extends { close(): Promise<void> }>(loaded: LoadedConfig, key: 'store' | 'broker', factory: () => T | Promise<T>): Promise<T> {
  let value: T;
  try {
    value = await factory();
  } catch (error) {
    const named = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
    const message = `config file ${loaded.file}: "${key}" could not open the ${key}: ${named}`;
    // A bad option is a config error (exit 2); anything else (a server down) is a failure (exit 1).
    if (error instanceof Error && error.name === 'InvalidOptionError') throw new UsageError(message, { cause: error });
    throw new Error(message, { cause: error });
  }
  if (typeof value !== 'object' || value === null || typeof value.close !== 'function') {
    throw new UsageError(`config file ${loaded.file}: "${key}" must return a ${key === 'store' ? 'Store' : 'Broker'} (did you return the factory itself?)`);
  }
  return value;
}
