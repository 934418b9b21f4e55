import type { MigrationDb } from './types.js';

/**
 * keystone-ts' first table of its own. Every table this project adds is named `keystone_ts_*`,
 * so it can never collide with a table a future upstream Keystone creates, and an operator can
 * tell at a glance what upstream owns.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('keystone_ts_meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text')
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('keystone_ts_meta').execute();
}
