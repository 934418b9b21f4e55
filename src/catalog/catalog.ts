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

function matchesGroupFilter(endpoint: EndpointRow, filters: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(filters).every(([key, value]) => (endpoint as unknown as Record<string, unknown>)[key] === value);
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
      let visible = endpoints.filter((e) => e.enabled);
      if (filter && (filter.endpointIds.length > 0 || filter.groupFilters.length > 0)) {
        const ids = new Set(filter.endpointIds);
        visible = visible.filter((e) => ids.has(e.id) || filter.groupFilters.some((f) => matchesGroupFilter(e, f)));
      } else if (filter && !deps.returnAllEndpointsIfNoFilter) {
        visible = [];
      }
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
        const name = service.extra['name'];
        catalog.push({ endpoints: serviceEndpoints, id: service.id, type: service.type, name: typeof name === 'string' ? name : '' });
      }
      return catalog;
    },
  };
}
