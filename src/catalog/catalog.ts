import { cachedUntilChange, keyedCacheUntilChange, type ChangeFeed } from '../common/change-feed.js';
import type { CatalogStore, EndpointRow } from './store.js';

export interface CatalogEndpoint {
  readonly id: string;
  readonly interface: string;
  readonly region_id: string | null;
  readonly url: string;
  readonly region: string | null;
  readonly [extra: string]: unknown;
}

export interface CatalogService {
  readonly endpoints: CatalogEndpoint[];
  readonly id: string;
  readonly type: string;
  readonly name: string;
}

/** The only names Keystone substitutes into `$(name)s` endpoint URLs (spec 3.1). */
const URL_VARIABLES = new Set(['tenant_id', 'project_id', 'user_id', 'compute_host', 'public_endpoint']);

/**
 * Keystone's format_url: `$(var)s` placeholders filled from the token's ids. An endpoint whose
 * URL needs a value the token lacks (e.g. project_id on a domain token) is left out.
 */
export function formatEndpointUrl(url: string, values: Readonly<Record<string, string | null>>): string | undefined {
  let missing = false;
  const out = url.replace(/\$\(([^)]+)\)s/g, (_all, name: string) => {
    const value = URL_VARIABLES.has(name) ? values[name] : undefined;
    if (value == null) {
      missing = true;
      return '';
    }
    return value;
  });
  return missing ? undefined : out;
}

/** An endpoint group's filters match when every key equals the endpoint's attribute (Keystone's get_endpoints_filtered_by_endpoint_group). */
export function matchesGroupFilter(endpoint: EndpointRow, filters: Readonly<Record<string, unknown>>): boolean {
  const attributes: Record<string, unknown> = { ...endpoint.extra, id: endpoint.id, interface: endpoint.interface, region_id: endpoint.region_id, service_id: endpoint.service_id, url: endpoint.url, enabled: endpoint.enabled };
  return Object.entries(filters).every(([key, value]) => key in attributes && attributes[key] === value);
}

/**
 * OS-EP-FILTER's endpoints for a project, in Keystone's order: direct associations to existing
 * endpoints first, then every endpoint an associated group's filters select (disabled ones too).
 */
export function endpointsForProject<E extends EndpointRow>(
  endpoints: readonly E[],
  filter: { readonly endpointIds: readonly string[]; readonly groupFilters: readonly Readonly<Record<string, unknown>>[] },
): E[] {
  const byId = new Map(endpoints.map((e) => [e.id, e]));
  const out = new Map<string, E>();
  for (const id of filter.endpointIds) {
    const endpoint = byId.get(id);
    if (endpoint) out.set(id, endpoint);
  }
  for (const groupFilter of filter.groupFilters) {
    for (const endpoint of endpoints) if (!out.has(endpoint.id) && matchesGroupFilter(endpoint, groupFilter)) out.set(endpoint.id, endpoint);
  }
  return [...out.values()];
}

export interface CatalogScope {
  readonly userId: string;
  readonly projectId: string | null;
}

export type CatalogProvider = ReturnType<typeof createCatalogService>;

export function createCatalogService(deps: {
  store: CatalogStore;
  changes: ChangeFeed;
  returnAllEndpointsIfNoFilter: boolean;
  publicEndpoint: string | null;
}) {
  // Services and endpoints change rarely and every scoped token body lists them.
  const entries = cachedUntilChange(deps.changes, () => Promise.all([deps.store.listServices(), deps.store.listEndpoints()]));
  const projectFilter = keyedCacheUntilChange(deps.changes, 10_000, (projectId: string) => deps.store.projectEndpointFilter(projectId));
  return {
    /** The token catalog: enabled services and endpoints, honouring OS-EP-FILTER for projects. */
    async catalogFor(scope: CatalogScope): Promise<CatalogService[]> {
      const [[services, endpoints], filter] = await Promise.all([
        entries(),
        scope.projectId ? projectFilter(scope.projectId) : undefined,
      ]);
      // Keystone's get_v3_catalog: with project associations only those (enabled) endpoints
      // show and services left without endpoints disappear; without any, the whole catalog
      // or, with return_all_endpoints_if_no_filter=false, an empty one (domain and system
      // tokens included, as they have no project to associate).
      const associated = filter ? new Set(endpointsForProject(endpoints, filter).map((e) => e.id)) : new Set<string>();
      const filtering = associated.size > 0;
      if (!filtering && !deps.returnAllEndpointsIfNoFilter) return [];
      const visible = endpoints.filter((e) => e.enabled && (!filtering || associated.has(e.id)));
      const values = {
        tenant_id: scope.projectId,
        project_id: scope.projectId,
        user_id: scope.userId,
        public_endpoint: deps.publicEndpoint,
        compute_host: null,
      };
      const catalog: CatalogService[] = [];
      for (const service of services) {
        if (!service.enabled) continue;
        const serviceEndpoints: CatalogEndpoint[] = [];
        for (const endpoint of visible) {
          if (endpoint.service_id !== service.id) continue;
          const url = formatEndpointUrl(endpoint.url, values);
          if (url === undefined) continue;
          serviceEndpoints.push({
            ...endpoint.extra,
            id: endpoint.id,
            interface: endpoint.interface,
            region_id: endpoint.region_id,
            url,
            region: endpoint.region_id,
          });
        }
        if (filtering && serviceEndpoints.length === 0) continue;
        const name = service.extra['name'];
        catalog.push({ endpoints: serviceEndpoints, id: service.id, type: service.type, name: typeof name === 'string' ? name : '' });
      }
      return catalog;
    },
  };
}
