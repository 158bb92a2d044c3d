export const ROLES = ['admin', 'support', 'service', 'wallet'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: one API key. A `wallet` key is bound to one wallet and sees nothing else. */
export interface Principal {
  keyId: string;
  role: Role;
  walletId: string | null;
}

/** Route access: a list of roles, or `public` for unauthenticated routes (health, OpenAPI). */
export type Access = readonly Role[] | 'public';

export const ANY_ROLE: readonly Role[] = ROLES;
export const STAFF: readonly Role[] = ['admin', 'support'];
