/** The dashboard's browser app: header, hash routes, one page at a time. */
import { getConfig } from './api.js';
import { h, mount } from './dom.js';
import { errorText } from './notice.js';
import { parseRoute } from './route.js';
import type { DashboardConfig } from './types.js';
import { deadLettersPage } from './views/dead-letters.js';
import { runPage } from './views/run.js';
import { runsPage } from './views/runs.js';

function header(config: DashboardConfig): HTMLElement {
  const link = (href: string, text: string, page: string) => h('a', { href, 'data-page': page, 'data-testid': `nav-${page}` }, text);
  return h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/runs' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { 'data-testid': 'title' }, config.title)),
    h('nav', { 'aria-label': 'Pages' }, link('#/runs', 'Runs', 'runs'), config.deadLetters ? link('#/dead-letters', 'Dead letters', 'dead-letters') : null),
    h('div', { class: 'spacer' }),
    config.actions ? null : h('span', { class: 'pill', title: 'Actions are disabled on this dashboard' }, 'read-only'),
    h('span', { class: 'live', 'data-testid': 'live-indicator', 'data-state': 'off' }, 'Offline'),
  );
}

async function main(): Promise<void> {
  const app = document.getElementById('app');
  if (!app) return;
  let config: DashboardConfig;
  try {
    config = await getConfig();
  } catch (error) {
    mount(app, h('main', { class: 'page' }, h('p', { class: 'card error-text' }, `The dashboard's API did not answer: ${errorText(error)}`)));
    return;
  }
  document.title = config.title;
  const page = h('main', { class: 'page', id: 'main' });
  mount(app, header(config), page);
  let stop: (() => void) | undefined;
  const show = () => {
    stop?.();
    const route = parseRoute(location.hash);
    for (const a of app.querySelectorAll<HTMLAnchorElement>('nav a')) {
      const current = a.dataset['page'] === (route.page === 'run' ? 'runs' : route.page);
      if (current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    stop = route.page === 'run' ? runPage(page, config, route.id) : route.page === 'dead-letters' ? deadLettersPage(page, config) : runsPage(page, config, route.query);
    window.scrollTo(0, 0);
  };
  window.addEventListener('hashchange', show);
  show();
}

void main();
