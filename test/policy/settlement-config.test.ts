import { ConfigError, loadConfig } from '../../src/config';
import { defaultSettlementPolicy } from '../../src/policy/settlement';

test('the settlement policy defaults to the architecture’s refund rules', () => {
  expect(loadConfig({}).policy.settlement).toEqual(defaultSettlementPolicy);
});

test('SETTLEMENT_REFUNDED_REASONS replaces the refunded reasons', () => {
  expect(loadConfig({ SETTLEMENT_REFUNDED_REASONS: 'system_error, safety_filter' }).policy.settlement.refundedReasons)
    .toEqual(['system_error', 'safety_filter']);
});

test('an unknown reason fails fast, naming the variable', () => {
  expect(() => loadConfig({ SETTLEMENT_REFUNDED_REASONS: 'system_error,bad_vibes' })).toThrow(ConfigError);
  expect(() => loadConfig({ SETTLEMENT_REFUNDED_REASONS: 'bad_vibes' })).toThrow(/SETTLEMENT_REFUNDED_REASONS/);
});
