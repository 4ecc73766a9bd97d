/**
 * One durable run replayed as the live XState actor it would be: the chain's compiled machine,
 * started with the run's input, fed the events the store's log says the run received (task
 * results, fired retry timers), with every inspection event a live actor emits on the way — the
 * run's actor, the events it receives, its snapshots, and one promise actor per task attempt.
 */
import { initialTransition, transition, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine, type InspectionEvent, type Snapshot, type StateValue } from 'xstate';
import type { AnyChain } from '@taskchart/core';
import { compensationActorId, stepActorId, type HistoryEntry } from '@taskchart/core/adapter';
import { standInActor, type PlainSnapshot, type StandInActor } from './stand-in-actor.js';

export type Emit = (event: InspectionEvent) => void;

/** An inspection event before its `rootId` (the run's session) is added. */
type Unrooted<E> = E extends { rootId: string } ? Omit<E, 'rootId'> : never;

interface Action {
  readonly type: string;
  readonly params?: unknown;
}

/** The session id of a run's actor in the inspector. */
export const runSessionId = (runId: string) => `taskchart:${runId}`;

/** A plain snapshot typed as XState's (a union of statuses with their output and error). */
const asSnapshot = (snapshot: PlainSnapshot) => snapshot as Snapshot<unknown>;

function plain(snapshot: AnyMachineSnapshot): PlainSnapshot {
  return {
    status: snapshot.status,
    value: snapshot.value,
    context: snapshot.context as unknown,
    output: snapshot.output as unknown,
    error: snapshot.error,
    tags: [...snapshot.tags],
    children: {},
  };
}

export class RunReplay {
  private readonly machine: AnyStateMachine;
  private readonly root: StandInActor;
  private snapshot: AnyMachineSnapshot;
  /** The promise actor of each running invocation, by invoke id. */
  private readonly children = new Map<string, StandInActor>();
  /** The event the pending retry timer delivers when it fires (the transition's delayed raise). */
  private timer: AnyEventObject | undefined;
  /** Promise actors registered so far: numbers their session ids. */
  private spawned = 0;

  private constructor(
    chain: AnyChain,
    private readonly runId: string,
    private readonly emit: Emit,
    input: unknown,
  ) {
    this.machine = chain.machine;
    const [snapshot, actions] = initialTransition(this.machine, input);
    this.snapshot = snapshot;
    this.root = standInActor(runId, runSessionId(runId), this.machine, undefined, plain(snapshot));
    const init = { type: 'xstate.init', input };
    this.send({ type: '@xstate.actor', actorRef: this.root.ref });
    this.send({ type: '@xstate.event', actorRef: this.root.ref, sourceRef: undefined, event: init });
    this.afterTransition(actions);
    this.send({ type: '@xstate.snapshot', actorRef: this.root.ref, event: init, snapshot: asSnapshot(plain(snapshot)) });
  }

  /** Registers the run's actor (with the chain's machine as its definition) and its initial snapshot. */
  static start(chain: AnyChain, runId: string, input: unknown, emit: Emit): RunReplay {
    return new RunReplay(chain, runId, emit, input);
  }

  /**
   * Applies one entry of the run's log. `next` is the entry after it, when known: a failure
   * followed by a retry gives the snapshot the retry delay the runtime drew (jitter included).
   * `outputOf(step)` answers a completed step's output. Entries that are consequences of an
   * earlier one (a step started by the previous result, the run's terminal entry) add nothing.
   */
  apply(entry: HistoryEntry, next: HistoryEntry | undefined, outputOf: (step: string) => unknown): void {
    const step = entry.step ?? '';
    switch (entry.type) {
      case 'step.completed':
      case 'compensation.completed': {
        const compensation = entry.type === 'compensation.completed';
        const id = compensation ? compensationActorId(step) : stepActorId(step);
        const output = compensation ? null : outputOf(step);
        this.result(id, { type: 'xstate.promise.resolve', data: output }, { type: `xstate.done.actor.${id}`, output, actorId: id, attempt: entry.attempt }, { status: 'done', output }, next);
        return;
      }
      case 'step.failed':
      case 'compensation.failed': {
        const id = entry.type === 'compensation.failed' ? compensationActorId(step) : stepActorId(step);
        const error = entry.error ?? { name: 'Error', message: '(no error recorded)', retryable: false };
        this.result(id, { type: 'xstate.promise.reject', data: error }, { type: `xstate.error.actor.${id}`, error, actorId: id, attempt: entry.attempt }, { status: 'error', error }, next);
        return;
      }
      case 'step.started':
      case 'compensation.started': {
        // A retry timer fired (the first attempt of a step starts with the previous transition).
        const timer = this.timer;
        if (!timer || !this.snapshot.hasTag('retrying')) return;
        this.timer = undefined;
        this.step(timer, this.root, next);
        return;
      }
      case 'run.cancelling':
      case 'run.cancelled': {
        // The cancel, as the runtime fed it to the machine: with compensation when the run went on
        // to compensate (`run.cancelling`), without when it ended at once. The `run.cancelled` that
        // ends a cancel's compensations is a consequence and adds nothing.
        if (entry.type === 'run.cancelled' && this.snapshot.status === 'done') return;
        const compensate = entry.type === 'run.cancelling';
        this.step({ type: 'taskchart.cancel', reason: entry.reason ?? null, compensate }, this.root, next);
        return;
      }
      case 'run.redriven': {
        // Not drawn as a transition (the runtime restarts a finished run from its store record):
        // the inspector is told, and the replay of that run stops being exact after it.
        this.send({ type: '@xstate.event', actorRef: this.root.ref, sourceRef: undefined, event: { type: 'taskchart.run.redriven', step: entry.step } });
        return;
      }
      case 'run.parked': {
        // Not an event of the machine: the runtime stopped advancing the run (it can be re-driven).
        this.send({ type: '@xstate.event', actorRef: this.root.ref, sourceRef: undefined, event: { type: 'taskchart.run.parked', step: entry.step, error: entry.error } });
        return;
      }
      default:
        return;
    }
  }

