/**
 * Configuration, parsed once from the environment into a typed, frozen object (house style §7.10).
 * Bad values fail fast at start-up with every offending variable named, instead of surfacing later as a
 * confusing runtime error deep inside a request or a workflow.
 */
import { z } from 'zod';
import { defaultSettlementPolicy, REFUNDABLE_REASONS, type SettlementPolicy } from './policy/settlement';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Empty strings count as "unset": `FOO= npm start` should mean the default, not an invalid value. */
const unsetIfEmpty = (value: unknown): unknown => (value === '' ? undefined : value);

const optionalText = z.preprocess(unsetIfEmpty, z.string().min(1).optional());
const textWithDefault = (fallback: string) => z.preprocess(unsetIfEmpty, z.string().min(1).default(fallback));
// Digits only, not z.coerce.number(): Number(' ') is 0 (PORT=' ' silently meant "any free port"), and Number
// also reads '0x50' and '1e3'.
const intWithDefault = (fallback: number, min: number, max: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.string().trim().regex(/^\d+$/, 'must be a whole number (decimal digits)').transform(Number)
      .pipe(z.number().int().min(min).max(max)).default(fallback),
  );

const EnvSchema = z.object({
  PORT: intWithDefault(3000, 0, 65_535),
  DATA_DIR: textWithDefault('./.data'),
  DATABASE_URL: z.preprocess(
    unsetIfEmpty,
    z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  ),
  // A short admin key would be guessable; 24 characters is the floor for a seeded secret.
  ADMIN_API_KEY: z.preprocess(unsetIfEmpty, z.string().min(24, 'must be at least 24 characters').optional()),
  LOG_LEVEL: z.preprocess(unsetIfEmpty, z.enum(LOG_LEVELS).default('info')),
  TEMPORAL_ADDRESS: optionalText,
  TEMPORAL_NAMESPACE: textWithDefault('default'),
  TEMPORAL_TASK_QUEUE: textWithDefault('credits'),
  TEMPORAL_LOCAL_PORT: intWithDefault(7233, 0, 65_535),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: intWithDefault(100, 2, 10_000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: intWithDefault(100, 1, 10_000),
  WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: intWithDefault(100, 1, 10_000),
  REFUND_LOT_VALIDITY_DAYS: intWithDefault(30, 1, 3650),
  HOLD_EXPIRY_GRACE_MINUTES: intWithDefault(60, 1, 7 * 24 * 60),
  HOLD_SWEEP_INTERVAL_SECONDS: intWithDefault(60, 1, 24 * 3600),
  OUTCOME_DEADLINE_MAX_FACTOR: intWithDefault(3, 1, 100),
  // Which settlement reasons give the credits back (architecture §3); everything else is captured.
  // Only reasons a refund can follow (REFUNDABLE_REASONS, policy/settlement.ts).
  SETTLEMENT_REFUNDED_REASONS: z.preprocess(
    (v) => (typeof v === 'string' && v !== '' ? v.split(',').map((r) => r.trim()).filter(Boolean) : undefined),
    z.array(z.enum(REFUNDABLE_REASONS, { error: `each must be one of ${REFUNDABLE_REASONS.join(', ')}` }))
      .min(1, `must name at least one of ${REFUNDABLE_REASONS.join(', ')}`)
      .default(() => [...defaultSettlementPolicy.refundedReasons]),
  ),
  BAD_RESULT_REPORT_WINDOW_HOURS: intWithDefault(72, 1, 24 * 365),
  IDEMPOTENCY_RETENTION_HOURS: intWithDefault(24, 1, 24 * 365),
  API_KEY_CACHE_SECONDS: intWithDefault(10, 0, 3600),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly port: number;
  readonly dataDir: string;
  /** Undefined means: run the embedded Postgres under `${dataDir}/postgres`. */
  readonly databaseUrl: string | undefined;
  readonly adminApiKey: string | undefined;
  readonly logLevel: LogLevel;
  readonly temporal: {
    /** Undefined means: start a local server (dev server or the project's own). */
    readonly address: string | undefined;
    readonly namespace: string;
    readonly taskQueue: string;
    /** Port of the local server started when no address is given (0 = any free port). */
    readonly localPort: number;
  };
  /** Slots of the worker: how many tasks of each kind it runs at once. */
  readonly worker: {
    readonly maxConcurrentWorkflowTasks: number;
    readonly maxConcurrentActivities: number;
    readonly maxConcurrentLocalActivities: number;
  };
  readonly policy: {
    /** Credits refunded into an already-expired lot come back as a new refund lot valid this long. */
    readonly refundLotValidityDays: number;
    /** A hold lives until its generation's latest possible deadline plus this grace; then the sweeper expires it. */
    readonly holdExpiryGraceMinutes: number;
    /** How often the hold sweeper releases expired holds. */
    readonly holdSweepIntervalSeconds: number;
    /** Progress reports may extend a generation's outcome deadline to at most this multiple of the feature's. */
    readonly outcomeDeadlineMaxFactor: number;
    /** Outcome → settlement: the reasons refunded; every other outcome is captured. */
    readonly settlement: SettlementPolicy;
    /** Reserved: the window for bad-result reports (architecture §3), a feature not built yet; nothing reads it. */
    readonly badResultReportWindowHours: number;
  };
  readonly api: {
    /** HTTP idempotency records older than this may be purged; replays after it execute anew. */
    readonly idempotencyRetentionHours: number;
    /** How long a verified API key is trusted without a database read (0: never). */
    readonly keyCacheSeconds: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}

/** Parses and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  return deepFreeze({
    port: e.PORT,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    adminApiKey: e.ADMIN_API_KEY,
    logLevel: e.LOG_LEVEL,
    temporal: {
      address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE, localPort: e.TEMPORAL_LOCAL_PORT,
    },
    worker: {
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentLocalActivities: e.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES,
    },
    policy: {
      refundLotValidityDays: e.REFUND_LOT_VALIDITY_DAYS,
      holdExpiryGraceMinutes: e.HOLD_EXPIRY_GRACE_MINUTES,
      holdSweepIntervalSeconds: e.HOLD_SWEEP_INTERVAL_SECONDS,
      outcomeDeadlineMaxFactor: e.OUTCOME_DEADLINE_MAX_FACTOR,
      settlement: { refundedReasons: e.SETTLEMENT_REFUNDED_REASONS },
      badResultReportWindowHours: e.BAD_RESULT_REPORT_WINDOW_HOURS,
    },
    api: { idempotencyRetentionHours: e.IDEMPOTENCY_RETENTION_HOURS, keyCacheSeconds: e.API_KEY_CACHE_SECONDS },
  });
}

let processConfig: Config | undefined;

/** The process-wide config, parsed on first use from process.env and never again. */
export function getConfig(): Config {
  processConfig ??= loadConfig(process.env);
  return processConfig;
}
