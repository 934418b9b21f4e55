/**
 * /v3/policies blobs and their OS-ENDPOINT-POLICY associations with Keystone's semantics
 * (keystone/policy/core.py, keystone/endpoint_policy/core.py). Routes call this; it calls the
 * stores; nothing here knows HTTP.
 */
import type { CatalogAdmin } from '../catalog/admin.js';
import type { EndpointRecord } from '../catalog/store.js';
import { NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import type { AssociationTarget, EndpointPolicyStore, PolicyRow } from './store.js';

type Body = Readonly<Record<string, unknown>>;

const POLICY_ATTRIBUTES = ['id', 'blob', 'type'] as const;

/** flask's _normalize_dict: `:` and `-` in top-level keys become `_`. */
function normalize(body: Body): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

/** Keystone's from_dict: the model's attributes go to columns, everything else to `extra`. */
function toRow(ref: Body): PolicyRow {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ref)) {
    if (key !== 'extra' && !(POLICY_ATTRIBUTES as readonly string[]).includes(key)) extra[key] = value;
  }
  return { id: ref['id'] as string, type: ref['type'] as string, blob: ref['blob'], extra };
}

/** Keystone's to_dict: the extras, then the columns over them. */
export function policyDict(policy: PolicyRow): Record<string, unknown> {
  return { ...policy.extra, id: policy.id, blob: policy.blob, type: policy.type };
}

const policyNotFound = (id: string) => new NotFound(`Could not find policy: ${id}.`);
const associationNotFound = () => new NotFound('Could not find policy association.');

export type EndpointPolicyService = ReturnType<typeof createEndpointPolicyService>;

export function createEndpointPolicyService(deps: { store: EndpointPolicyStore; catalog: CatalogAdmin }) {
  const { store, catalog } = deps;

  async function policy(id: string): Promise<PolicyRow> {
    const found = await store.getPolicy(id);
    if (!found) throw policyNotFound(id);
    return found;
  }

  /** The policy and every catalog entity the association names must exist (404 otherwise). */
  async function checkParts(policyId: string, target: AssociationTarget): Promise<void> {
    await policy(policyId);
    if (target.endpoint_id !== null) await catalog.getEndpoint(target.endpoint_id);
    if (target.service_id !== null) await catalog.getService(target.service_id);
    if (target.region_id !== null) await catalog.getRegion(target.region_id);
  }

  /** Endpoints of the service in the region and in every region below it. */
  function endpointsInRegionTree(serviceId: string, regionId: string, endpoints: readonly EndpointRecord[], children: ReadonlyMap<string, string[]>): EndpointRecord[] {
    const found: EndpointRecord[] = [];
    const seen = new Set<string>();
    const pending = [regionId];
    for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
      // A cycle written by another tool ends the walk where it started.
      if (seen.has(next)) continue;
      seen.add(next);
      found.push(...endpoints.filter((e) => e.service_id === serviceId && e.region_id === next));
      pending.push(...(children.get(next) ?? []));
    }
    return found;
  }

  return {
    listPolicies: () => store.listPolicies(),
    getPolicy: policy,
    findPolicy: (id: string) => store.getPolicy(id),

    /** The record POST /v3/policies stores: the server always picks the id, whatever the body says (Keystone's _assign_unique_id). */
    newPolicy: (body: Body): PolicyRow => toRow({ ...normalize(body), id: newId() }),

    async createPolicy(row: PolicyRow): Promise<PolicyRow> {
      await store.insertPolicy(row);
      return row;
    },

    async updatePolicy(id: string, body: Body): Promise<PolicyRow> {
      if ('id' in body && body['id'] !== id) throw new ValidationError('Cannot change policy ID');
      const current = await policy(id);
      const row = toRow({ ...policyDict(current), ...body, id });
      await store.updatePolicy(row);
      return row;
    },

    async deletePolicy(id: string): Promise<void> {
      if (!(await store.deletePolicy(id))) throw policyNotFound(id);
    },

    async associate(policyId: string, target: AssociationTarget): Promise<void> {
      await checkParts(policyId, target);
      await store.associate(policyId, target);
    },

    async checkAssociation(policyId: string, target: AssociationTarget): Promise<void> {
      await checkParts(policyId, target);
      if (!(await store.isAssociated(policyId, target))) throw associationNotFound();
    },

    async dissociate(policyId: string, target: AssociationTarget): Promise<void> {
      await checkParts(policyId, target);
      await store.dissociate(policyId, target);
    },

    /** Every endpoint the policy's associations cover, in association order (as Keystone lists them). */
    async endpointsForPolicy(policyId: string): Promise<EndpointRecord[]> {
      await policy(policyId);
      const associations = await store.associationsOf(policyId);
      if (associations.length === 0) return [];
      const [endpoints, regions] = await Promise.all([catalog.listEndpoints(), catalog.listRegions()]);
      const children = new Map<string, string[]>();
      for (const region of regions) {
        if (region.parent_region_id === null) continue;
        const list = children.get(region.parent_region_id);
        if (list) list.push(region.id);
        else children.set(region.parent_region_id, [region.id]);
      }
      const result: EndpointRecord[] = [];
      for (const association of associations) {
        if (association.endpoint_id !== null) {
          const endpoint = endpoints.find((e) => e.id === association.endpoint_id);
          if (endpoint) result.push(endpoint);
        } else if (association.service_id !== null && association.region_id === null) {
          result.push(...endpoints.filter((e) => e.service_id === association.service_id));
        } else if (association.service_id !== null && association.region_id !== null) {
          result.push(...endpointsInRegionTree(association.service_id, association.region_id, endpoints, children));
        }
      }
      return result;
    },

    /**
     * GET /v3/endpoints/{id}/OS-ENDPOINT-POLICY/policy: the endpoint's own association, else the
     * service's in the endpoint's region or the nearest region above it, else the service's.
     */
    async policyForEndpoint(endpointId: string): Promise<PolicyRow> {
      const endpoint = await catalog.getEndpoint(endpointId);
      const direct = await store.policyIdFor({ endpoint_id: endpointId, service_id: null, region_id: null });
      if (direct !== undefined) return policy(direct);
      const seen = new Set<string>();
      for (let regionId = endpoint.region_id; regionId !== null && !seen.has(regionId); ) {
        seen.add(regionId);
        const inRegion = await store.policyIdFor({ endpoint_id: null, service_id: endpoint.service_id, region_id: regionId });
        if (inRegion !== undefined) return policy(inRegion);
        regionId = (await catalog.findRegion(regionId))?.parent_region_id ?? null;
      }
      const forService = await store.policyIdFor({ endpoint_id: null, service_id: endpoint.service_id, region_id: null });
      if (forService !== undefined) return policy(forService);
      throw new NotFound(`No policy is associated with endpoint ${endpointId}.`);
    },
  };
}
