import { sql } from 'kysely';
import { createChangeTrigger, TRIGGER_NAME } from './0003_keystone_ts_change_notifications.js';
import type { MigrationDb } from './types.js';

/**
 * Workload identity federation (docs/decisions/0011-workload-identity.md): trusted JWT issuers
 * per domain, the binding rules that map their tokens' claims to a user and a project, the `jti`
 * of every token already exchanged (replay refusal across processes), and the claims a login
 * selected, kept by the token's audit id for the policy input of later requests.
 *
 * Issuers and bindings are configuration read on every login and cached: their writes announce
 * themselves on `keystone_ts_changes` (migration 0003's trigger function), so every process drops
 * its copy. The `jti` and attribute tables are written on every login and announce nothing:
 * no validated token depends on a new row there.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('keystone_ts_workload_issuer')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addColumn('preset', 'varchar(32)')
    .addColumn('bound_issuer', 'varchar(2048)')
    .addColumn('oidc_discovery_url', 'varchar(2048)')
    .addColumn('jwks_url', 'varchar(2048)')
    // JSON: a JWKS ({"keys": [...]}) given inline, or a list of PEM public keys (NG's field).
    .addColumn('jwks', 'text')
    .addColumn('jwt_validation_pubkeys', 'text')
    .addColumn('allowed_algorithms', 'text', (c) => c.notNull())
    .addColumn('bound_audiences', 'text', (c) => c.notNull())
    .addColumn('max_token_age', 'integer')
    .addColumn('default_mapping_name', 'varchar(255)')
    .addColumn('created_at', 'timestamp', (c) => c.notNull().defaultTo(sql`(now() at time zone 'utc')`))
    .addUniqueConstraint('keystone_ts_workload_issuer_name', ['domain_id', 'name'])
    .execute();
  await db.schema
    .createTable('keystone_ts_workload_binding')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('issuer_id', 'varchar(64)', (c) => c.notNull().references('keystone_ts_workload_issuer.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    // JSON: the binding's conditions and what it maps to (src/workload/bindings.ts).
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamp', (c) => c.notNull().defaultTo(sql`(now() at time zone 'utc')`))
    .addUniqueConstraint('keystone_ts_workload_binding_name', ['issuer_id', 'name'])
    .execute();
  for (const table of ['keystone_ts_workload_issuer', 'keystone_ts_workload_binding']) await createChangeTrigger(db, table, TRIGGER_NAME);
  await db.schema
    .createTable('keystone_ts_workload_jti')
    .addColumn('issuer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('jti', 'varchar(255)', (c) => c.notNull())
    .addColumn('expires_at', 'timestamp', (c) => c.notNull())
    .addPrimaryKeyConstraint('keystone_ts_workload_jti_pkey', ['issuer_id', 'jti'])
    .execute();
  await db.schema.createIndex('keystone_ts_workload_jti_expires').on('keystone_ts_workload_jti').column('expires_at').execute();
  await db.schema
    .createTable('keystone_ts_token_attributes')
    .addColumn('audit_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('attributes', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamp', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('keystone_ts_token_attributes_expires').on('keystone_ts_token_attributes').column('expires_at').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('keystone_ts_token_attributes').execute();
  await db.schema.dropTable('keystone_ts_workload_jti').execute();
  await db.schema.dropTable('keystone_ts_workload_binding').execute();
  await db.schema.dropTable('keystone_ts_workload_issuer').execute();
}
