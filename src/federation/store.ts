import { sql, type Kysely, type Transaction } from 'kysely';
import { ROOT_DOMAIN_ID, type KeystoneDatabase } from '../db/schema.js';
import { DEFAULT_SCHEMA_VERSION as ZED_MAPPING_SCHEMA_VERSION } from './mapping-rules.js';

/**
 * SQL for the OS-FEDERATION tables (Keystone's federation/backends/sql.py): identity providers
 * with their remote ids, protocols, mappings and service providers. Keystone's rules (the
 * auto-created domain, the mapping check, conflict messages) live in service.ts.
 */

export interface IdentityProviderRecord {
  readonly id: string;
  readonly domain_id: string;
  readonly enabled: boolean;
  readonly description: string | null;
  /** Sorted, as Keystone's relationship orders them (order_by remote_id). */
  readonly remote_ids: readonly string[];
  readonly authorization_ttl: number | null;
}

export interface ProtocolRecord {
  readonly id: string;
  readonly idp_id: string;
  readonly mapping_id: string;
  readonly remote_id_attribute: string | null;
}

export interface MappingRecord {
  readonly id: string;
  readonly rules: unknown;
  readonly schema_version: string;
}

export interface ServiceProviderRecord {
  readonly auth_url: string;
  readonly id: string;
  readonly enabled: boolean;
  readonly description: string | null;
  readonly relay_state_prefix: string;
  readonly sp_url: string;
}

/** A write refused by a unique constraint: the duplicated value and its column. */
export class DuplicateEntry extends Error {
  constructor(
    readonly value: string,
    readonly column: 'id' | 'remote_id' = 'id',
  ) {
    super(`duplicate ${column} ${value}`);
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

type Db = Kysely<KeystoneDatabase> | Transaction<KeystoneDatabase>;

async function remoteIdsOf(db: Db, idpIds: readonly string[]): Promise<Map<string, string[]>> {
  const byIdp = new Map<string, string[]>();
  if (idpIds.length === 0) return byIdp;
  const rows = await db.selectFrom('idp_remote_ids').select(['idp_id', 'remote_id']).where('idp_id', 'in', idpIds).orderBy('remote_id').execute();
  for (const row of rows) {
    if (row.idp_id === null) continue;
    if (!byIdp.has(row.idp_id)) byIdp.set(row.idp_id, []);
    byIdp.get(row.idp_id)!.push(row.remote_id);
  }
  return byIdp;
}

const IDP_COLUMNS = ['id', 'domain_id', 'enabled', 'description', 'authorization_ttl'] as const;

async function idpsWhere(db: Db, id?: string): Promise<IdentityProviderRecord[]> {
  let query = db.selectFrom('identity_provider').select(IDP_COLUMNS).orderBy('id');
  if (id !== undefined) query = query.where('id', '=', id);
  const rows = await query.execute();
  const remote = await remoteIdsOf(db, rows.map((r) => r.id));
  return rows.map((r) => ({ ...r, remote_ids: remote.get(r.id) ?? [] }));
}

/** The remote ids in `remoteIds` held by an identity provider other than `idpId`, sorted. */
async function remoteIdsTaken(db: Db, remoteIds: readonly string[], idpId: string): Promise<string[]> {
  if (remoteIds.length === 0) return [];
  const rows = await db
    .selectFrom('idp_remote_ids')
    .select('remote_id')
    .where('remote_id', 'in', remoteIds)
    .where((eb) => eb.or([eb('idp_id', '!=', idpId), eb('idp_id', 'is', null)]))
    .orderBy('remote_id')
    .execute();
  return rows.map((r) => r.remote_id);
}

/**
 * Keystone's _delete_orphaned_users, run after an identity provider or a protocol goes:
 * federated_user rows the cascade left behind, then every user with no local, non-local or
 * federated row (a shadow user nothing can log in as any more), with its group memberships
 * first since those foreign keys do not cascade.
 */
async function deleteOrphanedUsers(trx: Transaction<KeystoneDatabase>): Promise<void> {
  await trx
    .deleteFrom('federated_user')
    .where((eb) =>
      eb.or([
        eb('idp_id', 'not in', eb.selectFrom('identity_provider').select('identity_provider.id')),
        eb('protocol_id', 'not in', eb.selectFrom('federation_protocol').select('federation_protocol.id')),
      ]),
    )
    .execute();
  const orphans = await trx
    .selectFrom('user')
    .select('user.id')
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('local_user')
            .select('local_user.user_id')
            .whereRef('local_user.user_id', '=', 'user.id')
            .unionAll(selectFrom('nonlocal_user').select('nonlocal_user.user_id').whereRef('nonlocal_user.user_id', '=', 'user.id'))
            .unionAll(selectFrom('federated_user').select('federated_user.user_id').whereRef('federated_user.user_id', '=', 'user.id')),
        ),
      ),
    )
    .execute();
  const ids = orphans.map((o) => o.id);
  if (ids.length > 0) {
    await trx.deleteFrom('expiring_user_group_membership').where('user_id', 'in', ids).execute();
    await trx.deleteFrom('user_group_membership').where('user_id', 'in', ids).execute();
    await trx.deleteFrom('user').where('id', 'in', ids).execute();
  }
}

