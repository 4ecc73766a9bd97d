/**
 * Profiles one phase of the benchmark in-process (node:inspector), so the profile holds the
 * measured run only, not module loading or the warm-up.
 *
 * - `<file>.cpuprofile` (any name but the one below): a CPU profile, sampled every 200 µs.
 *   Summarise it with `node --import tsx bench/lib/summarise-profile.ts <file>`.
 * - `<file>.heapprofile`: where the run allocates. V8's sampling heap profiler (one sample per
 *   32 KiB allocated on average), keeping the samples of objects the garbage collector has
 *   collected since, so it shows all that was allocated, not what is still alive: the garbage each
 *   step makes is what the young-generation collections cost. Summarise it with
 *   `node --import tsx bench/lib/summarise-heap-profile.ts <file> [steps]`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** Mean bytes between two samples of the heap profile. */
const HEAP_SAMPLING_INTERVAL = 32 * 1024;

export async function profiled<T>(file: string | undefined, body: () => Promise<T>): Promise<T> {
  if (!file) return body();
  const session = new Session();
  session.connect();
  const heap = file.endsWith('.heapprofile');
  if (heap) {
    await session.post('HeapProfiler.enable');
    // The two include… flags keep samples of collected objects (V8 11; not in Node's typings yet).
    await session.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLING_INTERVAL, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as { samplingInterval: number });
  } else {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  try {
    return await body();
  } finally {
    const profile = heap ? (await session.post('HeapProfiler.stopSampling')).profile : (await session.post('Profiler.stop')).profile;
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`${heap ? 'allocation' : 'cpu'} profile of the measured run written to ${file}`);
  }
}
