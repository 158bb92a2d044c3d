/**
 * The OpenAPI 3 document, generated from the same route specs and zod schemas that validate traffic, so the
 * documentation cannot drift from the behaviour.
 */
import { OpenAPIRegistry, OpenApiGeneratorV3, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERROR_STATUS } from './errors';
import type { RouteSpec } from './route';
import { ErrorResponse } from './schemas/common';

const toOpenApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const IdempotencyHeaders = z.object({
  'Idempotency-Key': z.string().min(1).max(128).meta({
    description: 'Required on every POST. Same key + same body replays the first response; a different body is 409.',
  }),
});

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (ValidationError names each field)', 401: 'Missing or invalid API key',
  402: 'Insufficient credits', 403: 'Role not allowed', 404: 'Not found', 409: 'Conflict',
  413: 'Body too large', 422: 'Refused by the ledger', 500: 'Internal error (masked)', 503: 'Unavailable',
};

function errorResponses(spec: RouteSpec): RouteConfig['responses'] {
  const statuses = new Set<number>([400, 500, ...(spec.errorStatuses ?? [])]);
  if (spec.access !== 'public') [401, 403].forEach((s) => statuses.add(s));
  if (spec.path.includes(':id')) statuses.add(404);
  if (spec.method === 'post') statuses.add(ERROR_STATUS.IdempotencyConflict);
  const responses: RouteConfig['responses'] = {};
  for (const status of [...statuses].sort()) {
    responses[status] = { description: STATUS_TEXT[status] ?? 'Error', content: { 'application/json': { schema: ErrorResponse } } };
  }
  return responses;
}

function register(registry: OpenAPIRegistry, spec: RouteSpec): void {
  const about = spec.path.startsWith('/v1/wallets/:id') ? ' Responses carry X-Credits-Balance and X-Credits-Held.' : '';
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
      body: spec.body ? { content: { 'application/json': { schema: spec.body } } } : undefined,
    },
    responses: {
      [spec.successStatus]: { description: 'Success', content: { 'application/json': { schema: spec.response } } },
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
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'Credits API', version: '1.0.0', description: 'Credit system of an AI image/video generation platform' },
  });
}
