import { sql } from 'kysely';
import type { MigrationDb } from './types.js';

/**
 * Tables whose rows decide whether a token is valid and what it carries: users and their
 * passwords and options, groups memberships, projects and domains, roles and assignments,
 * revocation events, the catalog, trusts and application credentials.
 */
export const WATCHED_TABLES = [
  'project', 'project_option',
  'user', 'local_user', 'password', 'user_option', 'nonlocal_user', 'federated_user',
  'user_group_membership', 'expiring_user_group_membership', 'group',
  'role', 'role_option', 'implied_role', 'assignment', 'system_assignment',
  'revocation_event',
  'region', 'service', 'endpoint', 'endpoint_group', 'project_endpoint', 'project_endpoint_group',
  'trust', 'trust_role', 'application_credential', 'application_credential_role', 'access_rule',
  'identity_provider', 'access_token',
] as const;

/**
 * Statement triggers that announce every change to those tables on the `keystone_ts_changes`
 * channel. Because the database raises the signal, a write by any process, including an
 * upstream Python Keystone sharing this database, reaches every keystone-ts process, which
 * drops its caches (src/common/change-feed.ts). NOTIFY is transactional: delivered on commit.
 * Triggers are objects of our own beside Keystone's tables; Keystone's schema checks and
 * migrations do not look at them.
 */
export async function up(db: MigrationDb): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION keystone_ts_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('keystone_ts_changes', TG_TABLE_NAME);
      RETURN NULL;
    END
    $$`.execute(db);
  for (const table of WATCHED_TABLES) await createChangeTrigger(db, table);
}

/** Also used at start-up to restore a trigger that an upstream table rebuild dropped. */
export async function createChangeTrigger(db: MigrationDb, table: string): Promise<void> {
  await sql`
    CREATE TRIGGER keystone_ts_changes
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${sql.table(table)}
    FOR EACH STATEMENT EXECUTE FUNCTION keystone_ts_notify_change()`.execute(db);
}

export async function down(db: MigrationDb): Promise<void> {
  for (const table of WATCHED_TABLES) {
    await sql`DROP TRIGGER IF EXISTS keystone_ts_changes ON ${sql.table(table)}`.execute(db);
  }
  await sql`DROP FUNCTION IF EXISTS keystone_ts_notify_change()`.execute(db);
}
