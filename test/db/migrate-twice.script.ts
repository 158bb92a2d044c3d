/**
 * Run by migrate-concurrent.test.ts in its own Node process (node-pg-migrate is ESM-only, which jest's module
 * loader cannot import): two migrate() calls at once on the database named by argv[2]; prints each one's result.
 */
import { migrate } from '../../src/db/migrate';

async function main(): Promise<void> {
  const url = process.argv[2]!;
  const results = await Promise.allSettled([migrate(url), migrate(url)]);
  const summary = results.map((r) => (r.status === 'fulfilled' ? { applied: r.value.length } : { error: String(r.reason) }));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

void main();
