import { naiveIsoTime } from '../../common/time.js';
import type { GroupRecord, UserGroup } from '../../identity/group-store.js';
import type { ManagedUser, User } from '../../identity/service.js';

/** Keystone's filter_user: these never leave the server, even when a client stored them in `extra`. */
const HIDDEN_USER_KEYS = ['password', 'tenants', 'groups', 'domains'];
const HIDDEN_EXTRA_KEYS = ['password', 'tenants'];

function withoutKeys(dict: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(dict).filter(([key]) => !keys.includes(key)));
}

/**
 * The User model's to_dict then filter_user (keystone/identity/backends/sql_model.py): `extra`
 * flattened first, the attributes in model order, default_project_id only when set, then (on
 * update) `extra` again, the options, and on show the federated objects.
 */
export function userDict(user: User | ManagedUser, options: { extra?: Readonly<Record<string, unknown>> } = {}): Record<string, unknown> {
  const dict: Record<string, unknown> = {
    ...withoutKeys(user.extra, HIDDEN_USER_KEYS),
    id: user.id,
    name: user.name,
    domain_id: user.domain_id,
    enabled: user.enabled,
    ...(user.default_project_id ? { default_project_id: user.default_project_id } : {}),
    password_expires_at: user.password_expires_at ? naiveIsoTime(user.password_expires_at) : null,
    ...(options.extra ? { extra: withoutKeys(options.extra, HIDDEN_EXTRA_KEYS) } : {}),
    options: { ...user.options },
  };
  const federated = (user as ManagedUser).federated;
  if (federated) dict['federated'] = federated;
  return dict;
}

/** The Group model's to_dict: `extra` flattened first, then id, name, domain_id, description. */
export function groupDict(group: GroupRecord): Record<string, unknown> {
  return { ...group.extra, id: group.id, name: group.name, domain_id: group.domain_id, description: group.description };
}

/** list_groups_for_user adds when a federated membership lapses (null for a plain one). */
export function userGroupDict(group: UserGroup): Record<string, unknown> {
  return { ...groupDict(group), membership_expires_at: group.membership_expires_at ? naiveIsoTime(group.membership_expires_at) : null };
}
