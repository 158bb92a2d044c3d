/**
 * The OpenAPI 3 document, generated from the same route specs and zod schemas that validate traffic, so the
 * documentation cannot drift from the behaviour.
 */
import { OpenAPIRegistry, OpenApiGeneratorV3, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERROR_STATUS } from './errors';
import type { RouteSpec } from './route';
import { ErrorResponse, IdempotencyKey } from './schemas/common';

const toOpenApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const IdempotencyHeaders = z.object({
  'Idempotency-Key': IdempotencyKey.meta({
    description: 'Required on every POST. Same key + same body replays the first response; a different body is 409.',
  }),
});

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (ValidationError names each field)', 401: 'Missing or invalid API key',
  402: 'Insufficient credits', 403: 'Role not allowed', 404: 'Not found', 409: 'Conflict',
  413: 'Body too large', 422: 'Refused by the ledger',
  415: 'Body not sent as Content-Type: application/json, or an unsupported charset or Content-Encoding',
  500: 'Internal error (masked)', 503: 'Unavailable',
};

// OpenAPI header objects (the library also takes a zod object there).
type Headers = Exclude<NonNullable<ResponseConfig['headers']>, { shape: unknown }>;

const BALANCE_HEADERS: Headers = {
  'X-Credits-Balance': {
    description: 'Available credits of the wallet this response is about, as of the response',
    schema: { type: 'integer', minimum: 0 },
  },
  'X-Credits-Held': {
    description: 'Credits held by open reservations of that wallet, as of the response',
    schema: { type: 'integer', minimum: 0 },
  },
};

const REPLAYED_HEADER: Headers = {
  'Idempotent-Replayed': {
    description: 'Present (`true`) when this is the recorded first response to this Idempotency-Key, replayed',
    schema: { type: 'string', enum: ['true'] },
  },
};

/**
 * Which headers a response may carry. Balance headers: a success or a business refusal about a wallet (not a
 * refusal before the handler — 401, 403 — nor a missing wallet or generation, 404). Replays: whatever the
 * idempotency record keeps — successes and refusals made by the handler.
 */
function responseHeaders(spec: RouteSpec, status: number): Headers | undefined {
  const handled = status < 300 || [400, 402, 404, 409, 422].includes(status);
  const headers: Headers = {};
  if (spec.balanceHeaders && handled && status !== 404) Object.assign(headers, BALANCE_HEADERS);
  if (spec.method === 'post' && handled) Object.assign(headers, REPLAYED_HEADER);
  return Object.keys(headers).length > 0 ? headers : undefined;
}

/**
 * The error statuses a route can answer, and no others: 400 only if it takes some input (a POST at least its
 * Idempotency-Key); 413 and 415 where a body is read (mount.ts); 404 only where the route says so (an
 * organization, for one, is just an id and never missing).
 */
function errorResponses(spec: RouteSpec): RouteConfig['responses'] {
  const statuses = new Set<number>([500, ...(spec.errorStatuses ?? [])]);
  const readsBody = spec.body !== undefined || spec.method === 'post';
  if (readsBody || spec.params || spec.query) statuses.add(ERROR_STATUS.ValidationError);
  if (spec.access !== 'public') [401, 403].forEach((s) => statuses.add(s));
  if (readsBody) [ERROR_STATUS.PayloadTooLarge, ERROR_STATUS.UnsupportedMediaType].forEach((s) => statuses.add(s));
  if (spec.method === 'post') statuses.add(ERROR_STATUS.IdempotencyConflict);
  const responses: RouteConfig['responses'] = {};
  for (const status of [...statuses].sort()) {
    responses[status] = {
      description: STATUS_TEXT[status] ?? 'Error',
      headers: responseHeaders(spec, status),
      content: { 'application/json': { schema: ErrorResponse } },
    };
  }
  return responses;
}

function register(registry: OpenAPIRegistry, spec: RouteSpec): void {
  const about = spec.balanceHeaders ? ' Responses about a wallet carry X-Credits-Balance and X-Credits-Held.' : '';
  const success = (status: number): ResponseConfig => ({
    description: status === spec.successStatus ? 'Success' : 'Success: it already existed',
    headers: responseHeaders(spec, status),
    content: { 'application/json': { schema: spec.response } },
  });
  registry.registerPath({
    method: spec.method,
    path: toOpenApiPath(spec.path),
    summary: spec.summary,
    description: `Roles: ${spec.access === 'public' ? 'public' : spec.access.join(', ')}.${about}`,
    tags: [spec.tag],
    security: spec.access === 'public' ? [] : [{ bearerAuth: [] }],
    request: {
      params: spec.params as z.ZodObject | undefined,
      query: spec.query as z.ZodObject | undefined,
      headers: spec.method === 'post' ? IdempotencyHeaders : undefined,
      // A request without a body is read as {} (request-input.ts): the body is required exactly when the
      // schema refuses {}, i.e. when some field is required (OpenAPI's default is optional).
      body: spec.body
        ? { required: !spec.body.safeParse({}).success, content: { 'application/json': { schema: spec.body } } }
        : undefined,
    },
    responses: {
      [spec.successStatus]: success(spec.successStatus),
      ...(spec.alternativeSuccessStatus ? { [spec.alternativeSuccessStatus]: success(spec.alternativeSuccessStatus) } : {}),
      ...errorResponses(spec),
    },
  });
}

export function buildOpenApiDocument(routes: readonly RouteSpec[]): ReturnType<OpenApiGeneratorV3['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer <key>',
  });
  for (const spec of routes) register(registry, spec);
  // Served by app.ts, not a RouteSpec: listed too, so the document names every route there is.
  registry.registerPath({
    method: 'get', path: '/openapi.json', summary: 'This OpenAPI document', tags: ['operations'], security: [],
    description: 'Roles: public.',
    responses: { 200: { description: 'The OpenAPI 3.0 document', content: { 'application/json': { schema: { type: 'object' } } } } },
  });
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'Credits API', version: '1.0.0', description: 'Credit system of an AI image/video generation platform' },
  });
}
