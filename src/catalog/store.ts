import type { Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { newId, parseExtra } from '../common/ids.js';

export interface ServiceRow {
  readonly id: string;
  readonly type: string;
  readonly enabled: boolean;
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface EndpointRow {
  readonly id: string;
  readonly interface: string;
  readonly service_id: string;
  readonly url: string;
  readonly region_id: string | null;
  readonly enabled: boolean;
  readonly extra: Readonly<Record<string, unknown>>;
}

export type CatalogStore = ReturnType<typeof createCatalogStore>;

export function createCatalogStore(db: Kysely<KeystoneDatabase>) {
  return {
    async listServices(): Promise<ServiceRow[]> {
      const rows = await db.selectFrom('service').select(['id', 'type', 'enabled', 'extra']).orderBy('id').execute();
      return rows.map((r) => ({ id: r.id, type: r.type ?? '', enabled: r.enabled !== false, extra: parseExtra(r.extra) }));
    },

    async listEndpoints(): Promise<EndpointRow[]> {
      const rows = await db
        .selectFrom('endpoint')
        .select(['id', 'interface', 'service_id', 'url', 'region_id', 'enabled', 'extra'])
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ ...r, enabled: r.enabled !== false, extra: parseExtra(r.extra) }));
    },

    /** OS-EP-FILTER: endpoint ids associated with a project, directly or through endpoint groups. */
    async projectEndpointFilter(projectId: string): Promise<{ endpointIds: string[]; groupFilters: Record<string, unknown>[] }> {
      const [direct, groups] = await Promise.all([
        db.selectFrom('project_endpoint').select('endpoint_id').where('project_id', '=', projectId).execute(),
        db
          .selectFrom('project_endpoint_group')
          .innerJoin('endpoint_group', 'endpoint_group.id', 'project_endpoint_group.endpoint_group_id')
          .select('endpoint_group.filters as filters')
          .where('project_endpoint_group.project_id', '=', projectId)
          .execute(),
      ]);
      return { endpointIds: direct.map((r) => r.endpoint_id), groupFilters: groups.map((g) => parseExtra(g.filters)) };
    },

    async getRegion(id: string): Promise<{ id: string } | undefined> {
      return db.selectFrom('region').select('id').where('id', '=', id).executeTakeFirst();
    },

    async createRegion(id: string, description = ''): Promise<void> {
      await db.insertInto('region').values({ id, description, parent_region_id: null, extra: '{}' }).execute();
    },

    async createService(type: string, extra: Record<string, unknown>): Promise<string> {
      const id = newId();
      await db.insertInto('service').values({ id, type, enabled: true, extra: JSON.stringify(extra) }).execute();
      return id;
    },

    async createEndpoint(input: { service_id: string; interface: string; url: string; region_id: string | null }): Promise<string> {
      const id = newId();
      await db
        .insertInto('endpoint')
        .values({ id, legacy_endpoint_id: null, interface: input.interface, service_id: input.service_id, url: input.url, extra: '{}', enabled: true, region_id: input.region_id })
        .execute();
      return id;
    },

    async updateEndpoint(id: string, changes: { url?: string; region_id?: string | null; enabled?: boolean }): Promise<void> {
      await db.updateTable('endpoint').set(changes).where('id', '=', id).execute();
    },
  };
}
