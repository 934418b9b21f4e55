import { attrAsBoolean } from '../../common/list-hints.js';
import type { ServiceAccount, ServiceAccountCreate, ServiceAccountService, ServiceAccountUpdate } from '../../identity/service-accounts.js';
import { REQUIRED, type RequestContext, type Route } from '../http.js';
import { queryValue } from '../v3/resource-views.js';

/**
 * /v4/service_accounts (issue 6): create, list, show, update (enable/disable) and delete the
 * non-interactive identities a project or domain owns. Who may is policy's: the
 * keystone_ts:*_service_account rules see the owner as `target.service_account.project_id` and
 * `.domain_id` (by default managers of the owner, and admins).
 */
export interface ServiceAccountRoutesDeps {
  readonly serviceAccounts: ServiceAccountService;
  /** A project's domain, so a domain manager may list the accounts of a project in its domain. */
  readonly projectDomain: (projectId: string) => Promise<string | undefined>;
}

function view(ctx: RequestContext, account: ServiceAccount) {
  const { user, marker } = account;
  return {
    id: user.id,
    name: user.name,
    domain_id: user.domain_id,
    project_id: marker.ownerProjectId,
    description: typeof user.extra['description'] === 'string' ? user.extra['description'] : null,
    enabled: user.enabled,
    created_at: marker.createdAt.toISOString(),
    links: { self: `${ctx.baseUrl}/v4/service_accounts/${user.id}` },
  };
}

/** The policy target of an existing account: read before policy, so a missing one is a 404. */
const accountTarget = (account: ServiceAccount) => ({
  service_account: { id: account.user.id, name: account.user.name, project_id: account.marker.ownerProjectId, domain_id: account.marker.ownerDomainId },
});

export function serviceAccountRoutes(deps: ServiceAccountRoutesDeps): Route[] {
  const { serviceAccounts } = deps;
  const byId = (ctx: RequestContext) => serviceAccounts.get(ctx.params['service_account_id']!);
  return [
    {
      method: 'POST',
      path: '/v4/service_accounts',
      action: 'keystone_ts:create_service_account',
      authenticated: true,
      requestSchema: 'service-account-create',
      bodyMember: 'service_account',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => {
        const body = (ctx.body as { service_account: ServiceAccountCreate }).service_account;
        return { target: { service_account: { name: body.name, ...(await serviceAccounts.ownerOf(body)) } } };
      },
      async handle(ctx) {
        const account = await serviceAccounts.create((ctx.body as { service_account: ServiceAccountCreate }).service_account);
        return { status: 201, body: { service_account: view(ctx, account) } };
      },
    },
    {
      method: 'GET',
      path: '/v4/service_accounts',
      action: 'keystone_ts:list_service_accounts',
      authenticated: true,
      statuses: [200, 400, 401, 403],
      // The query is the target (as Keystone's list rules): a project manager asks with its
      // project_id, a domain manager with its domain_id or a project of its domain.
      target: async (ctx) => {
        const projectId = queryValue(ctx, 'project_id');
        const domainId = queryValue(ctx, 'domain_id') ?? (projectId !== undefined ? await deps.projectDomain(projectId) : undefined);
        return { target: { service_account: { project_id: projectId ?? null, domain_id: domainId ?? null } } };
      },
      async handle(ctx) {
        const [project_id, domain_id, name, enabled] = ['project_id', 'domain_id', 'name', 'enabled'].map((n) => queryValue(ctx, n));
        const accounts = await serviceAccounts.list({
          ...(project_id !== undefined ? { project_id } : {}),
          ...(domain_id !== undefined ? { domain_id } : {}),
          ...(name !== undefined ? { name } : {}),
          ...(enabled !== undefined ? { enabled: attrAsBoolean(enabled) } : {}),
        });
        return {
          status: 200,
          body: { service_accounts: accounts.map((a) => view(ctx, a)), links: { self: `${ctx.baseUrl}${ctx.path}${ctx.queryString ? `?${ctx.queryString}` : ''}`, next: null, previous: null } },
        };
      },
    },
    {
      method: 'GET',
      path: '/v4/service_accounts/{service_account_id}',
      action: 'keystone_ts:get_service_account',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: async (ctx) => ({ target: accountTarget(await byId(ctx)) }),
      async handle(ctx) {
        return { status: 200, body: { service_account: view(ctx, await byId(ctx)) } };
      },
    },
    {
      method: 'PATCH',
      path: '/v4/service_accounts/{service_account_id}',
      action: 'keystone_ts:update_service_account',
      authenticated: true,
      requestSchema: 'service-account-update',
      bodyMember: 'service_account',
      bodyMemberDefault: REQUIRED,
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ target: accountTarget(await byId(ctx)) }),
      async handle(ctx) {
        const body = (ctx.body as { service_account: ServiceAccountUpdate }).service_account;
        const account = await serviceAccounts.update(ctx.params['service_account_id']!, body);
        return { status: 200, body: { service_account: view(ctx, account) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v4/service_accounts/{service_account_id}',
      action: 'keystone_ts:delete_service_account',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: async (ctx) => ({ target: accountTarget(await byId(ctx)) }),
      async handle(ctx) {
        await serviceAccounts.delete(ctx.params['service_account_id']!);
        return { status: 204 };
      },
    },
  ];
}
