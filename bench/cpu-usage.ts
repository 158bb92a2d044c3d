/**
 * Where a benchmark phase spent its CPU, by process: this one (API, worker and load driver), PostgreSQL
 * (all its backends), the Temporal server, everything else. Read from /proc (Linux); elsewhere the
 * snapshot is empty and the report says so.
 */
import fs from 'node:fs';
import os from 'node:os';

export type CpuSnapshot = Map<string, number>;

const TICK_MS = 10; // USER_HZ is 100 on every Linux the project runs on

function processTicks(pid: string): { comm: string; ticks: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { comm, ticks: Number(fields[11]) + Number(fields[12]) }; // utime + stime
  } catch {
    return null; // exited meanwhile
  }
}

/** CPU ticks so far per group: `self`, `postgres`, `temporal` (the given pid) and `other`. */
export function cpuSnapshot(temporalPid: number | undefined): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  if (os.platform() !== 'linux') return snapshot;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const p = processTicks(pid);
    if (!p) continue;
    const group = Number(pid) === process.pid ? 'self' : Number(pid) === temporalPid ? 'temporal'
      : p.comm.startsWith('postgres') ? 'postgres' : 'other';
    snapshot.set(group, (snapshot.get(group) ?? 0) + p.ticks);
    if (Number(pid) === process.pid && process.env['BENCH_THREADS']) addThreadTicks(snapshot, pid);
  }
  return snapshot;
}

/**
 * BENCH_THREADS=1: this process's threads one by one — the main thread, the workflow thread and V8's helper
 * threads (all named `node`; told apart by their thread id), the Rust core's `tokio-runtime-w` threads.
 */
function addThreadTicks(snapshot: CpuSnapshot, pid: string): void {
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const thread = processTicks(`${pid}/task/${tid}`);
    const key = `${THREAD_PREFIX}${tid === pid ? 'main' : `${thread?.comm}#${tid}`}`;
    if (thread) snapshot.set(key, (snapshot.get(key) ?? 0) + thread.ticks);
  }
}

const THREAD_PREFIX = 'thread:';

/** What was spent between two snapshots, per group; add several phases up with `addCpu`. */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const spent: CpuSnapshot = new Map();
  for (const [group, ticks] of after) spent.set(group, ticks - (before.get(group) ?? 0));
  return spent;
}

export function addCpu(total: CpuSnapshot, more: CpuSnapshot): void {
  for (const [group, ticks] of more) total.set(group, (total.get(group) ?? 0) + ticks);
}

/**
 * "self 12.3 ms, postgres 4.5 ms, temporal 4.1 ms, other 0.9 ms (total 21.8 ms)" per item; in µs for items
 * that cost well under a millisecond.
 */
export function cpuPerItem(spent: CpuSnapshot, items: number, unit: 'ms' | 'µs' = 'ms'): string {
  if (spent.size === 0) return 'n/a (not Linux)';
  const scale = unit === 'ms' ? 1 : 1000;
  const format = (ms: number): string => `${(ms * scale).toFixed(unit === 'ms' ? 1 : 0)} ${unit}`;
  const parts: string[] = [];
  let total = 0;
  for (const group of ['self', 'postgres', 'temporal', 'other']) {
    const ms = ((spent.get(group) ?? 0) * TICK_MS) / items;
    total += ms;
    parts.push(`${group} ${format(ms)}`);
  }
  const threads = [...spent].filter(([group, ticks]) => group.startsWith(THREAD_PREFIX) && ticks > 0)
    .map(([group, ticks]) => `${group.slice(THREAD_PREFIX.length)} ${format((ticks * TICK_MS) / items)}`);
  return `${parts.join(', ')} (total ${format(total)})${threads.length > 0 ? `; threads of self: ${threads.join(', ')}` : ''}`;
}
