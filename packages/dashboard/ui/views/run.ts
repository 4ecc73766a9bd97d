/**
 * A run: summary, its chain's statechart with the current state lit and the path taken, the
 * timeline, input and output; live over the run's event stream; cancel and re-drive when enabled.
 */
import { apiUrl, ApiError, cancelRun, getChainVersion, getRun, listChains, retryRun } from '../api.js';
import { confirmAction } from '../confirm.js';
import { h, mount } from '../dom.js';
import { dateTime, duration, json } from '../format.js';
import { follow } from '../live.js';
import { errorText, notify } from '../notice.js';
import { runsHref } from '../route.js';
import { activeNodeIds, runPath } from '../state-path.js';
import { drawStatechart } from '../statechart.js';
import { statusChip } from '../status.js';
import { TERMINAL, type DashboardConfig, type LaidOutGraph, type RunInfo, type SerializedError } from '../types.js';
import { timeline } from './timeline.js';

const graphs = new Map<string, Promise<LaidOutGraph>>();

/** The laid-out machine of the run's chain version (the newest one for a run not started yet). */
function graphOf(run: RunInfo): Promise<LaidOutGraph> {
  const key = `${run.chain}@${run.chainVersion ?? 'newest'}`;
  let graph = graphs.get(key);
  if (!graph) {
    graph = (async () => {
      let version = run.chainVersion;
      if (version === undefined) {
        const versions = (await listChains()).filter((c) => c.chain === run.chain).map((c) => c.version);
        if (versions.length === 0) throw new Error(`no recorded definition of chain "${run.chain}"`);
        version = Math.max(...versions);
      }
      return (await getChainVersion(run.chain, version)).graph;
    })();
    graph.catch(() => graphs.delete(key));
    graphs.set(key, graph);
  }
  return graph;
}

const field = (label: string, ...value: (Node | string)[]) => h('div', { class: 'field-row' }, h('dt', {}, label), h('dd', {}, ...value));

function summary(run: RunInfo): HTMLElement {
  const terminal = TERMINAL.includes(run.status);
  return h(
    'dl',
    { class: 'summary', 'data-testid': 'run-summary' },
    field('Status', statusChip(run.status)),
    field('Chain', h('a', { href: runsHref(new URLSearchParams({ chain: run.chain })) }, run.chain), run.chainVersion === undefined ? '' : h('span', { class: 'muted' }, ` v${run.chainVersion}`)),
    field('Step', run.step === undefined ? h('span', { class: 'muted' }, '—') : h('span', { class: 'mono', 'data-testid': 'run-step' }, run.step)),
    field('Attempts', `${run.attempts} of this step · ${run.totalAttempts} in all`),
    field('Created', dateTime(run.createdAt)),
    field('Updated', dateTime(run.updatedAt)),
    terminal ? field('Took', duration(run.updatedAt - run.createdAt)) : null,
    run.failedStep !== undefined ? field('Failed at', h('span', { class: 'mono' }, run.failedStep), run.failedAttempts === undefined ? '' : ` after ${run.failedAttempts} attempt${run.failedAttempts === 1 ? '' : 's'}`) : null,
    run.error ? field('Error', h('span', { class: 'error-text', 'data-testid': 'run-error' }, `${run.error.name}: ${run.error.message}`)) : null,
  );
}

