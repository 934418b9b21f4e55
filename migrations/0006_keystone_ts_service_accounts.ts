import { sql } from 'kysely';
import type { MigrationDb } from './types.js';

/**
 * Service accounts and API keys (docs/decisions/0010-service-accounts.md).
 *
 * A service account is a row of Keystone's `user` table, so role assignments, tokens, every v3
 * client and an upstream Keystone sharing the database see an ordinary user; this table only
 * marks it and records its owner. Keystone's tables are not altered: the foreign key lives on
 * our side and cascades, so a user deleted by either service takes its marker and keys along.
 * The owner is not a foreign key: deleting the owning project disables its accounts (the
 * resource service's hook) rather than deleting them, and the id stays to say who owned them.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('keystone_ts_service_account')
    .addColumn('user_id', 'varchar(64)', (c) => c.primaryKey().references('user.id').onDelete('cascade'))
    .addColumn('owner_project_id', 'varchar(64)')
    .addColumn('owner_domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'timestamp', (c) => c.notNull().defaultTo(sql`(now() at time zone 'utc')`))
    .execute();
  await db.schema.createIndex('keystone_ts_service_account_project').on('keystone_ts_service_account').column('owner_project_id').execute();
  await db.schema.createIndex('keystone_ts_service_account_domain').on('keystone_ts_service_account').column('owner_domain_id').execute();

  // The secret is never stored: `secret_hash` is a slow hash of it, `prefix` (not secret) finds the row.
  await db.schema
    .createTable('keystone_ts_api_key')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('prefix', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('secret_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('user.id').onDelete('cascade'))
    .addColumn('project_id', 'varchar(64)')
    .addColumn('description', 'text')
    .addColumn('allowed_ips', 'text')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('expires_at', 'timestamp', (c) => c.notNull())
    .addColumn('created_at', 'timestamp', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamp')
    .addColumn('revoked_at', 'timestamp')
    .addColumn('revoked_by', 'varchar(64)')
    .execute();
  await db.schema.createIndex('keystone_ts_api_key_user').on('keystone_ts_api_key').column('user_id').execute();

  // Verified keys are cached per process until the change feed moves (src/api-key/service.ts):
  // any write to a key (revoke, disable, delete, a cascade from its user) must reach every
  // process, as for Keystone's watched tables (migration 0003). last_used_at is bookkeeping,
  // written on use, and must not drop every cache each time.
  await sql`
    CREATE TRIGGER keystone_ts_changes
    AFTER INSERT OR DELETE OR TRUNCATE ON keystone_ts_api_key
    FOR EACH STATEMENT EXECUTE FUNCTION keystone_ts_notify_change()`.execute(db);
  await sql`
    CREATE TRIGGER keystone_ts_changes_update
    AFTER UPDATE ON keystone_ts_api_key
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION keystone_ts_notify_change()`.execute(db);
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('keystone_ts_api_key').execute();
  await db.schema.dropTable('keystone_ts_service_account').execute();
}
