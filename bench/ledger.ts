/**
 * Ledger benchmark: reserve+capture pairs per second with 16 concurrent clients, (a) spread over 1,000
 * wallets and (b) all on one wallet, against the same number of single-statement guarded debits
 * (`UPDATE … SET available = available - n WHERE available >= n`) on the same server as the baseline.
 *
 *   npm run bench:ledger   (BENCH_PAIRS=4000 per case, BENCH_ROUNDS=4 interleaved rounds; DATABASE_URL for another server)
 *
 * The embedded server runs with its default, durable settings (fsync and synchronous_commit on): both the
 * ledger and the baseline pay one WAL flush per transaction. The last line is one JSON object.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { createPool, migrate, startDatabase } from '../src/db';
import { runConcurrently } from './concurrency';
import { addCpu, cpuBetween, cpuPerItem, cpuSnapshot, type CpuSnapshot } from './cpu-usage';
import { capture, createWallet, grantLot, reserve, audit } from '../src/ledger';

const CLIENTS = 16;
const WALLETS = 1000;
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 4000);
/** The machine may be shared: phases are interleaved over several rounds so that load drift hits both sides. */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const FAR_FUTURE = new Date(Date.now() + 365 * 86_400_000);

async function setup(pool: Pool, runId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < WALLETS; i++) {
    const { wallet } = await createWallet(pool, { ownerType: 'user', ownerId: `bench-${runId}-${i}` });
    await grantLot(pool, { walletId: wallet.walletId, kind: 'purchased', amountCredits: 1_000_000_000, idempotencyKey: `bench-${runId}-grant-${i}` });
    ids.push(wallet.walletId);
  }
  await pool.query('CREATE TABLE IF NOT EXISTS bench_balances (id int PRIMARY KEY, available bigint NOT NULL CHECK (available >= 0))');
  await pool.query('TRUNCATE bench_balances');
  await pool.query('INSERT INTO bench_balances SELECT g, 1000000000 FROM generate_series(0, $1::int - 1) g', [WALLETS]);
  await pool.query('VACUUM ANALYZE');
  return ids;
}

/** CPU spent per phase and process (this one, Postgres), summed over the rounds. */
const phaseCpu = new Map<string, CpuSnapshot>();

/** Runs `total` tasks on CLIENTS concurrent loops; returns the elapsed seconds. */
async function run(total: number, task: (i: number) => Promise<void>, phase?: string): Promise<number> {
  const before = cpuSnapshot(undefined);
  const seconds = await runConcurrently(total, CLIENTS, task);
  if (phase) {
    const spent = phaseCpu.get(phase) ?? new Map<string, number>();
    addCpu(spent, cpuBetween(before, cpuSnapshot(undefined)));
    phaseCpu.set(phase, spent);
  }
  return seconds;
}

async function pair(pool: Pool, walletId: string, k: string): Promise<void> {
  const h = await reserve(pool, { walletId, amountCredits: 3, idempotencyKey: `${k}:r`, holdExpiresAt: FAR_FUTURE });
  await capture(pool, { holdId: h.holdId, idempotencyKey: `${k}:c` });
}

async function debit(pool: Pool, id: number): Promise<void> {
  const r = await pool.query('UPDATE bench_balances SET available = available - $2::bigint WHERE id = $1::int AND available >= $2::bigint', [id, 3]);
  if (r.rowCount !== 1) throw new Error('baseline debit refused');
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-bench-'));
  fs.chmodSync(dataDir, 0o755);
  const db = await startDatabase({ dataDir, databaseUrl: process.env['DATABASE_URL'], port: 0, postgresFlags: ['-c', 'max_connections=100'] });
  const pool = createPool(db.connectionString, { max: CLIENTS });
  try {
    await migrate(db.connectionString);
    const runId = `${Date.now()}`;
    const wallets = await setup(pool, runId);
    const pick = (i: number) => (i * 7919) % WALLETS;
    // Warm-up (plans, caches) on both paths.
    await run(400, (i) => pair(pool, wallets[pick(i)] as string, `${runId}:w:${i}`));
    await run(400, (i) => debit(pool, pick(i)));
    const per = Math.ceil(PAIRS / ROUNDS);
    const secs = { pairsSpread: 0, baseSpread: 0, pairsHot: 0, baseHot: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const o = round * per;
      secs.pairsSpread += await run(per, (i) => pair(pool, wallets[pick(o + i)] as string, `${runId}:s:${o + i}`), 'pairs spread');
      secs.baseSpread += await run(per, (i) => debit(pool, pick(o + i)), 'debits spread');
      secs.pairsHot += await run(per, (i) => pair(pool, wallets[0] as string, `${runId}:h:${o + i}`), 'pairs hot');
      secs.baseHot += await run(per, () => debit(pool, 0), 'debits hot');
    }
    const total = per * ROUNDS;
    const pairsSpread = total / secs.pairsSpread;
    const baseSpread = total / secs.baseSpread;
    const pairsHot = total / secs.pairsHot;
    const baseHot = total / secs.baseHot;
    const a = await audit(pool);
    const conditions = {
      server: db.embedded ? 'embedded PostgreSQL (durable defaults)' : 'DATABASE_URL', clients: CLIENTS, wallets: WALLETS,
      pairsPerCase: per * ROUNDS, rounds: ROUNDS, cpus: os.cpus().length, loadavg1: Math.round(os.loadavg()[0] * 100) / 100,
      auditViolations: a.violations.length,
    };
    console.log(`conditions: ${JSON.stringify(conditions)}`);
    for (const [phase, spent] of phaseCpu) console.log(`CPU per item, ${phase}: ${cpuPerItem(spent, total, 'µs')}`);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    console.log(JSON.stringify({
      pairs_per_s_spread: r2(pairsSpread), baseline_per_s_spread: r2(baseSpread), ratio_spread: r2(pairsSpread / baseSpread),
      pairs_per_s_hot: r2(pairsHot), baseline_per_s_hot: r2(baseHot), ratio_hot: r2(pairsHot / baseHot),
    }));
  } finally {
    await pool.end();
    await db.stop();
    if (db.embedded) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
