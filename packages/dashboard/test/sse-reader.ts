/** A real HTTP client of a server-sent-events stream: the events and comments it received, and a way to hang up. */
/** A run event as the tests read it. */
export interface EventView {
  type: string;
  runId: string;
  chain: string;
  cursor: string;
  step?: string;
  reason?: string;
  by?: string;
  error?: { message: string };
}

export interface SseMessage {
  id?: string;
  event?: string;
  data: EventView;
}

export interface SseReader {
  readonly status: number;
  readonly contentType: string;
  readonly messages: SseMessage[];
  readonly comments: string[];
  /** Hangs up (the browser closing the page). */
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    for (;;) {
      if (!reader) return;
      const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: Partial<SseMessage> = {};
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) message.id = line.slice(4);
          else if (line.startsWith('event: ')) message.event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data !== '') messages.push({ ...message, data: JSON.parse(data) as EventView });
      }
    }
  })().catch(() => undefined);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', messages, comments, close: () => abort.abort() };
}
