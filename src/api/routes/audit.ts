/** The ledger audit over HTTP: recomputes counters and balances from the journal and lists any mismatch. */
import { audit, getWallet } from '../../ledger';
import { defineRoute } from '../route';
import { AuditQuery, AuditResponse } from './audit.schemas';

export const auditRoute = defineRoute({
  method: 'get',
  path: '/v1/audit',
  summary: 'Audit the ledger (one wallet, or all): an empty violations list means consistent',
  tag: 'admin',
  access: ['admin'],
  query: AuditQuery,
  successStatus: 200,
  errorStatuses: [404],
  response: AuditResponse,
  async handler({ query, deps }) {
    // Auditing a wallet that does not exist would say "clean" about nothing; say 404 instead.
    if (query.walletId !== undefined) await getWallet(deps.pool, { walletId: query.walletId });
    return audit(deps.pool, { walletId: query.walletId });
  },
});
