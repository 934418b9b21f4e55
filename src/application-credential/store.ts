import type { Kysely, Transaction } from 'kysely';
import { dateFromEpochMicros, epochMicros } from '../db/values.js';
import type { KeystoneDatabase } from '../db/schema.js';

/** An access rule as the API names it: `id` is the row's `external_id` (backends/sql.py). */
export interface AccessRuleRecord {
  readonly id: string;
  readonly service: string | null;
  readonly path: string | null;
  readonly method: string | null;
}

export interface ApplicationCredentialRecord {
  readonly id: string;
  readonly name: string;
  readonly secretHash: string;
  readonly description: string | null;
  readonly userId: string;
  readonly projectId: string | null;
  readonly system: string | null;
  /** DateTimeInt: microseconds survive on the Date (db/values.ts). */
  readonly expiresAt: Date | null;
  readonly unrestricted: boolean | null;
  /** In the order they were stored. */
  readonly roleIds: readonly string[];
  readonly accessRules: readonly AccessRuleRecord[];
}

/** What a new application credential names for its access rules, after the API filled in ids. */
export interface AccessRuleRequest {
  readonly id: string;
  /** Only `{id}` was sent: the rule must already exist. */
  readonly byIdOnly: boolean;
  readonly service?: string;
  readonly path?: string;
  readonly method?: string;
}

export type NewApplicationCredential = Omit<ApplicationCredentialRecord, 'accessRules' | 'system'>;

/** The unique (user_id, name) constraint refused the row: Keystone's 409. */
export class DuplicateApplicationCredential extends Error {}
/** An access rule named by id that the user does not have. */
export class UnknownAccessRule extends Error {
  constructor(readonly accessRuleId: string) {
    super(`unknown access rule ${accessRuleId}`);
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

export type ApplicationCredentialStore = ReturnType<typeof createApplicationCredentialStore>;

type Db = Kysely<KeystoneDatabase> | Transaction<KeystoneDatabase>;

/**
 * The application_credential, application_credential_role, access_rule and
 * application_credential_access_rule tables, as keystone/application_credential/backends/sql.py
 * reads and writes them (so Python Keystone sharing the database sees the same credentials).
 */
export function createApplicationCredentialStore(db: Kysely<KeystoneDatabase>) {
  const columns = ['internal_id', 'id', 'name', 'secret_hash', 'description', 'user_id', 'project_id', 'system', 'expires_at', 'unrestricted'] as const;

  async function complete(
    q: Db,
    rows: { internal_id: number; id: string; name: string; secret_hash: string; description: string | null; user_id: string; project_id: string | null; system: string | null; expires_at: number | null; unrestricted: boolean | null }[],
  ): Promise<ApplicationCredentialRecord[]> {
    if (rows.length === 0) return [];
    const internalIds = rows.map((r) => r.internal_id);
    const roles = await q
      .selectFrom('application_credential_role')
      .select(['application_credential_id', 'role_id'])
      .where('application_credential_id', 'in', internalIds)
      .orderBy('role_id')
      .execute();
    const rules = await q
      .selectFrom('application_credential_access_rule as link')
      .innerJoin('access_rule', 'access_rule.id', 'link.access_rule_id')
      .select(['link.application_credential_id as owner', 'access_rule.external_id', 'access_rule.service', 'access_rule.path', 'access_rule.method'])
      .where('link.application_credential_id', 'in', internalIds)
      .orderBy('access_rule.id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      secretHash: row.secret_hash,
      description: row.description,
      userId: row.user_id,
      projectId: row.project_id,
      system: row.system,
      expiresAt: row.expires_at === null ? null : dateFromEpochMicros(Number(row.expires_at)),
      unrestricted: row.unrestricted,
      roleIds: roles.filter((r) => r.application_credential_id === row.internal_id).map((r) => r.role_id),
      accessRules: rules
        .filter((r) => r.owner === row.internal_id)
        .map((r) => ({ id: r.external_id ?? '', service: r.service, path: r.path, method: r.method })),
    }));
  }

