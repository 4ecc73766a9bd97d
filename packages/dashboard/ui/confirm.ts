/** The confirmation every action asks for: a modal `<dialog>` that resolves with the user's answer. */
import { h } from './dom.js';

export interface ConfirmOptions {
  readonly title: string;
  readonly message: string;
  /** The confirming button's text. */
  readonly confirm: string;
  /** Styles the confirming button as destructive. */
  readonly danger?: boolean;
  /** Extra fields (inputs with labels) shown under the message; read them after the promise resolves. */
  readonly fields?: readonly HTMLElement[];
}

/** Shows the dialog; resolves `true` when confirmed, `false` when dismissed (button, Escape). */
export function confirmAction(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: options.danger ? 'button danger' : 'button primary', 'data-testid': 'confirm-ok' }, options.confirm);
    const dismiss = h('button', { type: 'submit', value: 'cancel', class: 'button', formnovalidate: true, 'data-testid': 'confirm-cancel' }, 'Keep as is');
    const titleId = `confirm-title-${Date.now()}`;
    const dialog = h(
      'dialog',
      { class: 'confirm', 'data-testid': 'confirm-dialog', 'aria-labelledby': titleId },
      h('form', { method: 'dialog' }, h('h2', { id: titleId }, options.title), h('p', {}, options.message), ...(options.fields ?? []), h('div', { class: 'dialog-actions' }, dismiss, ok)),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    dismiss.focus();
  });
}
