/**
 * Command line entry. Accepts the two argument forms the Temporal SDK uses for an
 * `existing-path` executable:
 *   dev server:     server start-dev --port P --namespace N --ip H [--search-attribute k=Type]... (time skipping off)
 *   test server:    <port> [extra...]                                                          (time skipping on)
 * Unknown flags are ignored. The process runs until killed.
 */
import { startServer } from './server';
import type { SearchAttributeType } from './visibility';

const VALUE_FLAGS = new Set(['--port', '--namespace', '-n', '--ip', '--log-format', '--log-level', '--dynamic-config-value', '--db-filename', '--ui-port', '--search-attribute', '--ui-ip', '--config', '--env', '--http-port', '--metrics-port']);
const TYPES: Record<string, SearchAttributeType> = {
  keyword: 'Keyword', text: 'Text', int: 'Int', double: 'Double', bool: 'Bool', datetime: 'Datetime', keywordlist: 'KeywordList',
};

export function parseArgs(argv: string[]): { port: number; host: string; namespace: string; timeSkipping: boolean; searchAttributes: Record<string, SearchAttributeType>; extraNamespaces: string[] } {
  const out = { port: 7233, host: '127.0.0.1', namespace: 'default', timeSkipping: false, searchAttributes: {} as Record<string, SearchAttributeType>, extraNamespaces: [] as string[] };
  if (argv[0] === 'server' || argv[0] === 'start-dev') {
    const args = argv[0] === 'server' ? argv.slice(2) : argv.slice(1);
    let first = true;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const [flag, inline] = a.includes('=') && a.startsWith('--') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const value = (): string => inline ?? args[++i] ?? '';
      switch (flag) {
        case '--port': case '-p': out.port = Number(value()); break;
        case '--ip': out.host = value(); break;
        case '--namespace': case '-n': {
          const n = value();
          if (first) out.namespace = n; else out.extraNamespaces.push(n);
          first = false;
          break;
        }
        case '--search-attribute': {
          const [k, t] = value().split('=');
          const type = TYPES[(t ?? '').toLowerCase()];
          if (k && type) out.searchAttributes[k] = type;
          else console.error(`temporal-lite: ignoring bad --search-attribute ${k}=${t}`);
          break;
        }
        default:
          if (VALUE_FLAGS.has(flag) && inline === undefined) i++;
      }
    }
    return out;
  }
  out.port = Number(argv[0] ?? 7233);
  out.timeSkipping = true;
  return out;
}

export async function main(o: { launchedBy?: number } = {}): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!Number.isInteger(opts.port) || opts.port < 0) throw new Error(`invalid port ${opts.port}`);
  const server = await startServer(opts);
  console.error(`temporal-lite listening on ${server.address} (time skipping ${opts.timeSkipping ? 'on' : 'off'}, ready in ${Math.round(process.uptime() * 1000)} ms)`);
  const stop = (): void => {
    void server.stop().then(() => process.exit(0));
  };
  // A bug in one request must not take the whole server (and every test using it) down.
  process.on('uncaughtException', (e) => console.error('temporal-lite: uncaught exception', e));
  process.on('unhandledRejection', (e) => console.error('temporal-lite: unhandled rejection', e));
  // Launched by a test process (SDK `existing-path`): if it dies without killing us, exit too
  // rather than linger as an orphan holding a port.
  // (TEMPORAL_LITE_DETACHED=1 disables this, e.g. for `nohup temporal-lite … &`.)
  const parent = o.launchedBy ?? process.ppid;
  if (!process.env.TEMPORAL_LITE_DETACHED) {
    setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 1000).unref();
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

