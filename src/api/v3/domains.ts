import type { ResourceService } from '../../resource/service.js';
import type { ProjectRecord } from '../../resource/store.js';
import type { RequestContext, Route } from '../http.js';
import { readPage } from '../../common/list-hints.js';
import { collection, domainDict, filterAttr, listFilters, withSelfLink } from './resource-views.js';

export interface DomainRoutesDeps {
  readonly resource: ResourceService;
  /** `[DEFAULT] max_db_limit`: the largest page a `limit` may ask for. */
  readonly maxDbLimit: number;
}

/** GET /v3/domains filters (keystone/api/domains.py). */
const DOMAIN_FILTERS = ['name', 'enabled'] as const;

function bodyMember(ctx: RequestContext): Record<string, unknown> {
  const member = (ctx.body as Record<string, unknown> | undefined)?.['domain'];
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? { ...(member as Record<string, unknown>) } : {};
}

/** Keystone's _normalize_dict on create: ':' and '-' in member names become '_'. */
function normalizeKeys(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

export function domainRoutes(deps: DomainRoutesDeps): Route[] {
  /** Show, update and delete see the stored domain (absent when missing: the handler answers 404). */
  const loaded = new WeakMap<RequestContext, ProjectRecord>();
  const currentTarget = async (ctx: RequestContext) => {
    const domain = await deps.resource.getDomain(ctx.params['domain_id']!).catch(() => undefined);
    if (domain) loaded.set(ctx, domain);
    return { target: domain ? { domain: domainDict(domain) } : {} };
  };
  const member = (ctx: RequestContext, ref: ProjectRecord) => ({ domain: withSelfLink(ctx, 'domains', domainDict(ref)) });

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/domains',
        action: 'identity:list_domains',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ filter_attr: filterAttr(ctx, DOMAIN_FILTERS) }),
        async handle(ctx) {
          const page = readPage(ctx.query, deps.maxDbLimit);
          const { refs, truncated } = await deps.resource.list('domains', listFilters(ctx, DOMAIN_FILTERS), {}, null, page);
          return { status: 200, body: collection(ctx, 'domains', refs.map((r) => withSelfLink(ctx, 'domains', domainDict(r))), truncated, page) };
        },
      },
      {
        method,
        path: '/v3/domains/{domain_id}',
        action: 'identity:get_domain',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: currentTarget,
        async handle(ctx) {
          const domain = loaded.get(ctx) ?? (await deps.resource.getDomain(ctx.params['domain_id']!));
          return { status: 200, body: member(ctx, domain) };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/domains',
      action: 'identity:create_domain',
      authenticated: true,
      requestSchema: 'domain-create',
      bodyMember: 'domain',
      bodyMemberDefault: {},
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => ({ target: { domain: bodyMember(ctx) } }),
      async handle(ctx) {
        const domain = await deps.resource.createDomain(normalizeKeys(bodyMember(ctx)));
        return { status: 201, body: member(ctx, domain) };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/domains/{domain_id}',
      action: 'identity:update_domain',
      authenticated: true,
      requestSchema: 'domain-update',
      bodyMember: 'domain',
      bodyMemberDefault: {},
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ ...(await currentTarget(ctx)), request_body: ctx.body }),
      async handle(ctx) {
        const domain = await deps.resource.updateDomain(ctx.params['domain_id']!, bodyMember(ctx));
        return { status: 200, body: member(ctx, domain) };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/domains/{domain_id}',
      action: 'identity:delete_domain',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        await deps.resource.deleteDomain(ctx.params['domain_id']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}
