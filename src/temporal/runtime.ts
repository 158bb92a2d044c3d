/**
 * Installs the Temporal SDK runtime once per process: its logs (worker, activities, workflows' `log`, the
 * Rust core) go to our pino logger as JSON lines instead of the SDK's own console format, and it installs no
 * signal handlers, because src/main.ts stops every part itself in order.
 */
import type { LogLevel as TemporalLogLevel, LogMetadata } from '@temporalio/common';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Logger } from '../log';

const pinoLevel: Record<TemporalLogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
};

export function installTemporalRuntime(logger: Logger): void {
  const log = logger.child({ module: 'temporal' });
  // The bundler and worker lifecycle talk at INFO; keep that out of an `info` log unless asked for.
  const at = (level: TemporalLogLevel) => (message: string, meta?: LogMetadata) => {
    const target = level === 'INFO' ? 'debug' : pinoLevel[level];
    log[target](meta ?? {}, message);
  };
  Runtime.install({
    shutdownSignals: [],
    logger: {
      log: (level, message, meta) => at(level)(message, meta),
      trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR'),
    },
    telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
}
