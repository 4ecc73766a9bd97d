/**
 * Stand-ins for the actor references a live XState actor puts in its inspection events. A
 * durable run has no live actor (workers drive it through the store), so the inspector is given
 * these: enough of an `ActorRef` for an inspector to draw it (`id`, `sessionId`, `logic.config`,
 * `_parent`, `getSnapshot()`), inert otherwise (`send` is ignored: the workers drive the run).
 */
import type { AnyActorRef, Snapshot } from 'xstate';

/** The plain JSON snapshot sent to the inspector (what a machine snapshot's `toJSON()` keeps, without live children). */
export type PlainSnapshot = { status: Snapshot<unknown>['status'] } & Record<string, unknown>;

export interface StandInActor {
  readonly id: string;
  readonly sessionId: string;
  readonly ref: AnyActorRef;
  /** The snapshot `getSnapshot()` answers from now on. */
  setSnapshot(snapshot: PlainSnapshot): void;
}

/**
 * An inert actor reference. `logic` is what the inspector reads the definition from: the chain's
 * compiled machine for a run, `undefined` for the promise actor of one task attempt.
 */
export function standInActor(id: string, sessionId: string, logic: unknown, parent: StandInActor | undefined, initial: PlainSnapshot): StandInActor {
  let snapshot = initial;
  const ref = {
    id,
    sessionId,
    logic,
    _parent: parent?.ref,
    src: logic ?? id,
    send: () => undefined,
    getSnapshot: () => snapshot,
    getPersistedSnapshot: () => snapshot,
    subscribe: () => ({ unsubscribe: () => undefined }),
    on: () => ({ unsubscribe: () => undefined }),
    start: () => undefined,
    stop: () => undefined,
    toJSON: () => ({ xstate$$type: 1, id: sessionId }),
  };
  return {
    id,
    sessionId,
    // A structural stand-in: inspectors read the fields above and nothing else.
    ref: ref as unknown as AnyActorRef,
    setSnapshot: (next) => {
      snapshot = next;
    },
  };
}
