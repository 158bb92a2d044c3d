/**
 * Routes for generation services: start a generation (credits are held before the answer), report its
 * outcome, its progress, cancel it; and reads for services, support and the wallet's own key.
 */
import { z } from 'zod';
import type { GenerationRecord } from '../../generations/types';
import type { Settlement } from '../../workflows/generation-contract';
import { GenerationError } from '../../generations/errors';
import { cancelGeneration, reportOutcome, reportProgress, startGeneration, type GenerationServiceDeps } from '../../generations/service';
import { getGeneration, listWalletGenerations } from '../../generations/store';
import { getWallet } from '../../ledger';
import { quote } from '../../pricing';
import { assertWalletVisible } from '../auth/authenticate';
import { ANY_ROLE, type Principal, type Role } from '../auth/roles';
import type { AppDeps } from '../deps';
import { ApiError } from '../errors';
import { defineRoute } from '../route';
import type { WalletTotals } from '../wallet-headers';
import { iso, isoOrNull, WalletIdParams } from '../schemas/common';
import {
  CancelBody, GenerationIdParams, GenerationPageResponse, GenerationResponse, OutcomeBody, ProgressBody,
  ProgressResponse, SettlementResponse, StartGenerationBody, WalletGenerationsQuery,
} from './generations.schemas';

const SERVICES: readonly Role[] = ['service', 'admin'];
const READERS: readonly Role[] = ANY_ROLE;

function serviceDeps(deps: AppDeps): GenerationServiceDeps {
  if (!deps.generations) throw new ApiError('ServiceUnavailable', 'generations are not available: no Temporal client');
  return { ...deps.generations, pool: deps.pool };
}

export function toGenerationResponse(g: GenerationRecord): z.input<typeof GenerationResponse> {
  return {
    generationId: g.generationId, walletId: g.walletId, userId: g.userId, feature: g.feature, params: g.params,
    platform: g.platform, context: g.context, status: g.status, costCredits: g.costCredits,
    quote: { priceBookVersion: g.quote.priceBookVersion, totalCredits: g.quote.costCredits, breakdown: g.quote.breakdown, deadlineMs: g.quote.deadlineMs },
    settlement: g.settlement, createdAt: iso(g.createdAt), reservedAt: isoOrNull(g.reservedAt), settledAt: isoOrNull(g.settledAt),
  };
}

/**
 * A settlement made while this request waited carries the wallet's totals of that moment: the headers use
 * them. An earlier one (a repeated report, maybe long after) says nothing about the wallet now: undefined
 * makes the headers read the current totals. (A worker clock ahead of ours by a few ms could only make a
 * settlement those few ms old pass as fresh.)
 */
function totalsIfSettledSince(settlement: Settlement, receivedAtMs: number): WalletTotals | undefined {
  if (Date.parse(settlement.settledAt) < receivedAtMs) return undefined;
  return { availableCredits: settlement.availableCreditsAfter, heldCredits: settlement.heldCreditsAfter };
}

/**
 * A refused outcome or cancel (409 OutcomeConflict, AlreadySettled) is still about the generation's wallet:
 * its headers show the totals it was refused against. The wallet is the refused settlement's when the refusal
 * carries one, else read from the record; if that read fails, the refusal is answered without headers.
 */
function aboutWalletOfRefusal(deps: AppDeps, generationId: string, aboutWallet: (walletId: string) => void) {
  return async (error: unknown): Promise<never> => {
    if (error instanceof GenerationError && error.code !== 'GenerationNotFound') {
      const settled = error.details['settlement'] as Settlement | undefined; // the refusal may name it already
      const walletId = settled?.walletId ?? (await getGeneration(deps.pool, generationId).catch(() => null))?.walletId;
      if (walletId) aboutWallet(walletId);
    }
    throw error;
  };
}

/**
 * Runs an outcome report or a cancel and declares the response to be about the generation's wallet: with the
 * settlement's own totals when it was made during this request, else (a repeat) the current ones.
 */
async function settleAboutWallet(
  deps: AppDeps, generationId: string, aboutWallet: (walletId: string, knownTotals?: WalletTotals) => void,
  settle: () => Promise<Settlement>,
): Promise<Settlement> {
  const receivedAtMs = Date.now();
  const settlement = await settle().catch(aboutWalletOfRefusal(deps, generationId, aboutWallet));
  aboutWallet(settlement.walletId, totalsIfSettledSince(settlement, receivedAtMs));
  return settlement;
}

