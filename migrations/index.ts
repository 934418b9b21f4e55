import * as keystoneSchema2026 from './0001_keystone_schema_2026_1.js';
import * as keystoneTsMeta from './0002_keystone_ts_meta.js';
import * as changeNotifications from './0003_keystone_ts_change_notifications.js';
import * as policyBundle from './0004_keystone_ts_policy_bundle.js';
import * as tokenRestriction from './0005_keystone_ts_token_restriction.js';
import * as serviceAccounts from './0006_keystone_ts_service_accounts.js';
import * as workloadIdentity from './0007_keystone_ts_workload_identity.js';
import type { KyselyMigration } from './types.js';

export type { KyselyMigration, MigrationDb } from './types.js';

/**
 * The migration that creates upstream Keystone's schema. It runs only on a database without one;
 * a database made by `keystone-manage db_sync` keeps its schema untouched, and upstream's
 * `alembic_version` says which it is (src/db/migrate.ts).
 */
export const KEYSTONE_SCHEMA_MIGRATION = '0001_keystone_schema_2026_1';

/**
 * Every migration, in the order they run. Listed here rather than read from the directory, so
 * the compiled program carries its migrations and nothing depends on the file system at start.
 * Append only: a new migration gets the next number and a new line at the end; never rename,
 * reorder or edit one that has shipped (databases record the names they ran).
 */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: KyselyMigration]> = [
  [KEYSTONE_SCHEMA_MIGRATION, keystoneSchema2026],
  ['0002_keystone_ts_meta', keystoneTsMeta],
  ['0003_keystone_ts_change_notifications', changeNotifications],
  ['0004_keystone_ts_policy_bundle', policyBundle],
  ['0005_keystone_ts_token_restriction', tokenRestriction],
  ['0006_keystone_ts_service_accounts', serviceAccounts],
  ['0007_keystone_ts_workload_identity', workloadIdentity],
];
