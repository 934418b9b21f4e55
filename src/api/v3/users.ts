import { KeystoneError, ValidationError } from '../../common/errors.js';
import { applyListHints, readPage, type ListFilter } from '../../common/list-hints.js';
import type { IdentityService, ManagedUser, UserListFilters } from '../../identity/service.js';
import type { ProjectRecord } from '../../resource/store.js';
import type { RequestContext, Route } from '../http.js';
import { userDict, userGroupDict, userListJson } from './identity-views.js';
import { collection, filterAttr, listFilters, projectDict, withSelfLink } from './resource-views.js';
import { parseIsoTime } from './revoke.js';

export interface UserRoutesDeps {
  readonly identity: IdentityService;
  /** `[DEFAULT] max_db_limit`: the largest page a `limit` may ask for. */
  readonly maxDbLimit: number;
  /** Projects where the user (or one of its groups) has a role, direct or inherited (list_projects_for_user). */
  readonly projectsForUser: (userId: string) => Promise<ProjectRecord[]>;
  /** [identity] default_domain_id: the deprecated fallback when neither body nor token names a domain. */
  readonly defaultDomainId: string;
}

/** GET /v3/users filters (keystone/api/users.py). */
const USER_FILTERS = ['domain_id', 'enabled', 'idp_id', 'name', 'protocol_id', 'unique_id', 'password_expires_at'] as const;
const USER_GROUP_FILTERS = ['name'] as const;
const USER_PROJECT_FILTERS = ['domain_id', 'enabled', 'name'] as const;

const PASSWORD_EXPIRY_OPERATORS = { lt: '<', lte: '<=', gt: '>', gte: '>=', eq: '=', neq: '<>' } as const;

