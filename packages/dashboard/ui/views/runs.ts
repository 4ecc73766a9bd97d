/** The runs list: filters (status, chain, created between, run id), cursor paging, live refresh. */
import { listRuns, apiUrl, type RunFilter } from '../api.js';
import { h, mount } from '../dom.js';
import { ago, dateTime, fromLocalInput, toLocalInput } from '../format.js';
import { follow } from '../live.js';
import { errorText } from '../notice.js';
import { runHref, runsHref } from '../route.js';
import { statusChip } from '../status.js';
import { STATUSES, type DashboardConfig, type RunSummary } from '../types.js';

interface Filters {
  status: string[];
  chain: string;
  after: number | undefined;
  before: number | undefined;
  cursor: string | undefined;
  /** Page size (`limit` in the hash; 50 when absent). */
  limit: number | undefined;
}

function readFilters(query: URLSearchParams): Filters {
  const num = (key: string) => {
    const value = Number(query.get(key) ?? '');
    return query.has(key) && Number.isFinite(value) ? value : undefined;
  };
  const limit = num('limit');
  return {
    status: (query.get('status') ?? '').split(',').filter((s) => s !== ''),
    chain: query.get('chain') ?? '',
    after: num('after'),
    before: num('before'),
    cursor: query.get('cursor') ?? undefined,
    limit: limit !== undefined && Number.isInteger(limit) && limit >= 1 && limit <= 500 ? limit : undefined,
  };
}

function writeFilters(filters: Filters): URLSearchParams {
  const query = new URLSearchParams();
  if (filters.status.length > 0) query.set('status', filters.status.join(','));
  if (filters.chain) query.set('chain', filters.chain);
  if (filters.after !== undefined) query.set('after', String(filters.after));
  if (filters.before !== undefined) query.set('before', String(filters.before));
  if (filters.cursor) query.set('cursor', filters.cursor);
  if (filters.limit !== undefined) query.set('limit', String(filters.limit));
  return query;
}

function row(run: RunSummary): HTMLTableRowElement {
  const version = run.chainVersion === undefined ? '' : ` v${run.chainVersion}`;
  return h(
    'tr',
    { 'data-testid': 'run-row', 'data-run-id': run.id, 'data-status': run.status },
    h('td', { class: 'mono' }, h('a', { href: runHref(run.id), 'data-testid': 'run-link' }, run.id)),
    h('td', {}, run.chain, h('span', { class: 'muted' }, version)),
    h('td', {}, statusChip(run.status)),
    h('td', { class: 'mono' }, run.step ?? h('span', { class: 'muted' }, '—')),
    h('td', { class: 'num', title: `${run.attempts} of the current step, ${run.totalAttempts} in the whole run` }, String(run.attempts), h('span', { class: 'muted' }, ` / ${run.totalAttempts}`)),
    h('td', { title: dateTime(run.createdAt) }, ago(run.createdAt)),
    h('td', { title: dateTime(run.updatedAt) }, ago(run.updatedAt)),
  );
}

