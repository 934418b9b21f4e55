/**
 * /v3/registered_limits and /v3/limits as Keystone serves them (keystone/api/registered_limits.py,
 * keystone/api/limits.py). Creates take a list and answer it without collection links; the
 * limit list shows a caller only what its scope covers.
 *
 * Policy targets: a list gets its honoured filters as `filter_attr`, a show or delete the stored
 * record, an update the stored record and the body, a create the body. identity:get_limit reads
 * `target.limit.project` or `target.limit.domain`, loaded as Keystone's
 * _build_limit_enforcement_target does (a missing limit leaves the target empty: 404 comes later).
 */
import type { LimitRow, RegisteredLimitRow } from '../../limit/store.js';
import type { LimitInput, LimitService, RegisteredLimitInput } from '../../limit/service.js';
import { applyListHints, filterAttributes, readListFilters } from '../../common/list-hints.js';
import type { Caller, RequestContext, Route } from '../http.js';
import type { SchemaRegistry } from '../validation.js';
import { collection, stored } from './catalog.js';

export interface LimitRoutesDeps {
  readonly limits: LimitService;
  readonly schemas: SchemaRegistry;
  /** `[unified_limit] list_limit`, else `[DEFAULT] list_limit`; null or 0 is no limit. */
  readonly listLimit: number | null;
  readonly getProject: (id: string) => Promise<Record<string, unknown> | undefined>;
  readonly getDomain: (id: string) => Promise<Record<string, unknown> | undefined>;
  /** Ids of the projects of a domain (for a domain-scoped caller's limit list). */
  readonly projectIdsInDomain: (domainId: string) => Promise<string[]>;
}

const REGISTERED_LIMIT_FILTERS = ['service_id', 'region_id', 'resource_name'] as const;
const LIMIT_FILTERS = ['service_id', 'region_id', 'resource_name', 'project_id', 'domain_id'] as const;

export function registeredLimitRef(ctx: RequestContext, r: RegisteredLimitRow): Record<string, unknown> {
  return {
    id: r.id,
    service_id: r.service_id,
    region_id: r.region_id,
    resource_name: r.resource_name,
    default_limit: r.default_limit,
    description: r.description,
    links: { self: `${ctx.baseUrl}/v3/registered_limits/${r.id}` },
  };
}

export function limitRef(ctx: RequestContext, l: LimitRow): Record<string, unknown> {
  return {
    id: l.id,
    project_id: l.project_id,
    domain_id: l.domain_id,
    service_id: l.service_id,
    region_id: l.region_id,
    resource_name: l.resource_name,
    resource_limit: l.resource_limit,
    description: l.description,
    links: { self: `${ctx.baseUrl}/v3/limits/${l.id}` },
  };
}

function body<T>(ctx: RequestContext, member: string): T {
  return (ctx.body as Record<string, unknown>)[member] as T;
}

/** Keystone validates list queries before it enforces policy; a bad filter value is a 400. */
function validatedQuery(deps: LimitRoutesDeps, schema: string, ctx: RequestContext, filters: readonly string[]) {
  const first: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ctx.query as Record<string, unknown>)) first[key] = Array.isArray(value) ? value[0] : value;
  deps.schemas.validate(schema, first);
  return { filter_attr: filterAttributes(ctx.query, filters) };
}

/**
 * keystone/api/limits.py: system scope, `admin` or `service` see every limit; a domain-scoped
 * caller its domain's limit and its projects'; a project-scoped caller its project's. Keystone
 * cuts the domain view to list_limit before filtering it, and the project view after.
 */
async function visibleLimits(deps: LimitRoutesDeps, caller: Caller, refs: Record<string, unknown>[], ctx: RequestContext) {
  const c = caller.credentials;
  const filters = readListFilters(ctx.query, LIMIT_FILTERS);
  if (c.system_scope || c.roles.includes('admin') || c.roles.includes('service')) return applyListHints(refs, filters, deps.listLimit);
  if (c.domain_id) {
    const domainId = c.domain_id;
    const { records, truncated } = applyListHints(refs, filters, deps.listLimit);
    const projectIds = new Set(await deps.projectIdsInDomain(domainId));
    const kept = records.filter((l) => (l['project_id'] ? projectIds.has(l['project_id'] as string) : l['domain_id'] ? l['domain_id'] === domainId : false));
    return { records: kept, truncated };
  }
  if (c.project_id) {
    return applyListHints(refs, [...filters, { name: 'project_id', value: c.project_id, comparator: 'equals', caseSensitive: true }], deps.listLimit);
  }
  return { records: [], truncated: false };
}

