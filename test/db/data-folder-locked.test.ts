/** A second embedded server on a data folder in use fails with an error naming the folder and Postgres's own reason. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');

test('starting on a data folder another server holds names the folder and quotes Postgres', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-locked-'));
  fs.chmodSync(dataDir, 0o755); // as root, the embedded server runs as `postgres` and must reach it
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/db/start-twice.script.ts', dataDir], { cwd: ROOT });
    const { error } = JSON.parse(stdout.trim().split('\n').pop()!) as { error: string | null };
    expect(error).toContain(`the data folder ${path.join(dataDir, 'postgres')}`);
    expect(error).toMatch(/postmaster\.pid|lock file/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
