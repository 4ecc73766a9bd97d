/** A run status as a coloured chip. */
import { h } from './dom.js';

export function statusChip(status: string): HTMLSpanElement {
  return h('span', { class: `chip status-${status}`, 'data-testid': 'status-chip', 'data-status': status }, status);
}