  /**
   * Keystone's lookup order for each requested rule: the user's rule with that id, else the
   * user's identical rule (duplicates are shared), else a new rule under the given id.
   * Upstream looks the id up across all users; here another user's rule is not found, so a
   * caller cannot read or pin (make undeletable) someone else's rule by guessing its id.
   */
  async function resolveAccessRule(trx: Transaction<KeystoneDatabase>, userId: string, rule: AccessRuleRequest): Promise<number> {
    const byId = await trx.selectFrom('access_rule').select('id').where('external_id', '=', rule.id).where('user_id', '=', userId).executeTakeFirst();
    if (byId) return byId.id;
    if (rule.byIdOnly) throw new UnknownAccessRule(rule.id);
    const same = await trx
      .selectFrom('access_rule')
      .select('id')
      .where('user_id', '=', userId)
      .where('service', '=', rule.service ?? '')
      .where('path', '=', rule.path ?? '')
      .where('method', '=', rule.method ?? '')
      .executeTakeFirst();
    if (same) return same.id;
    const inserted = await trx
      .insertInto('access_rule')
      .values({ external_id: rule.id, user_id: userId, service: rule.service ?? null, path: rule.path ?? null, method: rule.method ?? null })
      .returning('id')
      .executeTakeFirstOrThrow();
    return inserted.id;
  }

  return {
    async create(record: NewApplicationCredential, accessRules: readonly AccessRuleRequest[]): Promise<ApplicationCredentialRecord> {
      try {
        return await db.transaction().execute(async (trx) => {
          const row = await trx
            .insertInto('application_credential')
            .values({
              id: record.id,
              name: record.name,
              secret_hash: record.secretHash,
              description: record.description,
              user_id: record.userId,
              project_id: record.projectId,
              system: null,
              expires_at: record.expiresAt === null ? null : epochMicros(record.expiresAt),
              unrestricted: record.unrestricted,
            })
            .returning(columns)
            .executeTakeFirstOrThrow();
          const roleIds = [...new Set(record.roleIds)];
          if (roleIds.length > 0) {
            await trx.insertInto('application_credential_role').values(roleIds.map((roleId) => ({ application_credential_id: row.internal_id, role_id: roleId }))).execute();
          }
          const ruleIds = new Set<number>();
          for (const rule of accessRules) ruleIds.add(await resolveAccessRule(trx, record.userId, rule));
          if (ruleIds.size > 0) {
            await trx
              .insertInto('application_credential_access_rule')
              .values([...ruleIds].map((id) => ({ application_credential_id: row.internal_id, access_rule_id: id })))
              .execute();
          }
          return (await complete(trx, [row]))[0]!;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateApplicationCredential();
        throw error;
      }
    },

    async get(id: string): Promise<ApplicationCredentialRecord | undefined> {
      const rows = await db.selectFrom('application_credential').select(columns).where('id', '=', id).execute();
      return (await complete(db, rows))[0];
    },

    async listForUser(userId: string, filter: { name?: string } = {}): Promise<ApplicationCredentialRecord[]> {
      let q = db.selectFrom('application_credential').select(columns).where('user_id', '=', userId);
      if (filter.name !== undefined) q = q.where('name', '=', filter.name);
      return complete(db, await q.orderBy('internal_id').execute());
    },

    async countForUser(userId: string): Promise<number> {
      const row = await db.selectFrom('application_credential').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** Roles and access-rule links follow by ON DELETE CASCADE; the rules themselves stay. */
    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('application_credential').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async getAccessRule(userId: string, externalId: string): Promise<AccessRuleRecord | undefined> {
      const row = await db
        .selectFrom('access_rule')
        .select(['external_id', 'service', 'path', 'method'])
        .where('user_id', '=', userId)
        .where('external_id', '=', externalId)
        .executeTakeFirst();
      return row && { id: row.external_id ?? '', service: row.service, path: row.path, method: row.method };
    },

    async listAccessRules(userId: string): Promise<AccessRuleRecord[]> {
      const rows = await db.selectFrom('access_rule').select(['external_id', 'service', 'path', 'method']).where('user_id', '=', userId).orderBy('id').execute();
      return rows.map((row) => ({ id: row.external_id ?? '', service: row.service, path: row.path, method: row.method }));
    },

    /**
     * 'missing', 'in-use' (an application credential still names it), or 'deleted'. The check and
     * the delete share a transaction, so a credential created meanwhile cannot lose its rule.
     */
    async deleteAccessRule(userId: string, externalId: string): Promise<'missing' | 'in-use' | 'deleted'> {
      return db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('access_rule').select('id').where('user_id', '=', userId).where('external_id', '=', externalId).forUpdate().executeTakeFirst();
        if (!row) return 'missing';
        const used = await trx.selectFrom('application_credential_access_rule').select('access_rule_id').where('access_rule_id', '=', row.id).executeTakeFirst();
        if (used) return 'in-use';
        await trx.deleteFrom('access_rule').where('id', '=', row.id).execute();
        return 'deleted';
      });
    },
  };
}
