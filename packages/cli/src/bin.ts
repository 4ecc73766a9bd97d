#!/usr/bin/env node
/** The `taskchart` executable. */
import { run } from './program.js';

const interrupt = new AbortController();
let interrupts = 0;
const onSignal = () => {
  // A second Ctrl-C ends at once, without waiting for connections to close.
  if (++interrupts > 1) process.exit(130);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Output piped into a reader that stops early (`| head`): end quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd(), env: process.env }, interrupt.signal);
process.exitCode = code;
// Nothing should be left open; a stray handle (a driver's timer) must not keep a finished command alive.
setTimeout(() => process.exit(code), 2_000).unref();
