/**
 * `npm start`: the whole system on embedded defaults — Postgres (embedded unless DATABASE_URL), Temporal
 * (TEMPORAL_ADDRESS; else the official dev server where the SDK can obtain it; else the project's own
 * server), the worker and the API. Prints where each part is and stops them all cleanly on Ctrl-C.
 *
 * `--role api` or `--role worker` (also `--role=api`) runs one part only, against the shared Postgres and
 * Temporal named by DATABASE_URL and TEMPORAL_ADDRESS (the docker-compose stack runs them as two services).
 */
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startApi } from './api/server';
import { loadConfig, type Config } from './config';
import { createPool, describeDatabaseUrl, migrate, startDatabase } from './db';
import { createLogger, type Logger } from './log';
import { defaultPriceBook } from './pricing';
import { startHoldSweeper } from './temporal/hold-sweeper';
import { startLocalTemporal } from './temporal/local-server';
import { installTemporalRuntime } from './temporal/runtime';
import { registerSearchAttributes } from './temporal/search-attributes';
import { createWorker } from './worker';

type Role = 'all' | 'api' | 'worker';
type Stop = () => Promise<void>;

/** `--role api`, `--role=api` (likewise worker, all); no flag: all. */
function roleFromArgs(argv: string[]): Role {
  let role = 'all';
  argv.forEach((arg, i) => {
    if (arg === '--role') role = argv[i + 1] ?? '';
    else if (arg.startsWith('--role=')) role = arg.slice('--role='.length);
  });
  if (role !== 'all' && role !== 'api' && role !== 'worker') throw new Error(`--role must be all, api or worker (got ${role || 'nothing'})`);
  return role;
}

/**
 * One part alone only makes sense beside the other parts on shared services: without DATABASE_URL and
 * TEMPORAL_ADDRESS each process would start its own private Postgres and Temporal, which the other never sees.
 */
function checkRole(role: Role, config: Config): void {
  if (role === 'all') return;
  const missing = [config.databaseUrl ? '' : 'DATABASE_URL', config.temporal.address ? '' : 'TEMPORAL_ADDRESS'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`--role ${role} runs one part against shared services: set ${missing.join(' and ')} (or omit --role to run every part here)`);
  }
}

/** Runs a start-up step; its failure names the variable and address behind it (when one was given). */
async function startStep<T>(what: string | null, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (what === null) throw err;
    throw new Error(`cannot use ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

async function startTemporal(config: Config, logger: Logger, stops: Stop[]): Promise<{ address: string; kind: string }> {
  if (config.temporal.address) return { address: config.temporal.address, kind: 'TEMPORAL_ADDRESS' };
  const local = await startLocalTemporal({
    namespace: config.temporal.namespace,
    port: config.temporal.localPort,
    onFallback: (reason) => logger.info({ reason }, 'official Temporal dev server unavailable; using temporal-lite'),
  });
  stops.push(local.stop);
  return local;
}

async function run(stops: Stop[]): Promise<void> {
  const role = roleFromArgs(process.argv.slice(2));
  const config = loadConfig();
  checkRole(role, config);
  const logger = createLogger({ level: config.logLevel });
  installTemporalRuntime(logger);
  const db = await startDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  stops.push(db.stop);
  await startStep(db.embedded ? null : `the database at DATABASE_URL (${describeDatabaseUrl(db.connectionString)})`, () => migrate(db.connectionString));
  const pool = createPool(db.connectionString);
  stops.push(() => pool.end());

  const temporal = await startTemporal(config, logger, stops);
  const temporalName = temporal.kind === 'TEMPORAL_ADDRESS' ? `Temporal at TEMPORAL_ADDRESS (${temporal.address})` : null;
  const connection = await startStep(temporalName, () => Connection.connect({ address: temporal.address }));
  stops.push(() => connection.close());
  const { namespace, taskQueue } = config.temporal;
  const client = new Client({ connection, namespace });
  const where: Record<string, string> = {
    postgres: db.embedded ? `embedded on port ${db.port} (data in ${config.dataDir}/postgres)` : 'DATABASE_URL',
    temporal: `${temporal.address} (${temporal.kind}), namespace ${namespace}, task queue ${taskQueue}`,
  };

  if (role !== 'api') {
    await startStep(temporalName, () => registerSearchAttributes(connection, namespace));
    const nativeConnection = await startStep(temporalName, () => NativeConnection.connect({ address: temporal.address }));
    const { policy } = config;
    const worker = await createWorker({
      connection: nativeConnection, namespace, taskQueue, pool, priceBook: defaultPriceBook,
      settlementPolicy: policy.settlement, maxDeadlineFactor: policy.outcomeDeadlineMaxFactor,
      holdExpiryGraceMs: policy.holdExpiryGraceMinutes * 60_000, refundLotValidityDays: policy.refundLotValidityDays,
      maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: config.worker.maxConcurrentLocalActivities,
    });
    const running = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await running;
      await nativeConnection.close();
    });
    await startHoldSweeper(client, { taskQueue, intervalSeconds: policy.holdSweepIntervalSeconds });
    where.worker = `polling ${taskQueue}; hold sweeper every ${policy.holdSweepIntervalSeconds}s`;
  }
  if (role !== 'worker') {
    const api = await startApi({ config, pool, logger, generations: { client, taskQueue }, priceBook: defaultPriceBook });
    stops.push(api.close);
    where.api = `${api.url} (OpenAPI at ${api.url}/openapi.json)`;
  }
  logger.info(where, 'credits platform running; Ctrl-C stops it');
  // For people, on stderr: stdout carries only the JSON log lines.
  for (const [part, location] of Object.entries(where)) process.stderr.write(`  ${part.padEnd(9)} ${location}\n`);
}

/** Stops the parts in reverse start order; a part that fails to stop does not keep the others running. */
async function stopAll(stops: Stop[]): Promise<void> {
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (err) {
      process.stderr.write(`while stopping: ${String(err)}\n`);
    }
  }
}

/**
 * Longest an orderly stop may take (the API drains its requests, the worker its tasks: shutdownGraceTime is
 * 10 s) before the process gives up and exits non-zero — e.g. when Postgres already died (a terminal's Ctrl-C
 * reaches the whole process group) and the worker's local activities would retry for ever.
 */
const SHUTDOWN_DEADLINE_MS = 30_000;
const SIGNAL_EXIT_CODES: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

function main(): void {
  const stops: Stop[] = [];
  let stopping = false;
  const shutdown = (exitCode: number) => {
    stopping = true;
    process.stderr.write('stopping… (a second Ctrl-C stops at once)\n');
    setTimeout(() => {
      process.stderr.write(`could not stop in order within ${SHUTDOWN_DEADLINE_MS / 1000}s; exiting\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    void stopAll(stops).then(() => process.exit(exitCode));
  };
  for (const signal of Object.keys(SIGNAL_EXIT_CODES)) {
    process.on(signal, () => {
      if (!stopping) return shutdown(0);
      process.stderr.write(`${signal} again: exiting without stopping in order\n`);
      process.exit(SIGNAL_EXIT_CODES[signal]);
    });
  }
  run(stops).catch((err: unknown) => {
    process.stderr.write(`failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    if (!stopping) shutdown(1);
  });
}

main();
