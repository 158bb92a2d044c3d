/** Wallets and organization membership: plain, small SQL (no money moves here). */
import type {
  AddOrganizationMemberInput, CanUseWalletInput, CloseWalletInput, CreateWalletInput, CreateWalletResult, Db,
  ListOrganizationMembersInput, OrganizationMember, RemoveOrganizationMemberInput, Wallet,
} from './types';
import { LedgerError } from './errors';
import { requireDate, requireText } from './sql-call';
import { unstorableTextReason } from '../db/text';
import { walletFromRow } from './mappers';

const WALLET_COLUMNS = 'id::text AS id, owner_type, owner_id, status, created_at, closed_at';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireUuid(id: unknown, field: string, notFound: 'WalletNotFound' | 'HoldNotFound' | 'LotNotFound'): string {
  const s = requireText(id, field);
  // Not a UUID → cannot exist; answer like any other unknown id instead of a SQL cast error.
  if (!UUID_RE.test(s)) throw new LedgerError(notFound, `${field} not found`, { [field]: s });
  return s;
}
export { requireUuid };

/** A string Postgres can store as text (see requireStorableText); anything else names no row. */
function storable(s: unknown): boolean {
  return typeof s !== 'string' || unstorableTextReason(s) === null;
}

/** One wallet per owner: concurrent or repeated calls return the same wallet. */
export async function createWallet(db: Db, input: CreateWalletInput): Promise<CreateWalletResult> {
  if (input.ownerType !== 'user' && input.ownerType !== 'organization') {
    throw new LedgerError('InvalidInput', 'ownerType must be user or organization', { field: 'ownerType' });
  }
  const ownerId = requireText(input.ownerId, 'ownerId');
  const inserted = await db.query(
    `INSERT INTO ledger_wallets (owner_type, owner_id) VALUES ($1::text, $2::text)
     ON CONFLICT (owner_type, owner_id) DO NOTHING RETURNING ${WALLET_COLUMNS}`,
    [input.ownerType, ownerId],
  );
  if (inserted.rows[0]) return { wallet: walletFromRow(inserted.rows[0]), created: true };
  const existing = await findWalletByOwner(db, { ownerType: input.ownerType, ownerId });
  if (!existing) throw new Error('ledger: wallet vanished after insert conflict');
  return { wallet: existing, created: false };
}

export async function findWalletByOwner(db: Db, input: CreateWalletInput): Promise<Wallet | null> {
  // An id Postgres cannot store owns nothing; sent anyway, a lone surrogate would arrive as U+FFFD and find
  // another owner's wallet.
  if (!storable(input.ownerId)) return null;
  const res = await db.query(
    `SELECT ${WALLET_COLUMNS} FROM ledger_wallets WHERE owner_type = $1::text AND owner_id = $2::text`,
    [input.ownerType, input.ownerId],
  );
  return res.rows[0] ? walletFromRow(res.rows[0]) : null;
}

export async function getWallet(db: Db, input: { walletId: string }): Promise<Wallet> {
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  const res = await db.query(`SELECT ${WALLET_COLUMNS} FROM ledger_wallets WHERE id = $1::uuid`, [walletId]);
  if (!res.rows[0]) throw new LedgerError('WalletNotFound', 'wallet not found', { walletId });
  return walletFromRow(res.rows[0]);
}

/**
 * Closing stops new grants and reservations; pending holds may still be settled and lots still expired,
 * so an account deletion can wind everything down. Closing twice is a no-op.
 */
export async function closeWallet(db: Db, input: CloseWalletInput): Promise<Wallet> {
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  const now = input.now === undefined ? new Date() : requireDate(input.now, 'now');
  const res = await db.query(
    `UPDATE ledger_wallets SET status = 'closed', closed_at = COALESCE(closed_at, $2::timestamptz)
     WHERE id = $1::uuid RETURNING ${WALLET_COLUMNS}`,
    [walletId, now],
  );
  if (!res.rows[0]) throw new LedgerError('WalletNotFound', 'wallet not found', { walletId });
  return walletFromRow(res.rows[0]);
}

export async function addOrganizationMember(db: Db, input: AddOrganizationMemberInput): Promise<OrganizationMember> {
  const organizationId = requireText(input.organizationId, 'organizationId');
  const userId = requireText(input.userId, 'userId');
  const res = await db.query<{ organization_id: string; user_id: string; role: string; added_at: Date }>(
    `INSERT INTO ledger_organization_members (organization_id, user_id, role) VALUES ($1::text, $2::text, $3::text)
     ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role
     RETURNING organization_id, user_id, role, added_at`,
    [organizationId, userId, input.role ?? 'member'],
  );
  const r = res.rows[0];
  if (!r) throw new Error('ledger: member upsert returned no row');
  return { organizationId: r.organization_id, userId: r.user_id, role: r.role, addedAt: r.added_at };
}

export async function removeOrganizationMember(db: Db, input: RemoveOrganizationMemberInput): Promise<{ removed: boolean }> {
  if (!storable(input.organizationId) || !storable(input.userId)) return { removed: false };
  const res = await db.query(
    `DELETE FROM ledger_organization_members WHERE organization_id = $1::text AND user_id = $2::text`,
    [input.organizationId, input.userId],
  );
  return { removed: (res.rowCount ?? 0) > 0 };
}

export async function listOrganizationMembers(db: Db, input: ListOrganizationMembersInput): Promise<OrganizationMember[]> {
  if (!storable(input.organizationId)) return [];
  const res = await db.query<{ organization_id: string; user_id: string; role: string; added_at: Date }>(
    `SELECT organization_id, user_id, role, added_at FROM ledger_organization_members
     WHERE organization_id = $1::text ORDER BY added_at, user_id`,
    [input.organizationId],
  );
  return res.rows.map((r) => ({ organizationId: r.organization_id, userId: r.user_id, role: r.role, addedAt: r.added_at }));
}

/** A user may use a wallet they own, or one owned by an organization they are a member of. */
export async function canUseWallet(db: Db, input: CanUseWalletInput): Promise<boolean> {
  if (!UUID_RE.test(input.walletId) || !storable(input.userId)) return false;
  const res = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM ledger_wallets w
       WHERE w.id = $1::uuid AND (
         (w.owner_type = 'user' AND w.owner_id = $2::text) OR
         (w.owner_type = 'organization' AND EXISTS (
            SELECT 1 FROM ledger_organization_members m WHERE m.organization_id = w.owner_id AND m.user_id = $2::text)))
     ) AS ok`,
    [input.walletId, input.userId],
  );
  return res.rows[0]?.ok === true;
}
