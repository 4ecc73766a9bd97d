/**
 * The outside world of the demo, faked in memory: the guarantee ledger (our own database),
 * the third-party risk-scoring API (flaky), and the landlord mailbox. Each write is keyed by the
 * step's idempotency key, as a real integration would pass it on (an `Idempotency-Key` header,
 * a unique column), so a redelivered step never writes twice.
 */
import { between, chance, sleep } from './seeded.js';

export type GuaranteeStatus = 'quoted' | 'issued' | 'voided';

export interface GuaranteeFile {
  readonly id: string;
  readonly tenantId: string;
  readonly monthlyRent: number;
  readonly premium: number;
  status: GuaranteeStatus;
  readonly events: string[];
}

/** Our own guarantee database: a file is opened with a quote, issued, or voided by a rollback. */
export class GuaranteeLedger {
  readonly files = new Map<string, GuaranteeFile>();
  private readonly byKey = new Map<string, string>();

  openQuote(key: string, tenantId: string, monthlyRent: number, premium: number): GuaranteeFile {
    const existing = this.byKey.get(key);
    if (existing) return this.get(existing);
    const file: GuaranteeFile = { id: `G-${1000 + this.files.size + 1}`, tenantId, monthlyRent, premium, status: 'quoted', events: ['quoted'] };
    this.files.set(file.id, file);
    this.byKey.set(key, file.id);
    return file;
  }

  issue(id: string): GuaranteeFile {
    const file = this.get(id);
    if (file.status === 'voided') throw new Error(`guarantee ${id} was voided; it cannot be issued`);
    if (file.status !== 'issued') {
      file.status = 'issued';
      file.events.push('issued');
    }
    return file;
  }

  void(id: string, reason: string): void {
    const file = this.get(id);
    if (file.status !== 'voided') {
      file.status = 'voided';
      file.events.push(`voided: ${reason}`);
    }
  }

  forTenant(tenantId: string): GuaranteeFile | undefined {
    for (const f of this.files.values()) if (f.tenantId === tenantId) return f;
    return undefined;
  }

  private get(id: string): GuaranteeFile {
    const file = this.files.get(id);
    if (!file) throw new Error(`no guarantee file ${id}`);
    return file;
  }
}

/** The error the risk API answers with when it is down: transient, so the step retries. */
export class RiskApiUnavailableError extends Error {
  override readonly name = 'RiskApiUnavailableError';
}

export interface RiskApiOptions {
  readonly seed: number;
  /** Chance that one call fails transiently (0..1). */
  readonly failureRate: number;
  /** Calls for these tenants always fail (the API keeps timing out on their file). */
  readonly alwaysFailFor: ReadonlySet<string>;
  /** Transient failures stop after this many attempts, so only the doomed tenants exhaust their retries. */
  readonly maxTransientFailures: number;
  /** Simulated latency range of one call, in ms. */
  readonly latencyMs: readonly [number, number];
}

/** The third-party risk-scoring API: slow, and down now and then (seeded, so reproducible). */
export class RiskApi {
  calls = 0;
  failures = 0;

  constructor(private readonly options: RiskApiOptions) {}

  async score(tenantId: string, attempt: number, signal: AbortSignal): Promise<number> {
    const o = this.options;
    this.calls++;
    await sleep(between(o.seed, `latency:${tenantId}:${attempt}`, o.latencyMs[0], o.latencyMs[1]), signal);
    const transient = attempt <= o.maxTransientFailures && chance(o.seed, `fail:${tenantId}:${attempt}`) < o.failureRate;
    if (o.alwaysFailFor.has(tenantId) || transient) {
      this.failures++;
      throw new RiskApiUnavailableError(`risk API answered 503 Service Unavailable for ${tenantId}`);
    }
    return between(o.seed, `score:${tenantId}`, 520, 880);
  }
}

export interface Notification {
  readonly landlord: string;
  readonly guaranteeId: string;
  readonly text: string;
}

/** The landlord mailbox: one message per idempotency key. */
export class Mailbox {
  readonly sent = new Map<string, Notification>();

  send(key: string, notification: Notification): void {
    if (!this.sent.has(key)) this.sent.set(key, notification);
  }
}

export interface Services {
  readonly ledger: GuaranteeLedger;
  readonly riskApi: RiskApi;
  readonly mailbox: Mailbox;
  /** Latency range of our own (reliable) calls, in ms, so progress is visible. */
  readonly latencyMs: readonly [number, number];
  readonly seed: number;
}
