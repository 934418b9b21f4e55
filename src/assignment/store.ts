import { sql, type Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { newId, parseExtra } from '../common/ids.js';

/** `role.domain_id` of global roles (spec 6): shown as null in the API. */
export const NULL_DOMAIN = '<<null>>';

export interface RoleRef {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string | null;
  readonly description: string | null;
  readonly options: Readonly<Record<string, unknown>>;
  readonly extra: Readonly<Record<string, unknown>>;
}

export type AssignmentType = 'UserProject' | 'GroupProject' | 'UserDomain' | 'GroupDomain';

export type AssignmentStore = ReturnType<typeof createAssignmentStore>;

const ROLE_OPTION_NAMES: Readonly<Record<string, string>> = { IMMU: 'immutable' };

export function createAssignmentStore(db: Kysely<KeystoneDatabase>) {
  async function rolesWhere(ids: readonly string[] | null, name?: { name: string; domainId: string }): Promise<RoleRef[]> {
    let query = db.selectFrom('role').select(['id', 'name', 'domain_id', 'description', 'extra']);
    if (ids) {
      if (ids.length === 0) return [];
      query = query.where('id', 'in', ids);
    }
    if (name) query = query.where('name', '=', name.name).where('domain_id', '=', name.domainId);
    const rows = await query.execute();
    if (rows.length === 0) return [];
    const options = await db
      .selectFrom('role_option')
      .select(['role_id', 'option_id', 'option_value'])
      .where('role_id', 'in', rows.map((r) => r.id))
      .execute();
    return rows.map((row) => {
      const opts: Record<string, unknown> = {};
      for (const o of options) {
        const optName = ROLE_OPTION_NAMES[o.option_id];
        if (o.role_id === row.id && optName) opts[optName] = o.option_value == null ? null : JSON.parse(o.option_value);
      }
      return {
        id: row.id,
        name: row.name,
        domain_id: row.domain_id === NULL_DOMAIN ? null : row.domain_id,
        description: row.description,
        options: opts,
        extra: parseExtra(row.extra),
      };
    });
  }

  /** Actor ids for a user: the user and its groups (group ids are passed in, already resolved). */
  function actors(userId: string, groupIds: readonly string[]): string[] {
    return [userId, ...groupIds];
  }

  return {
    getRoles: (ids: readonly string[]) => rolesWhere(ids),
    async findGlobalRoleByName(name: string): Promise<RoleRef | undefined> {
      return (await rolesWhere(null, { name, domainId: NULL_DOMAIN }))[0];
    },

    async createRole(input: { id?: string; name: string; domain_id?: string | null; description?: string | null; immutable?: boolean }): Promise<RoleRef> {
      const id = input.id ?? newId();
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('role')
          .values({ id, name: input.name, domain_id: input.domain_id ?? NULL_DOMAIN, description: input.description ?? null, extra: '{}' })
          .execute();
        if (input.immutable) await trx.insertInto('role_option').values({ role_id: id, option_id: 'IMMU', option_value: 'true' }).execute();
      });
      return (await rolesWhere([id]))[0]!;
    },

    /** Every implication edge; the table is small and read on every token validation. */
    async listImpliedRoles(): Promise<{ prior_role_id: string; implied_role_id: string }[]> {
      return db.selectFrom('implied_role').select(['prior_role_id', 'implied_role_id']).execute();
    },

    async addImpliedRole(priorId: string, impliedId: string): Promise<void> {
      await db.insertInto('implied_role').values({ prior_role_id: priorId, implied_role_id: impliedId }).onConflict((oc) => oc.doNothing()).execute();
    },

    async deleteImpliedRole(priorId: string, impliedId: string): Promise<void> {
      await db.deleteFrom('implied_role').where('prior_role_id', '=', priorId).where('implied_role_id', '=', impliedId).execute();
    },

    async grant(type: AssignmentType, actorId: string, targetId: string, roleId: string, inherited = false): Promise<void> {
      await db
        .insertInto('assignment')
        .values({ type, actor_id: actorId, target_id: targetId, role_id: roleId, inherited })
        .onConflict((oc) => oc.doNothing())
        .execute();
    },

    async grantSystem(type: 'UserSystem' | 'GroupSystem', actorId: string, roleId: string): Promise<void> {
      await db
        .insertInto('system_assignment')
        .values({ type, actor_id: actorId, target_id: 'system', role_id: roleId, inherited: false })
        .onConflict((oc) => oc.doNothing())
        .execute();
    },

    /**
     * Role ids granted on a project (spec 5.1 steps 1-3): direct and group grants on the project,
     * plus inherited grants on any ancestor project or on the project's domain. One query with a
     * recursive walk up the tree; the project itself never receives its own inherited grants.
     */
    async directRoleIdsOnProject(userId: string, groupIds: readonly string[], projectId: string): Promise<string[]> {
      const rows = await sql<{ role_id: string }>`
        WITH RECURSIVE ancestry(id, parent_id, depth) AS (
          SELECT id, parent_id, 0 FROM project WHERE id = ${projectId}
          UNION ALL
          SELECT p.id, p.parent_id, a.depth + 1 FROM project p JOIN ancestry a ON p.id = a.parent_id WHERE a.depth < 64
        )
        SELECT DISTINCT role_id FROM assignment
        WHERE actor_id IN (${sql.join(actors(userId, groupIds))})
          AND ((target_id = ${projectId} AND inherited = false)
            OR (inherited = true AND target_id IN (SELECT id FROM ancestry WHERE depth > 0)))`.execute(db);
      return rows.rows.map((r) => r.role_id);
    },

    /** Domain targets receive direct and group grants only, never inherited ones (spec 5.1). */
    async directRoleIdsOnDomain(userId: string, groupIds: readonly string[], domainId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('assignment')
        .select('role_id')
        .distinct()
        .where('actor_id', 'in', actors(userId, groupIds))
        .where('target_id', '=', domainId)
        .where('type', 'in', ['UserDomain', 'GroupDomain'])
        .where('inherited', '=', false)
        .execute();
      return rows.map((r) => r.role_id);
    },

    async directRoleIdsOnSystem(userId: string, groupIds: readonly string[]): Promise<string[]> {
      const rows = await db
        .selectFrom('system_assignment')
        .select('role_id')
        .distinct()
        .where('actor_id', 'in', actors(userId, groupIds))
        .where('target_id', '=', 'system')
        .execute();
      return rows.map((r) => r.role_id);
    },

    /** Project ids where the user (or its groups) holds a grant, direct or inherited from above. */
    async projectIdsWithGrants(userId: string, groupIds: readonly string[]): Promise<string[]> {
      const rows = await sql<{ id: string }>`
        WITH RECURSIVE granted(id, inherited_only, depth) AS (
          SELECT target_id, inherited, 0 FROM assignment
            WHERE actor_id IN (${sql.join(actors(userId, groupIds))})
          UNION
          SELECT p.id, false, g.depth + 1 FROM project p JOIN granted g ON p.parent_id = g.id
            WHERE (g.inherited_only = true OR g.depth > 0) AND g.depth < 64
        )
        SELECT DISTINCT p.id FROM project p JOIN granted g ON g.id = p.id
        WHERE p.is_domain = false AND g.inherited_only = false`.execute(db);
      return rows.rows.map((r) => r.id);
    },

    async domainIdsWithGrants(userId: string, groupIds: readonly string[]): Promise<string[]> {
      const rows = await db
        .selectFrom('assignment')
        .select('target_id')
        .distinct()
        .where('actor_id', 'in', actors(userId, groupIds))
        .where('type', 'in', ['UserDomain', 'GroupDomain'])
        .where('inherited', '=', false)
        .execute();
      return rows.map((r) => r.target_id);
    },
  };
}
