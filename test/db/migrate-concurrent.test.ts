/** Two processes starting at once both migrate an empty database: the second waits for the first's lock. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
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
    const migrations = fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
    expect(migrations.length).toBeGreaterThan(0);
    expect(results.map((r) => r.applied).sort((a, b) => a! - b!)).toEqual([0, migrations.length]);
  } finally {
    await db.drop();
  }
}, 60_000);
