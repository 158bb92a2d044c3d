/**
 * Generations benchmark: end-to-end generations per second — HTTP start (credits held) → HTTP success report
 * → settled (the report's response is the settlement) — on the embedded Postgres and the project's Temporal
 * server; in the same run, a minimal workflow with one no-op activity on the same server and worker settings;
 * plus the settle latency (outcome report → response) p50/p99.
 *
 *   npm run bench:generations   (BENCH_GENERATIONS=600 per side, BENCH_CONCURRENCY=32, BENCH_ROUNDS=3)
 *
 * The two sides alternate over BENCH_ROUNDS rounds (generations, then no-op workflows, in each round), so
 * that a change in the machine's load falls on both rather than on whichever ran second.
 *
 * The Temporal server runs in its own process (as the SDK would start it); API, worker and load driver share
 * this one. The last line is one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startApi } from '../src/api/server';
import { loadConfig } from '../src/config';
import { createPool, migrate, startDatabase } from '../src/db';
import { audit } from '../src/ledger';
import { createLogger } from '../src/log';
import { defaultPriceBook } from '../src/pricing';
import { defaultSettlementPolicy } from '../src/policy/settlement';
import { registerSearchAttributes } from '../src/temporal/search-attributes';
import { createWorker } from '../src/worker';
import { percentile, round } from 'temporal-lite/bench/stats';
import { runConcurrently } from './concurrency';
import { addCpu, cpuBetween, cpuPerItem, cpuSnapshot, type CpuSnapshot } from './cpu-usage';

const GENERATIONS = Number(process.env['BENCH_GENERATIONS'] ?? 600);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const WORKER_SLOTS = { maxConcurrentActivityTaskExecutions: 100, maxConcurrentWorkflowTaskExecutions: 100 };
const ADMIN_KEY = `bench-admin-${randomUUID()}`;

async function startTemporalLite(): Promise<{ address: string; child: ChildProcess }> {
  const bin = path.resolve(__dirname, '..', 'packages', 'temporal-lite', 'bin', 'temporal-lite');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(bin, ['server', 'start-dev', '--port', String(port), '--namespace', 'default', '--headless'], { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 500 });
      await connection.close();
      return { address, child };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('temporal-lite did not start');
}

/**
 * The load driver stands in for a generation service and shares the machine with the system under test, so
 * it uses the lightest client at hand: node:http over kept-alive sockets (fetch costs it ~1 ms more CPU per
 * request pair on this machine, all of it charged to the generations).
 */