function legend(): HTMLElement {
  const item = (cls: string, text: string) => h('span', { class: `legend-item ${cls}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), text);
  return h('div', { class: 'legend' }, item('now', 'current state'), item('path', 'path taken'), item('muted', 'cancel'));
}

function codeBlock(title: string, value: unknown, testid: string): HTMLElement {
  return h('section', { class: 'card code-card' }, h('h2', {}, title), h('pre', { class: 'code', 'data-testid': testid }, json(value)));
}

function errorBlock(error: SerializedError): HTMLElement {
  return h(
    'section',
    { class: 'card code-card' },
    h('h2', {}, 'Error'),
    h('div', { class: 'error-box', 'data-testid': 'run-error-detail' }, h('div', {}, h('strong', {}, error.name), ': ', error.message), error.stack ? h('pre', { class: 'stack-open' }, error.stack) : null),
  );
}

/** Renders the run page; answers a function that stops its live feed. */
export function runPage(root: HTMLElement, config: DashboardConfig, id: string): () => void {
  let alive = true;
  let run: RunInfo | undefined;
  const head = h('div', { class: 'page-head' }, h('a', { href: '#/runs', class: 'back' }, '← Runs'));
  const chart = h('div', { class: 'chart-scroll' }, h('p', { class: 'muted' }, 'Loading the statechart…'));
  const side = h('div', { class: 'side' });
  const history = h('div', {});
  const codes = h('div', { class: 'codes' });
  mount(
    root,
    head,
    h(
      'div',
      { class: 'run-grid' },
      h('section', { class: 'card chart-card', 'aria-label': 'Statechart' }, h('div', { class: 'card-head' }, h('h2', {}, 'Statechart'), legend()), chart),
      side,
    ),
    h('section', { class: 'card', 'aria-label': 'Timeline' }, h('div', { class: 'card-head' }, h('h2', {}, 'Timeline')), history),
    codes,
  );

  const act = async (what: 'cancel' | 'retry') => {
    if (!run) return;
    const current = run;
    if (what === 'cancel') {
      const reason = h('input', { id: 'cancel-reason', type: 'text', maxlength: 1000, placeholder: 'optional', 'data-testid': 'cancel-reason' });
      const compensate = h('input', { id: 'cancel-compensate', type: 'checkbox', checked: true, 'data-testid': 'cancel-compensate' });
      const ok = await confirmAction({
        title: 'Cancel this run?',
        message: `Run ${current.id} stops at its current step. With compensation on, the steps it completed are undone first.`,
        confirm: 'Cancel run',
        danger: true,
        fields: [
          h('div', { class: 'field' }, h('label', { for: 'cancel-reason' }, 'Reason'), reason),
          h('label', { class: 'check' }, compensate, ' Compensate the completed steps'),
        ],
      });
      if (!ok) return;
      try {
        await cancelRun(current.id, { ...(reason.value.trim() ? { reason: reason.value.trim() } : {}), compensate: compensate.checked });
        notify('Cancel requested.');
      } catch (error) {
        notify(`Cancel refused: ${errorText(error)}`, 'error');
      }
    } else {
      const failedStep = current.status === 'failed';
      const fromStep = h('input', { id: 'retry-from-step', type: 'radio', name: 'retry-from', value: 'failed-step', checked: failedStep, disabled: !failedStep });
      const fromStart = h('input', { id: 'retry-from-start', type: 'radio', name: 'retry-from', value: 'start', checked: !failedStep, 'data-testid': 'retry-from-start' });
      const ok = await confirmAction({
        title: 'Re-drive this run?',
        message: `Run ${current.id} runs again; its history is kept.`,
        confirm: 'Re-drive',
        fields: [
          h(
            'fieldset',
            { class: 'radios' },
            h('legend', {}, 'From'),
            h('label', { class: 'check' }, fromStep, ` the step that failed${current.failedStep ? ` (${current.failedStep})` : ''}`),
            h('label', { class: 'check' }, fromStart, ' the first step (its side effects happen again)'),
          ),
        ],
      });
      if (!ok) return;
      try {
        await retryRun(current.id, { from: fromStart.checked ? 'start' : 'failed-step' });
        notify('Run re-driven.');
      } catch (error) {
        notify(`Re-drive refused: ${errorText(error)}`, 'error');
      }
    }
    await refresh();
  };

  const render = async (next: RunInfo) => {
    run = next;
    const terminal = TERMINAL.includes(next.status);
    const actions = h('div', { class: 'actions' });
    if (config.actions && !terminal && next.status !== 'parked') {
      actions.append(h('button', { type: 'button', class: 'button danger', 'data-testid': 'cancel-button', onclick: () => void act('cancel') }, 'Cancel run'));
    }
    if (config.actions && (next.status === 'failed' || next.status === 'compensated' || next.status === 'cancelled')) {
      actions.append(h('button', { type: 'button', class: 'button primary', 'data-testid': 'retry-button', onclick: () => void act('retry') }, 'Re-drive'));
    }
    mount(
      head,
      h('a', { href: '#/runs', class: 'back' }, '← Runs'),
      h('div', { class: 'title-row' }, h('h1', { class: 'mono', 'data-testid': 'run-id' }, next.id), h('span', { 'data-testid': 'run-status', 'data-status': next.status }, statusChip(next.status)), h('div', { class: 'spacer' }), actions),
    );
    mount(side, h('section', { class: 'card' }, h('h2', {}, 'Summary'), summary(next)));
    mount(history, next.history.length === 0 ? h('p', { class: 'muted' }, 'Nothing has happened yet.') : timeline(next.history));
    mount(codes, codeBlock('Input', next.input, 'run-input'), next.status === 'completed' || next.output !== undefined ? codeBlock('Output', next.output, 'run-output') : null, next.error ? errorBlock(next.error) : null);
    try {
      const graph = await graphOf(next);
      if (!alive || run !== next) return;
      const active = new Set(activeNodeIds(next.state));
      chart.dataset['activeStates'] = [...active].join(' ');
      mount(chart, drawStatechart(graph, { active, path: runPath(next.history, graph, next.failedStep), status: next.status }));
    } catch (error) {
      if (alive) mount(chart, h('p', { class: 'muted' }, `The statechart could not be drawn: ${errorText(error)}`));
    }
  };

  let fetching: Promise<void> | undefined;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (fetching) {
      again = true;
      return fetching;
    }
    fetching = (async () => {
      try {
        const next = await getRun(id);
        if (alive) await render(next);
      } catch (error) {
        if (!alive) return;
        if (error instanceof ApiError && error.status === 404) {
          mount(root, h('div', { class: 'page-head' }, h('a', { href: '#/runs', class: 'back' }, '← Runs'), h('h1', {}, 'Run not found')), h('p', { class: 'card', 'data-testid': 'run-not-found' }, `There is no run with id "${id}".`));
          live.close();
        } else {
          notify(`Could not load the run: ${errorText(error)}`, 'error');
        }
      } finally {
        fetching = undefined;
        if (again && alive) {
          again = false;
          void refresh();
        }
      }
    })();
    return fetching;
  };
  void refresh();
  const live = follow(apiUrl(`runs/${encodeURIComponent(id)}/stream`), () => void refresh(), 100);
  return () => {
    alive = false;
    live.close();
  };
}
