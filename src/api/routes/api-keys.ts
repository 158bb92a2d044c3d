/** API keys: admin creates them; the secret is returned once and only its sha256 is stored. */
import { getWallet } from '../../ledger';
import { generateApiKey, hashApiKey } from '../auth/keys';
import { insertApiKey, revokeApiKey } from '../auth/store';
import { ApiError } from '../errors';
import { defineRoute } from '../route';
import { iso } from '../schemas/common';
import { ApiKeyIdParams, ApiKeyResponse, CreateApiKeyBody, RevokedApiKeyResponse } from './api-keys.schemas';

export const createApiKeyRoute = defineRoute({
  method: 'post',
  path: '/v1/api-keys',
  summary: 'Create an API key (the key is shown once)',
  tag: 'admin',
  access: ['admin'],
  body: CreateApiKeyBody,
  successStatus: 201,
  balanceHeaders: true,
  errorStatuses: [404],
  response: ApiKeyResponse,
  redactForReplay: (body) => ({ ...(body as object), key: null }),
  async handler({ body, deps, aboutWallet }) {
    const walletId = body.walletId === undefined ? null : (await getWallet(deps.pool, { walletId: body.walletId })).walletId;
    const key = generateApiKey();
    const { keyId, createdAt } = await insertApiKey(deps.pool, {
      keyHash: hashApiKey(key), role: body.role, walletId, label: body.label ?? null,
    });
    if (walletId) aboutWallet(walletId);
    return { id: keyId, key, role: body.role, walletId, label: body.label ?? null, createdAt: iso(createdAt) };
  },
});

export const revokeApiKeyRoute = defineRoute({
  method: 'delete',
  path: '/v1/api-keys/:id',
  summary: 'Revoke an API key (idempotent); it answers 401 from then on',
  tag: 'admin',
  access: ['admin'],
  params: ApiKeyIdParams,
  successStatus: 200,
  errorStatuses: [404],
  response: RevokedApiKeyResponse,
  async handler({ params, principal, deps }) {
    // Revoking the key in use would lock the caller out mid-request; make them use another admin key.
    if (params.id === principal!.keyId) throw new ApiError('Forbidden', 'an API key cannot revoke itself');
    const revoked = await revokeApiKey(deps.pool, params.id);
    if (!revoked) throw new ApiError('NotFound', 'API key not found');
    deps.keyCache?.forgetKeyId(revoked.keyId);
    return { id: revoked.keyId, revokedAt: iso(revoked.revokedAt) };
  },
});
