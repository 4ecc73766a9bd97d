/** Plain HTTP calls to a dashboard under test (Node's fetch), and the shapes of its answers as the tests read them. */
import { CSRF_HEADER } from '../src/index.js';

export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ErrorBody {
  error: { name: string; message: string };
}
export interface HistoryView {
  type: string;
  by?: string;
  reason?: string;
  error?: { message: string };
}
export interface RunView {
  id: string;
  chain: string;
  status: string;
  state?: unknown;
  input: unknown;
  output?: unknown;
  error?: { message: string };
  history?: HistoryView[];
}
export interface RunsBody {
  runs: RunView[];
  next?: string;
}
export interface RunBody {
  run: RunView & { history: HistoryView[] };
}
export interface ConfigBody {
  actions: boolean;
  csrfToken: string;
  chains: string[];
  deadLetters: boolean;
  title: string;
}
export interface CancelBody {
  outcome: { cancelled: boolean };
}

/** A GET answered with JSON (`T`, or an `ErrorBody`). */
export async function get<T = ErrorBody>(url: string, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await fetch(url, { headers, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** A GET answered with text (the page, an asset). */
export async function getText(url: string, headers: Record<string, string> = {}): Promise<Answer<string>> {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** A POST as the page sends it: JSON, with the CSRF token (`csrf: null` leaves the header out). */
export async function post<T = ErrorBody>(url: string, body: unknown, options: { csrf?: string | null; contentType?: string; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json', ...options.headers };
  if (options.csrf !== null && options.csrf !== undefined) headers[CSRF_HEADER] = options.csrf;
  const res = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** The CSRF token of the dashboard at `url`. */
export async function csrfOf(url: string): Promise<string> {
  return (await get<ConfigBody>(`${url}/api/config`)).body.csrfToken;
}
