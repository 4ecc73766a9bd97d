/**
 * Profiles one phase of the benchmark in-process (node:inspector), so the .cpuprofile holds the
 * measured run only, not module loading or the warm-up. Summarise it with
 * `node --import tsx bench/lib/summarise-profile.ts <file>`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export async function profiled<T>(file: string | undefined, body: () => Promise<T>): Promise<T> {
  if (!file) return body();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await body();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`cpu profile of the measured run written to ${file}`);
  }
}
