import type { Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';

/** One row of `revocation_event` (spec 5.7): every matcher is optional, null matches anything. */
export interface RevocationEvent {
  readonly domain_id: string | null;
  readonly project_id: string | null;
  readonly user_id: string | null;
  readonly role_id: string | null;
  readonly trust_id: string | null;
  readonly consumer_id: string | null;
  readonly access_token_id: string | null;
  readonly issued_before: Date;
  readonly expires_at: Date | null;
  readonly revoked_at: Date;
  readonly audit_id: string | null;
  readonly audit_chain_id: string | null;
}

export type RevocationMatchers = Partial<Omit<RevocationEvent, 'issued_before' | 'revoked_at'>>;

/** Keystone stores these as naive DATETIMEs truncated to whole seconds. */
export function truncateToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

export type RevokeStore = ReturnType<typeof createRevokeStore>;

export function createRevokeStore(db: Kysely<KeystoneDatabase>) {
  return {
    /**
     * Stores an event and prunes old ones in the same transaction, as Keystone does on every new
     * event: events older than token expiration + [revoke] expiration_buffer can match no token.
     */
    async addEvent(matchers: RevocationMatchers, now: Date, pruneOlderThanSeconds: number, issuedBefore = now): Promise<void> {
      const revokedAt = truncateToSecond(now);
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('revocation_event')
          .values({
            domain_id: matchers.domain_id ?? null,
            project_id: matchers.project_id ?? null,
            user_id: matchers.user_id ?? null,
            role_id: matchers.role_id ?? null,
            trust_id: matchers.trust_id ?? null,
            consumer_id: matchers.consumer_id ?? null,
            access_token_id: matchers.access_token_id ?? null,
            issued_before: truncateToSecond(issuedBefore),
            expires_at: matchers.expires_at ? truncateToSecond(matchers.expires_at) : null,
            revoked_at: revokedAt,
            audit_id: matchers.audit_id ?? null,
            audit_chain_id: matchers.audit_chain_id ?? null,
          })
          .execute();
        await trx
          .deleteFrom('revocation_event')
          .where('revoked_at', '<', new Date(revokedAt.getTime() - pruneOlderThanSeconds * 1000))
          .execute();
      });
    },

    async listEvents(since?: Date): Promise<RevocationEvent[]> {
      let query = db
        .selectFrom('revocation_event')
        .select([
          'domain_id', 'project_id', 'user_id', 'role_id', 'trust_id', 'consumer_id', 'access_token_id',
          'issued_before', 'expires_at', 'revoked_at', 'audit_id', 'audit_chain_id',
        ])
        .orderBy('revoked_at');
      // Keystone's last_fetch: strictly after.
      if (since) query = query.where('revoked_at', '>', since);
      return query.execute();
    },
  };
}

/** What a token contributes to event matching (spec 5.7 "Matching a token"). */
export interface RevocationSubject {
  readonly issued_at: Date;
  readonly user_id: string;
  readonly trustor_id: string | null;
  readonly trustee_id: string | null;
  readonly project_id: string | null;
  readonly identity_domain_id: string | null;
  readonly assignment_domain_id: string | null;
  readonly audit_id: string | null;
  readonly audit_chain_id: string | null;
  readonly trust_id: string | null;
  readonly consumer_id: string | null;
  readonly role_ids: readonly string[];
  readonly expires_at: Date;
}

/** True when some event revokes the token; every non-null matcher of an event must hold. */
export function isRevoked(events: readonly RevocationEvent[], token: RevocationSubject): boolean {
  const issuedAt = truncateToSecond(token.issued_at).getTime();
  const expiresAt = truncateToSecond(token.expires_at).getTime();
  return events.some((e) => {
    // issued_before >= issued_at: a token issued in the same second as the event is revoked.
    if (e.issued_before.getTime() < issuedAt) return false;
    if (e.user_id != null && e.user_id !== token.user_id && e.user_id !== token.trustor_id && e.user_id !== token.trustee_id) return false;
    if (e.project_id != null && e.project_id !== token.project_id) return false;
    if (e.audit_id != null && e.audit_id !== token.audit_id) return false;
    if (e.trust_id != null && e.trust_id !== token.trust_id) return false;
    if (e.domain_id != null) {
      // An event carrying expires_at and a domain targets the scope domain only (domain_scope_id).
      if (e.expires_at != null) {
        if (e.domain_id !== token.assignment_domain_id) return false;
      } else if (e.domain_id !== token.identity_domain_id && e.domain_id !== token.assignment_domain_id) {
        return false;
      }
    }
    if (e.expires_at != null && e.expires_at.getTime() !== expiresAt) return false;
    if (e.consumer_id != null && e.consumer_id !== token.consumer_id) return false;
    if (e.audit_chain_id != null && e.audit_chain_id !== token.audit_chain_id) return false;
    if (e.role_id != null && !token.role_ids.includes(e.role_id)) return false;
    return true;
  });
}
