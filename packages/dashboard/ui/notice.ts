/** A short message at the bottom of the page: an action's result or an error. */
import { h } from './dom.js';

export function notify(text: string, kind: 'ok' | 'error' = 'ok'): void {
  let region = document.querySelector<HTMLElement>('.notices');
  if (!region) {
    region = h('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  const note = h('div', { class: `notice ${kind}`, 'data-testid': `notice-${kind}` }, text);
  region.append(note);
  setTimeout(() => note.remove(), kind === 'error' ? 9000 : 4500);
}

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
