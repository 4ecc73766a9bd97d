/** Dead-lettered messages: queue, reason, run, body; redrive one, or every message of a queue. */
import { listDeadLetters, redriveDeadLetters } from '../api.js';
import { confirmAction } from '../confirm.js';
import { h, mount } from '../dom.js';
import { errorText, notify } from '../notice.js';
import { runHref } from '../route.js';
import type { DashboardConfig, DeadLetter } from '../types.js';

const PREVIEW = 120;

function bodyCell(body: string): HTMLElement {
  if (body.length <= PREVIEW) return h('code', { class: 'body-preview' }, body);
  return h('details', {}, h('summary', {}, h('code', { class: 'body-preview' }, `${body.slice(0, PREVIEW)}…`)), h('pre', { class: 'code' }, body));
}

export function deadLettersPage(root: HTMLElement, config: DashboardConfig): () => void {
  let alive = true;
  const content = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const headActions = h('div', { class: 'actions' });
  mount(root, h('div', { class: 'page-head' }, h('div', { class: 'title-row' }, h('h1', {}, 'Dead letters'), h('div', { class: 'spacer' }), headActions), h('p', { class: 'muted' }, 'Messages that could not be handled, each with its reason. A redrive moves them back to their queue to be consumed again.')), content);

  const redrive = async (queue: string, letters: readonly DeadLetter[], all: boolean) => {
    const ok = await confirmAction({
      title: all ? `Redrive every message of ${queue}?` : 'Redrive this message?',
      message: all ? `${letters.length} message${letters.length === 1 ? '' : 's'} go back to queue ${queue} and will be consumed again.` : `The message goes back to queue ${queue} and will be consumed again.`,
      confirm: 'Redrive',
    });
    if (!ok) return;
    try {
      const { moved } = await redriveDeadLetters(queue, all ? undefined : letters.map((l) => l.id));
      notify(`${moved} message${moved === 1 ? '' : 's'} moved back to ${queue}.`);
    } catch (error) {
      notify(`Redrive refused: ${errorText(error)}`, 'error');
    }
    await load();
  };

  const load = async () => {
    if (!config.deadLetters) {
      mount(content, h('p', { class: 'card muted', 'data-testid': 'dead-letters-unsupported' }, 'This broker cannot list dead letters.'));
      return;
    }
    try {
      const letters = await listDeadLetters();
      if (!alive) return;
      const queues = [...new Set(letters.map((l) => l.queue))];
      mount(
        headActions,
        config.actions && letters.length > 0
          ? h('button', {
              type: 'button',
              class: 'button primary',
              'data-testid': 'redrive-all',
              onclick: () => {
                void (async () => {
                  for (const queue of queues) await redrive(queue, letters.filter((l) => l.queue === queue), true);
                })();
              },
            }, queues.length === 1 ? 'Redrive all' : `Redrive all (${queues.length} queues)`)
          : null,
      );
      if (letters.length === 0) {
        mount(content, h('p', { class: 'card empty', 'data-testid': 'dead-letters-empty' }, 'No dead letters.'));
        return;
      }
      const rows = letters.map((letter) =>
        h(
          'tr',
          { 'data-testid': 'dead-letter-row', 'data-id': letter.id },
          h('td', { class: 'mono' }, letter.queue),
          h('td', { class: 'reason' }, letter.reason),
          h('td', { class: 'mono' }, letter.runId ? h('a', { href: runHref(letter.runId) }, letter.runId) : h('span', { class: 'muted' }, '—'), letter.step ? h('div', { class: 'muted' }, letter.step) : null),
          h('td', {}, bodyCell(letter.body)),
          h('td', {}, config.actions ? h('button', { type: 'button', class: 'button', 'data-testid': 'redrive-button', onclick: () => void redrive(letter.queue, [letter], false) }, 'Redrive') : null),
        ),
      );
      mount(
        content,
        h(
          'div',
          { class: 'card table-card' },
          h('table', { class: 'dead-letters', 'data-testid': 'dead-letters-table' }, h('thead', {}, h('tr', {}, ...['Queue', 'Reason', 'Run', 'Body', ''].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows)),
        ),
      );
    } catch (error) {
      if (alive) mount(content, h('p', { class: 'card error-text' }, `Could not list dead letters: ${errorText(error)}`));
    }
  };
  void load();
  return () => {
    alive = false;
  };
}
