/**
 * `npm start` stopped by a signal, and started again. Ctrl-C from a terminal sends SIGINT to the whole process
 * group, the embedded Postgres included: the system exits 0 promptly (its orderly stop used to wait for a server
 * that had already exited, until the 30 s deadline, and exit 1), leaves the data folder unlocked, and starts
 * again on the same DATA_DIR with the data kept. SIGTERM to `npm start` itself (a supervisor, `timeout`) stops
 * every part (npm used to pass it only to the shell running the script, which died and left every part running).
 * The DATA_DIR is left 0700 as `mktemp -d` makes it: as root, the server runs as the `postgres` user and must
 * still reach its folder inside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ADMIN_KEY = 'e2e-admin-key-ctrl-c-0123456789';
const ROOT = path.resolve(__dirname, '..', '..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-e2e-restart-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone: every process of it stopped
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the system in a process group of its own (as a terminal runs it); resolves with the API's URL. */
function startSystem(command = [process.execPath, '--import', 'tsx', 'src/main.ts']): Promise<{ child: ChildProcess; api: string }> {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', TEMPORAL_LOCAL_PORT: '0', ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'warn', DATABASE_URL: '' },
  });
  children.push(child);
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /^ {2}api\s+(http:\/\/\S+)/m.exec(stderr);
      if (match) resolve({ child, api: match[1]! });
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before it was up:\n${stderr}`)));
  });
}

/** Sends the signal to the process (pid) or, as a terminal's Ctrl-C, to its whole group (-pid). */
async function stopBy(pid: number, child: ChildProcess, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
  const startedAt = Date.now();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.kill(pid, signal);
  return { code: await exited, ms: Date.now() - startedAt };
}
const pressCtrlC = (child: ChildProcess) => stopBy(-child.pid!, child, 'SIGINT');

async function call(url: string, method: 'GET' | 'POST', body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...(method === 'POST' ? { 'idempotency-key': `e2e-${Math.random()}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

test('Ctrl-C to the process group stops promptly with status 0; a restart on the same DATA_DIR keeps the data', async () => {
  const first = await startSystem();
  const wallet = await call(`${first.api}/v1/wallets`, 'POST', { ownerType: 'user', ownerId: 'e2e-restart-user' });
  expect(wallet.status).toBe(201);
  expect((await call(`${first.api}/v1/wallets/${wallet.body.id}/grants`, 'POST', { kind: 'purchased', amountCredits: 40 })).status).toBe(201);
  const firstStop = await pressCtrlC(first.child);
  expect(firstStop.code).toBe(0);
  expect(firstStop.ms).toBeLessThan(15_000);
  // Postgres removes its lock file on a clean shutdown only.
  expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

  const second = await startSystem();
  expect((await call(`${second.api}/v1/wallets/${wallet.body.id}/balance`, 'GET')).body).toMatchObject({ availableCredits: 40, heldCredits: 0 });
  expect((await call(`${second.api}/v1/audit`, 'GET')).body).toEqual({ ok: true, violations: [] });
  expect((await pressCtrlC(second.child)).code).toBe(0);
}, 120_000);

test('SIGTERM to `npm start` itself stops every part', async () => {
  const { child, api } = await startSystem(['npm', 'start']);
  const stopped = await stopBy(child.pid!, child, 'SIGTERM');
  expect(stopped.code).toBe(0);
  expect(stopped.ms).toBeLessThan(15_000);
  await expect(fetch(`${api}/healthz`)).rejects.toThrow();
  expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
}, 60_000);
