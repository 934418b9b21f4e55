import { newId } from '../../src/common/ids.js';
import type { TestServer } from './server.js';

/**
 * Groups and memberships written straight into Keystone's tables, for suites that need them
 * whatever the state of the /v3/groups API.
 */
export async function createGroup(server: TestServer, name: string, domainId = 'default'): Promise<string> {
  const id = newId();
  await server.service.db.kysely.insertInto('group').values({ id, name, domain_id: domainId, description: null, extra: '{}' }).execute();
  return id;
}

export async function addUserToGroup(server: TestServer, userId: string, groupId: string): Promise<void> {
  await server.service.db.kysely.insertInto('user_group_membership').values({ user_id: userId, group_id: groupId }).execute();
}
