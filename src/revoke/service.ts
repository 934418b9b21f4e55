import { cachedUntilChange, type ChangeFeed } from '../common/change-feed.js';
import { isRevoked, type RevocationMatchers, type RevocationSubject, type RevokeStore } from './store.js';

export type RevocationService = ReturnType<typeof createRevocationService>;

/**
 * Revocation events (spec 5.7). Every validation matches the token against all live events;
 * the list is small (pruned on every write) and kept in memory between changes.
 */
export function createRevocationService(deps: {
  store: RevokeStore;
  changes: ChangeFeed;
  now: () => Date;
  /** [token] expiration + [revoke] expiration_buffer: older events can match no live token. */
  pruneAfterSeconds: number;
}) {
  const events = cachedUntilChange(deps.changes, () => deps.store.listEvents());

  return {
    async isRevoked(subject: RevocationSubject): Promise<boolean> {
      return isRevoked(await events(), subject);
    },

    async revoke(matchers: RevocationMatchers, issuedBefore?: Date): Promise<void> {
      const now = deps.now();
      await deps.store.addEvent(matchers, now, deps.pruneAfterSeconds, issuedBefore ?? now);
      deps.changes.bump();
    },

    listEvents: (since?: Date) => deps.store.listEvents(since),
  };
}
