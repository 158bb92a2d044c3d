/**
 * Verified API keys, remembered for a few seconds so that a busy caller does not cost a database read per
 * request. Only keys found active are remembered (an unknown key is looked up every time: a key created a
 * moment ago must work at once). Revoking a key forgets it here at once; another API process sharing the
 * database may accept it for at most the TTL (API_KEY_CACHE_SECONDS; 0 turns the cache off).
 */
import type { Principal } from './roles';

interface Entry {
  principal: Principal;
  expiresAtMs: number;
}

export class ApiKeyCache {
  /** Insertion-ordered: when full, the oldest entry goes first. */
  private readonly entries = new Map<string, Entry>();

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

  remember(keyHash: string, principal: Principal): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(keyHash);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(keyHash, { principal, expiresAtMs: this.nowMs() + this.ttlMs });
  }

  /** A revoked key must stop working here immediately. */
  forgetKeyId(keyId: string): void {
    for (const [hash, entry] of this.entries) if (entry.principal.keyId === keyId) this.entries.delete(hash);
  }
}
