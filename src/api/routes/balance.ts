/** A wallet's balance: available and held credits, open lots in consumption order, next expiry. */
import { getBalance, type Lot } from '../../ledger';
import { assertWalletVisible } from '../auth/authenticate';
import { ANY_ROLE } from '../auth/roles';
import { defineRoute } from '../route';
import { iso, isoOrNull, WalletIdParams } from '../schemas/common';
import { BalanceResponse } from './balance.schemas';

const lotToResponse = (lot: Lot) => ({
  lotId: lot.lotId,
  kind: lot.kind,
  status: lot.status,
  grantedAt: iso(lot.grantedAt),
  expiresAt: iso(lot.expiresAt),
  grantedCredits: lot.grantedCredits,
  availableCredits: lot.availableCredits,
  heldCredits: lot.heldCredits,
  consumedCredits: lot.consumedCredits,
  expiredCredits: lot.expiredCredits,
  revokedCredits: lot.revokedCredits,
});

export const balanceRoute = defineRoute({
  method: 'get',
  path: '/v1/wallets/:id/balance',
  summary: 'Read the balance of a wallet',
  tag: 'wallets',
  access: ANY_ROLE,
  params: WalletIdParams,
  successStatus: 200,
  balanceHeaders: true,
  errorStatuses: [404],
  response: BalanceResponse,
  async handler({ params, principal, deps, aboutWallet }) {
    assertWalletVisible(principal!, params.id);
    const balance = await getBalance(deps.pool, { walletId: params.id });
    aboutWallet(balance.walletId, balance);
    return {
      walletId: balance.walletId,
      walletStatus: balance.walletStatus,
      availableCredits: balance.availableCredits,
      heldCredits: balance.heldCredits,
      nextExpiryAt: isoOrNull(balance.nextExpiryAt),
      lots: balance.lots.map(lotToResponse),
    };
  },
});
