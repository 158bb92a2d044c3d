/**
 * `npm start`'s entry point as an operator runs it: a child process with only environment variables, which
 * brings up the embedded Postgres, a local Temporal server, the worker and the API, serves a generation end to
 * end over HTTP, and stops cleanly on Ctrl-C (SIGINT): a request in flight when the signal arrives is answered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef';
const ROOT = path.resolve(__dirname, '..', '..');

let child: ChildProcess | undefined;
let dataDir: string;
let stdout = '';

afterAll(() => {
  child?.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Resolves with the API's URL once the process prints where each part is. */
function startSystem(): Promise<string> {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-e2e-'));
  fs.chmodSync(dataDir, 0o755); // as root, the embedded server runs as `postgres` and must reach it
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', TEMPORAL_LOCAL_PORT: '0', ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    // stdout is the JSON log lines only; the summary for people goes to stderr.
    child!.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child!.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /^ {2}api\s+(http:\/\/\S+)/m.exec(output);
      if (match) resolve(match[1]!);
    });
    child!.on('exit', (code) => reject(new Error(`exited with ${code} before it was up:\n${output}`)));
  });
}

async function call(url: string, method: 'GET' | 'POST', body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...(method === 'POST' ? { 'idempotency-key': `e2e-${Math.random()}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

test('npm start runs every part, serves a generation end to end, and stops on Ctrl-C', async () => {
  const api = await startSystem();
  expect((await call(`${api}/healthz`, 'GET')).body).toMatchObject({ status: 'ok' });
  const wallet = await call(`${api}/v1/wallets`, 'POST', { ownerType: 'user', ownerId: 'e2e-user' });
  expect(wallet.status).toBe(201);
  await call(`${api}/v1/wallets/${wallet.body.id}/grants`, 'POST', { kind: 'purchased', amountCredits: 50 });
  const started = await call(`${api}/v1/generations`, 'POST', {
    generationId: 'e2e-gen-1', walletId: wallet.body.id, userId: 'e2e-user', feature: 'image', params: { resolution: '2K' }, platform: 'web',
  });
  expect(started).toMatchObject({ status: 201, body: { status: 'reserved', costCredits: 20 } });
  const settled = await call(`${api}/v1/generations/e2e-gen-1/outcome`, 'POST', { status: 'failed', reason: 'platform_error' });
  expect(settled).toMatchObject({ status: 200, body: { releasedCredits: 20, availableCreditsAfter: 50 } });
  expect((await call(`${api}/v1/audit`, 'GET')).body).toMatchObject({ violations: [] });

  // A request the server is reading when Ctrl-C arrives: its headers are in, the rest of its body follows.
  const body = JSON.stringify({ generationId: 'e2e-gen-2', walletId: wallet.body.id, userId: 'e2e-user', feature: 'image', params: { resolution: '1K' }, platform: 'web' });
  const inFlight = startSlowRequest(`${api}/v1/generations`, body);
  await sleep(300);
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  child!.kill('SIGINT');
  await sleep(300);
  inFlight.finish();
  expect(await inFlight.response).toMatchObject({ status: 201, body: { status: 'reserved', costCredits: 10 } });
  expect(await exited).toBe(0);
  const lines = stdout.split('\n').filter(Boolean);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
}, 120_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A POST whose headers and first body byte are sent now, the rest when finish() is called. */
function startSlowRequest(url: string, body: string) {
  let finish!: () => void;
  const response = new Promise<{ status: number | undefined; body: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'idempotency-key': 'e2e-in-flight',
      },
    }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 1));
    finish = () => req.end(body.slice(1));
  });
  return { response, finish: () => finish() };
}
