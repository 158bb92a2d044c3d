/**
 * A generation's settlement as recorded and answered: what the ledger did to its hold, why, and the wallet's
 * totals right after. Built in one place for the settle activity and the hold sweeper.
 */
import type { Balance } from '../ledger';
import type { SettlementReason } from '../policy/settlement';
import type { OutputProblem } from '../policy/output-validation';
import type { Settlement } from '../workflows/generation-contract';
import type { GenerationRecordStatus } from './types';

export interface ResolvedHold {
  walletId: string;
  capturedCredits: number;
  releasedCredits: number;
}

export interface SettlementInput {
  generationId: string;
  hold: ResolvedHold;
  reason: SettlementReason;
  balanceAfter: Pick<Balance, 'availableCredits' | 'heldCredits'>;
  settledAt: Date;
  outputProblems: OutputProblem[];
}

export function settlementOf(input: SettlementInput): { settlement: Settlement; status: Exclude<GenerationRecordStatus, 'reserved' | 'rejected'> } {
  const { hold } = input;
  const settlement: Settlement = {
    generationId: input.generationId,
    walletId: hold.walletId,
    action: hold.capturedCredits > 0 ? 'capture' : 'release',
    reason: input.reason,
    capturedCredits: hold.capturedCredits,
    releasedCredits: hold.releasedCredits,
    availableCreditsAfter: input.balanceAfter.availableCredits,
    heldCreditsAfter: input.balanceAfter.heldCredits,
    settledAt: input.settledAt.toISOString(),
    outputProblems: input.outputProblems,
  };
  const status = hold.capturedCredits === 0 ? 'released' : hold.releasedCredits > 0 ? 'partially_captured' : 'captured';
  return { settlement, status };
}
