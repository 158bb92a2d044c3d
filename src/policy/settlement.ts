/**
 * Outcome → settlement policy (architecture §3; seeds: Caimera, Vysage, Photoroom).
 *
 * Technical failures are refunded; user-side errors and taste are not. The policy is data so that an operator
 * can change it by configuration, and so that a workflow can carry a snapshot of it in its history (a
 * configuration change must never alter how an in-flight generation replays).
 */

/** Why a generation failed, as the generation service reports it. */
export const failureReasons = [
  'system_error',
  'platform_error',
  'corrupted_output',
  'template_mismatch',
  'safety_filter',
] as const;
export type FailureReason = (typeof failureReasons)[number];

/**
 * Why a generation settled the way it did: a reported failure, a success, or something that happened to it
 * (`hold_expired`: the hold sweeper released its credits first — the workflow was terminated or lost).
 */
export const SETTLEMENT_REASONS = [...failureReasons, 'succeeded', 'deadline_exceeded', 'cancelled', 'hold_expired'] as const;
export type SettlementReason = (typeof SETTLEMENT_REASONS)[number];

/**
 * The reasons a policy may refund: a failure, a missed deadline, a cancellation. A success is always charged,
 * and `hold_expired` is a release already.
 */
export const REFUNDABLE_REASONS = [...failureReasons, 'deadline_exceeded', 'cancelled'] as const;
export type RefundableReason = (typeof REFUNDABLE_REASONS)[number];

export interface SettlementPolicy {
  /** Reasons whose credits go back to the user. Every other reason captures. */
  readonly refundedReasons: readonly RefundableReason[];
}

export const defaultSettlementPolicy: SettlementPolicy = Object.freeze({
  refundedReasons: Object.freeze([
    'system_error',
    'platform_error',
    'corrupted_output',
    'deadline_exceeded',
    'cancelled',
  ] as const),
});

export type SettlementAction = 'capture' | 'release';

export function settlementActionFor(reason: SettlementReason, policy: SettlementPolicy): SettlementAction {
  if (reason === 'succeeded') return 'capture';
  const refunded: readonly SettlementReason[] = policy.refundedReasons;
  return refunded.includes(reason) ? 'release' : 'capture';
}
