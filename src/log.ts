/**
 * Structured JSON logs (pino). One root logger per process; modules derive children with `{ module }`
 * so log lines can be filtered by origin without string parsing.
 */
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  level: LogLevel;
  name?: string;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      name: options.name ?? 'credits',
      level: options.level,
      // Secrets must never reach log storage, even when a whole request or key record is logged.
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'key', 'apiKey', '*.key'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination(1),
  );
}
