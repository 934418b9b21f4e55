import { sql, type Kysely, type Transaction } from 'kysely';
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
export type SystemAssignmentType = 'UserSystem' | 'GroupSystem';

/** A stored `assignment` row in Keystone's driver shape (keystone/assignment/backends/sql.py denormalize_role). */
export interface AssignmentRef {
  readonly user_id?: string;
  readonly group_id?: string;
  readonly project_id?: string;
  readonly domain_id?: string;
  readonly role_id: string;
  readonly inherited_to_projects?: 'projects';
}

/** The driver's list_role_assignments filters; unset means "any", an empty list is ignored as Keystone's `if actors:`. */
export interface AssignmentQuery {
  readonly roleId?: string;
  readonly userId?: string;
  readonly groupIds?: readonly string[];
  /**
   * The groups this user has a membership row of, current or expiring (expired ones too): a
   * superset of its groups, for a caller that keeps only the groups it resolved itself.
   */
  readonly groupsOfUser?: string;
  readonly domainId?: string;
  readonly projectIds?: readonly string[];
  /** null or undefined: both inherited and direct rows. */
  readonly inherited?: boolean | null;
}

/** A role row as stored, before the service applies Keystone's rules. */
export interface RoleWrite {
  readonly name?: string;
  readonly domain_id?: string | null;
  readonly description?: string | null;
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Option name → value; null removes the option (resource_options_ref_to_mapper). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** A unique constraint refused the write (Keystone's DBDuplicateEntry → 409). */
export class DuplicateRole extends Error {}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

export type AssignmentStore = ReturnType<typeof createAssignmentStore>;

const ROLE_OPTION_NAMES: Readonly<Record<string, string>> = { IMMU: 'immutable' };
const ROLE_OPTION_IDS: Readonly<Record<string, string>> = { immutable: 'IMMU' };

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

    /** All roles, in the database's order (the API filters and limits them as Keystone's hints). */
    listAllRoles: () => rolesWhere(null),

    async getRole(id: string): Promise<RoleRef | undefined> {
      return (await rolesWhere([id]))[0];
    },

    /** Inserts a role with its options; a (name, domain_id) clash raises DuplicateRole. */
    async insertRole(id: string, role: RoleWrite & { name: string }): Promise<RoleRef> {
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('role')
            .values({ id, name: role.name, domain_id: role.domain_id ?? NULL_DOMAIN, description: role.description ?? null, extra: JSON.stringify(role.extra ?? {}) })
            .execute();
          await writeRoleOptions(trx, id, role.options ?? {});
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateRole();
        throw error;
      }
      return (await rolesWhere([id]))[0]!;
    },

    async updateRole(id: string, changes: RoleWrite): Promise<RoleRef> {
      try {
        await db.transaction().execute(async (trx) => {
          const values: Record<string, unknown> = {};
          if (changes.name !== undefined) values['name'] = changes.name;
          if (changes.domain_id !== undefined) values['domain_id'] = changes.domain_id ?? NULL_DOMAIN;
          if (changes.description !== undefined) values['description'] = changes.description;
          if (changes.extra !== undefined) values['extra'] = JSON.stringify(changes.extra);
          if (Object.keys(values).length > 0) await trx.updateTable('role').set(values).where('id', '=', id).execute();
          await writeRoleOptions(trx, id, changes.options ?? {});
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateRole();
        throw error;
      }
      return (await rolesWhere([id]))[0]!;
    },

    /**
     * Deletes a role with everything that names it, in one transaction: its assignments and
     * system assignments (delete_role_assignments), the application credentials of every user
     * holding it on a project (REMOVE_APP_CREDS_FOR_USER), then the row; role_option and
     * implied_role follow by ON DELETE CASCADE.
     */
    async deleteRole(id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const holders = await trx.selectFrom('assignment').select(['actor_id', 'target_id']).where('role_id', '=', id).where('type', '=', 'UserProject').execute();
        for (const holder of holders) {
          await trx.deleteFrom('application_credential').where('user_id', '=', holder.actor_id).where('project_id', '=', holder.target_id).execute();
        }
        await trx.deleteFrom('assignment').where('role_id', '=', id).execute();
        await trx.deleteFrom('system_assignment').where('role_id', '=', id).execute();
        await trx.deleteFrom('role').where('id', '=', id).execute();
      });
    },

    async impliedRoleExists(priorId: string, impliedId: string): Promise<boolean> {
      const row = await db.selectFrom('implied_role').select('prior_role_id').where('prior_role_id', '=', priorId).where('implied_role_id', '=', impliedId).executeTakeFirst();
      return row !== undefined;
    },

    /** Inserts one inference; false when it already exists (Keystone answers 409). */
    async insertImpliedRole(priorId: string, impliedId: string): Promise<boolean> {
      const result = await db.insertInto('implied_role').values({ prior_role_id: priorId, implied_role_id: impliedId }).onConflict((oc) => oc.doNothing()).executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },

