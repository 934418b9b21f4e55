import { sql, type Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { parseExtra } from '../common/ids.js';

export interface GroupRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly description: string | null;
  readonly extra: Readonly<Record<string, unknown>>;
}

/** A group of the user's, with when a federated (expiring) membership lapses; null for a plain one. */
export interface UserGroup extends GroupRecord {
  readonly membership_expires_at: Date | null;
}

export interface GroupListQuery {
  readonly domainId?: string;
  readonly name?: string;
  readonly ilike?: readonly { readonly column: 'name' | 'domain_id' | 'description'; readonly pattern: string }[];
}

/** A unique constraint refused the write (Keystone's DBDuplicateEntry → 409). */
export class DuplicateGroup extends Error {}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

interface GroupRow {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  extra: string | null;
}

function toRecord(row: GroupRow): GroupRecord {
  return { id: row.id, name: row.name, domain_id: row.domain_id, description: row.description, extra: parseExtra(row.extra) };
}

export type GroupStore = ReturnType<typeof createGroupStore>;

/** The `group` and `user_group_membership` tables (keystone/identity/backends/sql.py). */
export function createGroupStore(db: Kysely<KeystoneDatabase>) {
  const groups = () => db.selectFrom('group').select(['group.id', 'group.name', 'group.domain_id', 'group.description', 'group.extra']);

  /** The federated memberships still valid: last verified within the IdP's authorization_ttl. */
  async function expiringMemberships(userId: string, now: Date): Promise<{ group_id: string; expires: Date }[]> {
    const rows = await db
      .selectFrom('expiring_user_group_membership')
      .innerJoin('identity_provider', 'identity_provider.id', 'expiring_user_group_membership.idp_id')
      .select(['expiring_user_group_membership.group_id as group_id', 'expiring_user_group_membership.last_verified as last_verified', 'identity_provider.authorization_ttl as ttl'])
      .where('expiring_user_group_membership.user_id', '=', userId)
      .execute();
    return rows
      .map((r) => ({ group_id: r.group_id, expires: new Date(r.last_verified.getTime() + (r.ttl ?? 0) * 60_000) }))
      .filter((r) => r.expires.getTime() > now.getTime());
  }

  return {
    async getGroup(id: string): Promise<GroupRecord | undefined> {
      const row = await groups().where('id', '=', id).executeTakeFirst();
      return row && toRecord(row);
    },

    async listGroups(query: GroupListQuery): Promise<GroupRecord[]> {
      let q = groups();
      if (query.domainId !== undefined) q = q.where('domain_id', '=', query.domainId);
      if (query.name !== undefined) q = q.where('name', '=', query.name);
      for (const { column, pattern } of query.ilike ?? []) q = q.where(sql<boolean>`${sql.ref(column)} ILIKE ${pattern}`);
      return (await q.orderBy('id').execute()).map(toRecord);
    },

    async insertGroup(record: GroupRecord): Promise<void> {
      try {
        await db
          .insertInto('group')
          .values({ id: record.id, name: record.name, domain_id: record.domain_id, description: record.description, extra: JSON.stringify(record.extra) })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateGroup();
        throw error;
      }
    },

    async updateGroup(record: GroupRecord): Promise<void> {
      try {
        await db
          .updateTable('group')
          .set({ name: record.name, description: record.description, extra: JSON.stringify(record.extra) })
          .where('id', '=', record.id)
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateGroup();
        throw error;
      }
    },

    /**
     * Deletes a group with its memberships and role assignments (Keystone's delete_group and
     * delete_group_assignments), atomically. Returns the members it had.
     */
    async deleteGroup(id: string): Promise<{ memberIds: string[]; hadAssignments: boolean }> {
      return db.transaction().execute(async (trx) => {
        const members = await trx.selectFrom('user_group_membership').select('user_id').where('group_id', '=', id).execute();
        const assignments = await trx.selectFrom('assignment').select('role_id').where('actor_id', '=', id).limit(1).execute();
        const systemAssignments = await trx.selectFrom('system_assignment').select('role_id').where('actor_id', '=', id).limit(1).execute();
        await trx.deleteFrom('user_group_membership').where('group_id', '=', id).execute();
        await trx.deleteFrom('expiring_user_group_membership').where('group_id', '=', id).execute();
        await trx.deleteFrom('assignment').where('actor_id', '=', id).where('type', 'in', ['GroupProject', 'GroupDomain']).execute();
        await trx.deleteFrom('system_assignment').where('actor_id', '=', id).where('type', '=', 'GroupSystem').execute();
        await trx.deleteFrom('group').where('id', '=', id).execute();
        return { memberIds: members.map((m) => m.user_id), hadAssignments: assignments.length + systemAssignments.length > 0 };
      });
    },

    async addMember(groupId: string, userId: string): Promise<void> {
      await db.insertInto('user_group_membership').values({ user_id: userId, group_id: groupId }).onConflict((oc) => oc.doNothing()).execute();
    },

    /** True when a membership row was removed. */
    async removeMember(groupId: string, userId: string): Promise<boolean> {
      const result = await db.deleteFrom('user_group_membership').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** Keystone's list_users_in_group for effective assignments: the membership table only, not expiring federated rows. */
    async listMemberIds(groupId: string): Promise<string[]> {
      const rows = await db.selectFrom('user_group_membership').select('user_id').where('group_id', '=', groupId).execute();
      return rows.map((r) => r.user_id);
    },

    async isMember(groupId: string, userId: string, now: Date): Promise<boolean> {
      const direct = await db.selectFrom('user_group_membership').select('user_id').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
      if (direct) return true;
      return (await expiringMemberships(userId, now)).some((m) => m.group_id === groupId);
    },

    /** The user's groups, plain memberships first, then the live federated ones (as Keystone lists them). */
    async listGroupsForUser(userId: string, query: GroupListQuery, now: Date): Promise<UserGroup[]> {
      let q = groups().innerJoin('user_group_membership', 'user_group_membership.group_id', 'group.id').where('user_group_membership.user_id', '=', userId);
      if (query.name !== undefined) q = q.where('group.name', '=', query.name);
      for (const { column, pattern } of query.ilike ?? []) q = q.where(sql<boolean>`${sql.ref(`group.${column}`)} ILIKE ${pattern}`);
      const plain = (await q.orderBy('group.id').execute()).map((row) => ({ ...toRecord(row), membership_expires_at: null }));
      const expiring = await expiringMemberships(userId, now);
      const federated: UserGroup[] = [];
      for (const m of expiring) {
        const row = await groups().where('id', '=', m.group_id).executeTakeFirst();
        if (row) federated.push({ ...toRecord(row), membership_expires_at: m.expires });
      }
      return [...plain, ...federated];
    },
  };
}
