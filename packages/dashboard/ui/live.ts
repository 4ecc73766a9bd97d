/**
 * Server-sent events from the dashboard: an EventSource that calls back (at most every `wait` ms)
 * when run events arrive, and shows whether it is connected in the header's live indicator.
 */

export interface Live {
  close(): void;
}

function indicate(state: 'live' | 'connecting' | 'off'): void {
  const el = document.querySelector<HTMLElement>('[data-testid="live-indicator"]');
  if (!el) return;
  el.dataset['state'] = state;
  el.textContent = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Offline';
}

/** Follows `url`; `onEvents` gets the events (parsed `data`) gathered since the last call. */
export function follow(url: string, onEvents: (events: unknown[]) => void, wait = 150): Live {
  const source = new EventSource(url);
  let pending: unknown[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  indicate('connecting');
  source.addEventListener('open', () => indicate('live'));
  source.addEventListener('error', () => indicate(source.readyState === EventSource.CLOSED ? 'off' : 'connecting'));
  source.addEventListener('run-event', (message) => {
    try {
      pending.push(JSON.parse((message as MessageEvent<string>).data));
    } catch {
      pending.push(undefined);
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      const batch = pending;
      pending = [];
      onEvents(batch);
    }, wait);
  });
  return {
    close() {
      if (timer) clearTimeout(timer);
      source.close();
      indicate('off');
    },
  };
}
