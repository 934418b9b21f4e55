import { ValidationError } from '../../common/errors.js';
import type { GroupRecord } from '../../identity/group-store.js';
import type { IdentityService, User } from '../../identity/service.js';
import type { RequestContext, Route } from '../http.js';
import { groupDict, userDict } from './identity-views.js';
import { readPage } from '../../common/list-hints.js';
import { collection, filterAttr, listFilters, withSelfLink } from './resource-views.js';
import { userListFilters } from './users.js';

export interface GroupRoutesDeps {
  readonly identity: IdentityService;
  /** `[DEFAULT] max_db_limit`: the largest page a `limit` may ask for. */
  readonly maxDbLimit: number;
  /** [identity] default_domain_id: the deprecated fallback when neither body nor token names a domain. */
  readonly defaultDomainId: string;
}

/** GET /v3/groups and GET /v3/groups/{id}/users filters (keystone/api/groups.py). */
const GROUP_FILTERS = ['domain_id', 'name'] as const;
const GROUP_USER_FILTERS = ['domain_id', 'enabled', 'name', 'password_expires_at'] as const;

function bodyMember(ctx: RequestContext): Record<string, unknown> {
  const member = (ctx.body as Record<string, unknown> | undefined)?.['group'];
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? { ...(member as Record<string, unknown>) } : {};
}

function normalizeKeys(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

export function groupRoutes(deps: GroupRoutesDeps): Route[] {
  const { identity } = deps;
  const loaded = new WeakMap<RequestContext, GroupRecord>();
  /** Keystone's _build_group_target_enforcement: the stored group, absent when missing. */
  const currentTarget = async (ctx: RequestContext) => {
    const group = await identity.getGroup(ctx.params['group_id']!).catch(() => undefined);
    if (group) loaded.set(ctx, group);
    return { target: group ? { group: groupDict(group) } : {} };
  };
  /** Membership routes see the group and the user, each only when it exists. */
  const membershipTarget = async (ctx: RequestContext) => {
    const [group, user] = await Promise.all([
      identity.getGroup(ctx.params['group_id']!).catch(() => undefined),
      identity.showUser(ctx.params['user_id']!).catch(() => undefined),
    ]);
    return { target: { ...(group ? { group: groupDict(group) } : {}), ...(user ? { user: userDict(user) } : {}) } };
  };
  const member = (ctx: RequestContext, group: GroupRecord) => ({ group: withSelfLink(ctx, 'groups', groupDict(group)) });
  const scopeDomain = (ctx: RequestContext) => ctx.caller!.credentials.domain_id ?? null;

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/groups',
        action: 'identity:list_groups',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => {
          const domain = scopeDomain(ctx);
          return { filter_attr: filterAttr(ctx, GROUP_FILTERS), ...(domain ? { target: { group: { domain_id: domain } } } : {}) };
        },
        async handle(ctx) {
          const page = readPage(ctx.query, deps.maxDbLimit);
          const { refs, truncated } = await identity.listGroups(listFilters(ctx, GROUP_FILTERS), scopeDomain(ctx), page);
          return { status: 200, body: collection(ctx, 'groups', refs.map((g) => withSelfLink(ctx, 'groups', groupDict(g))), truncated, page) };
        },
      },
      {
        method,
        path: '/v3/groups/{group_id}',
        action: 'identity:get_group',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: currentTarget,
        async handle(ctx) {
          return { status: 200, body: member(ctx, loaded.get(ctx) ?? (await identity.getGroup(ctx.params['group_id']!))) };
        },
      },
      {
        method,
        path: '/v3/groups/{group_id}/users',
        action: 'identity:list_users_in_group',
        authenticated: true,
        statuses: [200, 400, 401, 403, 404],
        target: async (ctx) => ({ ...(await currentTarget(ctx)), filter_attr: filterAttr(ctx, GROUP_USER_FILTERS) }),
        async handle(ctx) {
          const filters = userListFilters(listFilters(ctx, GROUP_USER_FILTERS));
          const { refs, truncated } = await identity.listUsersInGroup(ctx.params['group_id']!, filters);
          const domain = scopeDomain(ctx);
          const visible = domain ? refs.filter((u: User) => u.domain_id === domain) : refs;
          return { status: 200, body: collection(ctx, 'users', visible.map((u) => withSelfLink(ctx, 'users', userDict(u))), truncated) };
        },
      },
      {
        method,
        path: '/v3/groups/{group_id}/users/{user_id}',
        action: 'identity:check_user_in_group',
        authenticated: true,
        statuses: [204, 401, 403, 404],
        target: membershipTarget,
        async handle(ctx) {
          await identity.checkUserInGroup(ctx.params['group_id']!, ctx.params['user_id']!);
          return { status: 204 };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/groups',
      action: 'identity:create_group',
      authenticated: true,
      requestSchema: 'group-create',
      bodyMember: 'group',
      bodyMemberDefault: {},
      statuses: [201, 400, 401, 403, 404, 409],
      // The rule sees the group as the client sent it, before any defaults (Keystone's order).
      target: async (ctx) => ({ target: { group: bodyMember(ctx) } }),
      async handle(ctx) {
        const body = normalizeKeys(bodyMember(ctx));
        if (!('domain_id' in body)) body['domain_id'] = scopeDomain(ctx) ?? deps.defaultDomainId;
        return { status: 201, body: member(ctx, await identity.createGroup(body)) };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/groups/{group_id}',
      action: 'identity:update_group',
      authenticated: true,
      requestSchema: 'group-update',
      bodyMember: 'group',
      bodyMemberDefault: {},
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ ...(await currentTarget(ctx)), request_body: ctx.body }),
      async handle(ctx) {
        const body = bodyMember(ctx);
        if (body['id'] !== undefined && body['id'] !== null && body['id'] !== ctx.params['group_id']) throw new ValidationError('Cannot change ID');
        delete body['id'];
        return { status: 200, body: member(ctx, await identity.updateGroup(ctx.params['group_id']!, body)) };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/groups/{group_id}',
      action: 'identity:delete_group',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        await identity.deleteGroup(ctx.params['group_id']!);
        return { status: 204 };
      },
    },
    {
      method: 'PUT',
      path: '/v3/groups/{group_id}/users/{user_id}',
      action: 'identity:add_user_to_group',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: membershipTarget,
      async handle(ctx) {
        await identity.addUserToGroup(ctx.params['group_id']!, ctx.params['user_id']!);
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/groups/{group_id}/users/{user_id}',
      action: 'identity:remove_user_from_group',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: membershipTarget,
      async handle(ctx) {
        await identity.removeUserFromGroup(ctx.params['group_id']!, ctx.params['user_id']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}
