/**
 * /v3/regions, /v3/services and /v3/endpoints as Keystone serves them (keystone/api/regions.py,
 * services.py, endpoints.py). Each handler: policy (by the route table, on the target built
 * here) → schema (by the route table) → CatalogAdmin → Keystone's JSON.
 *
 * Policy targets follow one rule (schemas/policy-input.json): a list gets its honoured query
 * filters as `filter_attr`, a show the stored record, an update the current record and the
 * body as `request_body`, a create the record about to be stored, a delete the current record.
 */
import type { CatalogAdmin } from '../../catalog/admin.js';
import type { EndpointGroupRow, EndpointRecord, RegionRow, ServiceRow } from '../../catalog/store.js';
import { applyListHints, filterAttributes, readListFilters } from '../../common/list-hints.js';
import type { PolicyInput } from '../../policy/pdp.js';
import type { ProjectRef } from '../../resource/store.js';
import type { RequestContext, Route } from '../http.js';

export interface CatalogRoutesDeps {
  readonly admin: CatalogAdmin;
  /** `[catalog] list_limit`, else `[DEFAULT] list_limit`; null or 0 is no limit. */
  readonly listLimit: number | null;
}

type Target = Omit<PolicyInput, 'credentials'>;

export function regionRef(ctx: RequestContext, r: RegionRow): Record<string, unknown> {
  return { ...r.extra, id: r.id, description: r.description, parent_region_id: r.parent_region_id, links: { self: `${ctx.baseUrl}/v3/regions/${r.id}` } };
}

export function serviceRef(ctx: RequestContext, s: ServiceRow): Record<string, unknown> {
  return { ...s.extra, id: s.id, type: s.type, enabled: s.enabled, links: { self: `${ctx.baseUrl}/v3/services/${s.id}` } };
}

/** Keystone's _filter_endpoint: no legacy_endpoint_id, and `region` repeats region_id. */
export function endpointRef(ctx: RequestContext, e: EndpointRecord): Record<string, unknown> {
  const ref: Record<string, unknown> = { ...e.extra, id: e.id, interface: e.interface, region_id: e.region_id, service_id: e.service_id, url: e.url, enabled: e.enabled };
  ref['region'] = e.region_id;
  ref['links'] = { self: `${ctx.baseUrl}/v3/endpoints/${e.id}` };
  return ref;
}

export function endpointGroupRef(ctx: RequestContext, g: EndpointGroupRow): Record<string, unknown> {
  return { id: g.id, name: g.name, description: g.description, filters: g.filters, links: { self: `${ctx.baseUrl}/v3/OS-EP-FILTER/endpoint_groups/${g.id}` } };
}

export function projectRef(ctx: RequestContext, p: ProjectRef): Record<string, unknown> {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    parent_id: p.parent_id,
    is_domain: p.is_domain,
    links: { self: `${ctx.baseUrl}/v3/projects/${p.id}` },
  };
}

/** The request's own URL with its query string, as Keystone's collection `self` link. */
function selfUrl(ctx: RequestContext): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(ctx.query as Record<string, unknown>)) {
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') params.append(key, v);
  }
  const query = params.toString();
  return `${ctx.baseUrl}${ctx.path}${query ? `?${query}` : ''}`;
}

/** A collection with Keystone's links and, when cut by list_limit, `"truncated": true`. */
export function collection(ctx: RequestContext, key: string, refs: readonly unknown[], truncated = false): Record<string, unknown> {
  return { [key]: refs, links: { next: null, self: selfUrl(ctx), previous: null }, ...(truncated ? { truncated: true } : {}) };
}

/** Strips links: policy sees the stored record. */
export function stored(ref: Record<string, unknown>): Record<string, unknown> {
  const { links: _links, ...rest } = ref;
  return rest;
}

