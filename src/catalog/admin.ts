/**
 * Catalog administration with Keystone's semantics (keystone/catalog/core.py and its SQL
 * driver): the region tree, service and endpoint rules, endpoint groups and the OS-EP-FILTER
 * associations. Routes call this; it calls the store; nothing here knows HTTP.
 */
import { Conflict, ForbiddenNotSecurity, KeystoneError, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { endpointsForProject } from './catalog.js';
import type { CatalogStore, EndpointGroupRow, EndpointRecord, RegionRow, ServiceRow } from './store.js';

type Body = Readonly<Record<string, unknown>>;

/** Keystone's ValidationError built from its template (attribute, target). */
function expecting(attribute: string, target: string): ValidationError {
  return new ValidationError(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

export class CircularRegionHierarchy extends KeystoneError {
  constructor(parentRegionId: string) {
    super(400, 'Bad Request', `The specified parent region ${parentRegionId} would create a circular region hierarchy.`);
  }
}

/** The only `$(name)s` substitutions Keystone accepts in an endpoint URL (utils.WHITELISTED_PROPERTIES). */
const URL_WHITELIST = new Set(['tenant_id', 'project_id', 'user_id', 'public_bind_host', 'admin_bind_host', 'compute_host', 'admin_port', 'public_port', 'public_endpoint']);

/**
 * Keystone's check_endpoint_url: `$(` becomes `%(` and the URL is %-formatted with the
 * whitelist, so an unknown name, or any other `%` directive than `%%` (a bare `%20` too),
 * is refused with URLValidationError.
 */
export function checkEndpointUrl(url: string): void {
  const text = url.replaceAll('$(', '%(');
  const directive = /%(?:%|\(([^)]*)\)[#0 +-]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%]))/y;
  for (let i = text.indexOf('%'); i !== -1; i = text.indexOf('%', i)) {
    directive.lastIndex = i;
    const m = directive.exec(text);
    const ok = m !== null && (m[0] === '%%' || (URL_WHITELIST.has(m[1]!) && 'rsa'.includes(m[2]!)));
    if (!ok) throw new ValidationError(`Cannot create an endpoint with an invalid URL: ${url}.`);
    i = directive.lastIndex;
  }
}

/** Keystone's from_dict: the model's attributes go to columns, everything else to `extra`. */
function split(body: Body, attributes: readonly string[]): { columns: Record<string, unknown>; extra: Record<string, unknown> } {
  const columns: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    // `extra` itself is never an attribute a client can set (from_dict replaces it).
    if (key === 'extra') continue;
    if (attributes.includes(key)) columns[key] = value;
    else extra[key] = value;
  }
  return { columns, extra };
}

/** flask's _normalize_dict: `:` and `-` in top-level keys become `_`. */
function normalize(body: Body): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replace(/[:-]/g, '_'), v]));
}

/** PATCH bodies may repeat the id, never change it (_require_matching_id). */
function requireMatchingId(body: Body, id: string): void {
  if (body['id'] !== undefined && body['id'] !== null && body['id'] !== id) throw new ValidationError('Cannot change ID');
}

const REGION_ATTRIBUTES = ['id', 'description', 'parent_region_id'];
const SERVICE_ATTRIBUTES = ['id', 'type', 'enabled'];
const ENDPOINT_ATTRIBUTES = ['id', 'interface', 'region_id', 'service_id', 'url', 'legacy_endpoint_id', 'enabled'];
const GROUP_FILTER_KEYS = ['service_id', 'region_id', 'interface'];

export type CatalogAdmin = ReturnType<typeof createCatalogAdmin>;

