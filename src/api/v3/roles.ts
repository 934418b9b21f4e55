import { applyListHints } from '../../common/list-hints.js';
import { ValidationError } from '../../common/errors.js';
import type { AssignmentAdmin } from '../../assignment/admin.js';
import type { RoleRef } from '../../assignment/store.js';
import type { RequestContext, Route } from '../http.js';
import { collection, filterAttr, listFilters, queryValue } from './resource-views.js';

export interface RoleRoutesDeps {
  readonly roles: AssignmentAdmin;
  /** [role] list_limit, else [DEFAULT] list_limit; null: no limit. */
  readonly listLimit: number | null;
}

/** GET /v3/roles filters (keystone/api/roles.py). */
const ROLE_FILTERS = ['name', 'domain_id'] as const;
/** Keystone's _WontMatch: a filter longer than its column matches nothing. */
const COLUMN_LENGTH: Readonly<Record<string, number>> = { name: 255, domain_id: 64 };

/** RoleTable.to_dict: `extra` members first, then the attributes, then options. */
export function roleDict(role: RoleRef): Record<string, unknown> {
  return { ...role.extra, id: role.id, name: role.name, domain_id: role.domain_id, description: role.description, options: { ...role.options } };
}

export function roleMember(ctx: RequestContext, role: RoleRef): Record<string, unknown> {
  return { ...roleDict(role), links: { self: `${ctx.baseUrl}/v3/roles/${role.id}` } };
}

/** build_prior_role_response_data / build_implied_role_response_data: id, links, name. */
function inferenceRef(ctx: RequestContext, role: RoleRef): Record<string, unknown> {
  return { id: role.id, links: { self: `${ctx.baseUrl}/v3/roles/${role.id}` }, name: role.name };
}

function roleBody(ctx: RequestContext): Record<string, unknown> {
  const member = (ctx.body as Record<string, unknown> | undefined)?.['role'];
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? { ...(member as Record<string, unknown>) } : {};
}