export function bodyMember(ctx: RequestContext, member: string): Record<string, unknown> {
  const value = (ctx.body as Record<string, unknown> | undefined)?.[member];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

interface Entity<R> {
  readonly collection: string;
  readonly member: string;
  readonly idParam: string;
  readonly filters: readonly string[];
  readonly render: (ctx: RequestContext, record: R) => Record<string, unknown>;
  readonly list: () => Promise<R[]>;
  readonly find: (id: string) => Promise<R | undefined>;
  readonly get: (id: string) => Promise<R>;
  readonly update: (id: string, body: Record<string, unknown>) => Promise<R>;
  readonly remove: (id: string) => Promise<void>;
  readonly limited: boolean;
}

/** GET list, GET one, PATCH and DELETE: the same steps for every catalog entity. */
export function readUpdateDeleteRoutes<R>(base: string, entity: Entity<R>, listLimit: number | null, actions: { list: string; get: string; update: string; remove: string }, updateSchema: string): Route[] {
  const memberPath = `${base}/{${entity.idParam}}`;
  const current = async (ctx: RequestContext): Promise<Target> => {
    const record = await entity.find(ctx.params[entity.idParam]!);
    return { target: record ? { [entity.member]: stored(entity.render(ctx, record)) } : {} };
  };
  return [
    {
      method: 'GET',
      path: base,
      action: actions.list,
      authenticated: true,
      statuses: [200, 401, 403],
      target: async (ctx) => ({ filter_attr: filterAttributes(ctx.query, entity.filters) }),
      async handle(ctx) {
        const refs = (await entity.list()).map((r) => entity.render(ctx, r));
        const { records, truncated } = applyListHints(refs, readListFilters(ctx.query, entity.filters), entity.limited ? listLimit : null);
        return { status: 200, body: collection(ctx, entity.collection, records, truncated) };
      },
    },
    {
      method: 'GET',
      path: memberPath,
      action: actions.get,
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: current,
      async handle(ctx) {
        return { status: 200, body: { [entity.member]: entity.render(ctx, await entity.get(ctx.params[entity.idParam]!)) } };
      },
    },
    {
      method: 'PATCH',
      path: memberPath,
      action: actions.update,
      authenticated: true,
      requestSchema: updateSchema,
      bodyMember: entity.member,
      statuses: [200, 400, 401, 403, 404],
      target: async (ctx) => ({ ...(await current(ctx)), request_body: bodyMember(ctx, entity.member) }),
      async handle(ctx) {
        const record = await entity.update(ctx.params[entity.idParam]!, bodyMember(ctx, entity.member));
        return { status: 200, body: { [entity.member]: entity.render(ctx, record) } };
      },
    },
    {
      method: 'DELETE',
      path: memberPath,
      action: actions.remove,
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: current,
      async handle(ctx) {
        await entity.remove(ctx.params[entity.idParam]!);
        return { status: 204 };
      },
    },
  ];
}

export function catalogRoutes(deps: CatalogRoutesDeps): Route[] {
  const { admin } = deps;
  /** Create routes compute the new record once: the policy target, then what is stored. */
  const pending = new WeakMap<RequestContext, unknown>();

  const regionCreate = (pathId: (ctx: RequestContext) => string | undefined): Pick<Route, 'target' | 'handle'> => ({
    async target(ctx) {
      const body = bodyMember(ctx, 'region');
      return { target: { region: { ...body, ...(pathId(ctx) !== undefined && body['id'] === undefined ? { id: pathId(ctx) } : {}) } } };
    },
    async handle(ctx) {
      const record = await admin.createRegion(bodyMember(ctx, 'region'), pathId(ctx));
      return { status: 201, body: { region: regionRef(ctx, record) } };
    },
  });

  return [
    // ---- regions: anyone authenticated may read them (the empty rule) ----------------------
    {
      method: 'POST',
      path: '/v3/regions',
      action: 'identity:create_region',
      authenticated: true,
      requestSchema: 'region-create',
      bodyMember: 'region',
      // Keystone reads `body.get('region')` and fails with a 500 when it is absent; a 400 says why.
      bodyMemberDefault: null,
      statuses: [201, 400, 401, 403, 404, 409],
      ...regionCreate(() => undefined),
    },
    {
      method: 'PUT',
      path: '/v3/regions/{region_id}',
      action: 'identity:create_region',
      authenticated: true,
      requestSchema: 'region-create',
      bodyMember: 'region',
      // Keystone reads `body.get('region')` and fails with a 500 when it is absent; a 400 says why.
      bodyMemberDefault: null,
      statuses: [201, 400, 401, 403, 404, 409],
      ...regionCreate((ctx) => ctx.params['region_id']),
    },
    ...readUpdateDeleteRoutes<RegionRow>(
      '/v3/regions',
      {
        collection: 'regions',
        member: 'region',
        idParam: 'region_id',
        filters: ['parent_region_id'],
        render: regionRef,
        list: admin.listRegions,
        find: admin.findRegion,
        get: admin.getRegion,
        update: admin.updateRegion,
        remove: admin.deleteRegion,
        limited: true,
      },
      deps.listLimit,
      { list: 'identity:list_regions', get: 'identity:get_region', update: 'identity:update_region', remove: 'identity:delete_region' },
      'region-update',
    ),

    // ---- services ---------------------------------------------------------------------------
    {
      method: 'POST',
      path: '/v3/services',
      action: 'identity:create_service',
      authenticated: true,
      requestSchema: 'service-create',
      bodyMember: 'service',
      statuses: [201, 400, 401, 403],
      async target(ctx) {
        const record = admin.newService(bodyMember(ctx, 'service'));
        pending.set(ctx, record);
        return { target: { service: stored(serviceRef(ctx, record)) } };
      },
      async handle(ctx) {
        const record = await admin.createService(pending.get(ctx) as ServiceRow);
        return { status: 201, body: { service: serviceRef(ctx, record) } };
      },
    },
    ...readUpdateDeleteRoutes<ServiceRow>(
      '/v3/services',
      {
        collection: 'services',
        member: 'service',
        idParam: 'service_id',
        filters: ['type', 'name'],
        render: serviceRef,
        list: admin.listServices,
        find: admin.findService,
        get: admin.getService,
        update: admin.updateService,
        remove: admin.deleteService,
        limited: true,
      },
      deps.listLimit,
      { list: 'identity:list_services', get: 'identity:get_service', update: 'identity:update_service', remove: 'identity:delete_service' },
      'service-update',
    ),

    // ---- endpoints --------------------------------------------------------------------------
    {
      method: 'POST',
      path: '/v3/endpoints',
      action: 'identity:create_endpoint',
      authenticated: true,
      requestSchema: 'endpoint-create',
      bodyMember: 'endpoint',
      statuses: [201, 400, 401, 403],
      async target(ctx) {
        const record = admin.newEndpoint(bodyMember(ctx, 'endpoint'));
        pending.set(ctx, record);
        return { target: { endpoint: stored(endpointRef(ctx, record)) } };
      },
      async handle(ctx) {
        const record = await admin.createEndpoint(bodyMember(ctx, 'endpoint'), (pending.get(ctx) as EndpointRecord).id);
        return { status: 201, body: { endpoint: endpointRef(ctx, record) } };
      },
    },
    ...readUpdateDeleteRoutes<EndpointRecord>(
      '/v3/endpoints',
      {
        collection: 'endpoints',
        member: 'endpoint',
        idParam: 'endpoint_id',
        filters: ['interface', 'service_id', 'region_id'],
        render: endpointRef,
        list: admin.listEndpoints,
        find: admin.findEndpoint,
        get: admin.getEndpoint,
        update: admin.updateEndpoint,
        remove: admin.deleteEndpoint,
        limited: true,
      },
      deps.listLimit,
      { list: 'identity:list_endpoints', get: 'identity:get_endpoint', update: 'identity:update_endpoint', remove: 'identity:delete_endpoint' },
      'endpoint-update',
    ),
  ];
}
