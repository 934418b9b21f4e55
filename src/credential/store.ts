import type { Kysely } from 'kysely';
import { parseExtra } from '../common/ids.js';
import type { KeystoneDatabase } from '../db/schema.js';

/** One `credential` row as Keystone's CredentialModel stores it; the blob stays encrypted here. */
export interface CredentialRow {
  readonly id: string;
  readonly user_id: string;
  readonly project_id: string | null;
  readonly type: string;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly key_hash: string;
  readonly encrypted_blob: string;
}

export type CredentialStore = ReturnType<typeof createCredentialStore>;

function toRow(row: { id: string; user_id: string; project_id: string | null; type: string; extra: string | null; key_hash: string; encrypted_blob: string }): CredentialRow {
  return { ...row, extra: parseExtra(row.extra) };
}

export function createCredentialStore(db: Kysely<KeystoneDatabase>) {
  return {
    /** Rows in id order (2026 Keystone sorts lists by id), optionally narrowed by exact columns. */
    async list(where: { user_id?: string; type?: string; project_id?: string } = {}): Promise<CredentialRow[]> {
      let query = db.selectFrom('credential').selectAll();
      if (where.user_id !== undefined) query = query.where('user_id', '=', where.user_id);
      if (where.type !== undefined) query = query.where('type', '=', where.type);
      if (where.project_id !== undefined) query = query.where('project_id', '=', where.project_id);
      return (await query.orderBy('id').execute()).map(toRow);
    },

    async countForUser(userId: string): Promise<number> {
      const row = await db.selectFrom('credential').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async get(id: string): Promise<CredentialRow | undefined> {
      const row = await db.selectFrom('credential').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toRow(row);
    },

    /** False when a row with this id already exists (Keystone's DBDuplicateEntry). */
    async insert(row: CredentialRow): Promise<boolean> {
      const result = await db
        .insertInto('credential')
        .values({ ...row, extra: JSON.stringify(row.extra) })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },

    /** False when the row has gone. */
    async update(row: CredentialRow): Promise<boolean> {
      const { id, ...columns } = row;
      const result = await db
        .updateTable('credential')
        .set({ ...columns, extra: JSON.stringify(columns.extra) })
        .where('id', '=', id)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /** False when there was no such row. */
    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('credential').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
