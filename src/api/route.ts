/**
 * A route is one declarative object: access, request schemas, response schema and a handler returning plain
 * data. The mounting code (mount.ts) does authentication, idempotency, validation of request AND response,
 * wallet balance headers and error mapping, so each route file holds only its business step.
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Access, Principal } from './auth/roles';
import type { AppDeps } from './deps';
import type { WalletTotals } from './wallet-headers';

type Schema = z.ZodType;
type Output<S> = S extends Schema ? z.output<S> : undefined;

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Null only on public routes. */
  principal: Principal | null;
  deps: AppDeps;
  logger: Logger;
  /** For POSTs: derived from principal + Idempotency-Key, handed to ledger mutations. Null on GETs. */
  ledgerIdempotencyKey: string | null;
  /** Declares the response to be about this wallet, so it carries X-Credits-Balance / X-Credits-Held. */
  aboutWallet(walletId: string, knownTotals?: WalletTotals): void;
  /** Overrides successStatus, e.g. 200 instead of 201 when a create found the thing already there. */
  setStatus(status: 200 | 201): void;
}

export interface RouteSpec<
  PS extends Schema | undefined = Schema | undefined,
  QS extends Schema | undefined = Schema | undefined,
  BS extends Schema | undefined = Schema | undefined,
  RS extends Schema = Schema,
> {
  method: 'get' | 'post' | 'delete';
  /** Express syntax (`/v1/wallets/:id`); converted to `{id}` for OpenAPI. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: PS;
  query?: QS;
  body?: BS;
  successStatus: 200 | 201;
  /** The other success status the handler may set (200 when a create found it already there), for OpenAPI. */
  alternativeSuccessStatus?: 200 | 201;
  /** Responses are about one wallet (the handler calls aboutWallet): documents the balance headers. */
  balanceHeaders?: boolean;
  response: RS;
  /** Extra error statuses worth documenting besides the common ones. */
  errorStatuses?: readonly number[];
  /**
   * What the idempotency record keeps of a successful body. Secrets shown once (new API keys) must not be
   * stored in plaintext, so their replay carries the redacted form.
   */
  redactForReplay?(body: unknown): unknown;
  handler(ctx: RouteContext<Output<PS>, Output<QS>, Output<BS>>): Promise<z.input<RS>>;
}

/** Identity at runtime; exists so TypeScript infers the handler's types from the schemas. */
export function defineRoute<
  PS extends Schema | undefined = undefined,
  QS extends Schema | undefined = undefined,
  BS extends Schema | undefined = undefined,
  RS extends Schema = Schema,
>(spec: RouteSpec<PS, QS, BS, RS>): RouteSpec {
  return spec as unknown as RouteSpec;
}
