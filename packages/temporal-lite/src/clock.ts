/**
 * The server's single source of time. Every event timestamp and every deadline
 * (timers, timeouts, retry backoffs) goes through here, so that with time skipping
 * the whole server moves on one virtual clock, as the Java test server does.
 *
 * Virtual time = wall time + offset. With time skipping on, whenever nothing holds a
 * lock (the Java test server's rule: the client's lock, which starts at 1, plus one per
 * outstanding workflow task and per scheduled/running activity attempt), the offset
 * jumps forward to the next deadline.
 *
 * The Java server keeps one counter. We keep its parts apart to stay sane when the SDK's
 * time-skipping client awaits several results in parallel (it unlocks around every `result()`,
 * so unlocks outnumber the initial lock — the Java server would fail those calls):
 *   locked ⇔ max(clientLocks, 0) + holds − sleepers > 0
 * where clientLocks counts Lock/UnlockTimeSkipping (starts at 1), holds are the engine's
 * (workflow tasks, activities) and sleepers are UnlockTimeSkippingWithSleep calls in progress —
 * a sleeper offsets any lock, which is how an activity sleeping in server time lets time skip.
 */
export interface ClockTimer { cancel(): void }

interface Entry { at: number; seq: number; cb: () => void; cancelled: boolean }

export class Clock {
  private offset = 0;
  private clientLocks: number;
  private holds = 0;
  private sleepers = 0;
  private entries: Entry[] = [];
  private seq = 0;
  private realTimer: NodeJS.Timeout | undefined;
  private realTimerAt = Infinity;
  private pokeScheduled = false;
  private stopped = false;

  constructor(public readonly timeSkipping: boolean) {
    // The Java test server starts locked; clients unlock around result waits.
    this.clientLocks = timeSkipping ? 1 : 0;
  }

  now(): number {
    return Date.now() + this.offset;
  }

  schedule(at: number, cb: () => void): ClockTimer {
    const entry: Entry = { at, seq: this.seq++, cb, cancelled: false };
    // Keep entries sorted by (at, seq); binary search for the insertion point.
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid]!;
      if (e.at < at || (e.at === at && e.seq < entry.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.entries.splice(lo, 0, entry);
    this.armRealTimer();
    this.poke();
    return {
      cancel: () => {
        if (entry.cancelled) return;
        entry.cancelled = true;
        const i = this.entries.indexOf(entry);
        if (i >= 0) this.entries.splice(i, 1);
      },
    };
  }

  after(ms: number, cb: () => void): ClockTimer {
    return this.schedule(this.now() + Math.max(0, ms), cb);
  }

  /** TestService LockTimeSkipping. */
  lock(): void {
    this.clientLocks++;
  }

  /** TestService UnlockTimeSkipping. */
  unlock(): void {
    this.clientLocks--;
    this.poke();
  }

  /** UnlockTimeSkippingWithSleep: counts as one unlock until `endSleep`. */
  beginSleep(): void {
    this.sleepers++;
    this.poke();
  }

  endSleep(): void {
    this.sleepers--;
  }

  /** Holds one engine lock for `holder` (idempotent), released by `release`. */
  hold(holder: { timeLock?: boolean }): void {
    if (holder.timeLock) return;
    holder.timeLock = true;
    this.holds++;
  }

  release(holder: { timeLock?: boolean } | undefined): void {
    if (!holder?.timeLock) return;
    holder.timeLock = false;
    this.holds--;
    this.poke();
  }

  get locked(): boolean {
    return Math.max(this.clientLocks, 0) + this.holds - this.sleepers > 0;
  }

  /** Ask the clock to re-evaluate whether it may skip (called after any engine state change). */
  poke(): void {
    if (!this.timeSkipping || this.pokeScheduled || this.stopped) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      this.trySkip();
    });
  }

  /** Moves virtual time forward by `ms` regardless of locks (TestService Sleep semantics use this). */
  advance(ms: number): void {
    if (ms <= 0) return;
    this.offset += ms;
    this.fireDue();
  }

  stop(): void {
    this.stopped = true;
    if (this.realTimer) clearTimeout(this.realTimer);
    this.entries = [];
  }

  private trySkip(): void {
    if (this.stopped || this.locked || this.entries.length === 0) return;
    const next = this.entries[0]!;
    const delta = next.at - this.now();
    if (delta > 0) this.offset += delta;
    this.fireDue();
  }

  private fireDue(): void {
    // The offset may have changed: the armed wall-clock timer is stale, re-arm from scratch.
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    this.realTimerAt = Infinity;
    const now = this.now();
    while (this.entries.length > 0 && this.entries[0]!.at <= now) {
      const e = this.entries.shift()!;
      if (e.cancelled) continue;
      e.cancelled = true;
      try {
        e.cb();
      } catch (err) {
        console.error('temporal-lite: timer callback failed', err);
      }
    }
    this.armRealTimer();
    this.poke();
  }

  private armRealTimer(): void {
    if (this.stopped) return;
    const next = this.entries[0];
    const at = next ? next.at : Infinity;
    if (at === this.realTimerAt && this.realTimer) return;
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    this.realTimerAt = at;
    if (!next) return;
    const delay = Math.min(Math.max(0, at - this.now()), 2 ** 31 - 1);
    this.realTimer = setTimeout(() => {
      this.realTimer = undefined;
      this.realTimerAt = Infinity;
      this.fireDue();
    }, delay);
  }
}