  /** A task attempt ended: its promise actor settles, the run receives the result. */
  private result(id: string, childEvent: AnyEventObject, event: AnyEventObject, settled: { status: 'done' | 'error'; output?: unknown; error?: unknown }, next: HistoryEntry | undefined): void {
    const child = this.children.get(id);
    if (child) this.send({ type: '@xstate.event', actorRef: child.ref, sourceRef: child.ref, event: childEvent });
    this.step(event, child ?? this.root, next);
    if (child) {
      this.children.delete(id);
      const final: PlainSnapshot = { ...(child.ref.getSnapshot() as PlainSnapshot), output: undefined, error: undefined, ...settled };
      child.setSnapshot(final);
      this.send({ type: '@xstate.snapshot', actorRef: child.ref, event: childEvent, snapshot: asSnapshot(final) });
    }
  }

  /** Sends `event` to the run's actor: event, the children it invokes, then its new snapshot. */
  private step(event: AnyEventObject, source: StandInActor, next: HistoryEntry | undefined): void {
    this.send({ type: '@xstate.event', actorRef: this.root.ref, sourceRef: source.ref, event });
    const [snapshot, actions] = transition(this.machine, this.snapshot, event as never);
    this.snapshot = snapshot;
    // The runtime drew the retry delay (with its jitter): the run goes on with the one it logged,
    // restored as the runtime restores a stored snapshot.
    const context = snapshot.context as Record<string, unknown>;
    if (next && (next.type === 'step.retrying' || next.type === 'compensation.retrying') && next.delayMs !== undefined && context['retryDelayMs'] !== next.delayMs) {
      this.snapshot = this.machine.resolveState({ value: snapshot.value as StateValue, context: { ...context, retryDelayMs: next.delayMs } });
    }
    this.afterTransition(actions);
    const shown = plain(this.snapshot);
    this.root.setSnapshot(shown);
    this.send({ type: '@xstate.snapshot', actorRef: this.root.ref, event, snapshot: asSnapshot(shown) });
  }

  /** The actions of a transition: invoked tasks become promise actors, a delayed raise is the next timer. */
  private afterTransition(actions: readonly Action[]): void {
    for (const action of actions) {
      if (action.type === 'xstate.spawnChild') {
        const params = action.params as { id: string; input?: unknown };
        const attempt = ++this.spawned;
        const snapshot: PlainSnapshot = { status: 'active', output: undefined, error: undefined, input: params.input };
        const child = standInActor(params.id, `${runSessionId(this.runId)}:${params.id}:${attempt}`, undefined, this.root, snapshot);
        this.children.set(params.id, child);
        const init = { type: 'xstate.init', input: params.input };
        this.send({ type: '@xstate.actor', actorRef: child.ref });
        this.send({ type: '@xstate.event', actorRef: child.ref, sourceRef: this.root.ref, event: init });
        this.send({ type: '@xstate.snapshot', actorRef: child.ref, event: init, snapshot: asSnapshot(snapshot) });
      } else if (action.type === 'xstate.raise') {
        const params = action.params as { event: AnyEventObject; delay?: number };
        if (params.delay !== undefined) this.timer = params.event;
      }
    }
  }

  private send(event: Unrooted<InspectionEvent>): void {
    this.emit({ ...event, rootId: this.root.sessionId });
  }
}
