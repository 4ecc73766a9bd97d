/** Where the demo writes, and ANSI colours when the terminal wants them. */
export type Out = (line: string) => void;

export interface Paint {
  readonly dim: (s: string) => string;
  readonly bold: (s: string) => string;
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly cyan: (s: string) => string;
  readonly magenta: (s: string) => string;
}

const code = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

export function paint(enabled: boolean): Paint {
  if (!enabled) return { dim: plain, bold: plain, red: plain, green: plain, yellow: plain, cyan: plain, magenta: plain };
  return { dim: code(2, 22), bold: code(1, 22), red: code(31, 39), green: code(32, 39), yellow: code(33, 39), cyan: code(36, 39), magenta: code(35, 39) };
}

/** Colours by default on a TTY, never with NO_COLOR set. */
export const wantsColor = (): boolean => Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;

/** Seconds since `t0`, as `+1.234s`. */
export const since = (t0: number, at: number): string => `+${((at - t0) / 1000).toFixed(3)}s`.padStart(8);
