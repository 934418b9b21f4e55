import { pythonJson, pythonJsonString } from '../../common/json.js';
import type { Page } from '../../common/list-hints.js';
import { naiveIsoTime } from '../../common/time.js';
import type { GroupRecord, UserGroup } from '../../identity/group-store.js';
import type { ManagedUser, User } from '../../identity/service.js';
import type { RequestContext } from '../http.js';
import { collectionTail, withSelfLink } from './resource-views.js';

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

const jsonString = pythonJsonString;

/**
 * One listed user as `pythonJson(withSelfLink(ctx, 'users', userDict(user)))` writes it, built as
 * text: a 10,000-user list spends more on the intermediate objects (and collecting them) than on
 * the text. A user whose `extra` has anything to show takes the general path, whose key order
 * (extra first, a member of extra overridden in place) is not worth repeating here.
 */
function listedUserJson(selfPrefix: string, user: User, fallback: (user: User) => string): string {
  if ((user as ManagedUser).federated) return fallback(user);
  for (const key in user.extra) if (!HIDDEN_USER_KEYS.includes(key)) return fallback(user);
  let options = '{}';
  for (const _ in user.options) {
    options = pythonJson({ ...user.options });
    break;
  }
  const id = jsonString(user.id);
  return (
    `{"id": ${id}, "name": ${jsonString(user.name)}, "domain_id": ${jsonString(user.domain_id)}, "enabled": ${user.enabled ? 'true' : 'false'}, ` +
    (user.default_project_id ? `"default_project_id": ${jsonString(user.default_project_id)}, ` : '') +
    `"password_expires_at": ${user.password_expires_at ? `"${naiveIsoTime(user.password_expires_at)}"` : 'null'}, "options": ${options}, ` +
    `"links": {"self": ${jsonString(`${selfPrefix}${user.id}`)}}}`
  );
}

/**
 * GET /v3/users' body, byte for byte `pythonJson(collection(ctx, 'users', users.map((u) =>
 * withSelfLink(ctx, 'users', userDict(u))), truncated, page))`, written directly as text.
 */
export function userListJson(ctx: RequestContext, users: readonly User[], truncated: boolean, page?: Page | null): string {
  const selfPrefix = `${ctx.baseUrl}/v3/users/`;
  const fallback = (user: User) => pythonJson(withSelfLink(ctx, 'users', userDict(user)));
  const members = new Array<string>(users.length);
  for (let i = 0; i < users.length; i += 1) members[i] = listedUserJson(selfPrefix, users[i]!, fallback);
  const tail = pythonJson(collectionTail(ctx, users.length > 0 ? users[users.length - 1]!.id : undefined, truncated, page));
  // The tail is an object: `{"links": ...}` continues the envelope after the members.
  return `{"users": [${members.join(', ')}], ${tail.slice(1)}`;
}
