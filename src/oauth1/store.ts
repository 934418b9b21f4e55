import type { Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { parseExtra } from '../common/ids.js';
import { pythonJson } from '../common/json.js';

/** Keystone's `consumer` table (keystone/oauth1/backends/sql.py); the secret is stored in clear. */
export interface ConsumerRecord {
  readonly id: string;
  readonly description: string | null;
  readonly secret: string;
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface RequestTokenRecord {
  readonly id: string;
  readonly request_secret: string;
  readonly verifier: string | null;
  readonly authorizing_user_id: string | null;
  readonly requested_project_id: string;
  readonly role_ids: readonly string[] | null;
  readonly consumer_id: string;
  /** Keystone's ISO string (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), or null for "never". */
  readonly expires_at: string | null;
}

export interface AccessTokenRecord {
  readonly id: string;
  readonly access_secret: string;
  readonly authorizing_user_id: string;
  readonly project_id: string;
  readonly role_ids: readonly string[];
  readonly consumer_id: string;
  readonly expires_at: string | null;
}

function roleIds(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

export type OAuth1Store = ReturnType<typeof createOAuth1Store>;

export function createOAuth1Store(db: Kysely<KeystoneDatabase>) {
  const consumerOf = (row: { id: string; description: string | null; secret: string; extra: string }): ConsumerRecord => ({
    id: row.id,
    description: row.description,
    secret: row.secret,
    extra: parseExtra(row.extra),
  });
  const requestTokenOf = (row: KeystoneDatabase['request_token']): RequestTokenRecord => ({ ...row, role_ids: roleIds(row.role_ids) });
  const accessTokenOf = (row: KeystoneDatabase['access_token']): AccessTokenRecord => ({ ...row, role_ids: roleIds(row.role_ids) ?? [] });

  return {
    async createConsumer(consumer: ConsumerRecord): Promise<void> {
      await db
        .insertInto('consumer')
        .values({ id: consumer.id, description: consumer.description, secret: consumer.secret, extra: pythonJson(consumer.extra) })
        .execute();
    },

    async getConsumer(id: string): Promise<ConsumerRecord | undefined> {
      const row = await db.selectFrom('consumer').selectAll().where('id', '=', id).executeTakeFirst();
      return row && consumerOf(row);
    },

    async listConsumers(): Promise<ConsumerRecord[]> {
      return (await db.selectFrom('consumer').selectAll().orderBy('id').execute()).map(consumerOf);
    },

    async updateConsumer(id: string, changes: { description: string | null; extra: Record<string, unknown> }): Promise<ConsumerRecord | undefined> {
      const row = await db
        .updateTable('consumer')
        .set({ description: changes.description, extra: pythonJson(changes.extra) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && consumerOf(row);
    },

    /** The consumer with its request and access tokens, in one transaction; false when absent. */
    async deleteConsumer(id: string): Promise<boolean> {
      return db.transaction().execute(async (tx) => {
        await tx.deleteFrom('request_token').where('consumer_id', '=', id).execute();
        await tx.deleteFrom('access_token').where('consumer_id', '=', id).execute();
        const deleted = await tx.deleteFrom('consumer').where('id', '=', id).executeTakeFirst();
        return deleted.numDeletedRows > 0n;
      });
    },

    async createRequestToken(token: RequestTokenRecord): Promise<void> {
      await db
        .insertInto('request_token')
        .values({ ...token, role_ids: token.role_ids === null ? null : pythonJson(token.role_ids) })
        .execute();
    },

    async getRequestToken(id: string): Promise<RequestTokenRecord | undefined> {
      const row = await db.selectFrom('request_token').selectAll().where('id', '=', id).executeTakeFirst();
      return row && requestTokenOf(row);
    },

    async authorizeRequestToken(id: string, userId: string, roles: readonly string[], verifier: string): Promise<boolean> {
      const updated = await db
        .updateTable('request_token')
        .set({ authorizing_user_id: userId, role_ids: pythonJson(roles), verifier })
        .where('id', '=', id)
        .executeTakeFirst();
      return updated.numUpdatedRows > 0n;
    },

    /**
     * Trades an authorized request token for an access token. The request token is deleted by
     * id *and* verifier in the same transaction as the insert, so of two concurrent exchanges of
     * one verifier only one can succeed: the verifier is single-use. Undefined when it was gone.
     */
    async exchangeRequestToken(requestTokenId: string, verifier: string, access: Omit<AccessTokenRecord, 'authorizing_user_id' | 'project_id' | 'role_ids' | 'consumer_id'>): Promise<AccessTokenRecord | undefined> {
      return db.transaction().execute(async (tx) => {
        const used = await tx
          .deleteFrom('request_token')
          .where('id', '=', requestTokenId)
          .where('verifier', '=', verifier)
          .where('authorizing_user_id', 'is not', null)
          .returningAll()
          .executeTakeFirst();
        if (!used) return undefined;
        const row = {
          id: access.id,
          access_secret: access.access_secret,
          authorizing_user_id: used.authorizing_user_id!,
          project_id: used.requested_project_id,
          // Keystone copies the request token's JSON text as it is.
          role_ids: used.role_ids ?? '[]',
          consumer_id: used.consumer_id,
          expires_at: access.expires_at,
        };
        await tx.insertInto('access_token').values(row).execute();
        return accessTokenOf(row);
      });
    },

    async getAccessToken(id: string): Promise<AccessTokenRecord | undefined> {
      const row = await db.selectFrom('access_token').selectAll().where('id', '=', id).executeTakeFirst();
      return row && accessTokenOf(row);
    },

    async listAccessTokens(userId: string): Promise<AccessTokenRecord[]> {
      return (await db.selectFrom('access_token').selectAll().where('authorizing_user_id', '=', userId).orderBy('id').execute()).map(accessTokenOf);
    },

    async deleteAccessToken(id: string): Promise<boolean> {
      const deleted = await db.deleteFrom('access_token').where('id', '=', id).executeTakeFirst();
      return deleted.numDeletedRows > 0n;
    },
  };
}