export type FederationStore = ReturnType<typeof createFederationStore>;

export function createFederationStore(db: Kysely<KeystoneDatabase>) {
  // Keystone's Zed schema has no mapping.schema_version (added in 2023.1, default '1.0'); a shared
  // Zed database is read as all-1.0 mappings and can store only those.
  let schemaVersionColumn: Promise<boolean> | undefined;
  const hasSchemaVersion = () =>
    (schemaVersionColumn ??= sql<{ found: number }>`
      SELECT 1 AS found FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'mapping' AND column_name = 'schema_version'`
      .execute(db)
      .then((result) => result.rows.length > 0));
  const mappingColumns = async () =>
    [
      'id',
      'rules',
      ((await hasSchemaVersion()) ? sql<string>`schema_version` : sql<string>`${ZED_MAPPING_SCHEMA_VERSION}::varchar`).as('schema_version'),
    ] as const;
  const mappingValues = async (mapping: MappingRecord) => ({
    rules: JSON.stringify(mapping.rules),
    ...((await hasSchemaVersion()) ? { schema_version: mapping.schema_version } : {}),
  });
  return {
    /** Whether mappings of another schema_version than 1.0 can be stored (false on Keystone's Zed schema). */
    storesMappingSchemaVersion: hasSchemaVersion,

    // ---- identity providers ------------------------------------------------------------------
    listIdps: (): Promise<IdentityProviderRecord[]> => idpsWhere(db),

    async getIdp(id: string): Promise<IdentityProviderRecord | undefined> {
      return (await idpsWhere(db, id))[0];
    },

    remoteIdsTaken: (remoteIds: readonly string[], idpId: string) => remoteIdsTaken(db, remoteIds, idpId),

    /** Throws DuplicateEntry with the idp id, or with the remote id another provider holds. */
    /**
     * Stores a provider with its remote ids and, when given, the domain made for it: one
     * transaction, so a provider that cannot be stored leaves no domain behind.
     */
    async insertIdp(idp: IdentityProviderRecord, newDomain?: { readonly description: string }): Promise<void> {
      await db.transaction().execute(async (trx) => {
        if (newDomain) {
          await trx
            .insertInto('project')
            .values({ id: idp.domain_id, name: idp.domain_id, extra: '{}', description: newDomain.description, enabled: true, domain_id: ROOT_DOMAIN_ID, parent_id: null, is_domain: true })
            .execute();
        }
        try {
          await trx
            .insertInto('identity_provider')
            .values({ id: idp.id, domain_id: idp.domain_id, enabled: idp.enabled, description: idp.description, authorization_ttl: idp.authorization_ttl })
            .execute();
        } catch (error) {
          if (isUniqueViolation(error)) throw new DuplicateEntry(idp.id);
          throw error;
        }
        await insertRemoteIds(trx, idp.id, idp.remote_ids);
      });
    },

    /** Replaces the mutable attributes; false when the provider is gone. */
    async updateIdp(idp: IdentityProviderRecord): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('identity_provider')
          .set({ enabled: idp.enabled, description: idp.description, authorization_ttl: idp.authorization_ttl })
          .where('id', '=', idp.id)
          .executeTakeFirst();
        if ((result.numUpdatedRows ?? 0n) === 0n) return false;
        await trx.deleteFrom('idp_remote_ids').where('idp_id', '=', idp.id).execute();
        await insertRemoteIds(trx, idp.id, idp.remote_ids);
        return true;
      });
    },

    /**
     * Keystone's delete_idp: its protocols, then the provider (remote ids, federated users and
     * expiring group memberships go by cascade), then the users left without any identity.
     * False when there was no such provider.
     */
    async deleteIdp(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('federation_protocol').where('idp_id', '=', id).execute();
        const result = await trx.deleteFrom('identity_provider').where('id', '=', id).executeTakeFirst();
        if ((result.numDeletedRows ?? 0n) === 0n) return false;
        await deleteOrphanedUsers(trx);
        return true;
      });
    },

    // ---- protocols -----------------------------------------------------------------------------
    async listProtocols(idpId: string): Promise<ProtocolRecord[]> {
      return db.selectFrom('federation_protocol').select(['id', 'idp_id', 'mapping_id', 'remote_id_attribute']).where('idp_id', '=', idpId).orderBy('id').execute();
    },

    async getProtocol(idpId: string, id: string): Promise<ProtocolRecord | undefined> {
      return db
        .selectFrom('federation_protocol')
        .select(['id', 'idp_id', 'mapping_id', 'remote_id_attribute'])
        .where('idp_id', '=', idpId)
        .where('id', '=', id)
        .executeTakeFirst();
    },

    /** Throws DuplicateEntry when the provider already has that protocol. */
    async insertProtocol(protocol: ProtocolRecord): Promise<void> {
      try {
        await db.insertInto('federation_protocol').values(protocol).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEntry(protocol.id);
        throw error;
      }
    },

    async updateProtocol(protocol: ProtocolRecord): Promise<void> {
      await db
        .updateTable('federation_protocol')
        .set({ mapping_id: protocol.mapping_id, remote_id_attribute: protocol.remote_id_attribute })
        .where('idp_id', '=', protocol.idp_id)
        .where('id', '=', protocol.id)
        .execute();
    },

    /** The protocol (its federated users by cascade), then users left without any identity. */
    async deleteProtocol(idpId: string, id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('federation_protocol').where('idp_id', '=', idpId).where('id', '=', id).executeTakeFirst();
        if ((result.numDeletedRows ?? 0n) === 0n) return false;
        await deleteOrphanedUsers(trx);
        return true;
      });
    },

    // ---- mappings ------------------------------------------------------------------------------
    async listMappings(): Promise<MappingRecord[]> {
      const rows = await db.selectFrom('mapping').select(await mappingColumns()).orderBy('id').execute();
      return rows.map(toMapping);
    },

    async getMapping(id: string): Promise<MappingRecord | undefined> {
      const row = await db.selectFrom('mapping').select(await mappingColumns()).where('id', '=', id).executeTakeFirst();
      return row && toMapping(row);
    },

    async insertMapping(mapping: MappingRecord): Promise<void> {
      try {
        await db.insertInto('mapping').values({ id: mapping.id, ...(await mappingValues(mapping)) }).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEntry(mapping.id);
        throw error;
      }
    },

    async updateMapping(mapping: MappingRecord): Promise<boolean> {
      const result = await db
        .updateTable('mapping')
        .set(await mappingValues(mapping))
        .where('id', '=', mapping.id)
        .executeTakeFirst();
      return (result.numUpdatedRows ?? 0n) > 0n;
    },

    async deleteMapping(id: string): Promise<boolean> {
      const result = await db.deleteFrom('mapping').where('id', '=', id).executeTakeFirst();
      return (result.numDeletedRows ?? 0n) > 0n;
    },

    // ---- service providers ---------------------------------------------------------------------
    async listSps(): Promise<ServiceProviderRecord[]> {
      return db.selectFrom('service_provider').select(SP_COLUMNS).orderBy('id').execute();
    },

    async listEnabledSps(): Promise<ServiceProviderRecord[]> {
      return db.selectFrom('service_provider').select(SP_COLUMNS).where('enabled', '=', true).orderBy('id').execute();
    },

    async getSp(id: string): Promise<ServiceProviderRecord | undefined> {
      return db.selectFrom('service_provider').select(SP_COLUMNS).where('id', '=', id).executeTakeFirst();
    },

    async insertSp(sp: ServiceProviderRecord): Promise<void> {
      try {
        await db.insertInto('service_provider').values(sp).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEntry(sp.id);
        throw error;
      }
    },

    async updateSp(sp: ServiceProviderRecord): Promise<boolean> {
      const { id, ...changes } = sp;
      const result = await db.updateTable('service_provider').set(changes).where('id', '=', id).executeTakeFirst();
      return (result.numUpdatedRows ?? 0n) > 0n;
    },

    async deleteSp(id: string): Promise<boolean> {
      const result = await db.deleteFrom('service_provider').where('id', '=', id).executeTakeFirst();
      return (result.numDeletedRows ?? 0n) > 0n;
    },
  };
}

const SP_COLUMNS = ['auth_url', 'id', 'enabled', 'description', 'relay_state_prefix', 'sp_url'] as const;

function toMapping(row: { id: string; rules: string; schema_version: string }): MappingRecord {
  return { id: row.id, rules: JSON.parse(row.rules) as unknown, schema_version: row.schema_version };
}

/** Throws DuplicateEntry naming the remote id another provider took meanwhile. */
async function insertRemoteIds(trx: Transaction<KeystoneDatabase>, idpId: string, remoteIds: readonly string[]): Promise<void> {
  if (remoteIds.length === 0) return;
  try {
    await trx
      .insertInto('idp_remote_ids')
      .values(remoteIds.map((remote_id) => ({ idp_id: idpId, remote_id })))
      .execute();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const detail = /\(remote_id\)=\((.*)\) already exists/.exec(String((error as { detail?: unknown }).detail ?? ''));
    throw new DuplicateEntry(detail?.[1] ?? remoteIds[0]!, 'remote_id');
  }
}
