import { sql } from 'kysely';
import type { MigrationDb } from './types.js';

/**
 * Policy bundles kept in the database, so every process of a deployment serves the same rules:
 * each upload is a new revision (never updated in place), and processes learn of it through
 * NOTIFY on `keystone_ts_policy`. `kind` says which engine the content is for (`oslo`: an
 * oslo.policy rule map as JSON; `rego` and `cedar` bundles come with their engines).
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('keystone_ts_policy_bundle')
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'timestamp', (c) => c.notNull().defaultTo(sql`(now() at time zone 'utc')`))
    .addPrimaryKeyConstraint('keystone_ts_policy_bundle_pkey', ['name', 'revision'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('keystone_ts_policy_bundle').execute();
}
