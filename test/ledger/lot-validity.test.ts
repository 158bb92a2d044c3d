/** Pure lot-validity rules (src/policy/lot-validity.ts). */
import { addMonths, computeLotExpiry } from '../../src/policy/lot-validity';

const t = new Date('2026-01-31T12:00:00.000Z');
const days = (n: number) => new Date(t.getTime() + n * 86_400_000);

test('defaults per kind', () => {
  expect(computeLotExpiry({ kind: 'promotional', grantedAt: t })).toEqual(days(90));
  expect(computeLotExpiry({ kind: 'membership', grantedAt: t })).toEqual(days(30));
  expect(computeLotExpiry({ kind: 'purchased', grantedAt: t })).toEqual(days(365));
  expect(computeLotExpiry({ kind: 'refund', grantedAt: t })).toEqual(days(30));
  expect(computeLotExpiry({ kind: 'adjustment', grantedAt: t })).toEqual(days(30));
});

test('membership lasts until the period end; bulk N packages → N calendar months (clamped)', () => {
  const periodEnd = new Date('2026-02-28T00:00:00.000Z');
  expect(computeLotExpiry({ kind: 'membership', grantedAt: t, periodEnd })).toEqual(periodEnd);
  expect(() => computeLotExpiry({ kind: 'membership', grantedAt: t, periodEnd: t })).toThrow(RangeError);
  expect(computeLotExpiry({ kind: 'bulk', grantedAt: t, bulkPackages: 1 }).toISOString()).toBe('2026-02-28T12:00:00.000Z');
  expect(computeLotExpiry({ kind: 'bulk', grantedAt: t, bulkPackages: 12 }).toISOString()).toBe('2027-01-31T12:00:00.000Z');
  expect(addMonths(new Date('2028-01-31T00:00:00Z'), 1).toISOString()).toBe('2028-02-29T00:00:00.000Z');
  expect(() => computeLotExpiry({ kind: 'bulk', grantedAt: t, bulkPackages: 0 })).toThrow(RangeError);
});

test('validityDays overrides; configuration changes defaults', () => {
  expect(computeLotExpiry({ kind: 'purchased', grantedAt: t, validityDays: 14 })).toEqual(days(14));
  expect(() => computeLotExpiry({ kind: 'refund', grantedAt: t, validityDays: 1.5 })).toThrow(RangeError);
  const config = { promotionalDays: 7, membershipDefaultDays: 31, purchasedDays: 100, refundDays: 45, adjustmentDays: 1 };
  expect(computeLotExpiry({ kind: 'refund', grantedAt: t, config })).toEqual(days(45));
});
