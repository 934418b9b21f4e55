import type { Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';

/** The marker row of a service account: which user it is and who owns it. */
export interface ServiceAccountMarker {
  readonly userId: string;
  /** The owning project; null for an account owned by its domain. */
  readonly ownerProjectId: string | null;
  readonly ownerDomainId: string;
  readonly createdAt: Date;
}

export interface ServiceAccountQuery {
  readonly ownerProjectId?: string;
  readonly ownerDomainId?: string;
}

export type ServiceAccountStore = ReturnType<typeof createServiceAccountStore>;

/**
 * keystone_ts_service_account (migration 0006). The user itself is Keystone's row, written by
 * the identity service; this store only keeps the marker and the owner.
 */
export function createServiceAccountStore(db: Kysely<KeystoneDatabase>) {
  const toMarker = (row: { user_id: string; owner_project_id: string | null; owner_domain_id: string; created_at: Date }): ServiceAccountMarker => ({
    userId: row.user_id,
    ownerProjectId: row.owner_project_id,
    ownerDomainId: row.owner_domain_id,
    createdAt: row.created_at,
  });
  const columns = ['user_id', 'owner_project_id', 'owner_domain_id', 'created_at'] as const;

  return {
    async insert(marker: Omit<ServiceAccountMarker, 'createdAt'>): Promise<void> {
      await db
        .insertInto('keystone_ts_service_account')
        .values({ user_id: marker.userId, owner_project_id: marker.ownerProjectId, owner_domain_id: marker.ownerDomainId })
        .execute();
    },

    async get(userId: string): Promise<ServiceAccountMarker | undefined> {
      const row = await db.selectFrom('keystone_ts_service_account').select(columns).where('user_id', '=', userId).executeTakeFirst();
      return row && toMarker(row);
    },

    async list(query: ServiceAccountQuery): Promise<ServiceAccountMarker[]> {
      let select = db.selectFrom('keystone_ts_service_account').select(columns);
      if (query.ownerProjectId !== undefined) select = select.where('owner_project_id', '=', query.ownerProjectId);
      if (query.ownerDomainId !== undefined) select = select.where('owner_domain_id', '=', query.ownerDomainId);
      return (await select.orderBy('user_id').execute()).map(toMarker);
    },

    /** The accounts owned by any of these projects, or by any of these domains (directly or through a project). */
    async ownedBy(owners: { projectIds: readonly string[]; domainIds: readonly string[] }): Promise<ServiceAccountMarker[]> {
      if (owners.projectIds.length === 0 && owners.domainIds.length === 0) return [];
      const rows = await db
        .selectFrom('keystone_ts_service_account')
        .select(columns)
        .where((eb) =>
          eb.or([
            ...(owners.projectIds.length > 0 ? [eb('owner_project_id', 'in', [...owners.projectIds])] : []),
            ...(owners.domainIds.length > 0 ? [eb('owner_domain_id', 'in', [...owners.domainIds])] : []),
          ]),
        )
        .orderBy('user_id')
        .execute();
      return rows.map(toMarker);
    },
  };
}
