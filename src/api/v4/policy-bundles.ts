import { NotFound } from '../../common/errors.js';
import type { BundleService } from '../../policy/bundle-service.js';
import type { Route } from '../http.js';

/**
 * Policy bundles over HTTP: `PUT` stores an oslo.policy rule set as the bundle's next revision
 * (every process loads it within a second), `GET` serves the policy in force as an OPA bundle
 * with a strong ETag, the OPA bundle service protocol that OPA agents poll.
 */
export function policyBundleRoutes(deps: { bundles: BundleService }): Route[] {
  return [
    {
      method: 'GET',
      path: '/v4/policy/bundles/{name}',
      action: 'keystone_ts:get_policy_bundle',
      authenticated: true,
      statuses: [200, 304, 401, 403, 404],
      async handle(ctx) {
        const bundle = await deps.bundles.opaBundle(ctx.params['name']!);
        if (!bundle) throw new NotFound(`Could not find policy bundle: ${ctx.params['name']!}.`);
        const headers = { ETag: bundle.etag, 'Cache-Control': 'no-cache' };
        const known = ctx.headers['if-none-match'];
        if (typeof known === 'string' && known.split(',').some((tag) => tag.trim() === bundle.etag)) return { status: 304, headers };
        return { status: 200, headers, text: { body: bundle.body, contentType: 'application/gzip' } };
      },
    },
    {
      method: 'PUT',
      path: '/v4/policy/bundles/{name}',
      action: 'keystone_ts:upload_policy_bundle',
      authenticated: true,
      requestSchema: 'policy-bundle-upload',
      statuses: [201, 400, 401, 403, 413],
      async handle(ctx) {
        const name = ctx.params['name']!;
        const { rules } = ctx.body as { rules: Record<string, string> };
        const revision = await deps.bundles.upload(name, rules);
        return { status: 201, body: { bundle: { name, revision, kind: 'oslo' } } };
      },
    },
  ];
}
