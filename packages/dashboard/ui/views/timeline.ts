/** A run's history as a timeline: when, what, which step and attempt, delays, errors with their stacks, who acted. */
import { h } from '../dom.js';
import { clock, dateTime, duration } from '../format.js';
import type { HistoryEntry } from '../types.js';

const TITLES: Readonly<Record<string, string>> = {
  'run.scheduled': 'Run scheduled',
  'run.started': 'Run started',
  'step.started': 'Step started',
  'step.completed': 'Step completed',
  'step.failed': 'Step failed',
  'step.retrying': 'Retry scheduled',
  'compensation.started': 'Compensation started',
  'compensation.completed': 'Compensation completed',
  'compensation.failed': 'Compensation failed',
  'compensation.retrying': 'Compensation retry scheduled',
  'run.completed': 'Run completed',
  'run.failed': 'Run failed',
  'run.compensated': 'Run compensated',
  'run.cancelling': 'Cancel requested',
  'run.cancelled': 'Run cancelled',
  'run.redriven': 'Run re-driven',
  'run.migrated': 'Run migrated',
  'run.parked': 'Run parked',
  'dead-letter.redriven': 'Dead letter sent back',
};

/** The colour family of an entry: good, bad, waiting, undo, neutral. */
function tone(type: string): string {
  if (type.endsWith('.failed') || type === 'run.parked') return 'bad';
  if (type.endsWith('.retrying')) return 'wait';
  if (type.startsWith('compensation.') || type === 'run.compensated') return 'undo';
  if (type.startsWith('run.cancel')) return 'cancel';
  if (type.endsWith('.completed')) return 'good';
  return 'neutral';
}

function entryView(entry: HistoryEntry, start: number): HTMLLIElement {
  const details: (HTMLElement | string)[] = [];
  if (entry.step !== undefined) details.push(h('span', { class: 'mono step-name' }, entry.step), entry.task !== undefined && entry.task !== entry.step ? h('span', { class: 'muted' }, ` (${entry.task})`) : '');
  if (entry.attempt !== undefined) details.push(h('span', { class: 'pill' }, `attempt ${entry.attempt}`));
  if (entry.delayMs !== undefined && entry.type.endsWith('.retrying')) {
    details.push(h('span', { class: 'pill wait' }, `next attempt in ${duration(entry.delayMs)}${entry.dueAt === undefined ? '' : ` · ${clock(entry.dueAt)}`}`));
  }
  if (entry.type === 'run.scheduled' && entry.dueAt !== undefined) details.push(h('span', { class: 'pill' }, `starts ${dateTime(entry.dueAt)}`));
  if (entry.type === 'run.migrated') details.push(h('span', { class: 'pill' }, `v${entry.fromVersion ?? '?'} → v${entry.toVersion ?? '?'}`));
  if (entry.by !== undefined) details.push(h('span', { class: 'by', 'data-testid': 'timeline-by' }, `by ${entry.by}`));
  if (entry.worker !== undefined) details.push(h('span', { class: 'by', 'data-testid': 'timeline-worker', title: 'the worker that ran this attempt' }, `on ${entry.worker}`));
  const error = entry.error
    ? h(
        'div',
        { class: 'error-box' },
        h('div', {}, h('strong', {}, entry.error.name), ': ', entry.error.message, entry.error.retryable === false ? h('span', { class: 'pill bad' }, 'not retryable') : null),
        entry.error.stack ? h('details', { class: 'stack' }, h('summary', {}, 'Stack trace'), h('pre', {}, entry.error.stack)) : null,
      )
    : null;
  return h(
    'li',
    { class: `entry tone-${tone(entry.type)}`, 'data-testid': 'timeline-entry', 'data-type': entry.type },
    h('div', { class: 'when' }, h('time', { datetime: new Date(entry.at).toISOString(), title: dateTime(entry.at) }, clock(entry.at)), h('span', { class: 'muted' }, `+${duration(entry.at - start)}`)),
    h('div', { class: 'dot', 'aria-hidden': 'true' }),
    h(
      'div',
      { class: 'what' },
      h('div', { class: 'headline' }, h('span', { class: 'type' }, TITLES[entry.type] ?? entry.type), ...details),
      entry.reason !== undefined ? h('div', { class: 'reason' }, `${entry.type === 'dead-letter.redriven' ? 'It had been dead-lettered because' : 'Reason'}: ${entry.reason}`) : null,
      error,
    ),
  );
}

export function timeline(history: readonly HistoryEntry[]): HTMLOListElement {
  const start = history[0]?.at ?? 0;
  return h('ol', { class: 'timeline', 'data-testid': 'timeline' }, ...history.map((entry) => entryView(entry, start)));
}
