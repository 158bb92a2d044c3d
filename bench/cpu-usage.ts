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
  }
  return snapshot;
}

/** What was spent between two snapshots, per group; add several phases up with `addCpu`. */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const spent: CpuSnapshot = new Map();
  for (const [group, ticks] of after) spent.set(group, ticks - (before.get(group) ?? 0));
  return spent;
}

export function addCpu(total: CpuSnapshot, more: CpuSnapshot): void {
  for (const [group, ticks] of more) total.set(group, (total.get(group) ?? 0) + ticks);
}

/** "self 12.3 ms, postgres 4.5 ms, temporal 4.1 ms, other 0.9 ms (total 21.8 ms)" per item. */
export function cpuPerItem(spent: CpuSnapshot, items: number): string {
  if (spent.size === 0) return 'n/a (not Linux)';
  const parts: string[] = [];
  let total = 0;
  for (const group of ['self', 'postgres', 'temporal', 'other']) {
    const ms = ((spent.get(group) ?? 0) * TICK_MS) / items;
    total += ms;
    parts.push(`${group} ${ms.toFixed(1)} ms`);
  }
  return `${parts.join(', ')} (total ${total.toFixed(1)} ms)`;
}
