/**
 * Lot validity rules (architecture §3, seeded from kvidAI's credits policy). Pure: no clock, no I/O.
 * promotional 90 days; membership until the billing period's end (default 30 days); purchased 365 days;
 * bulk N packages → N calendar months; refund 30 days; adjustment 30 days (all overridable).
 */
export type ValidityLotKind = 'promotional' | 'membership' | 'purchased' | 'bulk' | 'refund' | 'adjustment';

export interface LotValidityConfig {
  promotionalDays: number;
  membershipDefaultDays: number;
  purchasedDays: number;
  refundDays: number;
  adjustmentDays: number;
}

export const DEFAULT_LOT_VALIDITY: Readonly<LotValidityConfig> = Object.freeze({
  promotionalDays: 90,
  membershipDefaultDays: 30,
  purchasedDays: 365,
  refundDays: 30,
  adjustmentDays: 30,
});

export interface LotExpiryInput {
  kind: ValidityLotKind;
  grantedAt: Date;
  /** membership: the end of the billing period (the next billing date). */
  periodEnd?: Date;
  /** bulk: packages bought at once. */
  bulkPackages?: number;
  /** Overrides the kind's default length, in days. */
  validityDays?: number;
  config?: LotValidityConfig;
}

const DAY_MS = 86_400_000;

export function addDays(at: Date, days: number): Date {
  return new Date(at.getTime() + days * DAY_MS);
}

/** Calendar months in UTC, clamped to the month's last day (Jan 31 + 1 month → Feb 28/29). */
export function addMonths(at: Date, months: number): Date {
  const d = new Date(at.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d;
}

export function computeLotExpiry(input: LotExpiryInput): Date {
  const cfg = input.config ?? DEFAULT_LOT_VALIDITY;
  const { kind, grantedAt } = input;
  if (input.validityDays !== undefined) {
    assertPositiveInt(input.validityDays, 'validityDays');
    return addDays(grantedAt, input.validityDays);
  }
  switch (kind) {
    case 'promotional':
      return addDays(grantedAt, cfg.promotionalDays);
    case 'membership':
      if (input.periodEnd !== undefined) {
        if (input.periodEnd.getTime() <= grantedAt.getTime()) throw new RangeError('periodEnd must be after grantedAt');
        return input.periodEnd;
      }
      return addDays(grantedAt, cfg.membershipDefaultDays);
    case 'purchased':
      return addDays(grantedAt, cfg.purchasedDays);
    case 'bulk': {
      const packages = input.bulkPackages ?? 1;
      assertPositiveInt(packages, 'bulkPackages');
      return addMonths(grantedAt, packages);
    }
    case 'refund':
      return addDays(grantedAt, cfg.refundDays);
    case 'adjustment':
      return addDays(grantedAt, cfg.adjustmentDays);
  }
}

function assertPositiveInt(n: number, field: string): void {
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`${field} must be a positive integer`);
}
