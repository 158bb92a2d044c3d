/** A wallet's journal: every movement, newest first, keyset-paginated, with optional filters. */
import { getWallet, listJournal, type JournalEntry } from '../../ledger';
import { assertWalletVisible } from '../auth/authenticate';
import { defineRoute } from '../route';
import { iso, WalletIdParams } from '../schemas/common';
import { JournalQuery, JournalResponse } from './journal.schemas';

const entryToResponse = (e: JournalEntry) => ({
  entryId: e.entryId,
  operationId: e.operationId,
  kind: e.kind,
  amountCredits: e.amountCredits,
  lotId: e.lotId,
  holdId: e.holdId,
  deltas: e.deltas,
  generationId: e.generationId,
  refundRequestId: e.refundRequestId,
  purchaseId: e.purchaseId,
  subscriptionPeriodId: e.subscriptionPeriodId,
  actor: e.actor,
  reason: e.reason,
  createdAt: iso(e.createdAt),
});

export const journalRoute = defineRoute({
  method: 'get',
  path: '/v1/wallets/:id/journal',
  summary: 'List the journal of a wallet (newest first)',
  tag: 'wallets',
  access: ['admin', 'support', 'wallet'],
  params: WalletIdParams,
  query: JournalQuery,
  successStatus: 200,
  balanceHeaders: true,
  errorStatuses: [404],
  response: JournalResponse,
  async handler({ params, query, principal, deps, aboutWallet }) {
    assertWalletVisible(principal!, params.id);
    // An empty page must still distinguish "no entries" from "no such wallet".
    const wallet = await getWallet(deps.pool, { walletId: params.id });
    const page = await listJournal(deps.pool, {
      walletId: wallet.walletId,
      cursor: query.cursor,
      limit: query.limit,
      kind: query.kind,
      lotId: query.lotId,
      holdId: query.holdId,
      generationId: query.generationId,
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
    });
    aboutWallet(wallet.walletId);
    return { entries: page.entries.map(entryToResponse), nextCursor: page.nextCursor };
  },
});