    /** Removes one inference; false when there was none. */
    async removeImpliedRole(priorId: string, impliedId: string): Promise<boolean> {
      const result = await db.deleteFrom('implied_role').where('prior_role_id', '=', priorId).where('implied_role_id', '=', impliedId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** Keystone's _build_grant_filter: actor, target of the right kind, role and inherited flag. */
    async grantExists(actorId: string, target: { projectId?: string; domainId?: string }, roleId: string, inherited: boolean): Promise<boolean> {
      const types: AssignmentType[] = target.domainId ? ['UserDomain', 'GroupDomain'] : ['UserProject', 'GroupProject'];
      const row = await db
        .selectFrom('assignment')
        .select('role_id')
        .where('actor_id', '=', actorId)
        .where('target_id', '=', (target.domainId ?? target.projectId)!)
        .where('type', 'in', types)
        .where('role_id', '=', roleId)
        .where('inherited', '=', inherited)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** Deletes one grant; false when it did not exist. */
    async revoke(actorId: string, target: { projectId?: string; domainId?: string }, roleId: string, inherited: boolean): Promise<boolean> {
      const types: AssignmentType[] = target.domainId ? ['UserDomain', 'GroupDomain'] : ['UserProject', 'GroupProject'];
      const result = await db
        .deleteFrom('assignment')
        .where('actor_id', '=', actorId)
        .where('target_id', '=', (target.domainId ?? target.projectId)!)
        .where('type', 'in', types)
        .where('role_id', '=', roleId)
        .where('inherited', '=', inherited)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** Keystone's list_grant_role_ids: any assignment type between this actor and target. */
    async grantRoleIds(actorId: string, targetId: string, inherited: boolean): Promise<string[]> {
      const rows = await db.selectFrom('assignment').select('role_id').where('actor_id', '=', actorId).where('target_id', '=', targetId).where('inherited', '=', inherited).execute();
      return rows.map((r) => r.role_id);
    },

    /** The driver's list_role_assignments (sql.py): stored rows matching every given filter. */
    async listAssignments(query: AssignmentQuery): Promise<AssignmentRef[]> {
      let q = db.selectFrom('assignment').select(['type', 'actor_id', 'target_id', 'role_id', 'inherited']);
      const actorKind = (query.groupIds && query.groupIds.length > 0) || query.groupsOfUser !== undefined ? 'Group' : query.userId ? 'User' : null;
      const targetKind = query.projectIds && query.projectIds.length > 0 ? 'Project' : query.domainId ? 'Domain' : null;
      if (query.roleId) q = q.where('role_id', '=', query.roleId);
      if (actorKind === 'Group' && query.groupsOfUser !== undefined) {
        const userId = query.groupsOfUser;
        q = q.where('actor_id', 'in', (eb) =>
          eb
            .selectFrom('user_group_membership')
            .select('group_id')
            .where('user_id', '=', userId)
            .union(eb.selectFrom('expiring_user_group_membership').select('group_id').where('user_id', '=', userId)),
        );
      } else if (actorKind === 'Group') q = q.where('actor_id', 'in', query.groupIds!);
      else if (actorKind === 'User') q = q.where('actor_id', '=', query.userId!);
      if (targetKind === 'Project') q = q.where('target_id', 'in', query.projectIds!);
      else if (targetKind === 'Domain') q = q.where('target_id', '=', query.domainId!);
      const types = (['User', 'Group'] as const)
        .filter((a) => actorKind === null || a === actorKind)
        .flatMap((a) => (['Project', 'Domain'] as const).filter((t) => targetKind === null || t === targetKind).map((t) => `${a}${t}` as AssignmentType));
      if (actorKind !== null || targetKind !== null) q = q.where('type', 'in', types);
      if (query.inherited !== undefined && query.inherited !== null) q = q.where('inherited', '=', query.inherited);
      const rows = await q.execute();
      return rows.map((row) => {
        const actor = row.type.startsWith('User') ? { user_id: row.actor_id } : { group_id: row.actor_id };
        const target = row.type.endsWith('Project') ? { project_id: row.target_id } : { domain_id: row.target_id };
        return { ...actor, ...target, role_id: row.role_id, ...(row.inherited ? { inherited_to_projects: 'projects' as const } : {}) };
      });
    },

    /** system_assignment rows, for one actor (of one type) or all of them. */
    async listSystemGrants(actorId: string | null, type: SystemAssignmentType | null): Promise<{ type: SystemAssignmentType; actor_id: string; role_id: string }[]> {
      let q = db.selectFrom('system_assignment').select(['type', 'actor_id', 'role_id']).where('target_id', '=', 'system');
      if (actorId) q = q.where('actor_id', '=', actorId);
      if (type) q = q.where('type', '=', type);
      return q.execute();
    },

    async systemGrantExists(actorId: string, roleId: string): Promise<boolean> {
      const row = await db
        .selectFrom('system_assignment')
        .select('role_id')
        .where('actor_id', '=', actorId)
        .where('target_id', '=', 'system')
        .where('role_id', '=', roleId)
        .where('inherited', '=', false)
        .executeTakeFirst();
      return row !== undefined;
    },

    async revokeSystem(actorId: string, roleId: string): Promise<boolean> {
      const result = await db
        .deleteFrom('system_assignment')
        .where('actor_id', '=', actorId)
        .where('target_id', '=', 'system')
        .where('role_id', '=', roleId)
        .where('inherited', '=', false)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

  };
}

/** Keystone's resource_options_ref_to_mapper: given options are set, null ones removed, others kept. */
async function writeRoleOptions(trx: Transaction<KeystoneDatabase>, roleId: string, options: Readonly<Record<string, unknown>>): Promise<void> {
  for (const [name, value] of Object.entries(options)) {
    const optionId = ROLE_OPTION_IDS[name];
    if (!optionId) continue;
    await trx.deleteFrom('role_option').where('role_id', '=', roleId).where('option_id', '=', optionId).execute();
    if (value !== null && value !== undefined) await trx.insertInto('role_option').values({ role_id: roleId, option_id: optionId, option_value: JSON.stringify(value) }).execute();
  }
}
