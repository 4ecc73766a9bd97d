/**
 * The shapes the dashboard's HTTP API answers (see the package README), as the browser reads them.
 * Kept apart from @taskchart/core's types on purpose: the browser bundle imports nothing from Node.
 */
export type { GraphEdge, GraphNode, LaidOutGraph } from '../src/graph/types.js';
import type { LaidOutGraph } from '../src/graph/types.js';

export type RunStatus = 'scheduled' | 'running' | 'retrying' | 'compensating' | 'completed' | 'failed' | 'compensated' | 'cancelled' | 'parked';
export const STATUSES: readonly RunStatus[] = ['scheduled', 'running', 'retrying', 'compensating', 'completed', 'failed', 'compensated', 'cancelled', 'parked'];
export const TERMINAL: readonly RunStatus[] = ['completed', 'failed', 'compensated', 'cancelled'];

export type StateValue = string | { readonly [state: string]: StateValue };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly retryable?: boolean;
}

export interface HistoryEntry {
  readonly at: number;
  readonly type: string;
  readonly step?: string;
  readonly task?: string;
  readonly attempt?: number;
  readonly delayMs?: number;
  readonly dueAt?: number;
  readonly error?: SerializedError;
  readonly reason?: string;
  readonly fromVersion?: number;
  readonly toVersion?: number;
  readonly by?: string;
  /** The worker that ran the attempt (`<hostname>:<pid>`), on an attempt's outcome. */
  readonly worker?: string;
}

export interface RunSummary {
  readonly id: string;
  readonly chain: string;
  readonly status: RunStatus;
  readonly step?: string;
  readonly attempts: number;
  readonly totalAttempts: number;
  readonly chainVersion?: number;
  readonly state?: StateValue;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: SerializedError;
  readonly failedTask?: string;
  readonly failedStep?: string;
  readonly failedAttempts?: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RunInfo extends RunSummary {
  readonly history: readonly HistoryEntry[];
}

export interface DashboardConfig {
  readonly actions: boolean;
  readonly csrfToken: string;
  readonly chains: readonly string[];
  readonly deadLetters: boolean;
  readonly title: string;
}

export interface ChainVersionInfo {
  readonly chain: string;
  readonly version: number;
  readonly fingerprint: string;
  readonly recordedAt: number;
}

export interface ChainDefinitionView {
  readonly definition: ChainVersionInfo & { readonly steps: readonly { key: string; task: string; queue: string; compensates: boolean }[] };
  readonly graph: LaidOutGraph;
}

export interface DeadLetter {
  readonly id: string;
  readonly queue: string;
  readonly reason: string;
  readonly runId?: string;
  readonly chain?: string;
  readonly step?: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}
