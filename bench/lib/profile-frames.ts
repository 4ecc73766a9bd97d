/**
 * Where a profile's frame lives: its short path, and the area the summaries group it under
 * (XState, SQLite, JSON, core modules, broker, Node internals). Shared by the CPU and the
 * allocation summaries.
 */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export function shortUrl(url: string): string {
  const m = /\/(packages\/[^/]+\/src\/.*|bench\/.*|node_modules\/\.pnpm\/[^/]+\/node_modules\/.*)$/.exec(url);
  const path = m?.[1] ?? url.replace(/^file:\/\//, '');
  return path.replace(/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '');
}

/** Where a frame's code lives, for the grouped view. */
export function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') return functionName;
  if (url.includes('/xstate/')) return 'xstate';
  if (url.includes('/better-sqlite3/')) return 'better-sqlite3 (JS side)';
  if (url === '' && /^(stringify|parse)$/.test(functionName)) return `JSON.${functionName}`;
  if (url === '' && /^(run|get|all|exec|transaction|prepare)$/.test(functionName)) return 'better-sqlite3 native';
  const core = /packages\/core\/src\/(.*)\.ts/.exec(url);
  if (core) return `core/${core[1]}`;
  const pkg = /packages\/([^/]+)\/src\//.exec(url);
  if (pkg) return pkg[1] ?? 'packages';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return `native: ${functionName || '(anonymous)'}`;
  return 'other JS';
}
