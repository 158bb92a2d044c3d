/**
 * The API's single error vocabulary: ONE code → HTTP status map (house style §7.7) covering our own codes,
 * the ledger's and the price book's. Adding a ledger code without mapping it here fails the type check.
 * Every error leaves as `{ error: { code, message, details } }`; 500s never carry internals.
 */
import { ZodError } from 'zod';
import type { Logger } from 'pino';
import { LedgerError, type LedgerErrorCode } from '../ledger/errors';
import { PricingError, type PricingErrorCode } from '../pricing';
import { GenerationError, type GenerationErrorCode } from '../generations/errors';

type ApiOnlyCode =
  | 'ValidationError'
  | 'MalformedRequest'
  | 'UnsupportedMediaType'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'IdempotencyKeyMissing'
  | 'IdempotencyInProgress'
  | 'PayloadTooLarge'
  | 'InternalError'
  | 'ServiceUnavailable';

export type ErrorCode = ApiOnlyCode | LedgerErrorCode | PricingErrorCode | GenerationErrorCode;

export const ERROR_STATUS = {
  ValidationError: 400,
  MalformedRequest: 400,
  IdempotencyKeyMissing: 400,
  InvalidAmount: 400,
  InvalidInput: 400,
  UnknownFeature: 400,
  InvalidParams: 400,
  InvalidGenerationRequest: 400,
  InvalidOutcome: 400,
  Unauthorized: 401,
  InsufficientCredits: 402,
  Forbidden: 403,
  NotFound: 404,
  WalletNotFound: 404,
  LotNotFound: 404,
  HoldNotFound: 404,
  GenerationNotFound: 404,
  IdempotencyConflict: 409,
  IdempotencyInProgress: 409,
  WalletClosed: 409,
  HoldAlreadyResolved: 409,
  HoldNotExpired: 409,
  GenerationConflict: 409,
  OutcomeConflict: 409,
  AlreadySettled: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  RefundExceedsCaptured: 422,
  InternalError: 500,
  ServiceUnavailable: 503,
} as const satisfies Record<ErrorCode, number>;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export type ErrorDetails = Record<string, unknown>;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: ErrorDetails };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
}

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** One error for every invisible or missing wallet, so a wallet key cannot probe which ids exist. */
export function walletNotFound(): ApiError {
  return new ApiError('WalletNotFound', 'wallet not found');
}

export interface FieldIssue {
  path: string;
  reason: string;
}

/** A 400 naming each offending field; `prefix` says where it was (body, query, params, header). */
export function validationError(error: ZodError, prefix?: string): ApiError {
  const issues: FieldIssue[] = error.issues.flatMap((issue) => {
    const base = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
    // Unknown keys are reported on the parent; name each key so the client knows what to remove.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...base, key].join('.'), reason: 'unknown field' }));
    }
    return [{ path: base.join('.') || '(root)', reason: issue.message }];
  });
  // One entry per field: several checks failing on one value read better as one reason list.
  const byPath = new Map<string, string[]>();
  for (const { path, reason } of issues) byPath.set(path, [...(byPath.get(path) ?? []), reason]);
  const fields = [...byPath].map(([path, reasons]) => ({ path, reason: [...new Set(reasons)].join('; ') }));
  return new ApiError('ValidationError', `invalid request: ${fields.map((f) => f.path).join(', ')}`, { fields });
}

function make(code: ErrorCode, message: string, details: ErrorDetails = {}): ErrorResponse {
  return { status: ERROR_STATUS[code], body: { error: { code, message, details } } };
}

/** What Express's router and body-parser throw (http-errors): a status, and for body-parser a `type`. */
interface HttpClientError {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
}

/**
 * A request Express or the body parser could not read (bad percent-encoding in the path, a charset or
 * Content-Encoding we do not take, a body that does not decompress): the client's error, answered with a
 * fixed message — the library's own text may name internals (zlib, the raw path).
 */
function clientErrorResponse(error: unknown): ErrorResponse | null {
  if (typeof error !== 'object' || error === null) return null;
  const { type, status, statusCode } = error as HttpClientError;
  if (type === 'entity.parse.failed') return make('ValidationError', 'request body is not valid JSON');
  if (type === 'charset.unsupported') return make('UnsupportedMediaType', 'unsupported charset: send JSON in UTF-8');
  if (type === 'encoding.unsupported') {
    return make('UnsupportedMediaType', 'unsupported Content-Encoding: use identity, gzip, deflate or br');
  }
  // http-errors (and the router, on a path it cannot decode) set both; an error of ours never has them.
  if (typeof status !== 'number' || status !== statusCode || status < 400 || status >= 500) return null;
  if (status === 413) return make('PayloadTooLarge', 'request body is too large');
  if (status === 415) return make('UnsupportedMediaType', 'unsupported media type');
  if (error instanceof URIError) return make('MalformedRequest', 'the request path is not valid percent-encoded UTF-8');
  return make('MalformedRequest', 'the request could not be read (e.g. a body that does not match its Content-Encoding)');
}

/** Converts anything thrown into the wire shape; unknown errors are logged in full and masked. */
export function toErrorResponse(error: unknown, logger: Logger): ErrorResponse {
  if (error instanceof ApiError) return make(error.code, error.message, error.details);
  if (error instanceof LedgerError) {
    // The ledger names the id it could not find; the API must not (see walletNotFound).
    if (error.code === 'WalletNotFound') return make('WalletNotFound', walletNotFound().message);
    return make(error.code, error.message, error.details);
  }
  if (error instanceof GenerationError) {
    if (error.code === 'WalletNotFound') return make('WalletNotFound', walletNotFound().message);
    return make(error.code, error.message, error.details);
  }
  if (error instanceof PricingError) {
    return make(error.code, error.message, { fields: error.details.map((d) => ({ path: d.field, reason: d.reason })) });
  }
  if (error instanceof ZodError) {
    const validation = validationError(error);
    return make('ValidationError', validation.message, validation.details);
  }
  const clientError = clientErrorResponse(error);
  if (clientError) {
    logger.debug({ err: error }, 'unreadable request');
    return clientError;
  }
  logger.error({ err: error }, 'internal error');
  return make('InternalError', 'internal error');
}