/** A generation the caller may not see answers exactly like a missing one. */
async function visibleGeneration(deps: AppDeps, principal: Principal, generationId: string): Promise<GenerationRecord> {
  const record = await getGeneration(deps.pool, generationId);
  if (!record || (principal.role === 'wallet' && principal.walletId !== record.walletId)) {
    throw new GenerationError('GenerationNotFound', 'generation not found');
  }
  return record;
}

export const startGenerationRoute = defineRoute({
  method: 'post', path: '/v1/generations', tag: 'generations', access: SERVICES,
  summary: 'Start a generation: quote it and hold its credits (402 with the shortfall if the wallet cannot pay)',
  body: StartGenerationBody, successStatus: 201, response: GenerationResponse, errorStatuses: [402, 404, 409, 503], balanceHeaders: true,
  async handler({ body, deps, aboutWallet }) {
    quote(body.feature, body.params, deps.priceBook); // bad feature or params → 400 before anything starts
    aboutWallet(body.walletId);
    return toGenerationResponse(await startGeneration(serviceDeps(deps), body));
  },
});

export const reportOutcomeRoute = defineRoute({
  method: 'post', path: '/v1/generations/:id/outcome', tag: 'generations', access: SERVICES,
  summary: "Report a generation's outcome; answers with its settlement (the same for a repeated report)",
  params: GenerationIdParams, body: OutcomeBody, successStatus: 200, response: SettlementResponse, errorStatuses: [404, 409, 503], balanceHeaders: true,
  async handler({ params, body, deps, aboutWallet }) {
    // Only services and admins reach this route, and they see every generation: no visibility read needed.
    return await settleAboutWallet(deps, params.id, aboutWallet, () => reportOutcome(serviceDeps(deps), params.id, body));
  },
});

export const reportProgressRoute = defineRoute({
  method: 'post', path: '/v1/generations/:id/progress', tag: 'generations', access: SERVICES,
  summary: 'Report progress; may push the outcome deadline back (up to the feature cap)',
  params: GenerationIdParams, body: ProgressBody, successStatus: 200, response: ProgressResponse, errorStatuses: [404, 409, 503],
  async handler({ params, body, deps }) {
    await reportProgress(serviceDeps(deps), params.id, body);
    return { generationId: params.id, accepted: true as const };
  },
});

export const cancelGenerationRoute = defineRoute({
  method: 'post', path: '/v1/generations/:id/cancel', tag: 'generations', access: SERVICES,
  summary: 'Cancel a generation before its outcome: its credits are released',
  params: GenerationIdParams, body: CancelBody, successStatus: 200, response: SettlementResponse, errorStatuses: [404, 409, 503], balanceHeaders: true,
  async handler({ params, body, deps, aboutWallet }) {
    return await settleAboutWallet(deps, params.id, aboutWallet, () => cancelGeneration(serviceDeps(deps), params.id, body));
  },
});

export const getGenerationRoute = defineRoute({
  method: 'get', path: '/v1/generations/:id', tag: 'generations', access: READERS,
  summary: 'Read a generation: its status, quote and settlement',
  params: GenerationIdParams, successStatus: 200, response: GenerationResponse, errorStatuses: [404], balanceHeaders: true,
  async handler({ params, deps, principal, aboutWallet }) {
    const record = await visibleGeneration(deps, principal!, params.id);
    aboutWallet(record.walletId);
    return toGenerationResponse(record);
  },
});

export const listWalletGenerationsRoute = defineRoute({
  method: 'get', path: '/v1/wallets/:id/generations', tag: 'generations', access: READERS,
  summary: "List a wallet's generations, newest first",
  params: WalletIdParams, query: WalletGenerationsQuery, successStatus: 200, response: GenerationPageResponse, errorStatuses: [404], balanceHeaders: true,
  async handler({ params, query, deps, principal, aboutWallet }) {
    assertWalletVisible(principal!, params.id);
    await getWallet(deps.pool, { walletId: params.id }); // an unknown wallet is a 404, not an empty list
    aboutWallet(params.id);
    const page = await listWalletGenerations(deps.pool, { walletId: params.id, ...query });
    return { generations: page.generations.map(toGenerationResponse), nextCursor: page.nextCursor };
  },
});

export const GENERATION_ROUTES = [
  startGenerationRoute, reportOutcomeRoute, reportProgressRoute, cancelGenerationRoute, getGenerationRoute, listWalletGenerationsRoute,
];
