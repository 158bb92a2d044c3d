/** API keys: admin creates them; the secret is returned once and only its sha256 is stored. */
import { getWallet } from '../../ledger';
import { generateApiKey, hashApiKey } from '../auth/keys';
import { insertApiKey } from '../auth/store';
import { defineRoute } from '../route';
import { iso } from '../schemas/common';
import { ApiKeyResponse, CreateApiKeyBody } from './api-keys.schemas';

export const createApiKeyRoute = defineRoute({
  method: 'post',
  path: '/v1/api-keys',
  summary: 'Create an API key (the key is shown once)',
  tag: 'admin',
  access: ['admin'],
  body: CreateApiKeyBody,
  successStatus: 201,
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
