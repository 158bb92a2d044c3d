/** The server as a child process, with what the benchmark reads from /proc about it. */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface ServerChild {
  pid: number;
  address: string;
  /** Resident set size now, from /proc/<pid>/status. */
  rssMb(): number;
  /** User + system CPU seconds used so far, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  /** The server's V8 heap in use and its off-heap buffers, after a full GC (asked for with SIGUSR2). */
  memoryAfterGc(): Promise<{ heapUsedMb: number; externalMb: number }>;
  stop(): Promise<void>;
}

const CLOCK_TICKS_PER_SECOND = 100; // Linux USER_HZ on every mainstream architecture

export async function startServerChild(options: { cpuProfileDir?: string }): Promise<ServerChild> {
  const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  // `node --import tsx` (not the tsx CLI, which forks a second process) so that the pid is the server's.
  const child = spawn(process.execPath, [...profile, '--expose-gc', '--import', 'tsx', path.join(__dirname, 'server-process.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const nextLine = (): Promise<string> => new Promise((resolve) => lines.once('line', resolve));
  const port = await readPort(child, nextLine);
  const pid = child.pid!;
  return {
    pid,
    address: `127.0.0.1:${port}`,
    rssMb: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024,
    cpuSeconds: () => threadCpuSeconds(`/proc/${pid}/stat`),
    memoryAfterGc: async () => {
      const reply = nextLine();
      child.kill('SIGUSR2');
      const m = JSON.parse(await reply) as { heapUsed: number; external: number };
      return { heapUsedMb: m.heapUsed / 2 ** 20, externalMb: m.external / 2 ** 20 };
    },
    stop: () => stopChild(child),
  };
}

/** utime + stime of a /proc `stat` file (a process's, or one thread's under /proc/<pid>/task/<tid>/stat). */
export function threadCpuSeconds(statPath: string): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
  const fields = readFileSync(statPath, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function readPort(child: ChildProcess, nextLine: () => Promise<string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server child did not report its port within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`server child exited early with code ${code}`)));
    nextLine().then((line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    }, reject);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
