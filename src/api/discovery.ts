import type { RequestContext, Route } from './http.js';

/** Identity API v3.14: the version both Zed and 2026 Keystone announce (Appendix E). */
function versionObject(ctx: RequestContext) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${ctx.baseUrl}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

export function discoveryRoutes(): Route[] {
  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push({
      method,
      path: '/',
      action: null,
      authenticated: false,
      statuses: [300],
      handle: async (ctx) => ({
        status: 300,
        headers: { Location: `${ctx.baseUrl}/v3/` },
        body: { versions: { values: [versionObject(ctx)] } },
      }),
    });
    routes.push({
      method,
      path: '/v3',
      action: null,
      authenticated: false,
      statuses: [200],
      handle: async (ctx) => ({ status: 200, body: { version: versionObject(ctx) } }),
    });
  }
  return routes;
}
