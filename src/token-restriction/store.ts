import type { Kysely, Selectable } from 'kysely';
import type { KeystoneDatabase, KeystoneTsTokenRestrictionTable } from '../db/schema.js';

export type InlinePolicyLanguage = 'rego' | 'cedar';

export interface InlinePolicy {
  readonly language: InlinePolicyLanguage;
  readonly source: string;
}

/** A token restriction: Keystone-NG's fields, then keystone-ts' own (null: no limit). */
export interface TokenRestrictionRecord {
  readonly id: string;
  readonly domainId: string;
  readonly userId: string | null;
  readonly projectId: string | null;
  readonly allowRenew: boolean;
  readonly allowRescope: boolean;
  /** Sorted, as the role table's primary key returns them. */
  readonly roleIds: readonly string[];
  readonly actions: readonly string[] | null;
  readonly sourceCidrs: readonly string[] | null;
  /** Seconds a restricted token may live from its issue; null: as long as the token it came from. */
  readonly maxLifetime: number | null;
  readonly inlinePolicy: InlinePolicy | null;
}

export interface TokenRestrictionFilter {
  readonly domainId?: string;
  readonly userId?: string;
  readonly projectId?: string;
}

export type TokenRestrictionStore = ReturnType<typeof createTokenRestrictionStore>;

/** Writes that lost a race to another writer of the same id. */
export class DuplicateRestriction extends Error {}

type Row = Selectable<KeystoneTsTokenRestrictionTable>;

function columns(record: Omit<TokenRestrictionRecord, 'id' | 'roleIds'>) {
  return {
    domain_id: record.domainId,
    user_id: record.userId,
    project_id: record.projectId,
    allow_renew: record.allowRenew,
    allow_rescope: record.allowRescope,
    actions: record.actions === null ? null : JSON.stringify(record.actions),
    source_cidrs: record.sourceCidrs === null ? null : JSON.stringify(record.sourceCidrs),
    max_lifetime: record.maxLifetime,
    inline_policy_language: record.inlinePolicy?.language ?? null,
    inline_policy_source: record.inlinePolicy?.source ?? null,
  };
}

function jsonList(text: string | null): string[] | null {
  return text === null ? null : (JSON.parse(text) as string[]);
}

/** keystone_ts_token_restriction and its role table (migration 0005). */
export function createTokenRestrictionStore(db: Kysely<KeystoneDatabase>) {
  async function withRoles(rows: readonly Row[]): Promise<TokenRestrictionRecord[]> {
    if (rows.length === 0) return [];
    const roles = await db
      .selectFrom('keystone_ts_token_restriction_role')
      .select(['restriction_id', 'role_id'])
      .where('restriction_id', 'in', rows.map((r) => r.id))
      .orderBy('role_id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      domainId: row.domain_id,
      userId: row.user_id,
      projectId: row.project_id,
      allowRenew: row.allow_renew,
      allowRescope: row.allow_rescope,
      roleIds: roles.filter((r) => r.restriction_id === row.id).map((r) => r.role_id),
      actions: jsonList(row.actions),
      sourceCidrs: jsonList(row.source_cidrs),
      maxLifetime: row.max_lifetime,
      inlinePolicy:
        row.inline_policy_language === null || row.inline_policy_source === null
          ? null
          : { language: row.inline_policy_language as InlinePolicyLanguage, source: row.inline_policy_source },
    }));
  }

  return {
    /** @throws DuplicateRestriction when the id is taken */
    async create(record: TokenRestrictionRecord): Promise<TokenRestrictionRecord> {
      const roleIds = [...new Set(record.roleIds)].sort();
      try {
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('keystone_ts_token_restriction').values({ id: record.id, ...columns(record) }).execute();
          if (roleIds.length > 0) {
            await trx.insertInto('keystone_ts_token_restriction_role').values(roleIds.map((roleId) => ({ restriction_id: record.id, role_id: roleId }))).execute();
          }
        });
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw new DuplicateRestriction(record.id);
        throw error;
      }
      return { ...record, roleIds };
    },

    async get(id: string): Promise<TokenRestrictionRecord | undefined> {
      const rows = await db.selectFrom('keystone_ts_token_restriction').selectAll().where('id', '=', id).execute();
      return (await withRoles(rows))[0];
    },

    async list(filter: TokenRestrictionFilter = {}): Promise<TokenRestrictionRecord[]> {
      let q = db.selectFrom('keystone_ts_token_restriction').selectAll();
      if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId);
      if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
      if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
      return withRoles(await q.orderBy('id').execute());
    },

    /** Replaces every field but id and domain; false when the restriction is gone. */
    async replace(record: TokenRestrictionRecord): Promise<boolean> {
      const roleIds = [...new Set(record.roleIds)].sort();
      return db.transaction().execute(async (trx) => {
        const updated = await trx.updateTable('keystone_ts_token_restriction').set(columns(record)).where('id', '=', record.id).executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return false;
        await trx.deleteFrom('keystone_ts_token_restriction_role').where('restriction_id', '=', record.id).execute();
        if (roleIds.length > 0) {
          await trx.insertInto('keystone_ts_token_restriction_role').values(roleIds.map((roleId) => ({ restriction_id: record.id, role_id: roleId }))).execute();
        }
        return true;
      });
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('keystone_ts_token_restriction').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
