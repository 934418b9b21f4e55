import type { Kysely } from 'kysely';
import { dateFromEpochMicros, epochMicros } from '../db/values.js';
import type { KeystoneDatabase } from '../db/schema.js';

export interface TrustRecord {
  readonly id: string;
  readonly trustorUserId: string;
  readonly trusteeUserId: string;
  readonly projectId: string | null;
  readonly impersonation: boolean;
  readonly deletedAt: Date | null;
  readonly expiresAt: Date | null;
  readonly remainingUses: number | null;
  readonly redelegatedTrustId: string | null;
  readonly redelegationCount: number | null;
  /** Sorted, as the trust_role primary key returns them. */
  readonly roleIds: readonly string[];
}

export type NewTrust = Omit<TrustRecord, 'deletedAt'>;

/** consumeUse's outcome: Keystone tells a missing trust (404) from an exhausted one (403). */
export type ConsumeResult = 'consumed' | 'unlimited' | 'missing' | 'exhausted';

export type TrustStore = ReturnType<typeof createTrustStore>;

const COLUMNS = [
  'id',
  'trustor_user_id',
  'trustee_user_id',
  'project_id',
  'impersonation',
  'deleted_at',
  'expires_at',
  'expires_at_int',
  'remaining_uses',
  'redelegated_trust_id',
  'redelegation_count',
] as const;

/**
 * The trust and trust_role tables as keystone/trust/backends/sql.py reads and writes them, so a
 * Python Keystone sharing the database sees the same trusts. Expiry and use checks are the
 * service's: the store returns rows as they are.
 */
export function createTrustStore(db: Kysely<KeystoneDatabase>) {
  type Row = Pick<KeystoneDatabase['trust'], (typeof COLUMNS)[number]>;

  async function withRoles(rows: Row[]): Promise<TrustRecord[]> {
    if (rows.length === 0) return [];
    const roles = await db
      .selectFrom('trust_role')
      .select(['trust_id', 'role_id'])
      .where('trust_id', 'in', rows.map((r) => r.id))
      .orderBy('role_id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      trustorUserId: row.trustor_user_id,
      trusteeUserId: row.trustee_user_id,
      projectId: row.project_id,
      impersonation: row.impersonation,
      deletedAt: row.deleted_at as Date | null,
      // Keystone's hybrid property: expires_at_int when set (µs precision), else the DATETIME.
      expiresAt: row.expires_at_int !== null ? dateFromEpochMicros(Number(row.expires_at_int)) : (row.expires_at as Date | null),
      remainingUses: row.remaining_uses,
      redelegatedTrustId: row.redelegated_trust_id,
      redelegationCount: row.redelegation_count,
      roleIds: roles.filter((r) => r.trust_id === row.id).map((r) => r.role_id),
    }));
  }

  return {
    async create(trust: NewTrust): Promise<TrustRecord> {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('trust')
          .values({
            id: trust.id,
            trustor_user_id: trust.trustorUserId,
            trustee_user_id: trust.trusteeUserId,
            project_id: trust.projectId,
            impersonation: trust.impersonation,
            deleted_at: null,
            expires_at: trust.expiresAt,
            expires_at_int: trust.expiresAt === null ? null : epochMicros(trust.expiresAt),
            remaining_uses: trust.remainingUses,
            extra: '{}',
            redelegated_trust_id: trust.redelegatedTrustId,
            redelegation_count: trust.redelegationCount,
          })
          .execute();
        const roleIds = [...new Set(trust.roleIds)];
        if (roleIds.length > 0) await trx.insertInto('trust_role').values(roleIds.map((roleId) => ({ trust_id: trust.id, role_id: roleId }))).execute();
      });
      return { ...trust, deletedAt: null, roleIds: [...new Set(trust.roleIds)].sort() };
    },

    /** Soft-deleted rows only with `deleted: true`. */
    async get(id: string, opts: { deleted?: boolean } = {}): Promise<TrustRecord | undefined> {
      let q = db.selectFrom('trust').select(COLUMNS).where('id', '=', id);
      if (!opts.deleted) q = q.where('deleted_at', 'is', null);
      return (await withRoles(await q.execute()))[0];
    },

    /** Live (not soft-deleted) trusts, optionally of one trustor, trustee or parent trust. */
    async list(filter: { trustorUserId?: string; trusteeUserId?: string; redelegatedTrustId?: string } = {}): Promise<TrustRecord[]> {
      let q = db.selectFrom('trust').select(COLUMNS).where('deleted_at', 'is', null);
      if (filter.trustorUserId !== undefined) q = q.where('trustor_user_id', '=', filter.trustorUserId);
      if (filter.trusteeUserId !== undefined) q = q.where('trustee_user_id', '=', filter.trusteeUserId);
      if (filter.redelegatedTrustId !== undefined) q = q.where('redelegated_trust_id', '=', filter.redelegatedTrustId);
      return withRoles(await q.orderBy('id').execute());
    },

    async softDelete(id: string, at: Date): Promise<boolean> {
      const result = await db.updateTable('trust').set({ deleted_at: at }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    /**
     * One use of a live trust. A single conditional UPDATE decrements atomically, so two
     * concurrent issuers can never both take the last use (Keystone retries an optimistic
     * read-then-update instead).
     */
    async consumeUse(id: string): Promise<ConsumeResult> {
      const updated = await db
        .updateTable('trust')
        .set((eb) => ({ remaining_uses: eb('remaining_uses', '-', 1) }))
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where('remaining_uses', '>', 0)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) > 0) return 'consumed';
      const row = await db.selectFrom('trust').select('remaining_uses').where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (!row) return 'missing';
      return row.remaining_uses === null ? 'unlimited' : 'exhausted';
    },
  };
}
