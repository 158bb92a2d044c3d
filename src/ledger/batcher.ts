/**
 * Group commit for reservations and settlements (migrations/0004_ledger_batch.sql has the SQL half).
 *
 * Natural batching, no timers: while fewer than `maxInFlight` groups are in Postgres a call is sent at
 * once (an idle ledger adds no latency); calls that arrive while every slot is busy wait and leave together
 * as the next group, up to MAX_GROUP calls. Under load a group costs one round trip and one commit for many
 * operations, and on a hot lot one lock window instead of one per operation.
 *
 * Each call's outcome is exactly what the single call would have produced: its result, or its error with
 * the same SQLSTATE, message, detail and constraint — so callLedgerFunction maps refusals and retries the
 * same way whichever path a call took.
 *
 * Isolation from slow neighbours. Only `maxInFlight` groups run at once, so a group stuck behind a row lock
 * would hold up every other call of the process. A group therefore spends at most about a second waiting for
 * locks (ledger_batch's lock budget, migration 0007): a call that timed out or was deferred (55P03), or whose
 * whole group failed (GroupFailedError), is sent again by callLedgerFunction on its own connection, outside
 * the groups, where it may wait as long as it must. A group whose connection stops answering altogether (a
 * peer gone without a reset) is given up after GROUP_ANSWER_TIMEOUT_MS and its connection discarded.
 */
import type { Pool, QueryConfig } from 'pg';

/**
 * Groups in flight per pool: one per eight of the pool's connections, at least two — so the operator's pool
 * size sets the ledger's concurrency too, and most connections stay free for everything else. Fewer, larger
 * groups amortise better: on the 2-core development VM, with 16 clients, 2 in flight gave 0.16–0.18 (spread)
 * and 0.27–0.31 (hot) on bench:ledger, 4 in flight 0.13–0.14 and 0.24–0.26.
 */
function groupsInFlight(pool: Pool): number {
  return Math.max(2, Math.floor((pool.options.max ?? 10) / 8));
}

/** Below Postgres' 64 cached subtransactions per transaction (see the migration). */
const MAX_GROUP = 32;

/**
 * A healthy group answers within its lock budget plus its commit: a couple of seconds at worst. Past this, its
 * connection is presumed dead; its calls are sent again alone (by key, so a group that did commit replays).
 */
const GROUP_ANSWER_TIMEOUT_MS = 10_000;

/** pg reads a per-query `query_timeout` (client.js) that its type definitions leave out. */
type TimedQueryConfig = QueryConfig & { query_timeout: number };

export type BatchableFunction = 'ledger_reserve' | 'ledger_settle';

/** The fields of a pg DatabaseError that the ledger's error mapping and retry logic read. */
export class BatchedCallError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly detail: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super(message);
    this.name = 'BatchedCallError';
  }
}

/** The group as a whole failed; nothing is known about this call, which should be sent again alone. */
export class GroupFailedError extends Error {
  constructor(override readonly cause: unknown) {
    super(`ledger group failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'GroupFailedError';
  }
}

/** Lock wait exceeded inside a group (SQLSTATE 55P03 from ledger_batch's lock_timeout). */
export function timedOutInGroup(e: unknown): boolean {
  return e instanceof BatchedCallError && e.code === '55P03';
}

interface PendingCall {
  fn: BatchableFunction;
  body: string;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { r: unknown } | { e: { code: string; message: string; detail: string | null; constraint: string | null } };

/** What a pool's batcher has sent: groups (single calls count as groups of one) and the calls in them. */
export interface BatchStats {
  groups: number;
  calls: number;
  largestGroup: number;
}

class Batcher {
  private readonly waiting: PendingCall[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  readonly stats: BatchStats = { groups: 0, calls: 0, largestGroup: 0 };

  constructor(private readonly pool: Pool) {
    this.maxInFlight = groupsInFlight(pool);
  }

  call(fn: BatchableFunction, body: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ fn, body, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const group = this.waiting.splice(0, MAX_GROUP);
      this.stats.groups++;
      this.stats.calls += group.length;
      this.stats.largestGroup = Math.max(this.stats.largestGroup, group.length);
      this.inFlight++;
      void this.send(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(group: PendingCall[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      const query: TimedQueryConfig = {
        name: 'ledger_batch',
        text: 'SELECT ledger_batch($1::text[], $2::jsonb) AS r',
        // The bodies are JSON already: joined, they are the JSON array of the group's parameters.
        values: [group.map((c) => c.fn), `[${group.map((c) => c.body).join(',')}]`],
        // pool.query releases the connection with the timeout error, which discards it.
        query_timeout: GROUP_ANSWER_TIMEOUT_MS,
      };
      const res = await this.pool.query<{ r: Outcome[] }>(query);
      outcomes = res.rows[0]?.r ?? [];
    } catch (e) {
      // The group failed as a whole (a call whose parameters broke the grouping query itself, a lost
      // connection). Each call is sent again alone and gets its own outcome; had the group committed after
      // all (a connection lost during COMMIT), the calls replay their first results by their keys.
      for (const c of group) c.reject(new GroupFailedError(e));
      return;
    }
    group.forEach((c, i) => {
      const o = outcomes[i];
      if (o === undefined || o === null) c.reject(new GroupFailedError(new Error(`no outcome for call ${i}`)));
      else if ('r' in o) c.resolve(o.r);
      else c.reject(new BatchedCallError(o.e.message, o.e.code, o.e.detail ?? undefined, o.e.constraint ?? undefined));
    });
  }
}

const batchers = new WeakMap<Pool, Batcher>();

function batcherOf(pool: Pool): Batcher {
  let batcher = batchers.get(pool);
  if (!batcher) {
    batcher = new Batcher(pool);
    batchers.set(pool, batcher);
  }
  return batcher;
}

/** Runs `SELECT fn($1::jsonb)` on the pool, grouped with concurrent calls; resolves to the function's result. */
export function callBatched(pool: Pool, fn: BatchableFunction, body: string): Promise<unknown> {
  return batcherOf(pool).call(fn, body);
}

/** A copy of the pool's grouping figures (for tests and metrics). */
export function batchStats(pool: Pool): BatchStats {
  return { ...batcherOf(pool).stats };
}