export function limitRoutes(deps: LimitRoutesDeps): Route[] {
  const { limits } = deps;
  const registeredPath = '/v3/registered_limits/{registered_limit_id}';
  const limitPath = '/v3/limits/{limit_id}';

  const storedRegistered = async (ctx: RequestContext) => {
    const record = await limits.findRegisteredLimit(ctx.params['registered_limit_id']!);
    return { target: record ? { registered_limit: stored(registeredLimitRef(ctx, record)) } : {} };
  };

  /** _build_limit_enforcement_target: the limit, with its project or domain inside it. */
  const limitTarget = async (ctx: RequestContext) => {
    const record = await limits.findLimit(ctx.params['limit_id']!);
    if (!record) return { target: {} };
    const limit: Record<string, unknown> = stored(limitRef(ctx, record));
    if (record.project_id) {
      const project = await deps.getProject(record.project_id);
      if (project) limit['project'] = project;
    } else if (record.domain_id) {
      const domain = await deps.getDomain(record.domain_id);
      if (domain) limit['domain'] = domain;
    }
    return { target: { limit } };
  };

  return [
    // ---- registered limits: anyone authenticated may read them (the empty rule) -------------
    {
      method: 'GET',
      path: '/v3/registered_limits',
      action: 'identity:list_registered_limits',
      authenticated: true,
      statuses: [200, 400, 401, 403],
      target: async (ctx) => validatedQuery(deps, 'registered-limits-list-query', ctx, REGISTERED_LIMIT_FILTERS),
      async handle(ctx) {
        const refs = (await limits.listRegisteredLimits()).map((r) => registeredLimitRef(ctx, r));
        const { records, truncated } = applyListHints(refs, readListFilters(ctx.query, REGISTERED_LIMIT_FILTERS), deps.listLimit);
        return { status: 200, body: collection(ctx, 'registered_limits', records, truncated) };
      },
    },
    {
      method: 'POST',
      path: '/v3/registered_limits',
      action: 'identity:create_registered_limits',
      authenticated: true,
      requestSchema: 'registered-limits-create',
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => ({ request_body: ctx.body }),
      async handle(ctx) {
        const created = await limits.createRegisteredLimits(body<RegisteredLimitInput[]>(ctx, 'registered_limits'));
        return { status: 201, body: { registered_limits: created.map((r) => registeredLimitRef(ctx, r)) } };
      },
    },
    {
      method: 'GET',
      path: registeredPath,
      action: 'identity:get_registered_limit',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: storedRegistered,
      async handle(ctx) {
        return { status: 200, body: { registered_limit: registeredLimitRef(ctx, await limits.getRegisteredLimit(ctx.params['registered_limit_id']!)) } };
      },
    },
    {
      method: 'PATCH',
      path: registeredPath,
      action: 'identity:update_registered_limit',
      authenticated: true,
      requestSchema: 'registered-limit-update',
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ ...(await storedRegistered(ctx)), request_body: body(ctx, 'registered_limit') }),
      async handle(ctx) {
        const record = await limits.updateRegisteredLimit(ctx.params['registered_limit_id']!, body(ctx, 'registered_limit'));
        return { status: 200, body: { registered_limit: registeredLimitRef(ctx, record) } };
      },
    },
    {
      method: 'DELETE',
      path: registeredPath,
      action: 'identity:delete_registered_limit',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: storedRegistered,
      async handle(ctx) {
        await limits.deleteRegisteredLimit(ctx.params['registered_limit_id']!);
        return { status: 204 };
      },
    },

    // ---- limits --------------------------------------------------------------------------
    // Before /v3/limits/{limit_id}: "model" is not a limit id.
    {
      method: 'GET',
      path: '/v3/limits/model',
      action: 'identity:get_limit_model',
      authenticated: true,
      statuses: [200, 401, 403],
      async handle() {
        return { status: 200, body: { model: { name: limits.model.name, description: limits.model.description } } };
      },
    },
    {
      method: 'GET',
      path: '/v3/limits',
      action: 'identity:list_limits',
      authenticated: true,
      statuses: [200, 400, 401, 403],
      target: async (ctx) => validatedQuery(deps, 'limits-list-query', ctx, LIMIT_FILTERS),
      async handle(ctx) {
        const refs = (await limits.listLimits()).map((l) => limitRef(ctx, l));
        const { records, truncated } = await visibleLimits(deps, ctx.caller!, refs, ctx);
        return { status: 200, body: collection(ctx, 'limits', records, truncated) };
      },
    },
    {
      method: 'POST',
      path: '/v3/limits',
      action: 'identity:create_limits',
      authenticated: true,
      requestSchema: 'limits-create',
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => ({ request_body: ctx.body }),
      async handle(ctx) {
        const created = await limits.createLimits(body<LimitInput[]>(ctx, 'limits'));
        return { status: 201, body: { limits: created.map((l) => limitRef(ctx, l)) } };
      },
    },
    {
      method: 'GET',
      path: limitPath,
      action: 'identity:get_limit',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: limitTarget,
      async handle(ctx) {
        return { status: 200, body: { limit: limitRef(ctx, await limits.getLimit(ctx.params['limit_id']!)) } };
      },
    },
    {
      method: 'PATCH',
      path: limitPath,
      action: 'identity:update_limit',
      authenticated: true,
      requestSchema: 'limit-update',
      statuses: [200, 400, 401, 403, 404],
      target: async (ctx) => ({ ...(await limitTarget(ctx)), request_body: body(ctx, 'limit') }),
      async handle(ctx) {
        const record = await limits.updateLimit(ctx.params['limit_id']!, body(ctx, 'limit'));
        return { status: 200, body: { limit: limitRef(ctx, record) } };
      },
    },
    {
      method: 'DELETE',
      path: limitPath,
      action: 'identity:delete_limit',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: limitTarget,
      async handle(ctx) {
        await limits.deleteLimit(ctx.params['limit_id']!);
        return { status: 204 };
      },
    },
  ];
}
