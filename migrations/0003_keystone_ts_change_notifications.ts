import { sql } from 'kysely';
import type { MigrationDb } from './types.js';

/**
 * Tables whose rows decide whether a token is valid and what it carries: users and their
 * passwords and options, group memberships, projects and domains, roles and assignments,
 * revocation events, the catalog, trusts and application credentials, and the service providers
 * every token lists. Tables added here later reach existing databases through start-up's
 * ensureChangeTriggers.
 */
export const WATCHED_TABLES = [
  'project', 'project_option',
  'user', 'local_user', 'password', 'user_option', 'nonlocal_user', 'federated_user',
  'user_group_membership', 'expiring_user_group_membership', 'group',
  'role', 'role_option', 'implied_role', 'assignment', 'system_assignment',
  'revocation_event',
  'region', 'service', 'endpoint', 'endpoint_group', 'project_endpoint', 'project_endpoint_group',
  'trust', 'trust_role', 'application_credential', 'application_credential_role', 'access_rule',
  'identity_provider', 'access_token', 'service_provider',
] as const;

/**
 * Columns that only record login attempts and activity: with lockout enabled every login
 * updates them, and they never change whether an issued token is valid, so updates that touch
 * nothing else are not announced (src/common/change-feed.ts BOOKKEEPING_COLUMNS).
 */
const BOOKKEEPING: Readonly<Record<string, readonly string[]>> = {
  user: ['last_active_at'],
  local_user: ['failed_auth_count', 'failed_auth_at'],
};

export const TRIGGER_NAME = 'keystone_ts_changes';
export const UPDATE_TRIGGER_NAME = 'keystone_ts_changes_update';

/** The trigger names a watched table must carry. */
export function triggerNames(table: string): string[] {
  return table in BOOKKEEPING ? [TRIGGER_NAME, UPDATE_TRIGGER_NAME] : [TRIGGER_NAME];
}

/**
 * Statement triggers that announce every change to those tables on the `keystone_ts_changes`
 * channel. Because the database raises the signal, a write by any process, including an
 * upstream Python Keystone sharing this database, reaches every keystone-ts process, which
 * drops its caches. NOTIFY is transactional: delivered on commit.
 * Triggers are objects of our own beside Keystone's tables; Keystone's schema checks and
 * migrations do not look at them (a rebuilt table loses them: start-up restores them).
 */
export async function up(db: MigrationDb): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION keystone_ts_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('keystone_ts_changes', TG_TABLE_NAME);
      RETURN NULL;
    END
    $$`.execute(db);
  for (const table of WATCHED_TABLES) {
    for (const name of triggerNames(table)) await createChangeTrigger(db, table, name);
  }
}

/** Also used at start-up to restore a trigger that an upstream table rebuild dropped. */
export async function createChangeTrigger(db: MigrationDb, table: string, name: string): Promise<void> {
  const ignored = BOOKKEEPING[table];
  if (!ignored) {
    await sql`
      CREATE TRIGGER ${sql.id(name)}
      AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION keystone_ts_notify_change()`.execute(db);
  } else if (name === TRIGGER_NAME) {
    await sql`
      CREATE TRIGGER ${sql.id(name)}
      AFTER INSERT OR DELETE OR TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION keystone_ts_notify_change()`.execute(db);
  } else {
    // Row level, so the WHEN clause can compare the row without its bookkeeping columns.
    const minus = sql.join(ignored.map((column) => sql`- ${sql.lit(column)}`), sql` `);
    await sql`
      CREATE TRIGGER ${sql.id(name)}
      AFTER UPDATE ON ${sql.table(table)}
      FOR EACH ROW WHEN ((to_jsonb(OLD) ${minus}) IS DISTINCT FROM (to_jsonb(NEW) ${minus}))
      EXECUTE FUNCTION keystone_ts_notify_change()`.execute(db);
  }
}

export async function down(db: MigrationDb): Promise<void> {
  for (const table of WATCHED_TABLES) {
    for (const name of triggerNames(table)) await sql`DROP TRIGGER IF EXISTS ${sql.id(name)} ON ${sql.table(table)}`.execute(db);
  }
  await sql`DROP FUNCTION IF EXISTS keystone_ts_notify_change()`.execute(db);
}
