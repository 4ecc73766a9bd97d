/**
 * The started runtimes of this process, by store object. A runtime on a broker that does not keep
 * messages across a crash (memory) re-dispatches, as it starts, what every active run of its store
 * waits for: that is how a crashed process's runs go on. Beside another started runtime of this
 * process on the same store, it re-ran that runtime's in-flight steps (issue 7, item 7). So:
 *
 * - when another started runtime on the store is on a non-durable broker too, it re-dispatched
 *   what the store held as it started, and everything since is held by this live process: the new
 *   runtime re-dispatches nothing;
 * - when the others are all on durable brokers (they re-dispatch nothing, and their messages are
 *   in their brokers), re-dispatching would copy their in-flight steps onto the memory broker:
 *   its start is refused.
 */
import { RuntimeStateError } from '../errors.js';
import type { Store } from '../ports/store.js';

const started = new WeakMap<Store, Map<object, boolean>>();

/**
 * Records `runtime` (on a `durable` broker or not) as started on `store`, and answers whether its
 * start-up must re-dispatch from the store (only for a non-durable broker). Throws
 * `RuntimeStateError` for a non-durable one beside only durable ones.
 */
export function claimStore(store: Store, runtime: object, durable: boolean): { readonly redispatch: boolean } {
  let runtimes = started.get(store);
  if (!runtimes) started.set(store, (runtimes = new Map<object, boolean>()));
  if (durable) {
    runtimes.set(runtime, true);
    return { redispatch: false };
  }
  const others = [...runtimes.values()];
  if (others.length > 0 && others.every(Boolean)) {
    throw new RuntimeStateError(
      "runtime.start(): its broker does not keep messages, and another runtime of this process is started on this store with a durable broker: re-dispatching the store's active runs as it starts would run that runtime's in-flight steps again; use one kind of broker per store",
    );
  }
  runtimes.set(runtime, false);
  return { redispatch: others.length === 0 };
}

/** Forgets `runtime` (closed, or its start failed). */
export function releaseStore(store: Store, runtime: object): void {
  started.get(store)?.delete(runtime);
}
