import type { Kysely, Selectable } from 'kysely';
import type { KeystoneDatabase, KeystoneTsApiKeyTable } from '../db/schema.js';

/** An API key as stored: the secret's slow hash, never the secret. */
export interface ApiKeyRecord {
  readonly id: string;
  /** Not secret: identifies the key in listings and finds its row at authentication. */
  readonly prefix: string;
  readonly secretHash: string;
  readonly userId: string;
  /** The project the key's requests are scoped to; null: unscoped. */
  readonly projectId: string | null;
  readonly description: string | null;
  /** Source CIDRs; null: any source. */
  readonly allowedIps: readonly string[] | null;
  readonly enabled: boolean;
  readonly expiresAt: Date;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
}

export interface ApiKeyChanges {
  readonly description?: string | null;
  readonly allowedIps?: readonly string[] | null;
  readonly enabled?: boolean;
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;

/** keystone_ts_api_key (migration 0006). */
export function createApiKeyStore(db: Kysely<KeystoneDatabase>) {
  function toRecord(row: Selectable<KeystoneTsApiKeyTable>): ApiKeyRecord {
    return {
      id: row.id,
      prefix: row.prefix,
      secretHash: row.secret_hash,
      userId: row.user_id,
      projectId: row.project_id,
      description: row.description,
      allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
      enabled: row.enabled,
      expiresAt: row.expires_at,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
      revokedBy: row.revoked_by,
    };
  }

  const select = () => db.selectFrom('keystone_ts_api_key').selectAll();

  return {
    async insert(record: Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt' | 'revokedBy'>): Promise<void> {
      await db
        .insertInto('keystone_ts_api_key')
        .values({
          id: record.id,
          prefix: record.prefix,
          secret_hash: record.secretHash,
          user_id: record.userId,
          project_id: record.projectId,
          description: record.description,
          allowed_ips: record.allowedIps === null ? null : JSON.stringify(record.allowedIps),
          enabled: record.enabled,
          expires_at: record.expiresAt,
          created_at: record.createdAt,
        })
        .execute();
    },

    async get(id: string): Promise<ApiKeyRecord | undefined> {
      const row = await select().where('id', '=', id).executeTakeFirst();
      return row && toRecord(row);
    },

    async findByPrefix(prefix: string): Promise<ApiKeyRecord | undefined> {
      const row = await select().where('prefix', '=', prefix).executeTakeFirst();
      return row && toRecord(row);
    },

    async list(query: { userId?: string; enabled?: boolean }): Promise<ApiKeyRecord[]> {
      let q = select();
      if (query.userId !== undefined) q = q.where('user_id', '=', query.userId);
      if (query.enabled !== undefined) q = q.where('enabled', '=', query.enabled);
      return (await q.orderBy('created_at').orderBy('id').execute()).map(toRecord);
    },

    async update(id: string, changes: ApiKeyChanges): Promise<void> {
      const values = {
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.allowedIps !== undefined ? { allowed_ips: changes.allowedIps === null ? null : JSON.stringify(changes.allowedIps) } : {}),
        ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
      };
      if (Object.keys(values).length === 0) return;
      await db.updateTable('keystone_ts_api_key').set(values).where('id', '=', id).execute();
    },

    /** Only a key not yet revoked; false when another request revoked it first. */
    async revoke(id: string, at: Date, by: string): Promise<boolean> {
      const result = await db
        .updateTable('keystone_ts_api_key')
        .set({ revoked_at: at, revoked_by: by, enabled: false })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('keystone_ts_api_key').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    /** Bookkeeping only (no cache depends on it): see BOOKKEEPING_COLUMNS. */
    async touch(id: string, at: Date): Promise<void> {
      await db.updateTable('keystone_ts_api_key').set({ last_used_at: at }).where('id', '=', id).execute();
    },
  };
}
