import type { Kysely, Transaction } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { newId, parseExtra } from '../common/ids.js';

export interface RegionRow {
  readonly id: string;
  readonly description: string;
  readonly parent_region_id: string | null;
  readonly extra: Readonly<Record<string, unknown>>;
}

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

export interface EndpointRecord extends EndpointRow {
  readonly legacy_endpoint_id: string | null;
}

export interface EndpointGroupRow {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly filters: Readonly<Record<string, unknown>>;
}

export type CatalogStore = ReturnType<typeof createCatalogStore>;

type Db = Kysely<KeystoneDatabase> | Transaction<KeystoneDatabase>;

const ENDPOINT_COLUMNS = ['id', 'legacy_endpoint_id', 'interface', 'service_id', 'url', 'region_id', 'enabled', 'extra'] as const;

function toRegion(r: { id: string; description: string; parent_region_id: string | null; extra: string | null }): RegionRow {
  return { id: r.id, description: r.description, parent_region_id: r.parent_region_id, extra: parseExtra(r.extra) };
}

function toService(r: { id: string; type: string | null; enabled: boolean | null; extra: string | null }): ServiceRow {
  return { id: r.id, type: r.type ?? '', enabled: r.enabled !== false, extra: parseExtra(r.extra) };
}

function toEndpoint(r: {
  id: string;
  legacy_endpoint_id: string | null;
  interface: string;
  service_id: string;
  url: string;
  region_id: string | null;
  enabled: boolean | null;
  extra: string | null;
}): EndpointRecord {
  return { ...r, enabled: r.enabled !== false, extra: parseExtra(r.extra) };
}

function toGroup(r: { id: string; name: string; description: string | null; filters: string }): EndpointGroupRow {
  return { id: r.id, name: r.name, description: r.description, filters: parseExtra(r.filters) };
}

async function regionById(db: Db, id: string): Promise<RegionRow | undefined> {
  const row = await db.selectFrom('region').select(['id', 'description', 'parent_region_id', 'extra']).where('id', '=', id).executeTakeFirst();
  return row && toRegion(row);
}

/**
 * SQL for the catalog tables, nothing else: Keystone's rules (region tree, conflicts, legacy
 * `region`) live in admin.ts. Writes that touch several rows run in one transaction, so a
 * failure leaves nothing half-written.
 */
