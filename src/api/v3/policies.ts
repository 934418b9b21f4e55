/**
 * /v3/policies (policy blobs other services fetch) and OS-ENDPOINT-POLICY as Keystone serves them
 * (keystone/api/policy.py, keystone/api/endpoints.py). Targets follow the one rule of
 * schemas/policy-input.json, as the catalog routes do.
 */
import { policyDict, type EndpointPolicyService } from '../../endpoint-policy/service.js';
import type { AssociationTarget, PolicyRow } from '../../endpoint-policy/store.js';
import type { RequestContext, Route } from '../http.js';
import { bodyMember, collection, endpointRef, readUpdateDeleteRoutes, stored } from './catalog.js';

export interface PolicyRoutesDeps {
  readonly policies: EndpointPolicyService;
  /** `[policy] list_limit`, else `[DEFAULT] list_limit`; null or 0 is no limit. */
  readonly listLimit: number | null;
}

export function policyRef(ctx: RequestContext, policy: PolicyRow): Record<string, unknown> {
  return { ...policyDict(policy), links: { self: `${ctx.baseUrl}/v3/policies/${policy.id}` } };
}

const BASE = '/v3/policies/{policy_id}/OS-ENDPOINT-POLICY';

/** The three association kinds Keystone supports, each at its own path. */
const ASSOCIATIONS: readonly { path: string; name: string; target: (params: Record<string, string>) => AssociationTarget }[] = [
  { path: `${BASE}/endpoints/{endpoint_id}`, name: 'endpoint', target: (p) => ({ endpoint_id: p['endpoint_id']!, service_id: null, region_id: null }) },
  { path: `${BASE}/services/{service_id}`, name: 'service', target: (p) => ({ endpoint_id: null, service_id: p['service_id']!, region_id: null }) },
  {
    path: `${BASE}/services/{service_id}/regions/{region_id}`,
    name: 'region_and_service',
    target: (p) => ({ endpoint_id: null, service_id: p['service_id']!, region_id: p['region_id']! }),
  },
];

export function policyRoutes(deps: PolicyRoutesDeps): Route[] {
  const { policies } = deps;
  const pending = new WeakMap<RequestContext, PolicyRow>();
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/v3/policies',
      action: 'identity:create_policy',
      authenticated: true,
      requestSchema: 'policy-create',
      bodyMember: 'policy',
      statuses: [201, 400, 401, 403],
      async target(ctx) {
        const record = policies.newPolicy(bodyMember(ctx, 'policy'));
        pending.set(ctx, record);
        return { target: { policy: policyDict(record) } };
      },
      async handle(ctx) {
        const record = await policies.createPolicy(pending.get(ctx)!);
        return { status: 201, body: { policy: policyRef(ctx, record) } };
      },
    },
    ...readUpdateDeleteRoutes<PolicyRow>(
      '/v3/policies',
      {
        collection: 'policies',
        member: 'policy',
        idParam: 'policy_id',
        filters: ['type'],
        render: policyRef,
        list: policies.listPolicies,
        find: policies.findPolicy,
        get: policies.getPolicy,
        update: policies.updatePolicy,
        remove: policies.deletePolicy,
        limited: true,
      },
      deps.listLimit,
      { list: 'identity:list_policies', get: 'identity:get_policy', update: 'identity:update_policy', remove: 'identity:delete_policy' },
      'policy-update',
    ),
    {
      method: 'GET',
      path: `${BASE}/endpoints`,
      action: 'identity:list_endpoints_for_policy',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: async (ctx) => {
        const policy = await policies.findPolicy(ctx.params['policy_id']!);
        return { target: policy ? { policy: policyDict(policy) } : {} };
      },
      async handle(ctx) {
        const endpoints = await policies.endpointsForPolicy(ctx.params['policy_id']!);
        return { status: 200, body: collection(ctx, 'endpoints', endpoints.map((e) => endpointRef(ctx, e))) };
      },
    },
    {
      method: 'GET',
      path: '/v3/endpoints/{endpoint_id}/OS-ENDPOINT-POLICY/policy',
      action: 'identity:get_policy_for_endpoint',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: async () => ({}),
      async handle(ctx) {
        const policy = await policies.policyForEndpoint(ctx.params['endpoint_id']!);
        // Keystone links this to /v3/endpoints/<policy id>, which is no resource; the policy's own URL is.
        return { status: 200, body: { policy: policyRef(ctx, policy) } };
      },
    },
  ];
  for (const association of ASSOCIATIONS) {
    const target = async (ctx: RequestContext) => {
      const policy = await policies.findPolicy(ctx.params['policy_id']!);
      return { target: policy ? { policy: stored(policyDict(policy)) } : {} };
    };
    const steps = [
      ['GET', 'check', (t: AssociationTarget, id: string) => policies.checkAssociation(id, t)],
      ['PUT', 'create', (t: AssociationTarget, id: string) => policies.associate(id, t)],
      ['DELETE', 'delete', (t: AssociationTarget, id: string) => policies.dissociate(id, t)],
    ] as const;
    for (const [method, verb, run] of steps) {
      routes.push({
        method,
        path: association.path,
        action: `identity:${verb}_policy_association_for_${association.name}`,
        authenticated: true,
        statuses: [204, 401, 403, 404],
        target,
        async handle(ctx) {
          await run(association.target(ctx.params), ctx.params['policy_id']!);
          return { status: 204 };
        },
      });
    }
  }
  return routes;
}
