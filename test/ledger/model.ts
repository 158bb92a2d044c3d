/**
 * A small in-memory model of the ledger's rules, used by the property test to predict every outcome
 * (result or refusal code) and every lot counter the real, Postgres-backed ledger must produce.
 */
export type Kind = 'promotional' | 'membership' | 'purchased' | 'bulk' | 'refund' | 'adjustment';
const RANK: Record<Kind, number> = { promotional: 0, membership: 1, purchased: 2, bulk: 2, refund: 3, adjustment: 3 };
export const DAY = 86_400_000;

export interface MLot {
  id: string; kind: Kind; grantedAt: number; expiresAt: number; status: 'active' | 'expired' | 'revoked';
  available: number; held: number; consumed: number; expired: number; revoked: number;
}
export interface MAlloc { lotId: string; amount: number; captured: number; released: number; refunded: number }
export interface MHold { id: string; state: 'pending' | 'captured' | 'released' | 'expired'; amount: number; expiresAt: number; allocs: MAlloc[]; captured: number; released: number; refunded: number }

export class Model {
  lots: MLot[] = [];
  holds: MHold[] = [];
  /** A closed wallet refuses grants, reservations, refunds and adjustments; its holds still settle. */
  closed = false;
  constructor(public now: number) {}

  lot(id: string): MLot {
    const l = this.lots.find((x) => x.id === id);
    if (!l) throw new Error(`model: unknown lot ${id}`);
    return l;
  }

  usable(l: MLot): boolean {
    return l.status === 'active' && l.expiresAt > this.now;
  }

  /** Consumption order: expiry, kind rank, grant time, id (uuid order = lowercase hex order). */
  ordered(): MLot[] {
    return this.lots.filter((l) => this.usable(l) && l.available > 0).sort((a, b) =>
      a.expiresAt - b.expiresAt || RANK[a.kind] - RANK[b.kind] || a.grantedAt - b.grantedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  spendable(): number {
    return this.ordered().reduce((s, l) => s + l.available, 0);
  }

  addLot(id: string, kind: Kind, amount: number, expiresAt: number): void {
    this.lots.push({ id, kind, grantedAt: this.now, expiresAt, status: 'active', available: amount, held: 0, consumed: 0, expired: 0, revoked: 0 });
  }

  /** Takes credits in consumption order; returns allocations. Caller checks spendable() first. */
  take(amount: number, to: 'held' | 'revoked'): Array<{ lotId: string; amount: number }> {
    const out: Array<{ lotId: string; amount: number }> = [];
    let left = amount;
    for (const l of this.ordered()) {
      if (left === 0) break;
      const x = Math.min(l.available, left);
      l.available -= x;
      l[to] += x;
      left -= x;
      out.push({ lotId: l.id, amount: x });
    }
    return out;
  }

  /**
   * Settles a pending hold; returns the credits that must come back as a new refund lot: those released into
   * an expired (or past-expiry) lot, unless the wallet is closed (then they stay expired). Released into a
   * revoked lot they stay revoked.
   */
  settle(h: MHold, captureAmount: number, state: MHold['state']): number {
    let left = captureAmount;
    let toRefundLot = 0;
    for (const a of h.allocs) {
      const c = Math.min(a.amount, left);
      const r = a.amount - c;
      left -= c;
      a.captured = c;
      a.released = r;
      const l = this.lot(a.lotId);
      l.held -= a.amount;
      l.consumed += c;
      if (r > 0) {
        if (this.usable(l)) l.available += r;
        else if (l.status === 'revoked') l.revoked += r;
        else {
          l.expired += r;
          if (!this.closed) toRefundLot += r;
        }
      }
    }
    h.state = state;
    h.captured = captureAmount;
    h.released = h.amount - captureAmount;
    return toRefundLot;
  }

  /** Captured credits not yet refunded, except those of revoked lots (never refundable). */
  refundable(h: MHold): number {
    return h.allocs.filter((a) => this.lot(a.lotId).status !== 'revoked').reduce((s, a) => s + a.captured - a.refunded, 0);
  }

  /** Refund distribution: newest allocation first, skipping revoked lots; returns credits for a new refund lot. */
  refund(h: MHold, amount: number): number {
    let left = amount;
    let toRefundLot = 0;
    for (const a of [...h.allocs].reverse()) {
      if (left === 0) break;
      if (this.lot(a.lotId).status === 'revoked') continue;
      const x = Math.min(a.captured - a.refunded, left);
      if (x <= 0) continue;
      a.refunded += x;
      left -= x;
      const l = this.lot(a.lotId);
      if (this.usable(l)) { l.consumed -= x; l.available += x; } else toRefundLot += x;
    }
    h.refunded += amount;
    return toRefundLot;
  }
}
