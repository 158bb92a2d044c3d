/**
 * Memory of closed runs: a closed run's history never changes again, so some seconds after the close
 * it is kept as one encoded `temporal.api.history.v1.History` buffer (a few hundred bytes per event)
 * instead of a tree of JS objects (about a kilobyte per event). Reading `run.events` decodes it again;
 * the decoded copy is dropped at the next sweep. Everything that reads a closed run's events is
 * unaffected apart from the decoding cost.
 */
import { root, toObjectOptions } from '../proto';
import type { Engine } from './engine';
import type { P, Run } from './types';

const History = root.lookupType('temporal.api.history.v1.History');

interface Compacted { bytes: Uint8Array; cache?: P[] }

export function installCompaction(engine: Engine): { stop(): void } {
  // How long after its close a run is compacted (and the sweep period); TEMPORAL_LITE_COMPACT_AFTER_MS overrides.
  const env = Number(process.env.TEMPORAL_LITE_COMPACT_AFTER_MS);
  const SWEEP_MS = env > 0 ? env : 5_000;
  let closed: Run[] = [];
  const decoded = new Set<Compacted>();
  engine.onRunClosed.push((run) => closed.push(run));
  const sweep = (): void => {
    for (const c of decoded) c.cache = undefined;
    decoded.clear();
    const now = engine.now();
    const keep: Run[] = [];
    for (const run of closed) {
      // Wait a little: result() and queries read a run right after its close.
      if (run.closeTime !== undefined && now - run.closeTime < SWEEP_MS) keep.push(run);
      else compact(run, decoded);
    }
    closed = keep;
  };
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Event counts of compacted runs: lists and visibility read a run's history length without decoding it. */
const eventCounts = new WeakMap<Run, number>();

export function eventCount(run: Run): number {
  return eventCounts.get(run) ?? run.events.length;
}

function compact(run: Run, decoded: Set<Compacted>): void {
  let bytes: Uint8Array;
  try {
    bytes = History.encode(History.fromObject({ events: run.events })).finish();
  } catch {
    return; // not encodable as is: keep the objects
  }
  const c: Compacted = { bytes: Uint8Array.prototype.slice.call(bytes) };
  eventCounts.set(run, run.events.length);
  Object.defineProperty(run, 'events', {
    configurable: true,
    enumerable: true,
    get(): P[] {
      if (!c.cache) {
        c.cache = (History.toObject(History.decode(c.bytes), toObjectOptions) as { events?: P[] }).events ?? [];
        decoded.add(c);
      }
      return c.cache;
    },
    set(v: P[]) {
      c.cache = v;
    },
  });
}
