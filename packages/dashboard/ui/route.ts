/** Hash routes: `#/runs?…`, `#/runs/<id>`, `#/dead-letters`. */

export type Route =
  | { readonly page: 'runs'; readonly query: URLSearchParams }
  | { readonly page: 'run'; readonly id: string }
  | { readonly page: 'dead-letters' };

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'runs' && parts.length >= 2) return { page: 'run', id: decodeURIComponent(parts.slice(1).join('/')) };
  if (parts[0] === 'dead-letters') return { page: 'dead-letters' };
  return { page: 'runs', query: new URLSearchParams(search) };
}

export const runHref = (id: string) => `#/runs/${encodeURIComponent(id)}`;
export const runsHref = (query?: URLSearchParams) => (query && query.size > 0 ? `#/runs?${query.toString()}` : '#/runs');
