/**
 * /v3/domains/{domain_id}/config[/{group}[/{option}]] and /v3/domains/config/.../default as
 * Keystone serves them (keystone/api/domains.py). The domain must exist (404 after the policy
 * check, so its existence is not disclosed to those refused).
 */
import type { DomainConfigService } from '../../domain-config/service.js';
import type { ResourceService } from '../../resource/service.js';
import type { RequestContext, Route } from '../http.js';

export interface DomainConfigRoutesDeps {
  readonly configs: DomainConfigService;
  readonly resource: ResourceService;
}

const SCOPES = [
  { suffix: '', group: false, option: false },
  { suffix: '/{group}', group: true, option: false },
  { suffix: '/{group}/{option}', group: true, option: true },
] as const;

export function domainConfigRoutes(deps: DomainConfigRoutesDeps): Route[] {
  const { configs, resource } = deps;
  const body = (ctx: RequestContext) => (ctx.body as { config: Record<string, unknown> }).config;
  const requireDomain = (ctx: RequestContext) => resource.getDomain(ctx.params['domain_id']!);
  const noTarget = async () => ({});

  const routes: Route[] = [];
  // Reading [security_compliance] has its own rule (any authenticated user), so its paths come
  // before the generic {group} ones.
  for (const suffix of ['', '/{option}']) {
    routes.push({
      method: 'GET',
      path: `/v3/domains/{domain_id}/config/security_compliance${suffix}`,
      action: 'identity:get_security_compliance_domain_config',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: noTarget,
      async handle(ctx) {
        await requireDomain(ctx);
        return { status: 200, body: { config: configs.securityCompliance(ctx.params['domain_id']!, ctx.params['option']) } };
      },
    });
  }
  for (const scope of SCOPES) {
    const path = `/v3/domains/{domain_id}/config${scope.suffix}`;
    const where = (ctx: RequestContext) => [ctx.params['domain_id']!, scope.group ? ctx.params['group'] : undefined, scope.option ? ctx.params['option'] : undefined] as const;
    routes.push(
      {
        method: 'GET',
        path,
        action: 'identity:get_domain_config',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: noTarget,
        async handle(ctx) {
          await requireDomain(ctx);
          return { status: 200, body: { config: await configs.get(...where(ctx)) } };
        },
      },
      {
        method: 'PATCH',
        path,
        action: 'identity:update_domain_config',
        authenticated: true,
        requestSchema: 'domain-config',
        bodyMember: 'config',
        statuses: [200, 400, 401, 403, 404],
        target: noTarget,
        async handle(ctx) {
          await requireDomain(ctx);
          const [domainId, group, option] = where(ctx);
          return { status: 200, body: { config: await configs.update(domainId, body(ctx), group, option) } };
        },
      },
      {
        method: 'DELETE',
        path,
        action: 'identity:delete_domain_config',
        authenticated: true,
        statuses: [204, 401, 403, 404],
        target: noTarget,
        async handle(ctx) {
          await requireDomain(ctx);
          await configs.remove(...where(ctx));
          return { status: 204 };
        },
      },
    );
    routes.push({
      method: 'GET',
      path: `/v3/domains/config${scope.suffix}/default`,
      action: 'identity:get_domain_config_default',
      authenticated: true,
      statuses: [200, 401, 403],
      target: noTarget,
      async handle(ctx) {
        return { status: 200, body: { config: configs.defaults(ctx.params['group'], ctx.params['option']) } };
      },
    });
  }
  routes.push({
    method: 'PUT',
    path: '/v3/domains/{domain_id}/config',
    action: 'identity:create_domain_config',
    authenticated: true,
    requestSchema: 'domain-config',
    bodyMember: 'config',
    statuses: [200, 201, 400, 401, 403, 404],
    target: noTarget,
    async handle(ctx) {
      await requireDomain(ctx);
      const { config, created } = await configs.create(ctx.params['domain_id']!, body(ctx));
      return { status: created ? 201 : 200, body: { config } };
    },
  });
  return routes;
}