/** Keystone's ValidationTimeStampError: a 400 that is not a ValidationError subclass upstream. */
class ValidationTimeStampError extends KeystoneError {
  constructor() {
    super(
      400,
      'Bad Request',
      'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  }
}

/**
 * Keystone's _translate_expired_password_hints: `password_expires_at=<op>:<timestamp>`, where a
 * colon at the third or fourth character separates the operator (else the operator is `eq`).
 */
export function userListFilters(filters: readonly ListFilter[]): UserListFilters {
  const passwordExpires: { op: '<' | '<=' | '>' | '>=' | '=' | '<>'; at: Date }[] = [];
  for (const f of filters) {
    if (f.name !== 'password_expires_at') continue;
    const colon = f.value.slice(2, 4).includes(':');
    const op = colon ? f.value.slice(0, f.value.indexOf(':')) : 'eq';
    const timestamp = colon ? f.value.slice(f.value.indexOf(':') + 1) : f.value;
    const at = parseIsoTime(timestamp);
    if (!at) throw new ValidationTimeStampError();
    const sqlOp = PASSWORD_EXPIRY_OPERATORS[op as keyof typeof PASSWORD_EXPIRY_OPERATORS];
    if (!Object.hasOwn(PASSWORD_EXPIRY_OPERATORS, op)) {
      throw new ValidationError(`The given operator ${op} is not valid. It must be one of the following: 'eq', 'neq', 'lt', 'lte', 'gt', or 'gte'.`);
    }
    passwordExpires.push({ op: sqlOp, at });
  }
  return { filters: filters.filter((f) => f.name !== 'password_expires_at'), passwordExpires };
}

function bodyMember(ctx: RequestContext): Record<string, unknown> {
  const member = (ctx.body as Record<string, unknown> | undefined)?.['user'];
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? { ...(member as Record<string, unknown>) } : {};
}

/** Keystone's _normalize_dict on create: ':' and '-' in member names become '_'. */
function normalizeKeys(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

export function userRoutes(deps: UserRoutesDeps): Route[] {
  const { identity } = deps;
  const loaded = new WeakMap<RequestContext, ManagedUser>();
  /**
   * Keystone's _build_user_target_enforcement: the stored user, or nothing when it is missing
   * (existence is checked after policy, so a caller who may not see users learns nothing).
   */
  const currentTarget = async (ctx: RequestContext) => {
    const user = await identity.showUser(ctx.params['user_id']!).catch(() => undefined);
    if (user) loaded.set(ctx, user);
    return { target: user ? { user: userDict(user) } : {} };
  };
  const member = (ctx: RequestContext, dict: Record<string, unknown>) => ({ user: withSelfLink(ctx, 'users', dict) });

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/users',
        action: 'identity:list_users',
        authenticated: true,
        statuses: [200, 400, 401, 403],
        target: async (ctx) => {
          const scopeDomain = ctx.caller!.credentials.domain_id;
          return { filter_attr: filterAttr(ctx, USER_FILTERS), ...(scopeDomain ? { target: { domain_id: scopeDomain } } : {}) };
        },
        async handle(ctx) {
          // A domain-scoped caller lists its own domain only (keystone/api/users.py).
          const scopeDomain = ctx.caller!.credentials.domain_id ?? null;
          const page = readPage(ctx.query, deps.maxDbLimit);
          const { refs, truncated } = await identity.listUsers(userListFilters(listFilters(ctx, USER_FILTERS)), scopeDomain, page);
          const visible = scopeDomain ? refs.filter((u) => u.domain_id === scopeDomain) : refs;
          return { status: 200, json: userListJson(ctx, visible, truncated, page) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}',
        action: 'identity:get_user',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: currentTarget,
        async handle(ctx) {
          const user = loaded.get(ctx) ?? (await identity.showUser(ctx.params['user_id']!));
          return { status: 200, body: member(ctx, userDict(user)) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/groups',
        action: 'identity:list_groups_for_user',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: async (ctx) => ({ ...(await currentTarget(ctx)), filter_attr: filterAttr(ctx, USER_GROUP_FILTERS) }),
        async handle(ctx) {
          const { refs, truncated } = await identity.listGroupsForUser(ctx.params['user_id']!, listFilters(ctx, USER_GROUP_FILTERS));
          const scopeDomain = ctx.caller!.credentials.domain_id;
          const visible = scopeDomain ? refs.filter((g) => g.domain_id === scopeDomain) : refs;
          return { status: 200, body: collection(ctx, 'groups', visible.map((g) => withSelfLink(ctx, 'groups', userGroupDict(g))), truncated) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/projects',
        action: 'identity:list_user_projects',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ ...(await currentTarget(ctx)), filter_attr: filterAttr(ctx, USER_PROJECT_FILTERS) }),
        async handle(ctx) {
          // Keystone filters these on the rendered projects and applies no list_limit here.
          const filters = listFilters(ctx, USER_PROJECT_FILTERS);
          const projects = (await deps.projectsForUser(ctx.params['user_id']!)).map((p) => projectDict(p));
          const { records } = applyListHints(projects, filters, null);
          return { status: 200, body: collection(ctx, 'projects', records.map((p) => withSelfLink(ctx, 'projects', p)), false) };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/users',
      action: 'identity:create_user',
      authenticated: true,
      requestSchema: 'user-create',
      bodyMember: 'user',
      bodyMemberDefault: {},
      statuses: [201, 400, 401, 403, 404, 409],
      // The rule sees the user as the client sent it, before any defaults (Keystone's order).
      target: async (ctx) => ({ target: { user: bodyMember(ctx) } }),
      async handle(ctx) {
        const body = normalizeKeys(bodyMember(ctx));
        // The token's domain, else the deprecated fallback to the default domain.
        if (!('domain_id' in body)) body['domain_id'] = ctx.caller!.credentials.domain_id ?? deps.defaultDomainId;
        const user = await identity.createUserFromApi(body);
        return { status: 201, body: member(ctx, userDict(user)) };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/users/{user_id}',
      action: 'identity:update_user',
      authenticated: true,
      requestSchema: 'user-update',
      bodyMember: 'user',
      bodyMemberDefault: {},
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ ...(await currentTarget(ctx)), request_body: ctx.body }),
      async handle(ctx) {
        const body = bodyMember(ctx);
        if (body['id'] !== undefined && body['id'] !== null && body['id'] !== ctx.params['user_id']) throw new ValidationError('Cannot change ID');
        const { user, extra } = await identity.updateUser(ctx.params['user_id']!, body);
        // Keystone's update answers with to_dict(include_extra_dict=True): `extra` twice.
        return { status: 200, body: member(ctx, userDict(user, { extra })) };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/{user_id}',
      action: 'identity:delete_user',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        await identity.deleteUser(ctx.params['user_id']!);
        return { status: 204 };
      },
    },
    {
      // Unenforced upstream and no token needed: a user whose password expired has no way to
      // get one, and the original password is the proof of identity (keystone/api/users.py).
      method: 'POST',
      path: '/v3/users/{user_id}/password',
      action: null,
      authenticated: false,
      requestSchema: 'user-password',
      bodyMember: 'user',
      bodyMemberDefault: {},
      statuses: [204, 400, 401],
      async handle(ctx) {
        const body = bodyMember(ctx) as { original_password: string; password: string };
        await identity.changePassword(ctx.params['user_id']!, body.original_password, body.password);
        return { status: 204 };
      },
    },
  );
  return routes;
}
