/** Granting credits (a new lot) to a wallet: staff-only; purchases and subscriptions arrive via workflows. */
import { grantLot } from '../../ledger';
import { defineRoute } from '../route';
import { iso, WalletIdParams } from '../schemas/common';
import { GrantBody, GrantResponse } from './grants.schemas';

const optionalDate = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

export const grantRoute = defineRoute({
  method: 'post',
  path: '/v1/wallets/:id/grants',
  summary: 'Grant credits to a wallet as a new lot',
  tag: 'wallets',
  access: ['admin'],
  params: WalletIdParams,
  body: GrantBody,
  successStatus: 201,
  balanceHeaders: true,
  errorStatuses: [404],
  response: GrantResponse,
  async handler({ params, body, principal, deps, ledgerIdempotencyKey, aboutWallet }) {
    // Declared first so a refused grant still tells the client the balance it was refused against.
    aboutWallet(params.id);
    // Refund lots made by hand get the same validity as automatic ones unless told otherwise.
    const defaultValidityDays =
      body.kind === 'refund' && body.expiresAt === undefined ? deps.config.policy.refundLotValidityDays : undefined;
    const { lot, operationId } = await grantLot(deps.pool, {
      idempotencyKey: ledgerIdempotencyKey!,
      walletId: params.id,
      kind: body.kind,
      amountCredits: body.amountCredits,
      expiresAt: optionalDate(body.expiresAt),
      validityDays: body.validityDays ?? defaultValidityDays,
      bulkPackages: body.bulkPackages,
      periodEnd: optionalDate(body.periodEnd),
      reason: body.reason,
      purchaseId: body.purchaseId,
      promoId: body.promoId,
      subscriptionPeriodId: body.subscriptionPeriodId,
      actor: `api-key:${principal!.keyId}`,
    });
    return {
      lotId: lot.lotId,
      walletId: lot.walletId,
      kind: lot.kind,
      amountCredits: lot.grantedCredits,
      grantedAt: iso(lot.grantedAt),
      expiresAt: iso(lot.expiresAt),
      operationId,
    };
  },
});
