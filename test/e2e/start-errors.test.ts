/**
 * Start-up failures name what to fix: a DATABASE_URL whose server accepts TCP but never answers fails after the
 * connect timeout (it used to hang), naming the variable and its address without the password; an unreachable
 * TEMPORAL_ADDRESS names that variable.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { findFreePort } from '../../src/db';
import { createEmptyDatabase } from '../support/db';

const ROOT = path.resolve(__dirname, '..', '..');

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', 'worker'], {
      cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, timeout: 40_000,
    }, (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
  });
}

test('a DATABASE_URL that never answers fails within the connect timeout, named, without its password', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => sockets.push(socket)); // accepts, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  try {
    const startedAt = Date.now();
    const { code, stderr } = await start({
      DATABASE_URL: `postgres://credits:hunter2-secret@127.0.0.1:${port}/credits`, TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(code).toBe(1);
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    expect(stderr).toContain(`cannot use the database at DATABASE_URL (postgres://credits@127.0.0.1:${port}/credits)`);
    expect(stderr).not.toContain('hunter2');
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
}, 45_000);

test('an unreachable TEMPORAL_ADDRESS is named', async () => {
  const db = await createEmptyDatabase();
  try {
    const port = await findFreePort();
    const { code, stderr } = await start({ DATABASE_URL: db.connectionString, TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot use Temporal at TEMPORAL_ADDRESS (127.0.0.1:${port})`);
  } finally {
    await db.drop();
  }
}, 45_000);
