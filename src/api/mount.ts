/**
 * Turns a RouteSpec into an Express handler: authenticate → authorize → read the JSON body → edge checks of
 * the input → validate request → (POST) idempotency → handler → validate response → wallet headers → send.
 * Every failure becomes the one error shape.
 */
import type { Request, Response, Router } from 'express';
import type { z } from 'zod';
import type { Logger } from 'pino';
import { authenticate, authorize } from './auth/authenticate';
import type { Principal } from './auth/roles';
import type { AppDeps } from './deps';
import { ApiError, toErrorResponse, validationError } from './errors';
import { DEFAULT_IDEMPOTENCY_OPTIONS, ledgerKeyFor, runIdempotent } from './idempotency/run';
import type { StoredResponse } from './idempotency/store';
import { checkRequestInput, rawBodyOf, readJsonBody } from './request-input';
import type { RouteContext, RouteSpec } from './route';
import { IdempotencyKey } from './schemas/common';
import { currentWalletHeaders, walletHeaders, type WalletTotals } from './wallet-headers';

function parsePart(schema: z.ZodType | undefined, value: unknown, prefix: string): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, prefix || undefined);
  return parsed.data;
}

function requireIdempotencyKey(req: Request): string {
  const raw = req.header('idempotency-key');
  if (raw === undefined || raw === '') {
    throw new ApiError('IdempotencyKeyMissing', 'the Idempotency-Key header is required on every POST', {
      fields: [{ path: 'header.Idempotency-Key', reason: 'required' }],
    });
  }
  const parsed = IdempotencyKey.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'header.Idempotency-Key');
  return parsed.data;
}

/** The request's parts as its schemas parsed them. */
interface ParsedInput {
  params: unknown;
  query: unknown;
  body: unknown;
}

interface Execution {
  spec: RouteSpec;
  deps: AppDeps;
  /** Parsed before idempotency: the record names the route by the parameters. */
  input: ParsedInput;
  principal: Principal | null;
  ledgerIdempotencyKey: string | null;
  logger: Logger;
}

/** Runs the handler and checks its response; never throws: errors become error responses (with wallet headers if known). */
async function execute(x: Execution): Promise<StoredResponse> {
  let walletId: string | null = null;
  let knownTotals: WalletTotals | null = null;
  let successStatus: number = x.spec.successStatus;
  let response: StoredResponse;
  try {
    const ctx: RouteContext<unknown, unknown, unknown> = {
      ...x.input,
      principal: x.principal,
      deps: x.deps,
      logger: x.logger,
      ledgerIdempotencyKey: x.ledgerIdempotencyKey,
      aboutWallet(id: string, totals?: WalletTotals) {
        walletId = id;
        knownTotals = totals ?? null;
      },
      setStatus(status) {
        successStatus = status;
      },
    };
    const result = await x.spec.handler(ctx as never);
    const checked = x.spec.response.safeParse(result);
    if (!checked.success) {
      // A handler returned something off-contract: a bug on our side, never the client's.
      x.logger.error({ issues: checked.error.issues, route: x.spec.path }, 'response failed its schema');
      throw new Error(`response of ${x.spec.method.toUpperCase()} ${x.spec.path} failed its schema`);
    }
    response = { status: successStatus, body: checked.data, headers: {} };
  } catch (error) {
    const mapped = toErrorResponse(error, x.logger);
    response = { status: mapped.status, body: mapped.body, headers: {} };
  }
  if (walletId !== null && response.status < 500) {
    response.headers = knownTotals ? walletHeaders(knownTotals) : await currentWalletHeaders(x.deps.pool, walletId);
  }
  return response;
}

async function handle(spec: RouteSpec, deps: AppDeps, req: Request, res: Response): Promise<StoredResponse> {
  const logger = deps.logger.child({ route: `${spec.method.toUpperCase()} ${spec.path}` });
  try {
    const principal = spec.access === 'public' ? null : await authenticate(deps.pool, req.header('authorization'), deps.keyCache);
    // For the request log line: who called (never the key itself).
    if (principal) res.locals['principal'] = { keyId: principal.keyId, role: principal.role };
    if (principal) authorize(principal, spec.access);
    // Only now, and only where a route reads one: a caller without the right gets 401/403, never an answer
    // about a body it had no right to send; and a GET's body is never read.
    const readsBody = spec.body !== undefined || spec.method === 'post';
    if (readsBody) await readJsonBody(req, res);
    // Before any schema, hash or handler: strings Postgres cannot store and too-deep bodies are a 400 here.
    checkRequestInput({
      params: spec.params ? req.params : undefined,
      query: spec.query ? req.query : undefined,
      body: readsBody ? req.body : undefined,
      rawBody: readsBody ? rawBodyOf(req) : undefined,
    });
    const params = parsePart(spec.params, req.params, 'path');
    const idempotencyKey = spec.method === 'post' && principal ? requireIdempotencyKey(req) : null;
    // Validated before the Idempotency-Key is claimed: a request its schemas refuse leaves nothing behind (like
    // one refused at the edge), so the client's corrected request under the same key runs instead of being a
    // 409 conflict with the refusal. Refusing it again needs no record: the same input gets the same 400.
    const input: ParsedInput = {
      params, query: parsePart(spec.query, req.query, 'query'), body: parsePart(spec.body, req.body, ''),
    };
    if (idempotencyKey === null || !principal) {
      return await execute({ spec, deps, input, principal, ledgerIdempotencyKey: null, logger });
    }
    const scope = { principalId: principal.keyId, idempotencyKey };
    const outcome = await runIdempotent(
      deps.pool,
      { scope, route: idempotencyRoute(spec, params), body: req.body, logger },
      () => execute({ spec, deps, input, principal, ledgerIdempotencyKey: ledgerKeyFor(scope), logger }),
      { ...DEFAULT_IDEMPOTENCY_OPTIONS, ...deps.idempotency },
      spec.redactForReplay ? redactWith(spec.redactForReplay) : undefined,
    );
    return outcome.replayed ? { ...outcome, headers: { ...outcome.headers, 'Idempotent-Replayed': 'true' } } : outcome;
  } catch (error) {
    const mapped = toErrorResponse(error, logger);
    return { status: mapped.status, body: mapped.body, headers: {} };
  }
}

/**
 * The route an Idempotency-Key is bound to: the path template filled with the parsed (normalized) parameters,
 * so the same request written another way (`/V1/…`, a trailing slash, an id in capitals) replays. Each value
 * is URI-encoded, so two routes never share a name — and the name is the path a client usually writes.
 */
function idempotencyRoute(spec: RouteSpec, params: unknown): string {
  const values = (params ?? {}) as Record<string, unknown>;
  return `POST ${spec.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => encodeURIComponent(String(values[name])))}`;
}

function redactWith(redact: (body: unknown) => unknown) {
  return (response: StoredResponse): StoredResponse =>
    response.status < 300 ? { ...response, body: redact(response.body) } : response;
}

function send(res: Response, response: StoredResponse): void {
  res.status(response.status).set(response.headers).json(response.body);
}

export function mountRoute(router: Router, spec: RouteSpec, deps: AppDeps): void {
  router[spec.method](spec.path, async (req: Request, res: Response) => {
    send(res, await handle(spec, deps, req, res));
  });
}
