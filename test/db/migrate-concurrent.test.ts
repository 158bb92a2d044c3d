/** Two processes starting at once both migrate an empty database: the second waits for the first's lock. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createEmptyDatabase } from '../support/db';

const ROOT = path.resolve(__dirname, '..', '..');

test('two concurrent migrate() calls on an empty database both succeed, the migrations applied once', async () => {
  const db = await createEmptyDatabase();
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/db/migrate-twice.script.ts', db.connectionString], { cwd: ROOT });
    const results = JSON.parse(stdout.trim().split('\n').pop()!) as Array<{ applied?: number; error?: string }>;
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    // One call applied every migration; the other, having waited for the lock, found nothing left to do.
    const applied = results.map((r) => r.applied!).sort((a, b) => a - b);
    expect(applied[0]).toBe(0);
    expect(applied[1]).toBeGreaterThan(0);
  } finally {
    await db.drop();
  }
}, 60_000);
