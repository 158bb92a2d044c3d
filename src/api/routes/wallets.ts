/** Wallets: create (admin; one per owner, so repeating it returns the same wallet) and read. */
import { createWallet, getWallet, type Wallet } from '../../ledger';
import { assertWalletVisible } from '../auth/authenticate';
import { ANY_ROLE } from '../auth/roles';
import { defineRoute } from '../route';
import { iso, WalletIdParams } from '../schemas/common';
import { CreateWalletBody, WalletResponse } from './wallets.schemas';

export function walletToResponse(wallet: Wallet) {
  return {
    id: wallet.walletId,
    ownerType: wallet.ownerType,
    ownerId: wallet.ownerId,
    status: wallet.status,
    createdAt: iso(wallet.createdAt),
  };
}

export const createWalletRoute = defineRoute({
  method: 'post',
  path: '/v1/wallets',
  summary: 'Create the wallet of a user or organization (200 with the existing one if it already exists)',
  tag: 'wallets',
  access: ['admin'],
  body: CreateWalletBody,
  successStatus: 201,
  alternativeSuccessStatus: 200,
  balanceHeaders: true,
  response: WalletResponse,
  async handler({ body, deps, aboutWallet, setStatus }) {
    const { wallet, created } = await createWallet(deps.pool, body);
    if (!created) setStatus(200);
    aboutWallet(wallet.walletId);
    return walletToResponse(wallet);
  },
});

export const getWalletRoute = defineRoute({
  method: 'get',
  path: '/v1/wallets/:id',
  summary: 'Read a wallet',
  tag: 'wallets',
  access: ANY_ROLE,
  params: WalletIdParams,
  successStatus: 200,
  balanceHeaders: true,
  errorStatuses: [404],
  response: WalletResponse,
  async handler({ params, principal, deps, aboutWallet }) {
    assertWalletVisible(principal!, params.id);
    const wallet = await getWallet(deps.pool, { walletId: params.id });
    aboutWallet(wallet.walletId);
    return walletToResponse(wallet);
  },
});