/** Keystone's _normalize_dict on create: ':' and '-' in member names become '_'. */
function normalizeKeys(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

/** The request schema requires the `role` member itself, before any policy check. */
function requireRoleMember(ctx: RequestContext): void {
  const body = ctx.body as Record<string, unknown> | undefined;
  if (body === undefined || body === null || typeof body !== 'object' || !('role' in body)) throw new ValidationError("'role' is a required property");
}

export function roleRoutes(deps: RoleRoutesDeps): Route[] {
  const { roles } = deps;
  /** The stored role a show, update or delete is about; absent when missing (404 after policy). */
  const loaded = new WeakMap<RequestContext, RoleRef>();
  const currentTarget = async (ctx: RequestContext) => {
    const role = await roles.getRole(ctx.params['role_id']!).catch(() => undefined);
    if (role) loaded.set(ctx, role);
    return { target: role ? { role: roleDict(role) } : {} };
  };
  /**
   * Keystone enforces the domain_role rule for a domain-specific role and the plain one
   * otherwise, a missing role included, so that a 404 never tells a denied caller it exists.
   */
  const perRole = (plain: string, domainRule: string) => (ctx: RequestContext) => {
    const role = loaded.get(ctx);
    return [role?.domain_id ? domainRule : plain];
  };
  /** Implied-role routes load both roles for the target; a missing one is a 404 before policy. */
  const inferenceTarget = async (ctx: RequestContext) => {
    const prior = await roles.getRole(ctx.params['prior_role_id']!);
    const implied = ctx.params['implied_role_id'] ? await roles.getRole(ctx.params['implied_role_id']) : undefined;
    return { target: { prior_role: roleDict(prior), ...(implied ? { implied_role: roleDict(implied) } : {}) } };
  };
  const inferenceReply = async (ctx: RequestContext, status: number) => {
    const priorId = ctx.params['prior_role_id']!;
    const impliedId = ctx.params['implied_role_id']!;
    await roles.getImpliedRole(priorId, impliedId);
    const implied = await roles.getRole(impliedId);
    const prior = await roles.getRole(priorId);
    return {
      status,
      body: {
        role_inference: { prior_role: inferenceRef(ctx, prior), implies: inferenceRef(ctx, implied) },
        links: { self: `${ctx.baseUrl}/v3/roles/${priorId}/implies/${impliedId}` },
      },
    };
  };

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/roles',
        action: 'identity:list_roles',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ filter_attr: filterAttr(ctx, ROLE_FILTERS) }),
        actions: (ctx) => [queryValue(ctx, 'domain_id') ? 'identity:list_domain_roles' : 'identity:list_roles'],
        async handle(ctx) {
          const filters = listFilters(ctx, ROLE_FILTERS);
          const tooLong = filters.some((f) => f.comparator === 'equals' && f.value.length > (COLUMN_LENGTH[f.name] ?? Infinity));
          let members = (await roles.listRoles()).map(roleDict);
          // Without a domain_id filter only global roles are listed (Keystone adds domain_id=None).
          if (!queryValue(ctx, 'domain_id')) members = members.filter((r) => r['domain_id'] === null);
          const { records, truncated } = tooLong ? { records: [], truncated: false } : applyListHints(members, filters, deps.listLimit);
          const body = records.map((r) => ({ ...r, links: { self: `${ctx.baseUrl}/v3/roles/${String(r['id'])}` } }));
          return { status: 200, body: collection(ctx, 'roles', body, truncated) };
        },
      },
      {
        method,
        path: '/v3/roles/{role_id}',
        action: 'identity:get_role',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: currentTarget,
        actions: perRole('identity:get_role', 'identity:get_domain_role'),
        async handle(ctx) {
          const role = loaded.get(ctx) ?? (await roles.getRole(ctx.params['role_id']!));
          return { status: 200, body: { role: roleMember(ctx, role) } };
        },
      },
      {
        method,
        path: '/v3/roles/{prior_role_id}/implies',
        action: 'identity:list_implied_roles',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: inferenceTarget,
        async handle(ctx) {
          const priorId = ctx.params['prior_role_id']!;
          const prior = await roles.getRole(priorId);
          const impliedIds = (await roles.listInferenceRules()).filter((e) => e.prior_role_id === priorId).map((e) => e.implied_role_id);
          const implies = [];
          for (const id of impliedIds) implies.push(inferenceRef(ctx, await roles.getRole(id)));
          return {
            status: 200,
            body: { role_inference: { prior_role: inferenceRef(ctx, prior), implies }, links: { self: `${ctx.baseUrl}/v3/roles/${priorId}/implies` } },
          };
        },
      },
      {
        method,
        path: '/v3/role_inferences',
        action: 'identity:list_role_inference_rules',
        authenticated: true,
        statuses: [200, 401, 403],
        async handle(ctx) {
          const byId = new Map((await roles.listRoles()).map((r) => [r.id, r]));
          const rules = new Map<string, Record<string, unknown>[]>();
          for (const edge of await roles.listInferenceRules()) {
            rules.set(edge.prior_role_id, [...(rules.get(edge.prior_role_id) ?? []), inferenceRef(ctx, byId.get(edge.implied_role_id)!)]);
          }
          // Keystone's answer has no collection links.
          const inferences = [...rules].map(([priorId, implies]) => ({ prior_role: inferenceRef(ctx, byId.get(priorId)!), implies }));
          return { status: 200, body: { role_inferences: inferences } };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/roles',
      action: 'identity:create_role',
      authenticated: true,
      requestSchema: 'role-create',
      bodyMember: 'role',
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => {
        requireRoleMember(ctx);
        const body = roleBody(ctx);
        return body['domain_id'] ? { target: { role: body } } : {};
      },
      actions: (ctx) => [roleBody(ctx)['domain_id'] ? 'identity:create_domain_role' : 'identity:create_role'],
      async handle(ctx) {
        const role = await roles.createRole(normalizeKeys(roleBody(ctx)));
        return { status: 201, body: { role: roleMember(ctx, role) } };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/roles/{role_id}',
      action: 'identity:update_role',
      authenticated: true,
      requestSchema: 'role-update',
      bodyMember: 'role',
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => {
        requireRoleMember(ctx);
        return currentTarget(ctx);
      },
      actions: perRole('identity:update_role', 'identity:update_domain_role'),
      async handle(ctx) {
        const body = roleBody(ctx);
        const id = ctx.params['role_id']!;
        if (!loaded.has(ctx)) await roles.getRole(id);
        if (body['id'] !== undefined && body['id'] !== null && body['id'] !== id) throw new ValidationError('Cannot change ID');
        return { status: 200, body: { role: roleMember(ctx, await roles.updateRole(id, body)) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/roles/{role_id}',
      action: 'identity:delete_role',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      actions: perRole('identity:delete_role', 'identity:delete_domain_role'),
      async handle(ctx) {
        await roles.deleteRole(ctx.params['role_id']!);
        return { status: 204 };
      },
    },
    {
      method: 'HEAD',
      path: '/v3/roles/{prior_role_id}/implies/{implied_role_id}',
      action: 'identity:check_implied_role',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: inferenceTarget,
      // Registered before GET: express would answer HEAD with the GET route (200), Keystone says 204.
      // Keystone's HEAD runs its GET, so a caller needs both rules (a historical quirk it keeps).
      actions: () => ['identity:check_implied_role', 'identity:get_implied_role'],
      async handle(ctx) {
        await inferenceReply(ctx, 200);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v3/roles/{prior_role_id}/implies/{implied_role_id}',
      action: 'identity:get_implied_role',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: inferenceTarget,
      handle: (ctx) => inferenceReply(ctx, 200),
    },
    {
      method: 'PUT',
      path: '/v3/roles/{prior_role_id}/implies/{implied_role_id}',
      action: 'identity:create_implied_role',
      authenticated: true,
      statuses: [201, 401, 403, 404, 409],
      target: inferenceTarget,
      async handle(ctx) {
        await roles.createImpliedRole(ctx.params['prior_role_id']!, ctx.params['implied_role_id']!);
        return inferenceReply(ctx, 201);
      },
    },
    {
      method: 'DELETE',
      path: '/v3/roles/{prior_role_id}/implies/{implied_role_id}',
      action: 'identity:delete_implied_role',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: inferenceTarget,
      async handle(ctx) {
        await roles.deleteImpliedRole(ctx.params['prior_role_id']!, ctx.params['implied_role_id']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}
