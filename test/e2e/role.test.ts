/** `--role api|worker` runs one part against shared services, so it is refused without them. */
import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function start(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: '', TEMPORAL_ADDRESS: '', LOG_LEVEL: 'silent' }, timeout: 30_000,
    }, (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
  });
}

test.each([[['--role', 'api']], [['--role=worker']]])('%j without DATABASE_URL and TEMPORAL_ADDRESS is refused, naming both', async (args) => {
  const { code, stderr } = await start(args);
  expect(code).toBe(1);
  expect(stderr).toMatch(/--role (api|worker) runs one part against shared services: set DATABASE_URL and TEMPORAL_ADDRESS/);
});

test('an unknown role is refused, also written --role=…', async () => {
  const { code, stderr } = await start(['--role=everything']);
  expect(code).toBe(1);
  expect(stderr).toContain('--role must be all, api or worker (got everything)');
});