const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bench-side JSON, checked field by field where used
function http(url: string, body: unknown, key: string): Promise<{ status: number; body: any }> {
  const payload = JSON.stringify(body);
  const headers = {
    'content-type': 'application/json', 'content-length': Buffer.byteLength(payload),
    authorization: `Bearer ${key}`, 'idempotency-key': randomUUID(),
  };
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-bench-gen-'));
  fs.chmodSync(dataDir, 0o755); // as root, the embedded server runs as the `postgres` user and must reach it
  const postgresFlags = (process.env['BENCH_PG_FLAGS'] ?? '').split(' ').filter(Boolean);
  const db = await startDatabase({ dataDir, port: 0, databaseUrl: process.env['DATABASE_URL'], postgresFlags });
  const temporal = await startTemporalLite();
  const stops: Array<() => Promise<unknown>> = [async () => temporal.child.kill('SIGKILL'), () => db.stop()];
  try {
    await migrate(db.connectionString);
    const pool = createPool(db.connectionString, { max: 40 });
    stops.unshift(() => pool.end());
    const connection = await Connection.connect({ address: temporal.address });
    await registerSearchAttributes(connection, 'default');
    const client = new Client({ connection });
    const nativeConnection = await NativeConnection.connect({ address: temporal.address });
    const config = loadConfig({ ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent' });
    const api = await startApi({
      config, pool, logger: createLogger({ level: 'silent' }), port: 0, host: '127.0.0.1',
      generations: { client, taskQueue: 'bench-generations' },
    });
    stops.unshift(api.close);

    const generationWorker = await createWorker({
      connection: nativeConnection, namespace: 'default', taskQueue: 'bench-generations', pool, priceBook: defaultPriceBook,
      settlementPolicy: defaultSettlementPolicy, maxDeadlineFactor: 3, holdExpiryGraceMs: 3_600_000, refundLotValidityDays: 30, ...WORKER_SLOTS,
    });
    const noopWorker = await Worker.create({
      connection: nativeConnection, taskQueue: 'bench-noop', workflowsPath: require.resolve('./noop-workflow'),
      activities: { noop: async () => undefined }, ...WORKER_SLOTS,
    });

    const { generations, noop } = await generationWorker.runUntil(() => noopWorker.runUntil(async () => {
      const generations = await generationSide(api.url);
      const noop = noopSide(client);
      await runConcurrently(CONCURRENCY, CONCURRENCY, generations.one); // warm-up: bundles loaded, connections open
      await runConcurrently(CONCURRENCY, CONCURRENCY, noop.one);
      generations.settleMs.length = 0;
      const perRound = Math.ceil(GENERATIONS / ROUNDS);
      for (let round = 0; round < ROUNDS; round++) {
        for (const side of [generations, noop]) await measure(side, perRound, temporal.child.pid);
      }
      return { generations, noop };
    }));
    const violations = (await audit(pool)).violations;
    if (violations.length > 0) throw new Error(`audit found ${violations.length} violations`);

    const generationsPerSecond = generations.items / generations.seconds;
    const noopPerSecond = noop.items / noop.seconds;
    const result = {
      generations_per_s: round(generationsPerSecond),
      noop_wf_per_s: round(noopPerSecond),
      ratio: Math.round((generationsPerSecond / noopPerSecond) * 100) / 100,
      settle_p50_ms: round(percentile(generations.settleMs, 50)),
      settle_p99_ms: round(percentile(generations.settleMs, 99)),
    };
    agent.destroy();
    console.log(`generations: ${generations.items} in ${generations.seconds.toFixed(2)} s; no-op workflows: ${noop.items} in ${noop.seconds.toFixed(2)} s`);
    console.log(`CPU per generation: ${cpuPerItem(generations.cpu, generations.items)}`);
    console.log(`CPU per no-op workflow: ${cpuPerItem(noop.cpu, noop.items)}`);
    console.log(`conditions: ${os.cpus().length} cores, ${generations.items} generations and ${noop.items} no-op workflows in ${ROUNDS} alternating rounds, ${CONCURRENCY} concurrent clients, temporal-lite in a child process, embedded Postgres (durable defaults), audit clean`);
    console.log(JSON.stringify(result));
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

/** One side of the comparison: a task, and what its measured runs added up to. */
interface Side {
  one: () => Promise<void>;
  items: number;
  seconds: number;
  cpu: CpuSnapshot;
}

async function measure(side: Side, items: number, temporalPid: number | undefined): Promise<void> {
  const before = cpuSnapshot(temporalPid);
  side.seconds += await runConcurrently(items, CONCURRENCY, side.one);
  addCpu(side.cpu, cpuBetween(before, cpuSnapshot(temporalPid)));
  side.items += items;
}

/** A generation end to end: HTTP start (credits held) → HTTP success report, answered with the settlement. */
async function generationSide(apiUrl: string): Promise<Side & { settleMs: number[] }> {
  const admin = (p: string, b: unknown) => http(`${apiUrl}${p}`, b, ADMIN_KEY);
  const wallet = await admin('/v1/wallets', { ownerType: 'user', ownerId: `bench-${randomUUID()}` });
  await admin(`/v1/wallets/${wallet.body.id}/grants`, { kind: 'purchased', amountCredits: 1_000_000_000 });
  const serviceKey = (await admin('/v1/api-keys', { role: 'service' })).body.key as string;
  const settleMs: number[] = [];
  const output = { url: 'https://cdn.example/x.png', sizeBytes: 1000, contentType: 'image/png' };
  const one = async () => {
    const generationId = `bench-${randomUUID()}`;
    const started = await http(`${apiUrl}/v1/generations`, {
      generationId, walletId: wallet.body.id, userId: 'bench', feature: 'image', params: { resolution: '1K' }, platform: 'api',
    }, serviceKey);
    if (started.status !== 201) throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
    const t0 = performance.now();
    const settled = await http(`${apiUrl}/v1/generations/${generationId}/outcome`, { status: 'succeeded', outputs: [output] }, serviceKey);
    settleMs.push(performance.now() - t0);
    if (settled.status !== 200 || settled.body.capturedCredits !== 10) throw new Error(`outcome: ${settled.status} ${JSON.stringify(settled.body)}`);
  };
  return { one, settleMs, items: 0, seconds: 0, cpu: new Map() };
}

/** The minimal workflow: one no-op activity, started and awaited through the Temporal client. */
function noopSide(client: Client): Side {
  const one = async () => {
    await client.workflow.execute('noopWorkflow', { taskQueue: 'bench-noop', workflowId: `noop-${randomUUID()}` });
  };
  return { one, items: 0, seconds: 0, cpu: new Map() };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
