import type { Scenario } from './simulation.js';

/**
 * Shrunk counterexamples fast-check found, kept as regression tests (and hand-picked cases that
 * pin the interesting crash points).
 */
export const REGRESSIONS: ReadonlyArray<{ name: string; scenario: Scenario }> = [
  {
    name: 'crash right after the run is created, before its first dispatch is published',
    scenario: { failures: [[0, 0, 0]], plans: [{ crash: { point: 'afterCommit', at: 1 }, failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] }], seed: 1 },
  },
  {
    // Found by fast-check (shrunk) when start-up re-dispatch from the store was disabled: the
    // first step's message lived only in the crashed process's memory broker.
    name: 'crash before the second commit, while the first step is dispatched only in memory',
    scenario: { failures: [[0, 0, 0]], plans: [{ crash: { point: 'beforeCommit', at: 2 }, failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] }], seed: 1 },
  },
  {
    // Found by fast-check (shrunk): a transient publish failure while a restarted runtime
    // re-dispatched pending steps made start() throw and left the run stuck.
    name: 'transient publish failure during start-up re-dispatch after a crash',
    scenario: {
      failures: [
        [0, 0, 0],
        [0, 0, 0],
      ],
      plans: [
        { crash: { point: 'afterCommit', at: 2 }, failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] },
        { failCommits: [], failPublishes: [3], duplicates: [], extraDelays: [] },
      ],
      seed: 1,
    },
  },
  {
    // Found by fast-check (shrunk) once re-dispatch went through the outbox: a transient store
    // failure during start-up must fail start() loudly, and a second start() must recover.
    name: 'transient store failure while a restarted runtime re-dispatches from the store',
    scenario: {
      failures: [[0, 0, 0]],
      plans: [
        { crash: { point: 'beforeCommit', at: 2 }, failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] },
        { failCommits: [1], failPublishes: [], duplicates: [], extraDelays: [] },
      ],
      seed: 1,
    },
  },
  {
    name: 'crash before acking a completed step, with duplicated deliveries',
    scenario: { failures: [[0, 1, 0]], plans: [{ crash: { point: 'beforeAck', at: 2 }, failCommits: [], failPublishes: [], duplicates: [1, 2, 3], extraDelays: [0, 500] }], seed: 7 },
  },
  {
    // Hand-picked: a permanent refusal must fail its run (never retry), across a transient
    // commit failure while the refusal is recorded and a crash of the process that recorded it.
    name: 'step message refused for good, in a life with a transient commit failure and a crash',
    scenario: {
      failures: [
        [0, 0, 0],
        [0, 1, 0],
      ],
      plans: [{ crash: { point: 'afterCommit', at: 5 }, failCommits: [3], failPublishes: [], duplicates: [], extraDelays: [] }],
      refusals: [{ run: 0, step: 1 }],
      seed: 5,
    },
  },
  {
    // Hand-picked: a broker that rejects six publishes in a row; the outbox backs off per entry.
    name: 'six consecutive transient publish refusals (throttling) from the first publish on',
    scenario: { failures: [[0, 0, 0]], plans: [{ failCommits: [], failPublishes: [], throttle: { from: 1, count: 6 }, duplicates: [], extraDelays: [] }], seed: 2 },
  },
  {
    name: 'crash while a compensation is in flight, after a step exhausted its retries',
    scenario: { failures: [[0, 0, 3]], plans: [{ crash: { point: 'beforePublish', at: 6 }, failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] }], seed: 3 },
  },
  {
    // Hand-picked: two cancels at once while a step waits out its backoff (a retry timer pending).
    name: 'two cancels at once while a step retries',
    scenario: { failures: [[0, 2, 0]], plans: [], cancels: [{ run: 0, at: 3, compensate: true, twice: true }], seed: 7 },
  },
  {
    // Hand-picked: a cancel without compensation while a failure is being compensated.
    name: 'cancel with compensate: false stops the compensation of a failure',
    scenario: { failures: [[0, 0, 3]], plans: [], cancels: [{ run: 0, at: 6, compensate: false, twice: false }], seed: 3 },
  },
  {
    // Hand-picked: the process dies right after committing a cancel; the next life finishes it.
    name: 'crash right after the cancel commits',
    scenario: {
      failures: [[0, 1, 0], [0, 0, 0]],
      plans: [{ crash: { point: 'afterCommit', at: 4 }, failCommits: [], failPublishes: [], duplicates: [], extraDelays: [] }],
      cancels: [{ run: 0, at: 2, compensate: true, twice: false }],
      seed: 11,
    },
  },
  {
    // Found by fast-check (shrunk): a second cancel, without compensation, stops the compensations
    // the first cancel began (the property had expected every compensation to run).
    name: 'a cancel with compensate: false stops the compensations of an earlier cancel',
    scenario: {
      failures: [[0, 0, 0], [0, 0, 0]],
      plans: [{ failCommits: [], failPublishes: [], throttle: { from: 1, count: 1 }, duplicates: [], extraDelays: [1] }],
      refusals: [],
      cancels: [{ run: 1, at: 2, compensate: true, twice: false }, { run: 1, at: 2, compensate: false, twice: false }],
      seed: 1,
    },
  },
];
