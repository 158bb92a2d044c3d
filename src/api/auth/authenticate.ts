/** Bearer-key authentication and role checks. Unknown and revoked keys are indistinguishable (401). */
import type { Pool } from 'pg';
import { ApiError, walletNotFound } from '../errors';
import type { ApiKeyCache } from './key-cache';
import { hashApiKey } from './keys';
import { findActiveKeyByHash } from './store';
import type { Access, Principal } from './roles';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export async function authenticate(pool: Pool, authorizationHeader: string | undefined, cache?: ApiKeyCache): Promise<Principal> {
  const match = authorizationHeader ? BEARER.exec(authorizationHeader) : null;
  if (!match) throw new ApiError('Unauthorized', 'missing or malformed Authorization: Bearer <key> header');
  const keyHash = hashApiKey(match[1]!);
  const remembered = cache?.get(keyHash);
  if (remembered) return remembered;
  const ticket = cache?.lookupTicket() ?? 0;
  const principal = await findActiveKeyByHash(pool, keyHash);
  if (!principal) throw new ApiError('Unauthorized', 'invalid API key');
  cache?.remember(keyHash, principal, ticket);
  return principal;
}

export function authorize(principal: Principal, access: Access): void {
  if (access === 'public') return;
  if (!access.includes(principal.role)) {
    throw new ApiError('Forbidden', `role ${principal.role} may not call this route`, { requiredRoles: [...access] });
  }
}

/**
 * A wallet key sees only its own wallet; any other id answers exactly like a missing wallet (same 404 body),
 * so the key cannot learn which wallets exist.
 */
export function assertWalletVisible(principal: Principal, walletId: string): void {
  if (principal.role === 'wallet' && principal.walletId !== walletId) throw walletNotFound();
}
