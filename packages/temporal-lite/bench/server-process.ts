/**
 * Runs the temporal-lite server alone in this process so that the benchmark can read its RSS and CPU time
 * apart from the SDK's. Prints one JSON line `{"port": N}` once it listens; stops on SIGTERM or SIGINT
 * with a clean exit, so that `--cpu-prof` can write its profile.
 */
import { startServer } from '../src/index';

async function main(): Promise<void> {
  const server = await startServer({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  const stop = (): void => {
    Promise.resolve(server.stop()).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('server stop failed', err);
        process.exit(1);
      },
    );
  };
  // The benchmark asks for memory figures with SIGUSR2; a full GC first (--expose-gc) leaves only live data.
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const { heapUsed, external } = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ heapUsed, external })}\n`);
  });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
