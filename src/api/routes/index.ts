/** Every route of the API, in one list: mounted by app.ts and documented by openapi.ts from the same specs. */
import type { RouteSpec } from '../route';
import { createApiKeyRoute, revokeApiKeyRoute } from './api-keys';
import { auditRoute } from './audit';
import { balanceRoute } from './balance';
import { GENERATION_ROUTES } from './generations';
import { grantRoute } from './grants';
import { healthRoute } from './health';
import { journalRoute } from './journal';
import { addMemberRoute, listMembersRoute, removeMemberRoute } from './organizations';
import { priceBookRoute, quoteRoute } from './pricing';
import { createWalletRoute, getWalletRoute } from './wallets';

export const ROUTES: readonly RouteSpec[] = [
  healthRoute,
  createWalletRoute,
  getWalletRoute,
  grantRoute,
  balanceRoute,
  journalRoute,
  addMemberRoute,
  listMembersRoute,
  removeMemberRoute,
  quoteRoute,
  priceBookRoute,
  auditRoute,
  createApiKeyRoute,
  revokeApiKeyRoute,
  ...GENERATION_ROUTES,
];