/** Renders the runs page into `root`; answers a function that stops its live feed. */
export function runsPage(root: HTMLElement, config: DashboardConfig, query: URLSearchParams): () => void {
  const filters = readFilters(query);
  const go = (next: Filters) => {
    location.hash = runsHref(writeFilters(next));
  };
  const changed = (patch: Partial<Filters>) => go({ ...filters, ...patch, cursor: undefined });

  const statusBoxes = h(
    'fieldset',
    { class: 'status-filter' },
    h('legend', {}, 'Status'),
    ...STATUSES.map((status) =>
      h(
        'label',
        { class: `toggle status-${status}` },
        h('input', {
          type: 'checkbox',
          value: status,
          checked: filters.status.includes(status),
          'data-testid': `filter-status-${status}`,
          onchange: (e) => {
            const on = (e.target as HTMLInputElement).checked;
            changed({ status: on ? [...filters.status, status] : filters.status.filter((s) => s !== status) });
          },
        }),
        h('span', {}, status),
      ),
    ),
  );
  const chainSelect = h(
    'select',
    { id: 'filter-chain', 'data-testid': 'filter-chain', onchange: (e) => changed({ chain: (e.target as HTMLSelectElement).value }) },
    h('option', { value: '' }, 'All chains'),
    ...config.chains.map((chain) => h('option', { value: chain, selected: chain === filters.chain }, chain)),
  );
  const dateInput = (id: string, value: number | undefined, key: 'after' | 'before') =>
    h('input', { id, type: 'datetime-local', value: toLocalInput(value), 'data-testid': id, onchange: (e) => changed({ [key]: fromLocalInput((e.target as HTMLInputElement).value) }) });
  const idInput = h('input', { id: 'run-id', type: 'search', placeholder: 'run id', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'run-id-input', required: true });
  const idForm = h(
    'form',
    {
      class: 'run-id-form',
      role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        const id = idInput.value.trim();
        if (id !== '') location.hash = runHref(id);
      },
    },
    h('label', { for: 'run-id' }, 'Go to run'),
    h('div', { class: 'inline' }, idInput, h('button', { type: 'submit', class: 'button', 'data-testid': 'run-id-go' }, 'Open')),
  );
  const anyFilter = filters.status.length > 0 || filters.chain !== '' || filters.after !== undefined || filters.before !== undefined;
  const filterBar = h(
    'section',
    { class: 'filters card', 'aria-label': 'Filters' },
    statusBoxes,
    h(
      'div',
      { class: 'filter-fields' },
      h('div', { class: 'field' }, h('label', { for: 'filter-chain' }, 'Chain'), chainSelect),
      h('div', { class: 'field' }, h('label', { for: 'filter-created-after' }, 'Created after'), dateInput('filter-created-after', filters.after, 'after')),
      h('div', { class: 'field' }, h('label', { for: 'filter-created-before' }, 'Created before'), dateInput('filter-created-before', filters.before, 'before')),
      anyFilter ? h('button', { type: 'button', class: 'button subtle', 'data-testid': 'filter-clear', onclick: () => go({ status: [], chain: '', after: undefined, before: undefined, cursor: undefined, limit: filters.limit }) }, 'Clear filters') : null,
      h('div', { class: 'spacer' }),
      idForm,
    ),
  );

  const body = h('tbody', {});
  const table = h(
    'table',
    { class: 'runs', 'data-testid': 'runs-table' },
    h('thead', {}, h('tr', {}, ...['Run', 'Chain', 'Status', 'Step', 'Attempts', 'Created', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
    body,
  );
  const footer = h('div', { class: 'pager' });
  const summary = h('p', { class: 'muted', 'data-testid': 'runs-summary' }, 'Loading…');
  mount(root, h('div', { class: 'page-head' }, h('h1', {}, 'Runs'), summary), filterBar, h('div', { class: 'card table-card' }, table), footer);

  let alive = true;
  let loading = false;
  let again = false;
  const filter: RunFilter = {
    status: filters.status,
    ...(filters.chain ? { chain: filters.chain } : {}),
    ...(filters.after === undefined ? {} : { createdAfter: filters.after }),
    ...(filters.before === undefined ? {} : { createdBefore: filters.before }),
    ...(filters.cursor ? { cursor: filters.cursor } : {}),
    ...(filters.limit === undefined ? {} : { limit: filters.limit }),
  };
  const load = async (): Promise<void> => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const page = await listRuns(filter);
      if (!alive) return;
      mount(body, ...page.runs.map(row));
      if (page.runs.length === 0) mount(body, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, anyFilter ? 'No run matches these filters.' : 'No runs yet.')));
      summary.textContent = `${page.runs.length} run${page.runs.length === 1 ? '' : 's'}${filters.cursor ? ' on this page' : ''}${anyFilter ? ' matching the filters' : ''}`;
      mount(
        footer,
        filters.cursor ? h('button', { type: 'button', class: 'button', 'data-testid': 'first-page', onclick: () => go({ ...filters, cursor: undefined }) }, '← Newest') : null,
        h('div', { class: 'spacer' }),
        page.next ? h('button', { type: 'button', class: 'button', 'data-testid': 'next-page', onclick: () => go({ ...filters, cursor: page.next }) }, 'Next page →') : null,
      );
    } catch (error) {
      if (alive) summary.textContent = `Could not load runs: ${errorText(error)}`;
    } finally {
      loading = false;
      if (again && alive) {
        again = false;
        void load();
      }
    }
  };
  void load();
  const live = follow(apiUrl(`stream${filters.chain ? `?chain=${encodeURIComponent(filters.chain)}` : ''}`), () => void load(), 400);
  return () => {
    alive = false;
    live.close();
  };
}