export function createCatalogAdmin(deps: { store: CatalogStore; projectExists: (id: string) => Promise<boolean> }) {
  const { store } = deps;

  async function region(id: string): Promise<RegionRow> {
    const found = await store.getRegion(id);
    if (!found) throw NotFound.entity('region', id);
    return found;
  }
  async function service(id: string): Promise<ServiceRow> {
    const found = await store.getService(id);
    if (!found) throw NotFound.entity('service', id);
    return found;
  }
  async function endpoint(id: string): Promise<EndpointRecord> {
    const found = await store.getEndpoint(id);
    if (!found) throw NotFound.entity('endpoint', id);
    return found;
  }
  async function endpointGroup(id: string): Promise<EndpointGroupRow> {
    const found = await store.getEndpointGroup(id);
    if (!found) throw new NotFound(`Could not find Endpoint Group: ${id}.`);
    return found;
  }
  async function requireProject(id: string): Promise<void> {
    if (!(await deps.projectExists(id))) throw NotFound.entity('project', id);
  }

  /** Walks up from the new parent; meeting the region itself would close a loop. */
  async function ensureNoCycle(regionId: string, parentId: string | null): Promise<void> {
    const seen = new Set<string>();
    for (let current = parentId; current; ) {
      if (current === regionId) throw new CircularRegionHierarchy(current);
      if (seen.has(current)) return; // an existing loop above, not made by this change
      seen.add(current);
      current = (await region(current)).parent_region_id;
    }
  }

  /**
   * The legacy `region` attribute (v2-style clients): used as region_id when no region_id is
   * given, and the region is created if missing (Keystone's _validate_endpoint_region).
   */
  async function legacyRegion(body: Record<string, unknown>): Promise<string | undefined> {
    if ((body['region_id'] === undefined || body['region_id'] === null) && body['region'] !== undefined && body['region'] !== null) {
      body['region_id'] = body['region'];
      delete body['region'];
      if (!(await store.getRegion(body['region_id'] as string))) return body['region_id'] as string;
    }
    return undefined;
  }

  async function checkEndpointReferences(body: Body, autoRegion: string | undefined): Promise<void> {
    const regionId = body['region_id'];
    if (typeof regionId === 'string' && regionId !== autoRegion && !(await store.getRegion(regionId))) {
      throw expecting('endpoint region_id', 'region table');
    }
    const serviceId = body['service_id'];
    if (typeof serviceId === 'string' && !(await store.getService(serviceId))) throw expecting('endpoint service_id', 'service table');
  }

  function requireValidFilters(filters: unknown): Record<string, unknown> {
    const record = filters as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!GROUP_FILTER_KEYS.includes(key)) throw expecting(GROUP_FILTER_KEYS.join(' or '), 'endpoint_group');
    }
    return record;
  }

  return {
    // ---- regions -------------------------------------------------------------------------
    listRegions: () => store.listRegions(),
    getRegion: region,
    findRegion: (id: string) => store.getRegion(id),

    /** POST (id optional, generated when empty) and PUT /v3/regions/{id} (the path's id). */
    async createRegion(body: Body, pathId?: string): Promise<RegionRow> {
      const input = normalize(body);
      if (pathId !== undefined) {
        if (input['id'] === undefined) input['id'] = pathId;
        else if (input['id'] !== pathId) throw new ValidationError(`Conflicting region IDs specified: "${pathId}" != "${String(input['id'])}"`);
      } else if (!input['id']) {
        input['id'] = newId();
      }
      const { columns, extra } = split(input, REGION_ATTRIBUTES);
      const record: RegionRow = {
        id: columns['id'] as string,
        description: (columns['description'] as string | null | undefined) ?? '',
        parent_region_id: (columns['parent_region_id'] as string | null | undefined) ?? null,
        extra,
      };
      if (await store.getRegion(record.id)) throw new Conflict('region', `Duplicate ID, ${record.id}`);
      if (record.parent_region_id !== null && !(await store.getRegion(record.parent_region_id))) throw NotFound.entity('region', record.parent_region_id);
      if (!(await store.insertRegion(record))) throw new Conflict('region', `Duplicate ID, ${record.id}`);
      return record;
    },

    async updateRegion(id: string, body: Body): Promise<RegionRow> {
      requireMatchingId(body, id);
      const parentId = body['parent_region_id'];
      if (typeof parentId === 'string' && !(await store.getRegion(parentId))) throw NotFound.entity('region', parentId);
      const current = await region(id);
      const { columns, extra } = split({ ...current.extra, ...body }, REGION_ATTRIBUTES);
      const next: RegionRow = {
        id,
        description: 'description' in columns ? ((columns['description'] as string | null) ?? '') : current.description,
        parent_region_id: 'parent_region_id' in columns ? (columns['parent_region_id'] as string | null) : current.parent_region_id,
        extra,
      };
      await ensureNoCycle(id, next.parent_region_id);
      await store.updateRegion(next);
      return next;
    },

    async deleteRegion(id: string): Promise<void> {
      const outcome = await store.deleteRegionTree(id);
      if (outcome === 'not-found') throw NotFound.entity('region', id);
      if (outcome === 'has-endpoints') throw new ForbiddenNotSecurity(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
    },

    // ---- services ------------------------------------------------------------------------
    listServices: () => store.listServices(),
    getService: service,
    findService: (id: string) => store.getService(id),

    /** The record a create would store (the policy target), then `createService` stores it. */
    newService(body: Body): ServiceRow {
      const id = newId();
      const input: Record<string, unknown> = { ...normalize(body), id };
      // Keystone's create_service defaults: enabled true, name "" (kept in extra).
      if (input['enabled'] === undefined) input['enabled'] = true;
      if (input['name'] === undefined) input['name'] = '';
      const { columns, extra } = split(input, SERVICE_ATTRIBUTES);
      return { id, type: columns['type'] as string, enabled: columns['enabled'] !== false, extra };
    },

    async createService(record: ServiceRow): Promise<ServiceRow> {
      await store.insertService(record);
      return record;
    },

    async updateService(id: string, body: Body): Promise<ServiceRow> {
      requireMatchingId(body, id);
      const current = await service(id);
      const { columns, extra } = split({ ...current.extra, ...body }, SERVICE_ATTRIBUTES);
      const next: ServiceRow = {
        id,
        type: 'type' in columns ? (columns['type'] as string) : current.type,
        enabled: 'enabled' in columns ? columns['enabled'] !== false : current.enabled,
        extra,
      };
      await store.updateService(next);
      return next;
    },

    /** Its endpoints (and their project associations) go with it. */
    async deleteService(id: string): Promise<void> {
      if (!(await store.deleteService(id))) throw NotFound.entity('service', id);
    },

    // ---- endpoints -----------------------------------------------------------------------
    listEndpoints: () => store.listEndpoints(),
    getEndpoint: endpoint,
    findEndpoint: (id: string) => store.getEndpoint(id),

    /** The record a create would store (the policy target). URL and references are checked by createEndpoint. */
    newEndpoint(body: Body): EndpointRecord {
      const id = newId();
      const { columns, extra } = split({ ...normalize(body), id }, ENDPOINT_ATTRIBUTES);
      const regionId = (columns['region_id'] as string | undefined) ?? (typeof extra['region'] === 'string' ? (extra['region'] as string) : null);
      return {
        id,
        legacy_endpoint_id: null,
        interface: columns['interface'] as string,
        service_id: columns['service_id'] as string,
        url: columns['url'] as string,
        region_id: regionId,
        enabled: columns['enabled'] !== false,
        extra,
      };
    },

    async createEndpoint(body: Body, id: string): Promise<EndpointRecord> {
      const input: Record<string, unknown> = { ...normalize(body), id };
      checkEndpointUrl(input['url'] as string);
      const autoRegion = await legacyRegion(input);
      await checkEndpointReferences(input, autoRegion);
      const { columns, extra } = split(input, ENDPOINT_ATTRIBUTES);
      const record: EndpointRecord = {
        id,
        legacy_endpoint_id: (columns['legacy_endpoint_id'] as string | null | undefined) ?? null,
        interface: columns['interface'] as string,
        service_id: columns['service_id'] as string,
        url: columns['url'] as string,
        region_id: (columns['region_id'] as string | null | undefined) ?? null,
        enabled: columns['enabled'] !== false,
        extra,
      };
      await store.saveEndpoint(record, { insert: true, autoRegion });
      return record;
    },

    async updateEndpoint(id: string, body: Body): Promise<EndpointRecord> {
      requireMatchingId(body, id);
      const input: Record<string, unknown> = { ...body };
      // Keystone validates the URL only on create; a PATCH may set any schema-valid URL.
      const current = await endpoint(id);
      const autoRegion = await legacyRegion(input);
      await checkEndpointReferences(input, autoRegion);
      const merged: Record<string, unknown> = {
        ...current.extra,
        id,
        interface: current.interface,
        region_id: current.region_id,
        service_id: current.service_id,
        url: current.url,
        legacy_endpoint_id: current.legacy_endpoint_id,
        enabled: current.enabled,
        ...input,
      };
      const { columns, extra } = split(merged, ENDPOINT_ATTRIBUTES);
      const next: EndpointRecord = {
        id,
        legacy_endpoint_id: (columns['legacy_endpoint_id'] as string | null) ?? null,
        interface: columns['interface'] as string,
        service_id: columns['service_id'] as string,
        url: columns['url'] as string,
        region_id: (columns['region_id'] as string | null) ?? null,
        // Endpoint.from_dict: a missing or null `enabled` is true.
        enabled: columns['enabled'] !== false,
        extra,
      };
      await store.saveEndpoint(next, { insert: false, autoRegion });
      return next;
    },

    async deleteEndpoint(id: string): Promise<void> {
      if (!(await store.deleteEndpoint(id))) throw NotFound.entity('endpoint', id);
    },

    // ---- endpoint groups -----------------------------------------------------------------
    listEndpointGroups: () => store.listEndpointGroups(),
    getEndpointGroup: endpointGroup,
    findEndpointGroup: (id: string) => store.getEndpointGroup(id),

    newEndpointGroup(body: Body): EndpointGroupRow {
      return {
        id: newId(),
        name: body['name'] as string,
        description: (body['description'] as string | null | undefined) ?? null,
        filters: (body['filters'] as Record<string, unknown> | undefined) ?? {},
      };
    },

    async createEndpointGroup(record: EndpointGroupRow): Promise<EndpointGroupRow> {
      if (Object.keys(record.filters).length === 0) throw new ValidationError('filters field is required and cannot be empty');
      requireValidFilters(record.filters);
      await store.insertEndpointGroup(record);
      return record;
    },

    async updateEndpointGroup(id: string, body: Body): Promise<EndpointGroupRow> {
      if ('filters' in body) requireValidFilters(body['filters']);
      requireMatchingId(body, id);
      const current = await endpointGroup(id);
      const next: EndpointGroupRow = {
        id,
        name: 'name' in body ? (body['name'] as string) : current.name,
        description: 'description' in body ? ((body['description'] as string | null) ?? null) : current.description,
        filters: 'filters' in body ? (body['filters'] as Record<string, unknown>) : current.filters,
      };
      await store.updateEndpointGroup(next);
      return next;
    },

    async deleteEndpointGroup(id: string): Promise<void> {
      if (!(await store.deleteEndpointGroup(id))) throw new NotFound(`Could not find Endpoint Group: ${id}.`);
    },

    /** An endpoint group's endpoints: every endpoint its filters select. */
    async endpointsInGroup(id: string): Promise<EndpointRecord[]> {
      const group = await endpointGroup(id);
      return endpointsForProject(await store.listEndpoints(), { endpointIds: [], groupFilters: [group.filters] });
    },

    // ---- project ↔ endpoint ----------------------------------------------------------------
    async addEndpointToProject(projectId: string, endpointId: string): Promise<void> {
      await endpoint(endpointId);
      await requireProject(projectId);
      if (!(await store.addProjectEndpoint(projectId, endpointId))) throw new Conflict('project_endpoint', 'Duplicate entry');
    },

    async checkEndpointInProject(projectId: string, endpointId: string): Promise<void> {
      await endpoint(endpointId);
      await requireProject(projectId);
      if (!(await store.hasProjectEndpoint(projectId, endpointId))) throw new NotFound(`Endpoint ${endpointId} not found in project ${projectId}`);
    },

    /** Keystone checks neither the endpoint nor the project here, only the association. */
    async removeEndpointFromProject(projectId: string, endpointId: string): Promise<void> {
      if (!(await store.removeProjectEndpoint(projectId, endpointId))) throw new NotFound(`Endpoint ${endpointId} not found in project ${projectId}`);
    },

    /** Direct associations and endpoint-group matches (Keystone's list_endpoints_for_project). */
    async endpointsForProject(projectId: string): Promise<EndpointRecord[]> {
      await requireProject(projectId);
      const [endpoints, filter] = await Promise.all([store.listEndpoints(), store.projectEndpointFilter(projectId)]);
      return endpointsForProject(endpoints, filter);
    },

    async projectIdsForEndpoint(endpointId: string): Promise<string[]> {
      await endpoint(endpointId);
      return store.projectIdsForEndpoint(endpointId);
    },

    // ---- project ↔ endpoint group ----------------------------------------------------------
    async addEndpointGroupToProject(groupId: string, projectId: string): Promise<void> {
      await requireProject(projectId);
      await endpointGroup(groupId);
      if (!(await store.addProjectEndpointGroup(projectId, groupId))) throw new Conflict('project_endpoint_group', 'Duplicate entry');
    },

    async getEndpointGroupInProject(groupId: string, projectId: string): Promise<{ endpoint_group_id: string; project_id: string }> {
      await requireProject(projectId);
      await endpointGroup(groupId);
      if (!(await store.hasProjectEndpointGroup(projectId, groupId))) throw new NotFound('Endpoint Group Project Association not found');
      return { endpoint_group_id: groupId, project_id: projectId };
    },

    async removeEndpointGroupFromProject(groupId: string, projectId: string): Promise<void> {
      await requireProject(projectId);
      await endpointGroup(groupId);
      if (!(await store.removeProjectEndpointGroup(projectId, groupId))) throw new NotFound('Endpoint Group Project Association not found');
    },

    async endpointGroupsForProject(projectId: string): Promise<EndpointGroupRow[]> {
      await requireProject(projectId);
      const groups = [];
      for (const id of await store.endpointGroupIdsForProject(projectId)) {
        const group = await store.getEndpointGroup(id);
        if (group) groups.push(group);
      }
      return groups;
    },

    /** Keystone does not check that the group exists here: an unknown group has no projects. */
    projectIdsForEndpointGroup: (groupId: string) => store.projectIdsForEndpointGroup(groupId),
  };
}
