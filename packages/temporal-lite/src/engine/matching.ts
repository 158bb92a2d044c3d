/**
 * Task queues with long-polling. A queue holds references to dispatchable work; the
 * engine turns a reference into a concrete task only at the moment a live poller takes
 * it (`materialize`), so a task is never bound to a poll whose RPC was already cancelled.
 * If the poller disappears before the handoff, the reference stays in the queue.
 */
export interface Poller<R, C = unknown> {
  ctx: C;
  isCancelled(): boolean;
  deliver(response: R | undefined): void;
}

/** Real matching service (pollerHistory): a poller is listed by DescribeTaskQueue for 5 minutes after its last poll. */
const POLLER_HISTORY_TTL_MS = 5 * 60_000;

export interface PollerRecord { identity: string; lastAccessTime: number; ratePerSecond: number }

export class TaskQueue<Ref, R, C = unknown> {
  private refs: Ref[] = [];
  private pollers: Array<Poller<R, C>> = [];
  private drainScheduled = false;
  /** Recent pollers by identity (wall clock), for DescribeTaskQueue. */
  private readonly pollHistory = new Map<string, PollerRecord>();

  constructor(private readonly materialize: (ref: Ref, ctx: C) => R | undefined) {}

  /** Adds dispatchable work and hands it to a waiting poller if there is one. */
  offer(ref: Ref): void {
    this.refs.push(ref);
    // Hand out on the next turn: the operation that produced the work finishes its
    // synchronous state changes first (e.g. update-with-start registers the update).
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /** Removes a reference (e.g. the work was cancelled before any poller took it). */
  remove(pred: (r: Ref) => boolean): void {
    this.refs = this.refs.filter((r) => !pred(r));
  }

  get backlog(): number {
    return this.refs.length;
  }

  get hasPollers(): boolean {
    return this.pollers.some((p) => !p.isCancelled());
  }

  /** Notes a poll's arrival, as the real server's poller history does (last access time per identity). */
  recordPoll(identity: string, ratePerSecond: number, now = Date.now()): void {
    this.pollHistory.delete(identity); // re-insert: most recent last
    this.pollHistory.set(identity, { identity, lastAccessTime: now, ratePerSecond });
  }

  /** Pollers seen within the history TTL, most recent first. */
  recentPollers(now = Date.now()): PollerRecord[] {
    for (const [k, r] of this.pollHistory) if (now - r.lastAccessTime > POLLER_HISTORY_TTL_MS) this.pollHistory.delete(k);
    return [...this.pollHistory.values()].reverse();
  }

  addPoller(p: Poller<R, C>): void {
    this.pollers.push(p);
    this.drain();
  }

  removePoller(p: Poller<R, C>): void {
    const i = this.pollers.indexOf(p);
    if (i >= 0) this.pollers.splice(i, 1);
  }

  /** Answers the matching waiting pollers with an empty response (worker shutdown). */
  releaseWhere(pred: (ctx: C) => boolean): void {
    const [out, keep] = [this.pollers.filter((p) => pred(p.ctx)), this.pollers.filter((p) => !pred(p.ctx))];
    this.pollers = keep;
    for (const p of out) p.deliver(undefined);
  }

  /** Answers every waiting poller with an empty response (server shutdown). */
  releaseAll(): void {
    const ps = this.pollers;
    this.pollers = [];
    for (const p of ps) p.deliver(undefined);
  }

  drain(): void {
    while (this.refs.length > 0) {
      // Drop pollers whose RPC is gone before binding a task to them.
      while (this.pollers.length > 0 && this.pollers[0]!.isCancelled()) this.pollers.shift();
      const poller = this.pollers[0];
      if (!poller) return;
      const ref = this.refs.shift()!;
      let resp: R | undefined;
      try {
        resp = this.materialize(ref, poller.ctx);
      } catch (e) {
        console.error('temporal-lite: could not hand out a task', e);
        continue;
      }
      if (resp === undefined) continue; // stale reference
      this.pollers.shift();
      poller.deliver(resp);
    }
  }
}
