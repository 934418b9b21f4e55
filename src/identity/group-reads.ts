import type { Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';

export interface GroupRef {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly description: string | null;
}

export type GroupReads = ReturnType<typeof createGroupReads>;

/**
 * The two group lookups the assignment API needs (a grant's target, a group's members for
 * effective role assignments). Read-only: the groups API owns writes to these tables.
 */
export function createGroupReads(db: Kysely<KeystoneDatabase>) {
  return {
    async getGroup(id: string): Promise<GroupRef | undefined> {
      return db.selectFrom('group').select(['id', 'name', 'domain_id', 'description']).where('id', '=', id).executeTakeFirst();
    },

    /** Keystone's list_users_in_group: the membership table only, not expiring federated rows. */
    async listUserIdsInGroup(groupId: string): Promise<string[]> {
      const rows = await db.selectFrom('user_group_membership').select('user_id').where('group_id', '=', groupId).execute();
      return rows.map((r) => r.user_id);
    },
  };
}