export function createCatalogStore(db: Kysely<KeystoneDatabase>) {
  return {
    // ---- regions -------------------------------------------------------------------------
    async listRegions(): Promise<RegionRow[]> {
      const rows = await db.selectFrom('region').select(['id', 'description', 'parent_region_id', 'extra']).orderBy('id').execute();
      return rows.map(toRegion);
    },

    getRegion: (id: string): Promise<RegionRow | undefined> => regionById(db, id),

    /** Bootstrap's region: no parent, no extra. */
    async createRegion(id: string, description = ''): Promise<void> {
      await db.insertInto('region').values({ id, description, parent_region_id: null, extra: '{}' }).execute();
    },

    /** Inserts unless the id exists; false when it did (nothing written). */
    async insertRegion(region: RegionRow): Promise<boolean> {
      const result = await db
        .insertInto('region')
        .values({ ...region, extra: JSON.stringify(region.extra) })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async updateRegion(region: RegionRow): Promise<void> {
      await db
        .updateTable('region')
        .set({ description: region.description, parent_region_id: region.parent_region_id, extra: JSON.stringify(region.extra) })
        .where('id', '=', region.id)
        .execute();
    },

    /**
     * Keystone's delete_region: refused (returns 'has-endpoints') when the region or any
     * region below it has endpoints, else the region and its whole subtree go. One
     * transaction, so an endpoint added concurrently cannot be left pointing at a deleted row
     * (the endpoint → region foreign key also refuses that).
     */
    async deleteRegionTree(id: string): Promise<'deleted' | 'not-found' | 'has-endpoints'> {
      return db.transaction().execute(async (trx) => {
        if (!(await regionById(trx, id))) return 'not-found';
        const tree = [id];
        for (let i = 0; i < tree.length; i++) {
          const children = await trx.selectFrom('region').select('id').where('parent_region_id', '=', tree[i]!).execute();
          // A cycle written by another tool ends the walk where it started.
          for (const child of children) if (!tree.includes(child.id)) tree.push(child.id);
        }
        const endpoint = await trx.selectFrom('endpoint').select('id').where('region_id', 'in', tree).limit(1).executeTakeFirst();
        if (endpoint) return 'has-endpoints';
        // Children first would not matter (no FK between regions); one statement suffices.
        await trx.deleteFrom('region').where('id', 'in', tree).execute();
        // OS-ENDPOINT-POLICY associations die with what they name (Keystone leaves them dangling).
        await trx.deleteFrom('policy_association').where('region_id', 'in', tree).execute();
        return 'deleted';
      });
    },

    // ---- services ------------------------------------------------------------------------
    async listServices(): Promise<ServiceRow[]> {
      const rows = await db.selectFrom('service').select(['id', 'type', 'enabled', 'extra']).orderBy('id').execute();
      return rows.map(toService);
    },

    async getService(id: string): Promise<ServiceRow | undefined> {
      const row = await db.selectFrom('service').select(['id', 'type', 'enabled', 'extra']).where('id', '=', id).executeTakeFirst();
      return row && toService(row);
    },

    /** Bootstrap's identity service. */
    async createService(type: string, extra: Record<string, unknown>): Promise<string> {
      const id = newId();
      await db.insertInto('service').values({ id, type, enabled: true, extra: JSON.stringify(extra) }).execute();
      return id;
    },

    async insertService(service: ServiceRow): Promise<void> {
      await db.insertInto('service').values({ ...service, extra: JSON.stringify(service.extra) }).execute();
    },

    async updateService(service: ServiceRow): Promise<void> {
      await db
        .updateTable('service')
        .set({ type: service.type, enabled: service.enabled, extra: JSON.stringify(service.extra) })
        .where('id', '=', service.id)
        .execute();
    },

    /** The service, its endpoints and their project associations, together. */
    async deleteService(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const endpoints = trx.selectFrom('endpoint').select('id').where('service_id', '=', id);
        await trx.deleteFrom('project_endpoint').where('endpoint_id', 'in', endpoints).execute();
        await trx.deleteFrom('policy_association').where((eb) => eb.or([eb('endpoint_id', 'in', endpoints), eb('service_id', '=', id)])).execute();
        await trx.deleteFrom('endpoint').where('service_id', '=', id).execute();
        const result = await trx.deleteFrom('service').where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      });
    },

    // ---- endpoints -----------------------------------------------------------------------
    async listEndpoints(): Promise<EndpointRecord[]> {
      const rows = await db.selectFrom('endpoint').select(ENDPOINT_COLUMNS).orderBy('id').execute();
      return rows.map(toEndpoint);
    },

    async getEndpoint(id: string): Promise<EndpointRecord | undefined> {
      const row = await db.selectFrom('endpoint').select(ENDPOINT_COLUMNS).where('id', '=', id).executeTakeFirst();
      return row && toEndpoint(row);
    },

    /** Bootstrap's endpoints. */
    async createEndpoint(input: { service_id: string; interface: string; url: string; region_id: string | null }): Promise<string> {
      const id = newId();
      await db
        .insertInto('endpoint')
        .values({ id, legacy_endpoint_id: null, interface: input.interface, service_id: input.service_id, url: input.url, extra: '{}', enabled: true, region_id: input.region_id })
        .execute();
      return id;
    },

    /**
     * Writes an endpoint (insert or full update), first creating `autoRegion` when given (the
     * legacy `region` attribute, spec 5.16) — in one transaction, so a refused endpoint leaves
     * no region behind.
     */
    async saveEndpoint(endpoint: EndpointRecord, options: { insert: boolean; autoRegion?: string }): Promise<void> {
      await db.transaction().execute(async (trx) => {
        if (options.autoRegion !== undefined) {
          await trx
            .insertInto('region')
            .values({ id: options.autoRegion, description: '', parent_region_id: null, extra: '{}' })
            .onConflict((oc) => oc.column('id').doNothing())
            .execute();
        }
        const values = { ...endpoint, extra: JSON.stringify(endpoint.extra) };
        if (options.insert) await trx.insertInto('endpoint').values(values).execute();
        else await trx.updateTable('endpoint').set(values).where('id', '=', endpoint.id).execute();
      });
    },

    async updateEndpoint(id: string, changes: { url?: string; region_id?: string | null; enabled?: boolean }): Promise<void> {
      await db.updateTable('endpoint').set(changes).where('id', '=', id).execute();
    },

    /** The endpoint and its project associations (Keystone's endpoint-deleted callback). */
    async deleteEndpoint(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('project_endpoint').where('endpoint_id', '=', id).execute();
        await trx.deleteFrom('policy_association').where('endpoint_id', '=', id).execute();
        const result = await trx.deleteFrom('endpoint').where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      });
    },

    // ---- endpoint groups -----------------------------------------------------------------
    async listEndpointGroups(): Promise<EndpointGroupRow[]> {
      const rows = await db.selectFrom('endpoint_group').select(['id', 'name', 'description', 'filters']).orderBy('id').execute();
      return rows.map(toGroup);
    },

    async getEndpointGroup(id: string): Promise<EndpointGroupRow | undefined> {
      const row = await db.selectFrom('endpoint_group').select(['id', 'name', 'description', 'filters']).where('id', '=', id).executeTakeFirst();
      return row && toGroup(row);
    },

    async insertEndpointGroup(group: EndpointGroupRow): Promise<void> {
      await db.insertInto('endpoint_group').values({ ...group, filters: JSON.stringify(group.filters) }).execute();
    },

    async updateEndpointGroup(group: EndpointGroupRow): Promise<void> {
      await db
        .updateTable('endpoint_group')
        .set({ name: group.name, description: group.description, filters: JSON.stringify(group.filters) })
        .where('id', '=', group.id)
        .execute();
    },

    /** The group and its project associations. */
    async deleteEndpointGroup(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('project_endpoint_group').where('endpoint_group_id', '=', id).execute();
        const result = await trx.deleteFrom('endpoint_group').where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      });
    },

    // ---- OS-EP-FILTER associations -------------------------------------------------------
    /** False when the association already existed. */
    async addProjectEndpoint(projectId: string, endpointId: string): Promise<boolean> {
      const result = await db
        .insertInto('project_endpoint')
        .values({ project_id: projectId, endpoint_id: endpointId })
        .onConflict((oc) => oc.columns(['endpoint_id', 'project_id']).doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async hasProjectEndpoint(projectId: string, endpointId: string): Promise<boolean> {
      const row = await db
        .selectFrom('project_endpoint')
        .select('endpoint_id')
        .where('project_id', '=', projectId)
        .where('endpoint_id', '=', endpointId)
        .executeTakeFirst();
      return row !== undefined;
    },

    async removeProjectEndpoint(projectId: string, endpointId: string): Promise<boolean> {
      const result = await db.deleteFrom('project_endpoint').where('project_id', '=', projectId).where('endpoint_id', '=', endpointId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async endpointIdsForProject(projectId: string): Promise<string[]> {
      const rows = await db.selectFrom('project_endpoint').select('endpoint_id').where('project_id', '=', projectId).orderBy('endpoint_id').execute();
      return rows.map((r) => r.endpoint_id);
    },

    async projectIdsForEndpoint(endpointId: string): Promise<string[]> {
      const rows = await db.selectFrom('project_endpoint').select('project_id').where('endpoint_id', '=', endpointId).orderBy('project_id').execute();
      return rows.map((r) => r.project_id);
    },

    async addProjectEndpointGroup(projectId: string, groupId: string): Promise<boolean> {
      const result = await db
        .insertInto('project_endpoint_group')
        .values({ project_id: projectId, endpoint_group_id: groupId })
        .onConflict((oc) => oc.columns(['endpoint_group_id', 'project_id']).doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async hasProjectEndpointGroup(projectId: string, groupId: string): Promise<boolean> {
      const row = await db
        .selectFrom('project_endpoint_group')
        .select('project_id')
        .where('project_id', '=', projectId)
        .where('endpoint_group_id', '=', groupId)
        .executeTakeFirst();
      return row !== undefined;
    },

    async removeProjectEndpointGroup(projectId: string, groupId: string): Promise<boolean> {
      const result = await db
        .deleteFrom('project_endpoint_group')
        .where('project_id', '=', projectId)
        .where('endpoint_group_id', '=', groupId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async endpointGroupIdsForProject(projectId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('project_endpoint_group')
        .select('endpoint_group_id')
        .where('project_id', '=', projectId)
        .orderBy('endpoint_group_id')
        .execute();
      return rows.map((r) => r.endpoint_group_id);
    },

    async projectIdsForEndpointGroup(groupId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('project_endpoint_group')
        .select('project_id')
        .where('endpoint_group_id', '=', groupId)
        .orderBy('project_id')
        .execute();
      return rows.map((r) => r.project_id);
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
  };
}
