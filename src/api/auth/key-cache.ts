/**
 * Verified API keys, remembered for a few seconds so that a busy caller does not cost a database read per
 * request. Only keys found active are remembered (an unknown key is looked up every time: a key created a
 * moment ago must work at once). Revoking a key forgets it here at once; another API process sharing the
 * database may accept it for at most the TTL (API_KEY_CACHE_SECONDS; 0 turns the cache off).
 *
 * A lookup that read the key as active just before a revocation here may finish after it: remembering its
 * answer would bring the revoked key back for a whole TTL. So a lookup takes a ticket (the count of
 * revocations so far) when it starts, and its answer is remembered only if no revocation happened since.
 */
import type { Principal } from './roles';

interface Entry {
  principal: Principal;
  expiresAtMs: number;
}

export class ApiKeyCache {
  /** Insertion-ordered: when full, the oldest entry goes first. */
  private readonly entries = new Map<string, Entry>();
  private revocations = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly nowMs: () => number = Date.now,
  ) {}

  get(keyHash: string): Principal | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.nowMs()) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return entry.principal;
  }

  /** Taken before the database read whose answer will be remembered. */
  lookupTicket(): number {
    return this.revocations;
  }

  /** `ticket`: from lookupTicket() before the read; an answer older than a revocation is not remembered. */
  remember(keyHash: string, principal: Principal, ticket: number): void {
    if (this.ttlMs <= 0 || ticket !== this.revocations) return;
    this.entries.delete(keyHash);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(keyHash, { principal, expiresAtMs: this.nowMs() + this.ttlMs });
  }

  /** A revoked key must stop working here immediately. */
  forgetKeyId(keyId: string): void {
    this.revocations += 1;
    for (const [hash, entry] of this.entries) if (entry.principal.keyId === keyId) this.entries.delete(hash);
  }
}
