import { sql } from 'kysely';
import { createChangeTrigger, TRIGGER_NAME } from './0003_keystone_ts_change_notifications.js';
import type { MigrationDb } from './types.js';

/**
 * Token restrictions (Keystone-NG's token_restriction and token_restriction_role_association,
 * with our table names) plus what NG lacks: an allow-list of policy actions, source CIDRs, a
 * maximum lifetime and an optional inline policy. List-valued columns hold JSON text, NULL
 * meaning "no limit". Restricted tokens are validated against these rows at every request, so
 * both tables announce their changes like Keystone's tables do (migration 0003).
 */
export const TOKEN_RESTRICTION_TABLES = ['keystone_ts_token_restriction', 'keystone_ts_token_restriction_role'] as const;

export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('keystone_ts_token_restriction')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)')
    .addColumn('project_id', 'varchar(64)')
    .addColumn('allow_renew', 'boolean', (c) => c.notNull())
    .addColumn('allow_rescope', 'boolean', (c) => c.notNull())
    .addColumn('actions', 'text')
    .addColumn('source_cidrs', 'text')
    .addColumn('max_lifetime', 'integer')
    .addColumn('inline_policy_language', 'varchar(16)')
    .addColumn('inline_policy_source', 'text')
    .addColumn('created_at', 'timestamp', (c) => c.notNull().defaultTo(sql`(now() at time zone 'utc')`))
    .execute();
  await db.schema.createIndex('keystone_ts_token_restriction_domain_idx').on('keystone_ts_token_restriction').column('domain_id').execute();
  await db.schema
    .createTable('keystone_ts_token_restriction_role')
    .addColumn('restriction_id', 'varchar(64)', (c) => c.notNull().references('keystone_ts_token_restriction.id').onDelete('cascade'))
    .addColumn('role_id', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('keystone_ts_token_restriction_role_pkey', ['restriction_id', 'role_id'])
    .execute();
  for (const table of TOKEN_RESTRICTION_TABLES) await createChangeTrigger(db, table, TRIGGER_NAME);
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('keystone_ts_token_restriction_role').execute();
  await db.schema.dropTable('keystone_ts_token_restriction').execute();
}
