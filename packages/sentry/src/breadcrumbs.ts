import type { Breadcrumb } from '@sentry/node';

/** At most this many runs keep breadcrumbs (least recently touched dropped first). */
export const MAX_RUNS = 1000;
/** At most this many breadcrumbs per run (the oldest dropped first), as Sentry's own default. */
export const MAX_CRUMBS_PER_RUN = 100;

/**
 * The breadcrumbs of each run this process saw (retries, failed attempts), kept per run rather
 * than on a Sentry scope: run events are emitted outside the attempts' isolation scopes, and one
 * run's retries must never show up on another run's event.
 */
export class RunBreadcrumbs {
  private readonly runs = new Map<string, Breadcrumb[]>();

  add(runId: string, crumb: Breadcrumb): void {
    const crumbs = this.runs.get(runId) ?? [];
    this.runs.delete(runId);
    crumbs.push(crumb);
    if (crumbs.length > MAX_CRUMBS_PER_RUN) crumbs.splice(0, crumbs.length - MAX_CRUMBS_PER_RUN);
    this.runs.set(runId, crumbs);
    for (const oldest of this.runs.keys()) {
      if (this.runs.size <= MAX_RUNS) break;
      this.runs.delete(oldest);
    }
  }

  of(runId: string): readonly Breadcrumb[] {
    return this.runs.get(runId) ?? [];
  }

  forget(runId: string): void {
    this.runs.delete(runId);
  }
}
