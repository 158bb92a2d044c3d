/**
 * Throughput benchmark of temporal-lite against the real SDK (client + worker 1.24).
 *
 * The server runs in a child process (so its RSS and CPU are its own); the SDK worker and client run here.
 * Each workflow calls one no-op activity. Measured: start-to-result latency at 1 starter, throughput and
 * latency at 50 concurrent starters, and the server's RSS once 10,000 workflows have completed.
 * The last line printed is one JSON object with the headline figures.
 *
 * Environment: BENCH_C1_COUNT (default 300), BENCH_C50_COUNT (3000), BENCH_TOTAL (10000),
 * BENCH_PROFILE=1 to CPU-profile the server and print where its time goes,
 * BENCH_WORKER_OPTIONS='{"nonStickyToStickyPollRatio":1}' (JSON) to try other worker settings.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBenchActivities } from './activities';
import { summariseProfile } from './profile-summary';
import { ServerChild, startServerChild, threadCpuSeconds } from './server-child';
import { percentile, round } from './stats';
import { benchWorkflow } from './workflows';

const TASK_QUEUE = 'bench';
const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
};

interface PhaseResult { completed: number; elapsedMs: number; latenciesMs: number[] }

let nextSeq = 0;

/** `concurrency` starters each start a workflow and await its result, until `count` have completed. */
async function runPhase(client: Client, concurrency: number, count: number): Promise<PhaseResult> {
  const latenciesMs: number[] = [];
  let remaining = count;
  const runTag = `${process.pid}-${Date.now()}`;
  const starter = async (): Promise<void> => {
    while (remaining > 0) {
      remaining--;
      const seq = nextSeq++;
      const t0 = performance.now();
      const result = await client.workflow.execute(benchWorkflow, { workflowId: `bench-${runTag}-${seq}`, taskQueue: TASK_QUEUE, args: [{ seq }] });
      latenciesMs.push(performance.now() - t0);
      if (result.seq !== seq) throw new Error(`workflow ${seq} returned ${JSON.stringify(result)}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, starter));
  return { completed: count, elapsedMs: performance.now() - t0, latenciesMs };
}

function describePhase(label: string, r: PhaseResult): string {
  const rate = (r.completed / r.elapsedMs) * 1000;
  return `${label}: ${r.completed} workflows in ${(r.elapsedMs / 1000).toFixed(2)} s = ${rate.toFixed(1)} wf/s; ` +
    `latency p50 ${percentile(r.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(r.latenciesMs, 99).toFixed(1)} ms, max ${Math.max(...r.latenciesMs).toFixed(1)} ms`;
}

/**
 * CPU seconds of the server child, of this whole process (SDK client, worker, Rust core threads) and of its
 * main JS thread alone, which carries the client, the activities and the bridge to the Rust core.
 */
function cpuSnapshot(server: ServerChild): { server: number; sdk: number; sdkMain: number } {
  const u = process.cpuUsage();
  return { server: server.cpuSeconds(), sdk: (u.user + u.system) / 1e6, sdkMain: threadCpuSeconds(`/proc/self/task/${process.pid}/stat`) };
}

async function main(): Promise<void> {
  const c1Count = envInt('BENCH_C1_COUNT', 300);
  const c50Count = envInt('BENCH_C50_COUNT', 3000);
  const total = envInt('BENCH_TOTAL', 10_000);
  const workerOverrides = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as Partial<WorkerOptions>;
  if (Object.keys(workerOverrides).length > 0) console.log(`worker options: ${JSON.stringify(workerOverrides)}`);
  const profileDir = process.env.BENCH_PROFILE === '1' ? mkdtempSync(path.join(os.tmpdir(), 'temporal-lite-prof-')) : undefined;
  // The SDK logs every worker start/stop at INFO; the benchmark's own lines are what matter.
  Runtime.install({ logger: new DefaultLogger('WARN') });

  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  const server = await startServerChild({ cpuProfileDir: profileDir });
  console.log(`server pid ${server.pid} at ${server.address}, RSS at start ${server.rssMb().toFixed(1)} MB`);
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  try {
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: require.resolve('./workflows'),
      activities: createBenchActivities(),
      ...workerOverrides,
    });
    const client = new Client({ connection });
    const figures = await worker.runUntil(() => measure(client, server, { c1Count, c50Count, total }));
    await server.stop(); // idempotent: the profile is written when the server process exits
    if (profileDir) console.log(summariseProfile(largestFile(profileDir)).join('\n'));
    console.log(JSON.stringify(figures));
  } finally {
    await connection.close();
    await nativeConnection.close();
    await server.stop();
  }
}

/** The server's main-thread profile is the big one; tsx's loader thread writes a small second one. */
function largestFile(dir: string): string {
  const files = readdirSync(dir).map((f) => path.join(dir, f));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

async function measure(client: Client, server: ServerChild, counts: { c1Count: number; c50Count: number; total: number }) {
  const memBefore = await server.memoryAfterGc();
  console.log(describePhase('warm-up (c=10)', await runPhase(client, 10, 100)));
  const cpu0 = cpuSnapshot(server);
  const c1 = await runPhase(client, 1, counts.c1Count);
  console.log(describePhase('c=1 ', c1));
  const cpu1 = cpuSnapshot(server);
  const c50 = await runPhase(client, 50, counts.c50Count);
  console.log(describePhase('c=50', c50));
  const cpu2 = cpuSnapshot(server);
  for (const [label, a, b, phase] of [['c=1 ', cpu0, cpu1, c1], ['c=50', cpu1, cpu2, c50]] as const) {
    const perWf = (x: number, y: number): string =>
      `${((1000 * (y - x)) / phase.completed).toFixed(2)} ms/wf (${((100_000 * (y - x)) / phase.elapsedMs).toFixed(0)}% of a core)`;
    console.log(`${label} CPU: server ${perWf(a.server, b.server)}; SDK client+worker ${perWf(a.sdk, b.sdk)}, ` +
      `of which its main JS thread ${perWf(a.sdkMain, b.sdkMain)}`);
  }
  const rest = counts.total - nextSeq;
  if (rest > 0) console.log(describePhase(`fill to ${counts.total} (c=50)`, await runPhase(client, 50, rest)));
  const rssMb = server.rssMb();
  console.log(`server RSS after ${nextSeq} completed workflows: ${rssMb.toFixed(1)} MB`);
  const mem = await server.memoryAfterGc();
  const heldKbPerWf = ((mem.heapUsedMb + mem.externalMb - memBefore.heapUsedMb - memBefore.externalMb) * 1024) / nextSeq;
  console.log(`server after a full GC: V8 heap in use ${mem.heapUsedMb.toFixed(1)} MB, off-heap buffers ${mem.externalMb.toFixed(1)} MB; ` +
    `${heldKbPerWf.toFixed(1)} KB held per completed workflow (growth since start / workflows)`);
  return {
    wf_per_s_c50: round((c50.completed / c50.elapsedMs) * 1000),
    p50_ms_c1: round(percentile(c1.latenciesMs, 50)),
    p99_ms_c1: round(percentile(c1.latenciesMs, 99)),
    p50_ms_c50: round(percentile(c50.latenciesMs, 50)),
    p99_ms_c50: round(percentile(c50.latenciesMs, 99)),
    rss_mb_after_10k: round(rssMb),
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
